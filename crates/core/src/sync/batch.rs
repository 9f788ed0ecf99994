//! Sending several ops (on different cards) in one `POST /v1/batch`. Each op keeps its own
//! Idempotency-Key and is answered exactly as its single request, so the per-op handling in
//! `drain` applies unchanged; only the transport is shared.

use deckhand_protocol::Card;
use futures::future::join_all;
use tracing::Instrument;

use super::SharedRef;
use super::client::{Answer, SyncClient, TransportFailure};
use super::drain::{Confirmer, OpResult, Slot, handle_answer, note_breaker, settle_unsendable, write_of};
use crate::store::outbox::Op;

/// Body bytes one batch request carries at most (the server takes 4 MiB); more goes in the next.
const BATCH_BYTES: usize = 2 * 1024 * 1024;

pub(crate) async fn send_batch(sh: &SharedRef, client: &SyncClient, confirmer: &Confirmer, mut slot: Slot, ops: Vec<(Op, Option<Card>)>) -> OpResult {
    // Ops with no request (never confirmed) are settled here, as a single send would.
    let mut sendable = Vec::with_capacity(ops.len());
    let mut unsendable = Vec::new();
    for (op, conf) in ops {
        match write_of(&op, conf.as_ref()) {
            Ok(write) => sendable.push(Pending { op, write }),
            Err(why) => unsendable.push((op, why)),
        }
    }
    for (op, why) in unsendable {
        settle_unsendable(sh, op, why).await;
    }
    // A server known to lack `/v1/batch` gets each op alone straight away (no failed batch first).
    if sh.rt().batch_unsupported {
        slot.free();
        return one_by_one(sh, client, confirmer, sendable).await;
    }
    // Split by size so one request stays well under the server's cap.
    let mut groups: Vec<Vec<Pending>> = vec![Vec::new()];
    let mut bytes = 0;
    for p in sendable {
        let size = p.write.body.as_ref().map_or(0, |b| b.len()) + p.write.path.len() + 64;
        if bytes + size > BATCH_BYTES && !groups.last().is_some_and(|g| g.is_empty()) {
            groups.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        groups.last_mut().expect("a group").push(p);
    }
    let mut outcome = OpResult::Answered;
    let last = groups.len() - 1;
    for (i, group) in groups.into_iter().enumerate() {
        if group.is_empty() {
            continue;
        }
        // Later groups after a failed one fail fast the same way and are settled the same way.
        let r = send_group(sh, client, confirmer, group, if i == last { Some(&mut slot) } else { None }).await;
        outcome = worst(outcome, r);
    }
    slot.free();
    outcome
}

/// An op with the request it stands for.
struct Pending {
    op: Op,
    write: deckhand_protocol::BatchWrite,
}

/// The outcome the loop should act on for a request that settled several ops.
fn worst(a: OpResult, b: OpResult) -> OpResult {
    use OpResult::*;
    let rank = |r: OpResult| match r {
        Auth => 4,
        Unreachable => 3,
        Transient => 2,
        Skipped => 1,
        Answered => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

async fn send_group(
    sh: &SharedRef,
    client: &SyncClient,
    confirmer: &Confirmer,
    group: Vec<Pending>,
    slot: Option<&mut Slot>,
) -> OpResult {
    let op_ids: Vec<i64> = group.iter().map(|p| p.op.op_id).collect();
    let keys: Vec<String> = group.iter().map(|p| p.op.idempotency_key.clone()).collect();
    let span = tracing::info_span!("send_batch", ops = group.len(), ?op_ids, idempotency_keys = ?keys);
    async move {
        let writes = group.iter().map(|p| p.write.clone()).collect();
        let answer = client.batch(writes).await;
        let answers: Vec<Result<Answer, TransportFailure>> = match answer {
            Err(t) => {
                tracing::warn!(error = %t.message(), "batch send failed");
                note_breaker(sh, &Err(t.clone()));
                group.iter().map(|_| Err(t.clone())).collect()
            }
            Ok(Err(refused)) => {
                let status = match &refused {
                    Answer::Problem { status, .. } => *status,
                    Answer::Ok(_) => 200,
                };
                tracing::info!(status, "batch refused");
                note_breaker(sh, &Ok(refused.clone()));
                if matches!(status, 401 | 408 | 429 | 500..=599) {
                    // Auth and transient trouble concern every op alike.
                    group.iter().map(|_| Ok(refused.clone())).collect()
                } else {
                    // The server takes no batch (an older one, or a limit): send each op alone.
                    // A server without the route (404/405) is remembered for this session.
                    if matches!(status, 404 | 405) && !std::mem::replace(&mut sh.rt().batch_unsupported, true) {
                        tracing::warn!(status, "server has no /v1/batch; sending ops one by one from now on");
                        sh.history("batch.unsupported", &format!("HTTP {status}: ops go one by one"));
                    }
                    if let Some(s) = slot {
                        s.free();
                    }
                    return one_by_one(sh, client, confirmer, group).await;
                }
            }
            Ok(Ok(answers)) => {
                // Each write's answer reaches the breaker as its single request's would: a 503
                // inside a batch counts as a failure, not as the batch's success.
                for a in &answers {
                    note_breaker(sh, a);
                }
                answers
            }
        };
        if let Some(s) = slot {
            s.free();
        }
        // Concurrently, so the confirmer records all successes in one transaction.
        let results = join_all(group.into_iter().zip(answers).map(|(Pending { op, .. }, a)| {
            let span = tracing::info_span!("op", op_id = op.op_id, idempotency_key = %op.idempotency_key, card_id = %op.card_id);
            handle_answer(sh, confirmer, op, a).instrument(span)
        }))
        .await;
        results.into_iter().fold(OpResult::Answered, worst)
    }
    .instrument(span)
    .await
}

/// Fallback when the server refuses the batch itself: each op as its own request, in order.
async fn one_by_one(sh: &SharedRef, client: &SyncClient, confirmer: &Confirmer, group: Vec<Pending>) -> OpResult {
    let mut outcome = OpResult::Answered;
    for Pending { op, write } in group {
        let answer = client.send(&write).await;
        note_breaker(sh, &answer);
        outcome = worst(outcome, handle_answer(sh, confirmer, op, answer).await);
    }
    outcome
}
