//! In-memory fan-out to each user's open SSE streams: committed changes made by this process,
//! and pokes ("this user's seq reached N") from other instances or the reconcile loop, on which
//! a stream reads the changes from the database itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::response::sse::Event;
use deckhand_protocol::Change;
use tokio::sync::broadcast;

use crate::storage::UserId;

const CHANNEL_CAPACITY: usize = 1024;

/// A committed change as every live stream sends it: the SSE event is built (the card serialised
/// to JSON) once here, and each subscriber clones the finished bytes. With 1,000 streams of one
/// user that is one serialisation per write instead of 1,000 (P5, docs/benchmarks-notes.md).
#[derive(Debug)]
pub struct Published {
    pub seq: i64,
    pub event: Event,
}

#[derive(Debug, Clone)]
pub enum HubMsg {
    /// A change this process committed, ready to send.
    Change(Arc<Published>),
    /// The user's changes reached this seq somewhere; read what is missing from the database.
    Poke(i64),
}

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<UserId, broadcast::Sender<HubMsg>>>,
}

impl Hub {
    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<HubMsg> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(user).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).subscribe()
    }

    /// Called after the change committed. Drops a user's channel once nobody listens; nothing is
    /// serialised for a user without streams.
    pub fn publish(&self, user: UserId, change: Change) {
        self.publish_with(user, change.seq, || crate::routes::events::event_for(&change));
    }

    /// A committed lane change (`lane.updated` / `lane.deleted`), in the same seq order.
    pub fn publish_lane(&self, user: UserId, change: deckhand_protocol::LaneChange) {
        self.publish_with(user, change.seq, || crate::routes::events::lane_event_for(&change));
    }

    fn publish_with(&self, user: UserId, seq: i64, event: impl FnOnce() -> Event) {
        let map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if !map.get(&user).is_some_and(|tx| tx.receiver_count() > 0) {
            return;
        }
        drop(map);
        self.send(user, HubMsg::Change(Arc::new(Published { seq, event: event() })));
    }

    /// Wakes `user`'s streams that are behind `seq` (they catch up from the database).
    pub fn poke(&self, user: UserId, seq: i64) {
        self.send(user, HubMsg::Poke(seq));
    }

    /// Users with at least one open stream in this process.
    pub fn users(&self) -> Vec<UserId> {
        let map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().filter(|(_, tx)| tx.receiver_count() > 0).map(|(u, _)| *u).collect()
    }

    fn send(&self, user: UserId, msg: HubMsg) {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&user) {
            if tx.send(msg).is_err() {
                map.remove(&user);
            }
        }
    }
}

/// With a shared backend: feeds other instances' signals into the hub and the revocation
/// watch, and re-reads subscribed users' seqs every `reconcile_interval` and after every
/// listener reconnect, so a lost notification delays delivery by at most one period.
pub fn spawn_cross_instance(state: crate::state::AppState) {
    use crate::storage::Signal;
    let Some(notifier) = state.notifier.clone() else { return };
    let resync = Arc::new(tokio::sync::Notify::new());
    {
        let hub = state.hub.clone();
        let revocations = state.revocations.clone();
        let resync = resync.clone();
        notifier.listen(Arc::new(move |signal| match signal {
            Signal::Changed { user, seq } => hub.poke(user, seq),
            Signal::Revoked => revocations.send_modify(|epoch| *epoch += 1),
            Signal::Resync => resync.notify_one(),
        }));
    }
    tokio::spawn(async move {
        let shutdown = crate::state::until_shutdown(state.shutdown.clone());
        tokio::pin!(shutdown);
        let every = state.config.reconcile_interval.max(std::time::Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
                _ = resync.notified() => {}
            }
            for user in state.hub.users() {
                match state.db(move |s| s.last_seq(user)).await {
                    Ok(seq) => state.hub.poke(user, seq),
                    Err(e) => tracing::warn!(user, detail = %e.problem.detail, "reconcile: reading last seq failed"),
                }
            }
        }
    });
}
