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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_write_of_a_user_at_a_time_and_other_users_go_on() {
        let q = UserQueues::default();
        let first = q.turn(7).await;
        // Another user (another stripe) is not held up by user 7's turn.
        let other = tokio::time::timeout(Duration::from_secs(5), q.turn(8)).await.expect("user 8 waited for user 7");
        drop(other);
        // User 7's next write waits until the first one's turn ends, then goes.
        let mut second = Box::pin(q.turn(7));
        assert!(futures::poll!(&mut second).is_pending(), "two turns of one user at once");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second).await.expect("the second turn after the first");
    }
}
