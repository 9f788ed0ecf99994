//! Sending the lanes' outbox (`store/lanes.rs`): one op at a time, oldest first, each under its
//! stored Idempotency-Key, retried with the same request after a transient failure. Runs inside
//! the sync loop, after the catch-up and before card ops are claimed.

use std::time::Duration;

use deckhand_protocol::Lane;
use tracing::Instrument;

use super::SharedRef;
use super::client::SyncClient;
use crate::error::SyncError;
use crate::model::{ConnectionState, EngineEvent};
use crate::store::lanes::{self, Prepared, Refusal};
use crate::store::now_ms;

/// Most ops settled per call (the loop comes back for more).
const PER_CALL: usize = 50;

/// Sends due lane ops until none is due, a transient failure stops it, or `PER_CALL` are done.
/// Returns the error that stopped it, if one did.
pub(crate) async fn drain(sh: &SharedRef, client: &SyncClient) -> Option<SyncError> {
    let mut changed = false;
    let mut stopped = None;
    for _ in 0..PER_CALL {
        let claimed = sh
            .db(|s| {
                s.write(|tx| {
                    let Some(op) = lanes::next_ready(tx, now_ms())? else { return Ok(None) };
                    let prepared = lanes::prepare(tx, &op)?;
                    Ok(Some((op, prepared)))
                })
            })
            .await;
        let (op, write) = match claimed {
            Ok(Some((_, Prepared::Done))) => {
                changed = true;
                continue;
            }
            Ok(Some((op, Prepared::Send(w)))) => (op, w),
            Ok(None) => break,
            Err(e) => {
                tracing::error!(error = %e, "could not claim a lane op");
                break;
            }
        };
        let span = tracing::info_span!("lane_op", op_id = op.op_id, lane_id = %op.lane_id, idempotency_key = %write.idempotency_key);
        let answer = async { client.send_lane(&write).await }.instrument(span.clone()).await;
        let _e = span.enter();
        let op2 = op.clone();
        let recorded = match answer {
            Ok(lane) => sh.db(move |s| s.write(|tx| lanes::settle_ok(tx, &op2, &lane))).await.map(|_| Refusal::Settled),
            Err(SyncError::Refused { status, problem, retry_after })
                if !matches!(status, 401 | 408 | 429) && status < 500 && problem.is_some() && !is_in_flight(&problem) =>
            {
                let _ = retry_after;
                let p = problem.expect("checked");
                let (code, current) = (p.code.as_str().to_string(), p.current_lane.clone());
                sh.db(move |s| s.write(|tx| lanes::settle_refused(tx, &op2, status, &code, current.as_ref()))).await
            }
            Err(e) => {
                if let SyncError::Refused { status: 401, .. } = e {
                    sh.set_connection(ConnectionState::AuthRequired);
                } else if let SyncError::Connect(_) = e {
                    sh.set_connection(ConnectionState::Offline);
                }
                let never_left = matches!(e, SyncError::Connect(_));
                let delay = sh.backoff.delay(op.attempts.clamp(0, 30) as u32, e.retry_after()).max(Duration::from_millis(10));
                let at = now_ms() + delay.as_millis() as i64;
                let msg = e.to_string();
                tracing::info!(error = %msg, "lane op retried later");
                let _ = sh.db(move |s| s.write(|tx| lanes::retry_later(tx, &op2, at, &msg, never_left))).await;
                stopped = Some(e);
                break;
            }
        };
        match recorded {
            Ok(_) => changed = true,
            Err(e) => {
                tracing::error!(error = %e, "could not record a lane answer; the op is sent again");
                break;
            }
        }
    }
    if changed {
        sh.emit(EngineEvent::LanesChanged);
        sh.emit(EngineEvent::CardsChanged { ids: Vec::new() });
        sh.schedule_status();
    }
    stopped
}

fn is_in_flight(p: &Option<deckhand_protocol::Problem>) -> bool {
    p.as_ref().is_some_and(|p| p.code == deckhand_protocol::ErrorCode::IdempotencyInFlight)
}

/// Remote lanes (the change feed's `lanes`, the stream's `lane.*` events), in one transaction.
pub(crate) async fn apply_remote(sh: &SharedRef, remote: Vec<Lane>) -> Result<(), String> {
    if remote.is_empty() {
        return Ok(());
    }
    let changed = sh
        .db(move |s| {
            s.write(|tx| {
                let mut any = false;
                for l in &remote {
                    any |= lanes::apply_remote(tx, l)?;
                }
                Ok(any)
            })
        })
        .await
        .map_err(|e| e.to_string())?;
    if changed {
        sh.emit(EngineEvent::LanesChanged);
    }
    Ok(())
}
