use std::path::PathBuf;
use std::time::Duration;

/// Where to sync. `None` in `EngineConfig::server` means "work offline".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub url: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `deckhand.db` lives here.
    pub data_dir: PathBuf,
    pub server: Option<ServerSettings>,
    pub drain_window: usize,
    /// Most ops one request carries (`POST /v1/batch`) when more are ready than the window has
    /// requests; 1 sends every op as its own request.
    pub batch_max: usize,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub breaker_threshold: u32,
    pub breaker_reset: Duration,
    pub request_timeout: Duration,
    /// Expected server heartbeat; the stream watchdog fires after 3x this without any byte.
    pub heartbeat: Duration,
    /// Subscribe to the server's SSE stream.
    pub realtime: bool,
    /// Open the database read-only (`SQLITE_OPEN_READ_ONLY`): reads work, writes fail with the
    /// error kind `read_only`. A database file the process may not write opens read-only anyway.
    pub read_only: bool,
    /// Cap on the database size in bytes (`PRAGMA max_page_count`); `None` = no cap. Writes past
    /// it fail with `disk_full` exactly as on a full disk. Can be changed with
    /// `Engine::set_max_db_bytes`.
    pub max_db_bytes: Option<u64>,
    /// Fetch a card's link metadata in the background when it is created with a URL or its URL
    /// changes (the app's "Fetch link previews" setting). Off by default: a library user or a
    /// test decides whether the engine may reach the web.
    pub link_meta_auto: bool,
    /// Limits of one link metadata fetch (timeout, redirects, page and icon size).
    pub link_fetch: crate::link::FetchLimits,
    /// Pages fetched at once by a bulk refresh.
    pub link_refresh_concurrency: usize,
    /// Background sync (drain, catch-up, stream) waits for `Engine::release_sync` before its
    /// first request. The desktop app holds it until its window has painted the cards: a drain
    /// of thousands of queued ops started at once takes the store and the CPU from the first
    /// paint (P9 in docs/benchmarks.md). Off by default: sync starts at open.
    pub hold_sync: bool,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            server: None,
            drain_window: 8,
            batch_max: 50,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            breaker_threshold: 5,
            breaker_reset: Duration::from_secs(30),
            request_timeout: Duration::from_secs(15),
            heartbeat: Duration::from_secs(15),
            realtime: true,
            read_only: false,
            max_db_bytes: None,
            link_meta_auto: false,
            link_fetch: crate::link::FetchLimits::default(),
            link_refresh_concurrency: 4,
            hold_sync: false,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("deckhand.db")
    }
}
