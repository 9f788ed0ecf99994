use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `deckhand-server serve` can be told. `ServerConfig::new` gives production defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub db_path: PathBuf,
    pub listen: SocketAddr,
    /// Interval of SSE comment heartbeats.
    pub heartbeat: Duration,
    /// `retry:` sent to SSE clients on connect.
    pub sse_retry: Duration,
    /// How long idempotency records are kept.
    pub idempotency_retention: Duration,
    /// How often the purge task looks for expired idempotency records.
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
    pub fn new(db_path: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            db_path: db_path.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            heartbeat: Duration::from_secs(15),
            sse_retry: Duration::from_secs(2),
            idempotency_retention: Duration::from_secs(7 * 24 * 3600),
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
