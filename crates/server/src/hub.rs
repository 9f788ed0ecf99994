//! In-memory fan-out of committed changes to each user's open SSE streams.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deckhand_protocol::Change;
use tokio::sync::broadcast;

use crate::storage::UserId;

const CHANNEL_CAPACITY: usize = 1024;

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<UserId, broadcast::Sender<Arc<Change>>>>,
}

impl Hub {
    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<Arc<Change>> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(user).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).subscribe()
    }

    /// Called after the change committed. Drops a user's channel once nobody listens.
    pub fn publish(&self, user: UserId, change: Change) {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&user) {
            if tx.send(Arc::new(change)).is_err() {
                map.remove(&user);
            }
        }
    }
}
