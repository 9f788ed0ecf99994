//! In-memory fan-out of committed changes to each user's open SSE streams.

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
pub struct Published {
    pub seq: i64,
    pub event: Event,
}

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<UserId, broadcast::Sender<Arc<Published>>>>,
}

impl Hub {
    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<Arc<Published>> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(user).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).subscribe()
    }

    /// Called after the change committed. Drops a user's channel once nobody listens; nothing is
    /// serialised for a user without streams.
    pub fn publish(&self, user: UserId, change: Change) {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&user) {
            let published = Arc::new(Published { seq: change.seq, event: crate::routes::events::event_for(&change) });
            if tx.send(published).is_err() {
                map.remove(&user);
            }
        }
    }
}
