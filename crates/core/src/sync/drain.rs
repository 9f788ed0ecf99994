//! The sync loop: catch up, drain the outbox (per card in order, different cards in parallel up
//! to the window, high priority first), classify answers, probe `/healthz` while offline.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use deckhand_protocol::{Card, ErrorCode};
use tokio::task::JoinSet;
use tracing::Instrument;
use uuid::Uuid;

use super::SharedRef;
use super::client::{Answer, SyncClient, TransportFailure};
use super::pull::{self, PullError};
use crate::model::{ConnectionState, EngineEvent, OpError, OpState};
use crate::store::apply::{self, ConflictOutcome};
use crate::store::outbox::{self, Op, OpPayload};
use crate::store::{now_ms, remote};

/// How one send ended, for the loop's connection and breaker bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpResult {
    /// The server answered definitively (2xx, conflict, permanent 4xx).
    Answered,
    /// Connect failure: the server is unreachable.
    Unreachable,
    /// Timeout, 408, 429, 5xx: counts toward the breaker.
    Transient,
    Auth,
    /// Not sent (op vanished or changed meanwhile).
    Skipped,
}

pub(crate) async fn run(sh: SharedRef, client: SyncClient) {
    let mut tasks: JoinSet<(Uuid, OpResult)> = JoinSet::new();
    let mut busy: HashSet<Uuid> = HashSet::new();
    let mut offline_attempt: u32 = 0;
    let mut pull_attempt: u32 = 0;
    let mut pull_not_before = Instant::now();
    loop {
        let (paused, conn, pull_wanted, window) = {
            let rt = sh.rt();
            (rt.paused, rt.connection, rt.pull_requested, rt.drain_window.max(1))
        };
        if paused || conn == ConnectionState::AuthRequired {
            if let Some(r) = tasks.join_next().await {
                finish(&sh, &mut busy, r).await;
            } else {
                sh.wake.notified().await;
            }
            continue;
        }
        if conn == ConnectionState::Offline {
            if let Some(r) = tasks.try_join_next() {
                finish(&sh, &mut busy, r).await;
                continue;
            }
            let probe = async { client.healthz().await }.instrument(tracing::info_span!("probe", attempt = offline_attempt)).await;
            if matches!(probe, Ok(true)) {
                offline_attempt = 0;
                sh.set_connection(ConnectionState::Connecting);
                let _ = sh.db(|s| s.write(|tx| outbox::make_all_due(tx))).await;
                sh.request_pull();
                continue;
            }
            let d = sh.backoff.delay(offline_attempt, None);
            offline_attempt = offline_attempt.saturating_add(1);
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = sh.wake.notified() => {}
                Some(r) = tasks.join_next(), if !tasks.is_empty() => finish(&sh, &mut busy, r).await,
            }
            continue;
        }
        if pull_wanted && Instant::now() >= pull_not_before {
            match pull::catch_up(&sh, &client).await {
                Ok(n) => {
                    pull_attempt = 0;
                    tracing::debug!(applied = n, "caught up");
                    sh.set_connection(ConnectionState::Online);
                    sh.emit_status().await;
                }
                Err(e) => {
                    sh.rt().pull_requested = true;
                    match e {
                        PullError::Auth => sh.set_connection(ConnectionState::AuthRequired),
                        PullError::Transport(TransportFailure::Connect(_)) => sh.set_connection(ConnectionState::Offline),
                        PullError::Transport(_) | PullError::Server { .. } | PullError::Store(_) => {
                            let ra = match &e {
                                PullError::Server { retry_after, .. } => *retry_after,
                                _ => None,
                            };
                            tracing::warn!(error = ?e, "catch-up failed; retrying");
                            pull_not_before = Instant::now() + sh.backoff.delay(pull_attempt, ra);
                            pull_attempt = pull_attempt.saturating_add(1);
                        }
                    }
                    continue;
                }
            }
        }

        // Fill the window.
        let mut found_ready = false;
        if busy.len() < window {
            let want = window * 4 + busy.len();
            let heads = sh.db(move |s| s.read(|c| outbox::ready_heads(c, now_ms(), want))).await.unwrap_or_default();
            found_ready = !heads.is_empty();
            for op in heads {
                if busy.len() >= window {
                    break;
                }
                if busy.contains(&op.card_id) {
                    continue;
                }
                let (ok, change) = sh.rt().breaker.try_acquire(Instant::now());
                sh.breaker_changed(change);
                if !ok {
                    break;
                }
                busy.insert(op.card_id);
                let (sh2, client2) = (sh.clone(), client.clone());
                tasks.spawn(spawn_send(sh2, client2, op.card_id, op.op_id));
            }
        }

        // Wait for a completion, a wake-up, the next due op, the breaker probe or a pull retry.
        let mut wait = Duration::from_secs(5);
        if busy.len() < window {
            let due_in = if found_ready {
                Some(Duration::ZERO)
            } else {
                match sh.db(|s| s.read(outbox::next_due)).await {
                    Ok(Some(due)) => Some(Duration::from_millis((due - now_ms()).max(0) as u64)),
                    _ => None,
                }
            };
            if let Some(due_in) = due_in {
                // An open breaker holds everything until its probe time.
                let breaker_in = sh.rt().breaker.retry_at().map(|t| t.saturating_duration_since(Instant::now()));
                wait = wait.min(due_in.max(breaker_in.unwrap_or_default()));
            }
        }
        if sh.rt().pull_requested {
            wait = wait.min(pull_not_before.saturating_duration_since(Instant::now()));
        }
        if wait.is_zero() && tasks.is_empty() {
            // Something is due but nothing could start (e.g. breaker half-open probe elsewhere).
            wait = Duration::from_millis(5);
        }
        tokio::select! {
            Some(r) = tasks.join_next(), if !tasks.is_empty() => finish(&sh, &mut busy, r).await,
            _ = sh.wake.notified() => {}
            _ = tokio::time::sleep(wait), if !wait.is_zero() => {}
        }
    }
}

async fn finish(sh: &SharedRef, busy: &mut HashSet<Uuid>, r: Result<(Uuid, OpResult), tokio::task::JoinError>) {
    // Send tasks catch their own panics (see `spawn_send`), so a join error means cancellation.
    let Ok((card, result)) = r else { return };
    busy.remove(&card);
    let now = Instant::now();
    match result {
        OpResult::Answered => {
            let ch = sh.rt().breaker.on_success();
            sh.breaker_changed(ch);
            if sh.connection() != ConnectionState::Online {
                sh.set_connection(ConnectionState::Online);
            }
        }
        OpResult::Transient => {
            let ch = sh.rt().breaker.on_failure(now);
            sh.breaker_changed(ch);
        }
        OpResult::Unreachable => {
            sh.rt().breaker.release_probe();
            sh.set_connection(ConnectionState::Offline);
        }
        OpResult::Auth => {
            sh.rt().breaker.release_probe();
            sh.set_connection(ConnectionState::AuthRequired);
        }
        OpResult::Skipped => sh.rt().breaker.release_probe(),
    }
    // Status needs a count over the outbox: at most a few per second while draining.
    let due = {
        let mut rt = sh.rt();
        let due = rt.last_status_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) || busy.is_empty();
        if due {
            rt.last_status_emit = Some(Instant::now());
        }
        due
    };
    if due {
        sh.emit_status().await;
    }
}

/// One send, with a panic turned into "not sent" (the op goes back to pending) so the card never
/// stays marked busy.
async fn spawn_send(sh: SharedRef, client: SyncClient, card: Uuid, op_id: i64) -> (Uuid, OpResult) {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(send_one(&sh, &client, op_id)).catch_unwind().await {
        Ok(r) => (card, r),
        Err(_) => {
            tracing::error!(op_id, "send task panicked; op requeued");
            let _ = sh.db(move |s| s.write(|tx| outbox::mark_pending(tx, op_id))).await;
            (card, OpResult::Skipped)
        }
    }
}

fn op_error(code: &str, message: impl Into<String>, status: Option<u16>) -> OpError {
    OpError { code: code.to_string(), message: message.into(), status }
}

/// Send one op and apply the answer. Never panics on store errors: they leave the op pending.
async fn send_one(sh: &SharedRef, client: &SyncClient, op_id: i64) -> OpResult {
    let prepared = sh
        .db(move |s| {
            s.write(|tx| {
                let Some(mut op) = outbox::get(tx, op_id)? else { return Ok(None) };
                if op.state != OpState::Pending {
                    return Ok(None);
                }
                outbox::mark_in_flight(tx, op_id)?;
                let conf = remote::confirmed(tx, op.card_id)?;
                outbox::pin_base(tx, &mut op, conf.as_ref())?;
                Ok(Some((op, conf)))
            })
        })
        .await;
    let (op, conf) = match prepared {
        Ok(Some(p)) => p,
        Ok(None) => return OpResult::Skipped,
        Err(e) => {
            tracing::error!(op_id, error = %e, "could not prepare op");
            return OpResult::Skipped;
        }
    };
    let span = tracing::info_span!(
        "send_op",
        op_id = op.op_id,
        idempotency_key = %op.idempotency_key,
        card_id = %op.card_id,
        kind = ?op.payload.kind(),
        attempt = op.attempts + 1,
    );
    async move {
        let answer = match &op.payload {
            OpPayload::Create(n) => client.create(n, &op.idempotency_key).await,
            OpPayload::Update(ch) => match op.base_version.or(conf.as_ref().map(|c| c.version)) {
                Some(bv) => client.patch(op.card_id, bv, ch, &op.idempotency_key).await,
                None => {
                    let err = op_error("no_base", "the card was never confirmed by the server", None);
                    return permanent(sh, op, err).await;
                }
            },
            OpPayload::Delete => match op.base_version.or(conf.as_ref().map(|c| c.version)) {
                Some(bv) => client.delete(op.card_id, bv, &op.idempotency_key).await,
                None => {
                    // Nothing on the server to delete.
                    let card_id = op.card_id;
                    let _ = sh.db(move |s| s.write(|tx| { outbox::remove(tx, op.op_id)?; remote::rebase(tx, card_id) })).await;
                    return OpResult::Answered;
                }
            },
        };
        handle_answer(sh, op, answer).await
    }
    .instrument(span)
    .await
}

async fn handle_answer(sh: &SharedRef, op: Op, answer: Result<Answer, TransportFailure>) -> OpResult {
    let card_id = op.card_id;
    match answer {
        Err(t) => {
            tracing::warn!(error = %t.message(), "send failed");
            let err = op_error(t.code(), t.message(), None);
            let unreachable = matches!(t, TransportFailure::Connect(_));
            retry(sh, op, None, err).await;
            if unreachable { OpResult::Unreachable } else { OpResult::Transient }
        }
        Ok(Answer::Ok(card)) => {
            tracing::info!(version = card.version, "op confirmed");
            let r = sh.db(move |s| s.write(|tx| apply::succeeded(tx, &op, &card))).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "could not record success");
            }
            sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
            OpResult::Answered
        }
        Ok(Answer::Problem { status, problem, retry_after }) => {
            let code = problem.as_ref().map(|p| p.code);
            let message = problem.as_ref().map(|p| p.detail.clone()).unwrap_or_else(|| format!("HTTP {status}"));
            let code_str = code.map(|c| c.as_str().to_string()).unwrap_or_else(|| format!("http_{status}"));
            let err = op_error(&code_str, message.clone(), Some(status));
            let current: Option<Card> = problem.and_then(|p| p.current);
            tracing::info!(status, code = %code_str, "server answered with a problem");
            match status {
                401 => {
                    let _ = sh.db(move |s| s.write(|tx| outbox::mark_pending(tx, op.op_id))).await;
                    OpResult::Auth
                }
                408 | 429 | 500..=599 => {
                    retry(sh, op, retry_after, err).await;
                    OpResult::Transient
                }
                409 if code == Some(ErrorCode::IdempotencyInFlight) => {
                    retry(sh, op, retry_after.or(Some(Duration::from_millis(100))), err).await;
                    OpResult::Answered
                }
                409 if current.is_some() => {
                    let cur = current.unwrap();
                    let r = sh.db(move |s| s.write(|tx| apply::version_conflict(tx, &op, &cur))).await;
                    match r {
                        Ok(ConflictOutcome::Conflict(rec)) => sh.emit(EngineEvent::ConflictDetected { conflict: *rec }),
                        Ok(_) => sh.wake.notify_one(),
                        Err(e) => tracing::error!(error = %e, "could not apply conflict"),
                    }
                    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    OpResult::Answered
                }
                410 if current.is_some() => {
                    let cur = current.unwrap();
                    let r = sh.db(move |s| s.write(|tx| apply::gone(tx, &op, &cur))).await;
                    if let Ok(Some(rec)) = r {
                        sh.emit(EngineEvent::ConflictDetected { conflict: rec });
                    }
                    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    OpResult::Answered
                }
                404 if matches!(op.payload, OpPayload::Delete) => {
                    let _ = sh.db(move |s| s.write(|tx| { outbox::remove(tx, op.op_id)?; remote::rebase(tx, card_id) })).await;
                    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    OpResult::Answered
                }
                _ => permanent(sh, op, err).await,
            }
        }
    }
}

async fn retry(sh: &SharedRef, op: Op, retry_after: Option<Duration>, err: OpError) {
    let delay = sh.backoff.delay(op.attempts, retry_after);
    let next = now_ms() + delay.as_millis() as i64;
    tracing::debug!(delay_ms = delay.as_millis() as u64, "retry scheduled");
    if let Err(e) = sh.db(move |s| s.write(|tx| apply::retry_later(tx, &op, next, &err))).await {
        tracing::error!(error = %e, "could not schedule retry");
    }
}

async fn permanent(sh: &SharedRef, op: Op, err: OpError) -> OpResult {
    tracing::warn!(code = %err.code, "op failed permanently");
    let (op_id, card_id, e2) = (op.op_id, op.card_id, err.clone());
    if let Err(e) = sh.db(move |s| s.write(|tx| apply::failed(tx, &op, &e2))).await {
        tracing::error!(error = %e, "could not mark op failed");
    }
    sh.emit(EngineEvent::OpFailed { op_id, card_id, error: err });
    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
    OpResult::Answered
}
