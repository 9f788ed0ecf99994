//! Realtime: follow `GET /v1/events` (SSE) with eventsource-client 0.18 over a reqwest transport.
//! The library's own reconnect is off; this loop owns it so every connection is rebuilt with the
//! current token and `Last-Event-ID` = the stored cursor. 401 → AuthRequired; 204 and other 4xx
//! are terminal (the change feed still works); `retry:` is clamped to the backoff bounds; a
//! watchdog drops a stream silent for 3x the server's announced heartbeat. The server's first
//! event (`connected`) names its database epoch and last seq: a restored server makes the stream
//! stop until the catch-up has resynced (pull.rs). An event that fails to apply ends the stream:
//! the cursor stays before it, so the reconnect replays it.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use deckhand_protocol::{CONNECTED_EVENT, Card, EventKind, StreamHello};
use eventsource_client::{self as es, Client as _};
use futures::StreamExt;
use launchdarkly_sdk_transport::{ByteStream, HttpTransport, ResponseFuture, TransportError};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::SharedRef;
use super::echoes;
use crate::config::ServerSettings;
use crate::model::{ConnectionState, StreamState};
use crate::store::sync_state;

/// `HttpTransport` over reqwest (rustls), so https works without another TLS stack. The request
/// runs on its own task and hands bytes over channels (the trait wants `Sync` futures/streams).
#[derive(Clone)]
pub struct ReqwestTransport {
    http: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new(connect_timeout: Duration) -> ReqwestTransport {
        let http = reqwest::Client::builder().connect_timeout(connect_timeout).build().expect("reqwest client");
        ReqwestTransport { http }
    }
}

#[derive(Debug)]
struct Msg(String);
impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Msg {}

impl HttpTransport for ReqwestTransport {
    fn request(&self, request: http::Request<Option<Bytes>>) -> ResponseFuture {
        let http = self.http.clone();
        let (tx, rx) = oneshot::channel::<Result<http::Response<ByteStream>, TransportError>>();
        tokio::spawn(async move {
            let (parts, body) = request.into_parts();
            let mut rb = http.request(parts.method, parts.uri.to_string()).headers(parts.headers);
            if let Some(b) = body {
                rb = rb.body(b);
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(TransportError::new(e)));
                    return;
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let (btx, brx) = mpsc::channel::<Result<Bytes, TransportError>>(16);
            let stream: ByteStream = Box::pin(tokio_stream::wrappers::ReceiverStream::new(brx));
            let mut out = http::Response::new(stream);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            if tx.send(Ok(out)).is_err() {
                return;
            }
            // Ends as soon as the stream is dropped (a watchdog reconnect, pause), not at the next
            // chunk: a silent connection would otherwise stay open, with this task, for ever.
            let mut body = resp.bytes_stream();
            loop {
                let chunk = tokio::select! {
                    c = body.next() => c,
                    _ = btx.closed() => return,
                };
                let Some(chunk) = chunk else { return };
                let item = chunk.map_err(TransportError::new);
                let stop = item.is_err();
                if btx.send(item).await.is_err() || stop {
                    return;
                }
            }
        });
        Box::pin(async move {
            match rx.await {
                Ok(r) => r,
                Err(_) => Err(TransportError::new(Msg("transport task ended".into()))),
            }
        })
    }
}

enum End {
    /// Reconnect after a delay.
    Retry,
    /// Stop following the stream (terminal status).
    Terminal,
    Auth,
}

pub(crate) async fn run(sh: SharedRef, server: ServerSettings) {
    let transport = ReqwestTransport::new(sh.config.request_timeout);
    let mut attempt: u32 = 0;
    let mut retry_hint: Option<Duration> = None;
    loop {
        let (paused, conn) = {
            let rt = sh.rt();
            (rt.paused, rt.connection)
        };
        // A resync with a restored server pulls everything first; the stream waits for its cursor.
        if paused || conn == ConnectionState::AuthRequired || sh.rt().resyncing {
            set_state(&sh, StreamState::Disconnected);
            sh.wake_stream.notified().await;
            continue;
        }
        let token = sh.rt().server.as_ref().map(|s| s.token.clone()).unwrap_or_else(|| server.token.clone());
        // The stored cursor is below any event that failed to apply: resuming from it replays them.
        sh.rt().apply_failed_at = None;
        let (end, healthy) = match sh.db(|s| s.read(|c| Ok((sync_state::cursor(c)?, sync_state::get(c, sync_state::EPOCH)?)))).await {
            Ok((cursor, epoch)) => {
                let span = tracing::info_span!("sse", last_event_id = cursor, attempt);
                let at = Resume { cursor, epoch };
                follow(&sh, &transport, &server.url, &token, &at, &mut retry_hint).instrument(span).await
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read the sync cursor; the stream waits");
                (End::Retry, false)
            }
        };
        match end {
            End::Terminal => {
                set_state(&sh, StreamState::Error);
                tracing::warn!("event stream refused; relying on the change feed");
                return;
            }
            End::Auth => {
                set_state(&sh, StreamState::Error);
                sh.set_connection(ConnectionState::AuthRequired);
                continue;
            }
            End::Retry => {
                set_state(&sh, StreamState::Disconnected);
                // A connection that proved healthy (hello, heartbeat or event) starts the backoff
                // over; a quiet stream with heartbeats is healthy, not failing.
                if healthy {
                    attempt = 0;
                }
                let d = sh.backoff.delay(attempt, None).max(retry_hint.unwrap_or_default());
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = sh.wake_stream.notified() => {}
                }
            }
        }
    }
}

/// A stream silent for three heartbeats is dead.
fn watchdog_for(heartbeat: Duration) -> Duration {
    heartbeat.saturating_mul(3).max(Duration::from_millis(100))
}

/// Why the server the stream reached is not the one our cursor belongs to (restored from a
/// backup or reset), if it is not.
fn restored(at: &Resume, hello: &StreamHello) -> Option<&'static str> {
    if at.epoch.as_deref().is_some_and(|e| e != hello.epoch) {
        Some("new_epoch")
    } else if at.cursor > hello.last_seq {
        Some("cursor_ahead")
    } else {
        None
    }
}

fn set_state(sh: &SharedRef, state: StreamState) {
    let mut rt = sh.rt();
    if rt.stream.state != state {
        rt.stream.state = state;
        if state != StreamState::Connected {
            rt.stream.connected_since = None;
        }
    }
}

/// Where a connection resumes: the stored cursor and the server epoch it belongs to.
struct Resume {
    cursor: i64,
    epoch: Option<String>,
}

/// One connection. Returns how it ended and whether it was healthy (the server's hello, a
/// heartbeat or an event arrived and was applied).
async fn follow(
    sh: &SharedRef,
    transport: &ReqwestTransport,
    base: &str,
    token: &str,
    at: &Resume,
    retry_hint: &mut Option<Duration>,
) -> (End, bool) {
    let cursor = at.cursor;
    let url = format!("{}/v1/events", base.trim_end_matches('/'));
    let builder = match es::ClientBuilder::for_url(&url).and_then(|b| b.header("Authorization", &format!("Bearer {token}"))) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "bad event stream url");
            return (End::Terminal, false);
        }
    };
    // Always resume from the stored cursor, 0 included: without `Last-Event-ID` the server streams
    // from now, and the first live event would move the cursor past every change the catch-up
    // pull has not fetched yet (found by the chaos suite: a fresh client whose first pull failed
    // never saw the cards created before it connected).
    let builder = builder.last_event_id(cursor.to_string());
    let client = builder.reconnect(es::ReconnectOptions::reconnect(false).build()).build_with_transport(transport.clone());
    set_state(sh, StreamState::Connecting);
    let mut stream = client.stream();
    // Until the server announces its heartbeat interval (`connected`), the configured one.
    let mut watchdog = watchdog_for(sh.config.heartbeat);
    let mut got = false;
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(watchdog, stream.next()) => n,
            _ = sh.wake_stream.notified() => {
                // Pause (or auth trouble seen elsewhere) closes the stream; resume reopens it.
                // So does an event that failed to apply elsewhere (a held echo): the reconnect
                // replays it.
                let rt = sh.rt();
                if rt.paused || rt.connection == ConnectionState::AuthRequired || rt.apply_failed_at.is_some() || rt.resyncing {
                    return (End::Retry, got);
                }
                continue;
            }
        };
        let next = match next {
            Err(_) => {
                tracing::warn!(?watchdog, "event stream silent; reconnecting");
                return (End::Retry, got);
            }
            Ok(None) => return (End::Retry, got),
            Ok(Some(n)) => n,
        };
        match next {
            Ok(es::SSE::Connected(_)) => {
                // Connected (in `StreamHealth`) once the server's hello has arrived, below.
                tracing::info!("event stream opened");
                // Anything missed while disconnected is replayed from Last-Event-ID; a catch-up
                // pull after every reconnect makes sure of it.
                sh.request_pull();
            }
            // A heartbeat: the connection is alive.
            Ok(es::SSE::Comment(_)) => got = true,
            Ok(es::SSE::Event(ev)) => {
                got = true;
                if let Some(ms) = ev.retry {
                    let b = &sh.backoff;
                    *retry_hint = Some(Duration::from_millis(ms).clamp(b.base, b.cap));
                }
                if ev.event_type == CONNECTED_EVENT {
                    match serde_json::from_str::<StreamHello>(&ev.data) {
                        Ok(hello) => {
                            watchdog = watchdog_for(Duration::from_millis(hello.heartbeat_ms));
                            {
                                let mut rt = sh.rt();
                                rt.stream.state = StreamState::Connected;
                                rt.stream.connected_since = Some(Utc::now());
                            }
                            if let Some(why) = restored(at, &hello) {
                                // Events of a restored server cannot be applied on our cursor:
                                // the catch-up resyncs first (pull.rs), then the stream resumes.
                                tracing::warn!(why, epoch = %hello.epoch, last_seq = hello.last_seq, "server was restored or reset; resyncing");
                                sh.request_pull();
                                return (End::Retry, false);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "bad connected event"),
                    }
                    continue;
                }
                if ev.event_type == deckhand_protocol::LANE_UPDATED_EVENT || ev.event_type == deckhand_protocol::LANE_DELETED_EVENT {
                    // Applied without moving the cursor: the next card event or catch-up moves
                    // it, and a replay re-applies the lane as an echo.
                    match serde_json::from_str::<deckhand_protocol::Lane>(&ev.data) {
                        Ok(lane) => {
                            if let Err(e) = super::lanes::apply_remote(sh, vec![lane]).await {
                                tracing::warn!(error = %e, "could not apply a lane event; the catch-up brings it again");
                                sh.request_pull();
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "bad lane event payload"),
                    }
                    continue;
                }
                let Some(kind) = EventKind::parse(&ev.event_type) else { continue };
                let seq = ev.id.as_deref().and_then(|s| s.parse::<i64>().ok());
                let card: Card = match serde_json::from_str(&ev.data) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "bad event payload");
                        continue;
                    }
                };
                {
                    let mut rt = sh.rt();
                    match kind {
                        EventKind::Created => rt.stream.events_created += 1,
                        EventKind::Updated => rt.stream.events_updated += 1,
                        EventKind::Deleted => rt.stream.events_deleted += 1,
                    }
                    rt.stream.last_event_at = Some(Utc::now());
                    if seq.is_some() {
                        rt.stream.last_event_id = seq;
                    }
                }
                let Some(card) = echoes::hold(sh, kind, card, seq) else { continue };
                if let Err(e) = echoes::apply(sh, vec![card]).await {
                    // Not skipped: the cursor stays before it and the reconnect replays it.
                    echoes::failed(sh, [seq], &e);
                    return (End::Retry, false);
                }
            }
            Err(es::Error::UnexpectedResponse(resp, _)) => {
                let status = resp.status();
                tracing::warn!(status, "event stream refused");
                return match status {
                    401 => (End::Auth, got),
                    204 | 400..=499 if status != 408 && status != 429 => (End::Terminal, got),
                    _ => (End::Retry, got),
                };
            }
            Err(e) => {
                tracing::debug!(error = %e, "event stream error");
                return (End::Retry, got);
            }
        }
    }
}
