//! Cross-instance signals. A signal is a poke, never data: on `Changed` a stream reads the
//! committed truth from the database (it already fills gaps and drops duplicates), so a lost,
//! late or repeated signal costs latency, never correctness. The reconcile loop in `crate::hub`
//! heals lost pokes; delivery never depends on the notifier alone.

use std::sync::Arc;

use super::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `user`'s changes reached `seq` (sent after the commit).
    Changed { user: UserId, seq: i64 },
    /// Tokens were revoked somewhere: every open stream re-checks its own.
    Revoked,
    /// The listener (re)connected and may have missed signals: re-read every local user.
    Resync,
}

/// What a shared backend offers for fan-out across processes.
pub trait Notifier: Send + Sync + 'static {
    /// Announces a committed change to every instance. Best effort, never blocks the caller.
    fn changed(&self, user: UserId, seq: i64);
    /// Announces a revocation to every instance. Returns once sent (or failed).
    fn revoked(&self);
    /// Delivers every instance's signals (this one's included) to `sink` from now on, reconnecting
    /// as needed; sends `Resync` after each reconnect. Returns at once.
    fn listen(&self, sink: Arc<dyn Fn(Signal) + Send + Sync>);
}
