//! Background sync: drain the outbox, pull the change feed, follow the event stream.
//! `Shared` is the state the engine facade and the background tasks have in common.

pub mod backoff;
mod batch;
pub mod breaker;
pub mod client;
pub mod drain;
mod echoes;
pub mod engine;
mod history;
mod lanes;
mod links;
pub mod pull;
pub mod realtime;
mod transfer;

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast};

use crate::config::{EngineConfig, ServerSettings};
use crate::model::{BreakerState, ConnectionState, EngineEvent, StreamHealth, StreamState, SyncStatus};
use crate::store::{self, Store};
use backoff::Backoff;
use breaker::Breaker;

pub(crate) struct Runtime {
    pub server: Option<ServerSettings>,
    pub connection: ConnectionState,
    pub breaker: Breaker,
    pub stream: StreamHealth,
    pub paused: bool,
    /// A change-feed catch-up is wanted (start, reconnect, sync_now).
    pub pull_requested: bool,
    /// The last catch-up finished and none is wanted.
    pub caught_up: bool,
    pub drain_window: usize,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_status_emit: Option<std::time::Instant>,
    /// Cards whose create is in flight, and the stream's echoes of those creates, held back until
    /// the send ends (see `echoes.rs`).
    pub creates_in_flight: std::collections::HashSet<uuid::Uuid>,
    pub held_echoes: std::collections::HashMap<uuid::Uuid, (deckhand_protocol::Card, Option<i64>)>,
    /// Send tasks spawned and not finished yet: until `drain::finish` has run (answer recorded,
    /// held echoes applied) a send still writes, cursor included, so the engine is not idle.
    pub sends_running: usize,
    /// Writes were answered since the last catch-up: the feed moved by them (and by anything
    /// that raced them) and the cursor may not cover it yet — the stream may be down or its
    /// echoes still on the way. The drain pulls once its burst is over; not idle until then.
    pub feed_behind: bool,
    /// Bumped by `set_server` before it requeues in-flight ops: a claim of the old session that
    /// commits after that requeue sees the change and claims nothing.
    pub session: u64,
    /// Ops whose answer could not be recorded AND could not be put back to pending (the store
    /// kept failing): the drain loop puts them back as soon as the store works again.
    pub stranded: Vec<i64>,
    /// The server answered `/v1/batch` with 404/405: ops go one by one for this session.
    pub batch_unsupported: bool,
    /// Lowest seq of a stream event (or held echo) that failed to apply: the stored cursor stays
    /// below it and the stream reconnects to replay it (`realtime.rs`, `echoes.rs`).
    pub apply_failed_at: Option<i64>,
    /// A full resync with a restored server is under way: the stream waits (`pull.rs`).
    pub resyncing: bool,
}

pub(crate) struct Shared {
    pub store: Arc<Store>,
    pub events: broadcast::Sender<EngineEvent>,
    pub rt: Mutex<Runtime>,
    /// Wakes the drain loop (new op, resume, retry, set_server, window change).
    pub wake: Notify,
    /// Wakes the realtime loop (resume, token change).
    pub wake_stream: Notify,
    pub config: EngineConfig,
    pub backoff: Backoff,
    /// A trailing `StatusChanged` is already scheduled.
    pub status_scheduled: std::sync::atomic::AtomicBool,
    /// `EngineConfig::link_meta_auto`, switchable at run time (the app's setting).
    pub link_auto: std::sync::atomic::AtomicBool,
    /// Background sync may start (`EngineConfig::hold_sync`, `Engine::release_sync`).
    pub sync_released: tokio::sync::watch::Sender<bool>,
}

pub(crate) fn empty_stream_health() -> StreamHealth {
    StreamHealth {
        state: StreamState::Disconnected,
        connected_since: None,
        events_created: 0,
        events_updated: 0,
        events_deleted: 0,
        last_event_at: None,
        last_event_id: None,
    }
}

impl Shared {
    pub fn rt(&self) -> MutexGuard<'_, Runtime> {
        self.rt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run store code on the blocking pool.
    pub async fn db<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> store::Result<R> + Send + 'static,
    ) -> store::Result<R> {
        let s = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&s)).await {
            Ok(r) => r,
            Err(e) => Err(crate::error::StoreError::InvalidState(format!("store task failed: {e}"))),
        }
    }

    pub fn emit(&self, ev: EngineEvent) {
        let _ = self.events.send(ev);
    }

    pub fn connection(&self) -> ConnectionState {
        self.rt().connection
    }

    pub fn set_connection(&self, state: ConnectionState) {
        let changed = {
            let mut rt = self.rt();
            // While paused, late results of work started before the pause don't flip the state.
            if rt.paused && matches!(state, ConnectionState::Online | ConnectionState::Connecting | ConnectionState::Offline) {
                return;
            }
            let changed = rt.connection != state;
            rt.connection = state;
            changed
        };
        if changed {
            tracing::info!(?state, "connection state");
            self.history("connection", &format!("{state:?}"));
            self.emit(EngineEvent::ConnectionChanged { state });
        }
    }

    pub fn breaker_changed(&self, state: Option<BreakerState>) {
        if let Some(state) = state {
            tracing::warn!(?state, "circuit breaker");
            self.history(&format!("breaker.{}", breaker_name(state)), &format!("{state:?}"));
            self.emit(EngineEvent::BreakerChanged { state });
        }
    }

    pub fn request_pull(&self) {
        let mut rt = self.rt();
        rt.pull_requested = true;
        rt.caught_up = false;
        drop(rt);
        self.wake.notify_one();
    }

    /// Fire-and-forget history line (on the blocking pool).
    pub fn history(&self, kind: &str, msg: &str) {
        let (kind, msg) = (kind.to_string(), msg.to_string());
        let s = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let _ = s.write(|tx| store::history::add(tx, &kind, None, &msg));
        });
    }

    /// The status, or the store error that kept it from being read (never a made-up zero count).
    pub async fn status(&self) -> store::Result<SyncStatus> {
        let (counts, conflicts, recovery, last_resync) = self
            .db(|s| {
                s.read(|c| {
                    Ok((
                        store::outbox::counts(c)?,
                        store::conflicts::count(c)?,
                        store::recovery::last_report(c)?,
                        store::resync::last(c)?,
                    ))
                })
            })
            .await?;
        let rt = self.rt();
        Ok(SyncStatus {
            connection: rt.connection,
            breaker: rt.breaker.state(),
            pending: counts.pending,
            in_flight: counts.in_flight,
            failed: counts.failed,
            conflicts,
            oldest_pending_age_ms: counts.oldest_created_ms.map(|t| (Utc::now().timestamp_millis() - t).max(0) as u64),
            last_synced_at: rt.last_synced_at,
            stream: rt.stream.clone(),
            recovery,
            last_resync,
        })
    }

    /// Emit `StatusChanged` shortly (coalesces bursts of writes into one count over the outbox).
    pub fn schedule_status(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.status_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let sh = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            sh.status_scheduled.store(false, Ordering::Release);
            sh.emit_status().await;
        });
    }

    pub async fn emit_status(&self) {
        match self.status().await {
            Ok(status) => self.emit(EngineEvent::StatusChanged { status }),
            // Nothing to show that would be true; the next change tries again.
            Err(e) => tracing::error!(error = %e, "could not read the sync status"),
        }
    }
}

fn breaker_name(s: BreakerState) -> &'static str {
    match s {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half_open",
    }
}

pub(crate) type SharedRef = Arc<Shared>;
