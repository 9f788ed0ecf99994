//! Writes of one user queue here, in this instance, before they take a database connection.
//!
//! A user's writes commit one at a time anyway (the counter row lock, `storage` invariants). Left
//! to the database, a second write of the same user would take a pooled connection, start its
//! transaction and sleep on that lock, holding the connection and costing PostgreSQL a wait and
//! a wake-up; queued here it waits for nothing but its turn. Writes through other instances
//! still meet at the counter row, which stays the guarantee: this queue only saves work.

use tokio::sync::{Mutex, MutexGuard};

use crate::storage::UserId;

/// Striped: users share a stripe only by hash, so no map to grow or clean up; a collision just
/// queues two users' writes behind each other, which is still correct.
const STRIPES: usize = 1024;

pub struct UserQueues {
    stripes: Box<[Mutex<()>]>,
}

impl Default for UserQueues {
    fn default() -> UserQueues {
        UserQueues { stripes: (0..STRIPES).map(|_| Mutex::new(())).collect() }
    }
}

impl UserQueues {
    /// Waits for `user`'s turn (first come, first served); the turn lasts as long as the guard.
    pub async fn turn(&self, user: UserId) -> MutexGuard<'_, ()> {
        self.stripes[user.rem_euclid(STRIPES as i64) as usize].lock().await
    }
}
