//! Which backend the server tests run against (the cluster itself is `deckhand_testkit::pg`).
//!
//! `DECKHAND_TEST_BACKEND=postgres` runs the suite on PostgreSQL (default: SQLite). The cluster is
//! Debian's `postgresql` binaries run as the `postgres` OS user (initdb refuses root), in a temp
//! dir, on 127.0.0.1 and a free port, fsync off; one per test binary (started on first use,
//! stopped by pid at exit), a fresh database per server started.
#![allow(dead_code)]

use std::path::Path;

use deckhand_server::ServerConfig;
#[allow(unused_imports)] // not every test file uses each
pub use deckhand_testkit::pg::{Cluster, database_of, shared};

/// The backend the suite runs against.
pub fn postgres_selected() -> bool {
    matches!(std::env::var("DECKHAND_TEST_BACKEND").as_deref(), Ok("postgres") | Ok("pg"))
}

/// The test config of a new server: the SQLite file in `dir`, or a fresh PostgreSQL database.
pub fn test_config(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(dir.join("server.db"));
    if postgres_selected() {
        config.database_url = Some(shared().fresh_database());
        // Pokes from other instances are exercised by the multi-instance suite; here a
        // reconcile period the tests never wait for.
        config.pg_pool_size = 8;
    }
    config
}

/// What `deckhand-server --db` takes for this config.
pub fn db_arg(config: &ServerConfig) -> String {
    config.database_url.clone().unwrap_or_else(|| config.db_path.display().to_string())
}

