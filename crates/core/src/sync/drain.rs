//! The sync loop: catch up, drain the outbox (per card in order, different cards in parallel up
//! to the window, high priority first), classify answers, probe `/healthz` while offline.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deckhand_protocol::{Card, ErrorCode};
use tokio::task::JoinSet;
use tracing::Instrument;
use uuid::Uuid;

use super::SharedRef;
use super::client::SyncClient;
use super::pull;
use crate::error::SyncError;
use crate::model::{ConflictRecord, ConnectionState, EngineEvent, OpError};
use crate::store::apply::{self, ConflictOutcome};
use crate::store::outbox::{self, Op, OpPayload, Prepared};
use crate::store::{now_ms, remote};

/// How one send ended, for the loop's connection and breaker bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpResult {
    /// The server answered definitively (2xx, conflict, permanent 4xx).
    Answered,
    /// Connect failure: the server is unreachable.
    Unreachable,
    /// Timeout, 408, 429, 5xx: retried (all but 429 count toward the breaker).
    Transient,
    Auth,
    /// The send task died (a bug); its op went back to pending.
    Skipped,
}

pub(crate) async fn run(sh: SharedRef, client: SyncClient) {
    let mut tasks: JoinSet<(Vec<Uuid>, OpResult)> = JoinSet::new();
    let confirmer = Arc::new(Confirmer::default());
    // Requests in flight (the window), as opposed to `busy`: cards whose send has not finished.
    // A slot frees as soon as the server has answered, so the next request goes out while the
    // answer is still being recorded.
    let requests = Arc::new(AtomicUsize::new(0));
    let slot_freed = Arc::new(tokio::sync::Notify::new());
    let mut busy: HashSet<Uuid> = HashSet::new();
    let mut offline_attempt: u32 = 0;
    let mut pull_attempt: u32 = 0;
    let mut pull_not_before = Instant::now();
    // Ops per request start small after an idle spell and double with every answered request up
    // to `batch_max`: the first confirmations come quickly, a long queue still goes in big batches.
    let mut ramp = RAMP_START;
    let session = sh.rt().session;
    loop {
        put_back_stranded(&sh).await;
        let (paused, conn, pull_wanted, window) = {
            let rt = sh.rt();
            (rt.paused, rt.connection, rt.pull_requested, rt.drain_window.max(1))
        };
        if paused || conn == ConnectionState::AuthRequired {
            if let Some(r) = tasks.join_next().await {
                finish(&sh, &mut busy, &mut ramp, r).await;
            } else {
                sh.wake.notified().await;
            }
            continue;
        }
        if conn == ConnectionState::Offline {
            if let Some(r) = tasks.try_join_next() {
                finish(&sh, &mut busy, &mut ramp, r).await;
                continue;
            }
            let probe = async { client.healthz().await }.instrument(tracing::info_span!("probe", attempt = offline_attempt)).await;
            if matches!(probe, Ok(true)) {
                offline_attempt = 0;
                sh.set_connection(ConnectionState::Connecting);
                let _ = sh.db(|s| s.write(|tx| {
                    crate::store::lanes::make_all_due(tx)?;
                    outbox::make_all_due(tx)
                })).await;
                sh.request_pull();
                continue;
            }
            let d = sh.backoff.delay(offline_attempt, None);
            offline_attempt = offline_attempt.saturating_add(1);
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = sh.wake.notified() => {}
                Some(r) = tasks.join_next(), if !tasks.is_empty() => finish(&sh, &mut busy, &mut ramp, r).await,
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
                        SyncError::Refused { status: 401, .. } => sh.set_connection(ConnectionState::AuthRequired),
                        SyncError::Connect(_) => sh.set_connection(ConnectionState::Offline),
                        _ => {
                            tracing::warn!(error = %e, "catch-up failed; retrying");
                            pull_not_before = Instant::now() + sh.backoff.delay(pull_attempt, e.retry_after());
                            pull_attempt = pull_attempt.saturating_add(1);
                        }
                    }
                    continue;
                }
            }
        }

        // Lane writes first (few, one at a time): a rename's lane record goes out with or before
        // the card moves it queued (`sync/lanes.rs`).
        super::lanes::drain(&sh, &client).await;

        // Fill the window: pick the ready head ops and mark them in flight in ONE transaction
        // (one store round trip per refill, however many slots are free). When more ops are
        // ready than there are free requests, each request carries several (`POST /v1/batch`).
        let mut found_ready = false;
        let in_flight = requests.load(Ordering::SeqCst);
        if in_flight < window {
            let free = window - in_flight;
            let batch_max = sh.config.batch_max.max(1).min(ramp);
            let want = (free * batch_max).max(window * 4) + busy.len();
            let (sh2, taken) = (sh.clone(), busy.clone());
            // The breaker may move (open -> half-open) inside the claim; its event is sent from the
            // state before and after, so a claim that rolls back cannot swallow it.
            let breaker_before = sh.rt().breaker.state();
            let claimed = sh
                .db(move |s| {
                    s.write(|tx| {
                        // Checked again under the store lock: a pause that returned before an
                        // op was enqueued must keep that op from being claimed here, and a
                        // `set_server` that already requeued in-flight ops must not be overtaken.
                        if sh2.rt().paused || sh2.rt().session != session {
                            return Ok((false, Vec::new(), Vec::new()));
                        }
                        let heads = outbox::ready_heads(tx, now_ms(), want)?;
                        let found = !heads.is_empty();
                        let mut ready: Vec<Op> = heads.into_iter().filter(|op| !taken.contains(&op.card_id)).collect();
                        ready.truncate(free * batch_max);
                        // Spread the ready ops over the free requests, in priority order.
                        let per_request = ready.len().div_ceil(free).max(1);
                        let mut out: Vec<Vec<(Op, Option<Card>)>> = Vec::new();
                        // Ops settled without a request (see `outbox::prepare`).
                        let mut settled: Vec<(Uuid, Option<ConflictRecord>)> = Vec::new();
                        let mut ready = ready.into_iter().peekable();
                        while ready.peek().is_some() {
                            let (ok, _) = sh2.rt().breaker.try_acquire(Instant::now());
                            if !ok {
                                break;
                            }
                            let mut request = Vec::with_capacity(per_request);
                            for mut op in ready.by_ref().take(per_request) {
                                let conf = remote::confirmed(tx, op.card_id)?;
                                match outbox::prepare(tx, &mut op, conf.as_ref())? {
                                    Prepared::Send => {
                                        outbox::mark_in_flight(tx, op.op_id)?;
                                        request.push((op, conf));
                                    }
                                    Prepared::Done => settled.push((op.card_id, None)),
                                    Prepared::Conflict(rec) => settled.push((op.card_id, Some(*rec))),
                                }
                            }
                            if request.is_empty() {
                                sh2.rt().breaker.release_probe();
                            } else {
                                out.push(request);
                            }
                        }
                        Ok((found, out, settled))
                    })
                })
                .await;
            match claimed {
                Ok((found, batches, settled)) => {
                    found_ready = found;
                    for (card_id, conflict) in settled {
                        if let Some(conflict) = conflict {
                            sh.emit(EngineEvent::ConflictDetected { conflict });
                        }
                        sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    }
                    for ops in batches {
                        busy.extend(ops.iter().map(|(op, _)| op.card_id));
                        {
                            let mut rt = sh.rt();
                            let creates = ops.iter().filter(|(op, _)| matches!(op.payload, OpPayload::Create(_)));
                            rt.creates_in_flight.extend(creates.map(|(op, _)| op.card_id));
                            rt.sends_running += 1;
                        }
                        let slot = Slot::take(&requests, &slot_freed);
                        let (sh2, client2, confirmer2) = (sh.clone(), client.clone(), confirmer.clone());
                        tasks.spawn(spawn_send(sh2, client2, confirmer2, slot, ops));
                    }
                }
                Err(e) => {
                    // Rolled back: nothing is in flight. A probe the breaker handed out goes back.
                    tracing::error!(error = %e, "could not claim ops");
                    sh.rt().breaker.release_probe();
                }
            }
            let breaker_after = sh.rt().breaker.state();
            if breaker_after != breaker_before {
                sh.breaker_changed(Some(breaker_after));
            }
        }

        if !found_ready && tasks.is_empty() {
            ramp = RAMP_START;
            // The burst is over: catch the cursor up past what it wrote (once per burst, not
            // between its batches).
            if std::mem::take(&mut sh.rt().feed_behind) {
                sh.request_pull();
                continue;
            }
        }
        // Wait for a completion, a wake-up, the next due op, the breaker probe or a pull retry.
        let mut wait = Duration::from_secs(5);
        if requests.load(Ordering::SeqCst) < window {
            let due_in = if found_ready {
                Some(Duration::ZERO)
            } else {
                let due = sh.db(|s| s.read(|c| Ok((outbox::next_due(c)?, crate::store::lanes::next_due(c)?)))).await;
                match due {
                    Ok((a, b)) => a.into_iter().chain(b).min().map(|due| Duration::from_millis((due - now_ms()).max(0) as u64)),
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
            Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                finish(&sh, &mut busy, &mut ramp, r).await;
                // Take every other finished send too, so one refill serves them all.
                while let Some(r) = tasks.try_join_next() {
                    finish(&sh, &mut busy, &mut ramp, r).await;
                }
            }
            _ = sh.wake.notified() => {}
            _ = slot_freed.notified() => {}
            _ = tokio::time::sleep(wait), if !wait.is_zero() => {}
        }
    }
}

/// Ops per request at the start of a burst (see `ramp` in `run`).
const RAMP_START: usize = 4;

/// One request slot of the window; freed once the server has answered (or when the send ends).
pub(crate) struct Slot {
    requests: Arc<AtomicUsize>,
    freed: Arc<tokio::sync::Notify>,
    held: bool,
}

impl Slot {
    fn take(requests: &Arc<AtomicUsize>, freed: &Arc<tokio::sync::Notify>) -> Slot {
        requests.fetch_add(1, Ordering::SeqCst);
        Slot { requests: requests.clone(), freed: freed.clone(), held: true }
    }

    pub(crate) fn free(&mut self) {
        if std::mem::replace(&mut self.held, false) {
            self.requests.fetch_sub(1, Ordering::SeqCst);
            self.freed.notify_one();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.free();
    }
}

async fn finish(sh: &SharedRef, busy: &mut HashSet<Uuid>, ramp: &mut usize, r: Result<(Vec<Uuid>, OpResult), tokio::task::JoinError>) {
    // Send tasks catch their own panics (see `spawn_send`), so a join error means cancellation.
    let Ok((cards, result)) = r else {
        let mut rt = sh.rt();
        rt.sends_running = rt.sends_running.saturating_sub(1);
        return;
    };
    if result == OpResult::Answered {
        *ramp = (*ramp * 2).min(sh.config.batch_max.max(1));
    }
    for card in &cards {
        busy.remove(card);
    }
    super::echoes::release(sh, &cards).await;
    {
        let mut rt = sh.rt();
        rt.sends_running = rt.sends_running.saturating_sub(1);
        rt.feed_behind |= result == OpResult::Answered;
    }
    match result {
        // The breaker already heard of this send when its answer came (see `note_breaker`).
        OpResult::Answered => {
            if sh.connection() != ConnectionState::Online {
                sh.set_connection(ConnectionState::Online);
            }
        }
        OpResult::Transient => {}
        OpResult::Unreachable => sh.set_connection(ConnectionState::Offline),
        OpResult::Auth => sh.set_connection(ConnectionState::AuthRequired),
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

/// One request (one op, or a batch of ops on different cards), with a panic turned into "not
/// sent" (the ops go back to pending) so no card stays marked busy.
async fn spawn_send(sh: SharedRef, client: SyncClient, confirmer: Arc<Confirmer>, slot: Slot, mut ops: Vec<(Op, Option<Card>)>) -> (Vec<Uuid>, OpResult) {
    use futures::FutureExt;
    let cards: Vec<Uuid> = ops.iter().map(|(op, _)| op.card_id).collect();
    let op_ids: Vec<i64> = ops.iter().map(|(op, _)| op.op_id).collect();
    let sent = if ops.len() == 1 {
        let (op, conf) = ops.pop().expect("one op");
        std::panic::AssertUnwindSafe(send_one(&sh, &client, &confirmer, slot, op, conf)).catch_unwind().await
    } else {
        std::panic::AssertUnwindSafe(super::batch::send_batch(&sh, &client, &confirmer, slot, ops)).catch_unwind().await
    };
    match sent {
        Ok(r) => (cards, r),
        Err(_) => {
            tracing::error!(?op_ids, "send task panicked; ops requeued");
            // Only ops still in flight go back: any the task already settled keep their outcome.
            put_back(&sh, op_ids).await;
            (cards, OpResult::Skipped)
        }
    }
}

fn op_error(code: &str, message: impl Into<String>, status: Option<u16>) -> OpError {
    OpError { code: code.to_string(), message: message.into(), status }
}

/// Send one op (already marked in flight by the loop) and apply the answer. Never panics on store
/// errors: they leave the op pending.
async fn send_one(sh: &SharedRef, client: &SyncClient, confirmer: &Confirmer, mut slot: Slot, op: Op, conf: Option<Card>) -> OpResult {
    let span = tracing::info_span!(
        "send_op",
        op_id = op.op_id,
        idempotency_key = %op.idempotency_key,
        card_id = %op.card_id,
        kind = ?op.payload.kind(),
        attempt = op.attempts + 1,
    );
    async move {
        let answer = match write_of(&op, conf.as_ref()) {
            Ok(w) => client.send(&w).await,
            Err(unsendable) => {
                sh.rt().breaker.release_probe();
                return settle_unsendable(sh, op, unsendable).await;
            }
        };
        // The breaker learns of the answer before the slot frees, so the next claim already
        // sees it open (a lagging count let a send admitted while closed skip half-open).
        note_breaker(sh, &answer);
        slot.free();
        handle_answer(sh, confirmer, op, answer).await
    }
    .instrument(span)
    .await
}

/// Why an op has no request to send.
pub(crate) enum Unsendable {
    /// An update of a card the server never confirmed.
    NoBase,
    /// A delete of a card the server never had.
    NothingToDelete,
    /// A restore of a card the server never confirmed (nothing to revive).
    NothingToRestore,
}

/// The request an op stands for, as a batch write (the same path, key and body bytes as its
/// single request).
pub(crate) fn write_of(op: &Op, conf: Option<&Card>) -> Result<deckhand_protocol::BatchWrite, Unsendable> {
    let base = op.base_version.or(conf.map(|c| c.version));
    match (&op.payload, base) {
        (OpPayload::Create(n), _) => Ok(SyncClient::create_write(n, &op.idempotency_key)),
        (OpPayload::Update(ch), Some(bv)) => Ok(SyncClient::patch_write(op.card_id, bv, ch, &op.idempotency_key)),
        (OpPayload::Update(_), None) => Err(Unsendable::NoBase),
        (OpPayload::Delete, Some(bv)) => Ok(SyncClient::delete_write(op.card_id, bv, &op.idempotency_key)),
        (OpPayload::Delete, None) => Err(Unsendable::NothingToDelete),
        (OpPayload::Restore, Some(bv)) => Ok(SyncClient::restore_write(op.card_id, bv, &op.idempotency_key)),
        (OpPayload::Restore, None) => Err(Unsendable::NothingToRestore),
    }
}

pub(crate) async fn settle_unsendable(sh: &SharedRef, op: Op, why: Unsendable) -> OpResult {
    match why {
        Unsendable::NoBase => permanent(sh, op, op_error("no_base", "the card was never confirmed by the server", None)).await,
        Unsendable::NothingToDelete | Unsendable::NothingToRestore => {
            let card_id = op.card_id;
            settle(sh, &op, move |tx, op| { outbox::remove(tx, op.op_id)?; remote::rebase(tx, card_id) }).await;
            OpResult::Answered
        }
    }
}

/// Breaker bookkeeping for one answer: transient failures count, any definitive answer closes
/// it, and an answer that tells nothing about the server's health hands a probe back.
pub(crate) fn note_breaker<T>(sh: &SharedRef, answer: &Result<T, SyncError>) {
    let transient = match answer {
        Ok(_) => Some(false),
        Err(SyncError::Connect(_)) | Err(SyncError::Refused { status: 401, .. }) | Err(SyncError::Store(_)) => None,
        // 429 is a healthy server asking this client to slow down: the op waits for its
        // Retry-After; opening the breaker would stop all sync for `breaker_reset` (30 s) on
        // top (a large backlog drained faster than the server's per-token limit did).
        Err(SyncError::Refused { status: 429, .. }) => Some(false),
        Err(SyncError::Refused { status, .. }) => Some(matches!(status, 408 | 500..=599)),
        Err(SyncError::Timeout | SyncError::Transport(_)) => Some(true),
    };
    note_health(sh, transient);
}

/// `Some(true)`: a transient failure; `Some(false)`: the server answered; `None`: tells nothing.
pub(crate) fn note_health(sh: &SharedRef, transient: Option<bool>) {
    let change = {
        let mut rt = sh.rt();
        match transient {
            Some(true) => rt.breaker.on_failure(Instant::now()),
            Some(false) => rt.breaker.on_success(),
            None => {
                rt.breaker.release_probe();
                None
            }
        }
    };
    sh.breaker_changed(change);
}

pub(crate) async fn handle_answer(sh: &SharedRef, confirmer: &Confirmer, op: Op, answer: Result<Card, SyncError>) -> OpResult {
    let card_id = op.card_id;
    match answer {
        Ok(card) => {
            tracing::info!(version = card.version, "op confirmed");
            confirmer.confirm(sh, op, card).await;
            OpResult::Answered
        }
        Err(t @ (SyncError::Connect(_) | SyncError::Timeout | SyncError::Transport(_) | SyncError::Store(_))) => {
            tracing::warn!(error = %t, "send failed");
            let err = op_error(&t.code(), t.to_string(), None);
            // A connect failure: no byte of the request reached the server, so it was not sent.
            let unreachable = matches!(t, SyncError::Connect(_));
            retry(sh, op, None, err, unreachable).await;
            if unreachable { OpResult::Unreachable } else { OpResult::Transient }
        }
        Err(SyncError::Refused { status, problem, retry_after }) => {
            let code = problem.as_ref().map(|p| p.code);
            let message = problem.as_ref().map(|p| p.detail.clone()).unwrap_or_else(|| format!("HTTP {status}"));
            let code_str = code.map(|c| c.as_str().to_string()).unwrap_or_else(|| format!("http_{status}"));
            let err = op_error(&code_str, message.clone(), Some(status));
            let current: Option<Card> = problem.and_then(|p| p.current);
            tracing::info!(status, code = %code_str, "server answered with a problem");
            match status {
                401 => {
                    settle(sh, &op, |tx, op| outbox::mark_pending(tx, op.op_id)).await;
                    OpResult::Auth
                }
                408 | 429 | 500..=599 => {
                    retry(sh, op, retry_after, err, false).await;
                    OpResult::Transient
                }
                409 if code == Some(ErrorCode::IdempotencyInFlight) => {
                    retry(sh, op, retry_after.or(Some(Duration::from_millis(100))), err, false).await;
                    OpResult::Answered
                }
                409 if current.is_some() => {
                    let cur = current.unwrap();
                    match settle(sh, &op, move |tx, op| apply::version_conflict(tx, op, &cur)).await {
                        Some(ConflictOutcome::Conflict(rec)) => sh.emit(EngineEvent::ConflictDetected { conflict: *rec }),
                        _ => sh.wake.notify_one(),
                    }
                    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    OpResult::Answered
                }
                410 if current.is_some() => {
                    let cur = current.unwrap();
                    if let Some(Some(rec)) = settle(sh, &op, move |tx, op| apply::gone(tx, op, &cur)).await {
                        sh.emit(EngineEvent::ConflictDetected { conflict: rec });
                    }
                    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    OpResult::Answered
                }
                404 if matches!(op.payload, OpPayload::Restore) => {
                    settle(sh, &op, move |tx, op| apply::purged(tx, op)).await;
                    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    OpResult::Answered
                }
                404 if matches!(op.payload, OpPayload::Delete) => {
                    settle(sh, &op, move |tx, op| { outbox::remove(tx, op.op_id)?; remote::rebase(tx, card_id) }).await;
                    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
                    OpResult::Answered
                }
                _ => permanent(sh, op, err).await,
            }
        }
    }
}

async fn retry(sh: &SharedRef, op: Op, retry_after: Option<Duration>, err: OpError, never_left: bool) {
    let delay = sh.backoff.delay(op.attempts, retry_after);
    let next = now_ms() + delay.as_millis() as i64;
    tracing::debug!(delay_ms = delay.as_millis() as u64, "retry scheduled");
    settle(sh, &op, move |tx, op| apply::retry_later(tx, op, next, &err, never_left)).await;
}

/// THE one place an answer is recorded: `record` runs in one store transaction. When the store
/// fails (disk full, I/O error, locked), the op goes back to pending with its key and pinned base
/// (the next attempt repeats the same request and the server replays its answer), after a backoff;
/// if even that cannot be written, the loop puts it back once the store works again. No op is
/// left marked in flight with nobody sending it.
pub(crate) async fn settle<R: Send + 'static>(
    sh: &SharedRef,
    op: &Op,
    record: impl FnOnce(&rusqlite::Connection, &Op) -> crate::store::Result<R> + Send + 'static,
) -> Option<R> {
    let op2 = op.clone();
    match sh.db(move |s| s.write(|tx| record(tx, &op2))).await {
        Ok(r) => Some(r),
        Err(e) => {
            unrecorded(sh, op, &e.to_string()).await;
            None
        }
    }
}

/// An answer for `op` could not be recorded: back to pending after a backoff, same key and base.
async fn unrecorded(sh: &SharedRef, op: &Op, why: &str) {
    tracing::error!(op_id = op.op_id, idempotency_key = %op.idempotency_key, error = %why, "could not record the answer; op back to pending");
    let next = now_ms() + sh.backoff.delay(op.attempts, None).as_millis() as i64;
    let err = op_error("store", why.to_string(), None);
    let op2 = op.clone();
    let back = sh.db(move |s| {
        s.write(|tx| {
            // Only if still in flight: a send that settled it some other way keeps that.
            if outbox::get(tx, op2.op_id)?.is_some_and(|o| o.state == crate::model::OpState::InFlight) {
                outbox::mark_retry(tx, &op2, next, &err, false)?;
            }
            Ok(())
        })
    });
    if back.await.is_err() {
        sh.rt().stranded.push(op.op_id);
    }
    sh.wake.notify_one();
}

/// Put ops that are still in flight back to pending; when the store fails, they wait in
/// `stranded` for the loop.
async fn put_back(sh: &SharedRef, op_ids: Vec<i64>) {
    let ids = op_ids.clone();
    let r = sh
        .db(move |s| {
            s.write(|tx| {
                for id in ids {
                    outbox::mark_pending_if_in_flight(tx, id)?;
                }
                Ok(())
            })
        })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, ?op_ids, "could not put ops back to pending; will retry");
        sh.rt().stranded.extend(op_ids);
    }
}

async fn put_back_stranded(sh: &SharedRef) {
    let stranded = std::mem::take(&mut sh.rt().stranded);
    if !stranded.is_empty() {
        put_back(sh, stranded).await;
    }
}

async fn permanent(sh: &SharedRef, op: Op, err: OpError) -> OpResult {
    tracing::warn!(code = %err.code, "op failed permanently");
    let (op_id, card_id, e2) = (op.op_id, op.card_id, err.clone());
    settle(sh, &op, move |tx, op| apply::failed(tx, op, &e2)).await;
    sh.emit(EngineEvent::OpFailed { op_id, card_id, error: err });
    sh.emit(EngineEvent::CardsChanged { ids: vec![card_id] });
    OpResult::Answered
}

/// Group commit of confirmed ops. The first send to finish applies its success at once; the ones
/// that finish while that transaction runs are applied together in the next one (one commit and
/// one `CardsChanged` for the lot). Each `confirm` returns once its op is recorded.
#[derive(Default)]
pub(crate) struct Confirmer {
    /// Waiting successes, and whether a sender is currently applying them.
    queue: Mutex<(Vec<(Op, Card, tokio::sync::oneshot::Sender<()>)>, bool)>,
}

impl Confirmer {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<(Op, Card, tokio::sync::oneshot::Sender<()>)>, bool)> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn confirm(&self, sh: &SharedRef, op: Op, card: Card) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let lead = {
            let mut q = self.lock();
            q.0.push((op, card, tx));
            !std::mem::replace(&mut q.1, true)
        };
        if !lead {
            let _ = rx.await;
            return;
        }
        loop {
            let batch = {
                let mut q = self.lock();
                if q.0.is_empty() {
                    q.1 = false;
                    break;
                }
                std::mem::take(&mut q.0)
            };
            let (items, waiters): (Vec<(Op, Card)>, Vec<_>) = batch.into_iter().map(|(o, c, w)| ((o, c), w)).unzip();
            let ids: Vec<Uuid> = items.iter().map(|(o, _)| o.card_id).collect();
            let ops: Vec<Op> = items.iter().map(|(o, _)| o.clone()).collect();
            let r = sh
                .db(move |s| {
                    s.write(|tx| {
                        for (op, card) in &items {
                            apply::succeeded(tx, op, card)?;
                        }
                        Ok(())
                    })
                    .map(|_| Vec::new())
                    .or_else(|e| {
                        // One bad op must not lose the others: record them one by one.
                        tracing::warn!(error = %e, "batched confirm failed; applying one by one");
                        let mut unrecorded = Vec::new();
                        for (op, card) in &items {
                            if let Err(e) = s.write(|tx| apply::succeeded(tx, op, card)) {
                                tracing::error!(op_id = op.op_id, idempotency_key = %op.idempotency_key, error = %e, "could not record success");
                                unrecorded.push(op.clone());
                            }
                        }
                        Ok(unrecorded)
                    })
                })
                .await;
            // A success that could not be recorded: back to pending, the server replays it later.
            match r {
                Ok(failed) => {
                    for op in failed {
                        unrecorded(sh, &op, "success not recorded").await;
                    }
                }
                Err(e) => {
                    for op in &ops {
                        unrecorded(sh, op, &e.to_string()).await;
                    }
                }
            }
            sh.emit(EngineEvent::CardsChanged { ids });
            for w in waiters {
                let _ = w.send(());
            }
        }
        let _ = rx.await;
    }
}
