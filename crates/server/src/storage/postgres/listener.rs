//! Cross-instance pokes over LISTEN/NOTIFY. Payloads are `c:<user>:<seq>[,<user>:<seq>...]`
//! (changes committed) and `r` (tokens revoked) — never a card: NOTIFY payloads are capped at
//! 8,000 bytes, and the stream reads the card from the database anyway. NOTIFY is sent after the
//! commit on a pooled connection (inside the write transaction it would take a cluster-wide lock
//! at commit). Each instance keeps one dedicated listener connection and reconnects it forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use super::CHANNEL;
use crate::storage::{Notifier, Signal, UserId};

/// `application_name` of the listener connection (operators and tests find it by this).
pub const LISTENER_APP_NAME: &str = "deckhand-listener";
/// A change payload stays below this many bytes (PostgreSQL refuses 8,000 and more).
const PAYLOAD_MAX: usize = 7_900;

pub struct PgNotifier {
    handle: tokio::runtime::Handle,
    pool: Pool,
    config: tokio_postgres::Config,
    pokes: Pokes,
}

impl PgNotifier {
    pub fn new(handle: tokio::runtime::Handle, pool: Pool, config: tokio_postgres::Config) -> PgNotifier {
        let pokes = Pokes::start(&handle, pool.clone());
        PgNotifier { handle, pool, config, pokes }
    }
}

/// Change pokes, coalesced: while one NOTIFY is on its way, later pokes wait and leave together
/// in the next, only the highest seq per user (a stream re-reads from its own cursor, so seq N
/// stands for every seq below it). No timer: an idle instance sends each poke at once, a busy
/// one sends fewer, fuller NOTIFYs — one statement per round, not a connection and a statement
/// per write, and far fewer wake-ups of every instance's listener.
pub struct Pokes {
    pending: Arc<Mutex<HashMap<UserId, i64>>>,
    wake: Arc<tokio::sync::Notify>,
}

impl Pokes {
    /// Starts the sender task on `handle`; it ends when the runtime does.
    pub fn start(handle: &tokio::runtime::Handle, pool: Pool) -> Pokes {
        let pending: Arc<Mutex<HashMap<UserId, i64>>> = Arc::default();
        let wake = Arc::new(tokio::sync::Notify::new());
        let (p, w) = (pending.clone(), wake.clone());
        handle.spawn(async move {
            loop {
                w.notified().await;
                let round = std::mem::take(&mut *p.lock().unwrap_or_else(|e| e.into_inner()));
                if !round.is_empty() {
                    notify(&pool, &change_payloads(&round)).await;
                }
            }
        });
        Pokes { pending, wake }
    }

    /// Queues "`user`'s changes reached `seq`"; never waits.
    pub fn send(&self, user: UserId, seq: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let latest = pending.entry(user).or_insert(seq);
        *latest = (*latest).max(seq);
        drop(pending);
        // Stores a permit when the sender is busy: it goes round once more and finds this poke.
        self.wake.notify_one();
    }
}

/// `c:` payloads for a round of pokes, each under `PAYLOAD_MAX` bytes.
fn change_payloads(round: &HashMap<UserId, i64>) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for (user, seq) in round {
        let item = format!("{user}:{seq}");
        if !cur.is_empty() && cur.len() + 1 + item.len() > PAYLOAD_MAX {
            out.push(std::mem::take(&mut cur));
        }
        cur.push_str(if cur.is_empty() { "c:" } else { "," });
        cur.push_str(&item);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One NOTIFY per payload, all in one statement.
async fn notify(pool: &Pool, payloads: &[String]) {
    let sent = async {
        let c = pool.get().await.map_err(|e| e.to_string())?;
        let st = c.prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p").await.map_err(|e| e.to_string())?;
        c.execute(&st, &[&CHANNEL, &payloads]).await.map_err(|e| e.to_string())
    };
    // A lost poke is healed by the reconcile loop; log and go on.
    if let Err(e) = sent.await {
        tracing::warn!(payloads = payloads.len(), error = %e, "NOTIFY failed");
    }
}

/// The signals of one payload (`None`: not a payload this build knows).
pub fn parse(payload: &str) -> Option<Vec<Signal>> {
    if payload == "r" {
        return Some(vec![Signal::Revoked]);
    }
    let pokes = payload.strip_prefix("c:")?;
    pokes
        .split(',')
        .map(|poke| {
            let (user, seq) = poke.split_once(':')?;
            Some(Signal::Changed { user: user.parse().ok()?, seq: seq.parse().ok()? })
        })
        .collect()
}

impl Notifier for PgNotifier {
    fn changed(&self, user: UserId, seq: i64) {
        self.pokes.send(user, seq);
    }

    fn revoked(&self) {
        // Waits for the send: the CLI exits right after revoking.
        let pool = self.pool.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            notify(&pool, &["r".to_string()]).await;
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
            Some(signals) => signals.into_iter().for_each(|signal| sink(signal)),
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
        assert_eq!(parse("c:7:42"), Some(vec![Signal::Changed { user: 7, seq: 42 }]));
        assert_eq!(parse("c:7:42,9:3"), Some(vec![Signal::Changed { user: 7, seq: 42 }, Signal::Changed { user: 9, seq: 3 }]));
        assert_eq!(parse("r"), Some(vec![Signal::Revoked]));
        assert_eq!(parse("c:7"), None);
        assert_eq!(parse("c:7:42:1"), None);
        assert_eq!(parse("c:7:42,"), None);
        assert_eq!(parse("x"), None);
    }

    #[test]
    fn a_round_of_pokes_fits_in_payloads_and_loses_none() {
        let round: HashMap<UserId, i64> = (0..5_000).map(|u| (u * 7_919, u * 1_000_003 + 1)).collect();
        let payloads = change_payloads(&round);
        assert!(payloads.len() > 1, "5,000 pokes need several payloads");
        let mut back = HashMap::new();
        for p in &payloads {
            assert!(p.len() <= PAYLOAD_MAX, "payload of {} bytes", p.len());
            for s in parse(p).expect("parses") {
                let Signal::Changed { user, seq } = s else { panic!("{s:?}") };
                assert!(back.insert(user, seq).is_none(), "user {user} twice");
            }
        }
        assert_eq!(back, round);
    }
}
