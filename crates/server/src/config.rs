use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `deckhand-server serve` can be told. `ServerConfig::new` gives production defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The SQLite file, unless `database_url` is set.
    pub db_path: PathBuf,
    /// A `postgres://` URL: the shared PostgreSQL backend instead of the SQLite file.
    pub database_url: Option<String>,
    /// PostgreSQL connections per instance.
    pub pg_pool_size: usize,
    /// How often subscribed users' seqs are re-read from a shared database, so stream delivery
    /// never depends on cross-instance notifications alone.
    pub reconcile_interval: Duration,
    pub listen: SocketAddr,
    /// Interval of SSE comment heartbeats.
    pub heartbeat: Duration,
    /// `retry:` sent to SSE clients on connect.
    pub sse_retry: Duration,
    /// How long idempotency records are kept.
    pub idempotency_retention: Duration,
    /// Card versions kept: those younger than this (the current version always)...
    pub history_retention: Duration,
    /// ...and at most this many per card.
    pub history_max_versions: u32,
    /// How long a deleted card stays in the Trash (restorable) before its tombstone is purged.
    pub trash_retention: Duration,
    /// How often the purge task looks for expired idempotency records (and old tombstones).
    pub purge_interval: Duration,
    /// Requests served at once (SSE streams excluded); past it: 503 with Retry-After.
    pub max_concurrency: usize,
    /// Sustained requests per second per token; 0 turns the limit off. Past it: 429 with Retry-After.
    pub rate_limit_per_sec: u32,
    /// Burst allowance of the per-token bucket.
    pub rate_limit_burst: u32,
    /// Read connections to the database.
    pub read_connections: usize,
    /// A client must send a request's whole header within this time (also the idle limit of a
    /// kept-alive connection); else the connection is closed. Slow-loris protection.
    pub header_read_timeout: Duration,
    /// A request body must arrive in full within this time; else 408 `request_timeout`.
    pub body_read_timeout: Duration,
    /// A page of cards or changes (and an SSE replay's database page) ends early at about this
    /// many bytes of card JSON (`deckhand_protocol::limits::PAGE_MAX_BYTES` by default).
    pub page_max_bytes: usize,
    /// Open TCP connections; past it the server stops accepting (new clients wait in the
    /// kernel's backlog) until one closes. Keeps memory and file descriptors bounded.
    pub max_connections: usize,
    /// Open SSE streams, all users together; past it: 503 `overloaded`.
    pub max_sse_streams: usize,
    /// Open SSE streams of one user; past it: 429 `rate_limited`.
    pub max_sse_streams_per_user: usize,
}

impl ServerConfig {
    /// A config for `db` as `serve --db` takes it: a `postgres://` URL or a SQLite path.
    pub fn for_location(db: &crate::storage::Location) -> ServerConfig {
        use crate::storage::Location;
        match db {
            Location::Sqlite(path) => ServerConfig::new(path),
            Location::Postgres(url) => {
                let mut c = ServerConfig::new("");
                c.database_url = Some(url.clone());
                c
            }
        }
    }

    /// Where the data lives, for logs (a URL without its password).
    pub fn location_for_log(&self) -> String {
        match &self.database_url {
            Some(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    let _ = u.set_password(None);
                    u.to_string()
                }
                Err(_) => "postgres (unparsable url)".into(),
            },
            None => self.db_path.display().to_string(),
        }
    }

    pub fn new(db_path: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            db_path: db_path.into(),
            database_url: None,
            pg_pool_size: 16,
            reconcile_interval: Duration::from_secs(10),
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            heartbeat: Duration::from_secs(15),
            sse_retry: Duration::from_secs(2),
            idempotency_retention: Duration::from_secs(7 * 24 * 3600),
            trash_retention: Duration::from_secs(30 * 24 * 3600),
            history_retention: Duration::from_secs(90 * 24 * 3600),
            history_max_versions: 100,
            purge_interval: Duration::from_secs(60),
            max_concurrency: 512,
            rate_limit_per_sec: 2_000,
            rate_limit_burst: 4_000,
            read_connections: 4,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            page_max_bytes: deckhand_protocol::limits::PAGE_MAX_BYTES,
            max_connections: 16_384,
            max_sse_streams: 10_000,
            max_sse_streams_per_user: 100,
        }
    }
}
