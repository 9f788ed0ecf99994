//! `GET /v1/events`: Server-Sent Events of the caller's changes. With `Last-Event-ID` (or
//! `?since=`) it first replays every change after that seq from the database, then streams live.
//! The live subscription is opened BEFORE the replay query and anything at or below the last
//! sent seq is skipped, so there is no gap and no duplicate at the seam.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use deckhand_protocol::{CONNECTED_EVENT, Change, EventKind, FieldError, Problem, StreamHello, headers as h};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{TokenHash, User};
use crate::error::ApiError;
use crate::hub::HubMsg;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::storage::UserId;

const REPLAY_PAGE: u32 = 500;

/// One change as an SSE event. Live events are built once per write in `Hub::publish`; replayed
/// pages build theirs here.
pub(crate) fn event_for(change: &Change) -> Event {
    Event::default()
        .id(change.seq.to_string())
        .event(EventKind::for_card(&change.card).as_str())
        .data(serde_json::to_string(&change.card).expect("card serialises"))
}

/// One lane change as an SSE event (`lane.updated` / `lane.deleted`, data: the lane).
pub(crate) fn lane_event_for(change: &deckhand_protocol::LaneChange) -> Event {
    Event::default()
        .id(change.seq.to_string())
        .event(change.lane.event_name())
        .data(serde_json::to_string(&change.lane).expect("lane serialises"))
}

/// Keeps the open-streams gauge honest however the stream ends.
struct StreamGauge(Arc<Metrics>);

impl StreamGauge {
    fn open(m: Arc<Metrics>) -> StreamGauge {
        m.sse_streams.fetch_add(1, Ordering::Relaxed);
        StreamGauge(m)
    }
}

impl Drop for StreamGauge {
    fn drop(&mut self) {
        self.0.sse_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

fn resume_point(headers: &HeaderMap, q: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    let raw = headers
        .get(h::LAST_EVENT_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .or_else(|| q.get("since").cloned());
    match raw {
        None => Ok(None),
        Some(v) => v.trim().parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
            ApiError::validation(vec![FieldError {
                field: "Last-Event-ID".into(),
                message: "must be a non-negative integer seq".into(),
            }])
        }),
    }
}

#[utoipa::path(get, path = "/v1/events", operation_id = "streamEvents", tag = "events",
    params(
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0, description = "Resume after this seq"),
        ("since" = Option<i64>, Query, minimum = 0, description = "Same as Last-Event-ID"),
    ),
    responses(
        (status = 200, description = "text/event-stream: first `event: connected`, `data: <StreamHello>` (epoch, last_seq, heartbeat_ms); then `id: <seq>`, `event: card.created|card.updated|card.deleted` with `data: <card>`, or `event: lane.updated|lane.deleted` with `data: <lane>`", content_type = "text/event-stream"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad Last-Event-ID", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many open streams for this user, or rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many open streams on the server", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn stream(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    Extension(TokenHash(token)): Extension<TokenHash>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = resume_point(&headers, &q)?;
    let slot = state.open_sse_slot(user)?;
    // Subscribe first: whatever commits from here on is in the channel.
    let rx = state.hub.subscribe(user);
    let (epoch, last_seq) = state.db(move |s| Ok((s.epoch()?, s.last_seq(user)?))).await?;
    let start = resume.unwrap_or(last_seq);
    let heartbeat = state.config.heartbeat;
    tracing::info!(user, since = start, last_seq, "sse stream opened");
    let live = Liveness { user, token, slot };
    let hello = StreamHello { epoch, last_seq, heartbeat_ms: heartbeat.as_millis() as u64 };
    Ok(Sse::new(events(state, live, hello, start, resume.is_some(), rx)).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")))
}

/// What a stream needs to know to end itself when its token is revoked.
struct Liveness {
    user: UserId,
    token: [u8; 32],
    slot: crate::state::SseSlot,
}

/// Whether the stream's token still belongs to its user. A failing database is not a revocation:
/// the stream stays and the next check decides.
async fn token_live(state: &AppState, user: UserId, token: [u8; 32]) -> bool {
    match state.db(move |s| s.user_for_token(&token)).await {
        Ok(owner) => owner == Some(user),
        Err(e) => {
            tracing::warn!(detail = %e.problem.detail, "sse token re-check failed; keeping the stream");
            true
        }
    }
}

fn events(
    state: AppState,
    live: Liveness,
    hello: StreamHello,
    start: i64,
    replay: bool,
    mut rx: tokio::sync::broadcast::Receiver<crate::hub::HubMsg>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        let Liveness { user, token, slot: _slot } = live;
        let _gauge = StreamGauge::open(state.metrics.clone());
        let shutdown = crate::state::until_shutdown(state.shutdown.clone());
        tokio::pin!(shutdown);
        // Revocation in this process wakes every stream at once; the periodic re-check (every
        // heartbeat) also catches revocations made by another process (`deckhand-server user revoke`).
        let mut revocations = state.revocations.subscribe();
        let every = state.config.heartbeat.max(std::time::Duration::from_millis(100));
        // First check at a random point of the interval: streams opened together (say, every
        // client reconnecting after a restart) must not all hit the database in the same instant.
        let jitter = every.mul_f64(rand::random::<f64>());
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + every / 2 + jitter, every);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first event says which database this is (a restored server has another epoch, or a
        // last_seq below the client's cursor) and how often heartbeats come (the client's watchdog).
        let hello = serde_json::to_string(&hello).expect("hello serialises");
        yield Ok(Event::default().retry(state.config.sse_retry).event(CONNECTED_EVENT).data(hello));
        let mut last = start;
        let mut catch_up = replay;
        loop {
            // Replay (initially, and after the live channel lagged) straight from the database.
            while catch_up {
                // A revocation signalled while we replay (pages can be many) is honoured before
                // the next page, not after the whole backlog.
                if revocations.has_changed().unwrap_or(false) {
                    revocations.borrow_and_update();
                    if !token_live(&state, user, token).await {
                        tracing::info!(user, "sse stream ended: token revoked");
                        return;
                    }
                }
                let max_bytes = state.config.page_max_bytes;
                let page = match state.db(move |s| crate::feed::page(s, user, last, REPLAY_PAGE, max_bytes)).await {
                    Ok(p) => p,
                    Err(e) => { tracing::warn!(error = ?e.problem.detail, "sse replay failed"); return; }
                };
                catch_up = page.more;
                // Cards and lanes share the seq: send them merged in seq order.
                let mut events: Vec<(i64, Event)> = page.cards.iter().map(|c| (c.seq, event_for(c)))
                    .chain(page.lanes.iter().map(|l| (l.seq, lane_event_for(l)))).collect();
                events.sort_by_key(|(seq, _)| *seq);
                for (seq, event) in events {
                    last = seq;
                    yield Ok(event);
                }
            }
            tokio::select! {
                // In this order: after a revoke, no event that is also ready gets out first.
                biased;
                _ = &mut shutdown => return,
                changed = revocations.changed() => {
                    if changed.is_err() || !token_live(&state, user, token).await {
                        tracing::info!(user, "sse stream ended: token revoked");
                        return;
                    }
                }
                _ = recheck.tick() => {
                    if !token_live(&state, user, token).await {
                        tracing::info!(user, "sse stream ended: token revoked");
                        return;
                    }
                }
                msg = rx.recv() => match msg {
                    // Seqs are contiguous per user, but publishes can race each other after
                    // their commits: on any jump, read the committed truth from the database.
                    Ok(HubMsg::Change(p)) if p.seq == last + 1 => {
                        last = p.seq;
                        yield Ok(p.event.clone());
                    }
                    Ok(HubMsg::Change(p)) if p.seq > last + 1 => {
                        state.metrics.sse_gap_fills.fetch_add(1, Ordering::Relaxed);
                        catch_up = true;
                    }
                    // Another instance (or the reconcile loop) saw a seq we have not sent.
                    Ok(HubMsg::Poke(seq)) if seq > last => catch_up = true,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        state.metrics.sse_lag_replays.fetch_add(1, Ordering::Relaxed);
                        catch_up = true;
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}
