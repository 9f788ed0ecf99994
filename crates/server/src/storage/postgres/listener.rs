//! Cross-instance pokes over LISTEN/NOTIFY. Payloads are `c:<user>:<seq>` (a change committed)
//! and `r` (tokens revoked) — never a card: NOTIFY payloads are capped at 8,000 bytes, and the
//! stream reads the card from the database anyway. NOTIFY is sent after the commit on a pooled
//! connection (inside the write transaction it would take a cluster-wide lock at commit). Each
//! instance keeps one dedicated listener connection and reconnects it forever.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use super::CHANNEL;
use crate::storage::{Notifier, Signal, UserId};

/// `application_name` of the listener connection (operators and tests find it by this).
pub const LISTENER_APP_NAME: &str = "deckhand-listener";

pub struct PgNotifier {
    handle: tokio::runtime::Handle,
    pool: Pool,
    config: tokio_postgres::Config,
}

impl PgNotifier {
    pub fn new(handle: tokio::runtime::Handle, pool: Pool, config: tokio_postgres::Config) -> PgNotifier {
        PgNotifier { handle, pool, config }
    }
}

async fn notify(pool: &Pool, payload: &str) {
    let sent = async {
        let c = pool.get().await.map_err(|e| e.to_string())?;
        c.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload]).await.map_err(|e| e.to_string())
    };
    // A lost poke is healed by the reconcile loop; log and go on.
    if let Err(e) = sent.await {
        tracing::warn!(payload, error = %e, "NOTIFY failed");
    }
}

pub fn parse(payload: &str) -> Option<Signal> {
    let mut parts = payload.split(':');
    match (parts.next()?, parts.next(), parts.next(), parts.next()) {
        ("c", Some(user), Some(seq), None) => Some(Signal::Changed { user: user.parse().ok()?, seq: seq.parse().ok()? }),
        ("r", None, None, None) => Some(Signal::Revoked),
        _ => None,
    }
}

impl Notifier for PgNotifier {
    fn changed(&self, user: UserId, seq: i64) {
        let pool = self.pool.clone();
        self.handle.spawn(async move { notify(&pool, &format!("c:{user}:{seq}")).await });
    }

    fn revoked(&self) {
        // Waits for the send: the CLI exits right after revoking.
        let pool = self.pool.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            notify(&pool, "r").await;
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }

    fn listen(&self, sink: Arc<dyn Fn(Signal) + Send + Sync>) {
        let mut config = self.config.clone();
        config.application_name(LISTENER_APP_NAME);
        self.handle.spawn(async move {
            let mut backoff = Duration::from_millis(50);
            loop {
                match listen_once(&config, &sink).await {
                    Ok(()) => backoff = Duration::from_millis(50),
                    Err(e) => tracing::warn!(error = %e, "notification listener failed"),
                }
                tracing::info!(retry_in_ms = backoff.as_millis() as u64, "notification listener reconnecting");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        });
    }
}

/// One listener connection, until it breaks. Returns `Ok` if it had been listening.
async fn listen_once(config: &tokio_postgres::Config, sink: &Arc<dyn Fn(Signal) + Send + Sync>) -> Result<(), tokio_postgres::Error> {
    let (client, mut conn) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection object yields the notifications; it must be polled for the client to work.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(msg) = messages.next().await {
            match msg {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "notification listener connection lost");
                    return;
                }
            }
        }
    });
    let listening = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
    if let Err(e) = listening {
        driver.abort();
        return Err(e);
    }
    tracing::info!("notification listener connected");
    // Anything sent while we were away is unknown: every local stream re-reads.
    sink(Signal::Resync);
    while let Some(payload) = rx.recv().await {
        match parse(&payload) {
            Some(signal) => sink(signal),
            None => tracing::warn!(payload, "unknown notification ignored"),
        }
    }
    drop(client);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        assert_eq!(parse("c:7:42"), Some(Signal::Changed { user: 7, seq: 42 }));
        assert_eq!(parse("r"), Some(Signal::Revoked));
        assert_eq!(parse("c:7"), None);
        assert_eq!(parse("c:7:42:1"), None);
        assert_eq!(parse("x"), None);
    }
}
