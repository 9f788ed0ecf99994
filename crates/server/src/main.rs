//! `deckhand-server serve --db PATH|postgres://... --listen ADDR`, `deckhand-server user add NAME`
//! and `deckhand-server migrate-from-sqlite`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use deckhand_server::auth::{hash_token, new_token};
use deckhand_server::storage::Location;
use deckhand_server::{ServerConfig, open_storage, open_storage_on};
use tokio::sync::watch;

#[derive(Parser)]
#[command(name = "deckhand-server", version, about = "Deckhand reference sync server (protocol v1)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// A SQLite file, or a `postgres://USER@HOST:PORT/DB` URL (default: $DECKHAND_DATABASE_URL,
        /// else deckhand-server.db).
        #[arg(long, env = "DECKHAND_SERVER_DB")]
        db: Option<String>,
        #[arg(long, env = "DECKHAND_SERVER_LISTEN", default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Seconds between SSE heartbeats.
        #[arg(long, default_value_t = 15)]
        heartbeat_secs: u64,
        /// Days an idempotency record is kept.
        #[arg(long, default_value_t = 7)]
        idempotency_days: u64,
        /// Days a deleted card stays in the Trash before its tombstone is purged.
        #[arg(long, default_value_t = 30)]
        trash_days: u64,
        /// Days a card's older versions are kept in its history.
        #[arg(long, default_value_t = 90)]
        history_days: u64,
        /// Versions kept per card in its history.
        #[arg(long, default_value_t = 100)]
        history_versions: u32,
        /// Requests served at once before answering 503.
        #[arg(long, default_value_t = 512)]
        max_concurrency: usize,
        /// Requests per second per token before answering 429 (0 = no limit).
        #[arg(long, default_value_t = 2000)]
        rate_limit: u32,
        /// Seconds a client has to send a request head (and the idle limit of a kept-alive connection).
        #[arg(long, default_value_t = 10)]
        header_timeout_secs: u64,
        /// Seconds a client has to send a whole request body.
        #[arg(long, default_value_t = 30)]
        body_timeout_secs: u64,
        /// Open connections before the server stops accepting until one closes.
        #[arg(long, default_value_t = 16_384)]
        max_connections: usize,
        /// Open SSE streams, all users together, before answering 503.
        #[arg(long, default_value_t = 10_000)]
        max_sse_streams: usize,
        /// Open SSE streams of one user before answering 429.
        #[arg(long, default_value_t = 100)]
        max_sse_streams_per_user: usize,
        /// PostgreSQL: seconds between re-reads of streamed users' seqs (heals lost notifications).
        #[arg(long, default_value_t = 10)]
        reconcile_secs: u64,
        /// PostgreSQL: connections of this instance's pool.
        #[arg(long, default_value_t = 16)]
        pg_pool_size: usize,
    },
    /// Copy a SQLite server database into an empty PostgreSQL database (seqs verbatim: clients
    /// keep their cursors). Stop the SQLite server first.
    MigrateFromSqlite {
        /// The SQLite server database.
        #[arg(long)]
        from: std::path::PathBuf,
        /// The target, `postgres://USER@HOST:PORT/DB`.
        #[arg(long)]
        to: String,
        /// Idempotency records younger than this many days are copied (match `serve`'s setting).
        #[arg(long, default_value_t = 7)]
        idempotency_days: u64,
    },
    /// Give the database a new epoch. Run it (with the server stopped) after restoring the
    /// database from a backup: clients then resync from 0 and re-offer what the backup lacks.
    ResetEpoch {
        /// A SQLite file or a `postgres://` URL (default: $DECKHAND_DATABASE_URL, else
        /// deckhand-server.db).
        #[arg(long, env = "DECKHAND_SERVER_DB")]
        db: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and print its token (shown once; only a hash is stored).
    Add {
        name: String,
        /// A SQLite file, or a `postgres://USER@HOST:PORT/DB` URL (default: $DECKHAND_DATABASE_URL,
        /// else deckhand-server.db).
        #[arg(long, env = "DECKHAND_SERVER_DB")]
        db: Option<String>,
    },
    /// Print a new additional token for an existing user.
    Token {
        name: String,
        /// A SQLite file, or a `postgres://USER@HOST:PORT/DB` URL (default: $DECKHAND_DATABASE_URL,
        /// else deckhand-server.db).
        #[arg(long, env = "DECKHAND_SERVER_DB")]
        db: Option<String>,
    },
    /// Revoke every token of a user.
    Revoke {
        name: String,
        /// A SQLite file, or a `postgres://USER@HOST:PORT/DB` URL (default: $DECKHAND_DATABASE_URL,
        /// else deckhand-server.db).
        #[arg(long, env = "DECKHAND_SERVER_DB")]
        db: Option<String>,
    },
}

/// Registers the shutdown signals. Done before the "listening on" line is printed: a supervisor
/// (or test) that sends SIGTERM as soon as it reads that line must get a graceful shutdown, not
/// the default action of a signal nobody has claimed yet.
#[cfg(unix)]
fn shutdown_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    })
}

#[cfg(not(unix))]
fn shutdown_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn shutdown_signal(signals: impl std::future::Future<Output = ()>, tx: watch::Sender<bool>) {
    signals.await;
    tracing::info!("shutting down: finishing in-flight requests, closing streams");
    let _ = tx.send(true);
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deckhand-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--db`, else `DECKHAND_DATABASE_URL`, else the default SQLite file.
fn location(db: Option<String>) -> Location {
    let db = db
        .or_else(|| std::env::var("DECKHAND_DATABASE_URL").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "deckhand-server.db".to_string());
    Location::parse(&db)
}

/// Opens the storage on a blocking thread (the PostgreSQL backend waits on its runtime's tasks,
/// here this server's own runtime).
async fn open(config: ServerConfig) -> anyhow::Result<std::sync::Arc<dyn deckhand_server::storage::Storage>> {
    let handle = tokio::runtime::Handle::current();
    Ok(tokio::task::spawn_blocking(move || open_storage_on(&config, handle)).await??)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            db,
            listen,
            heartbeat_secs,
            idempotency_days,
            trash_days,
            history_days,
            history_versions,
            max_concurrency,
            rate_limit,
            header_timeout_secs,
            body_timeout_secs,
            max_connections,
            max_sse_streams,
            max_sse_streams_per_user,
            reconcile_secs,
            pg_pool_size,
        } => {
            let mut config = ServerConfig::for_location(&location(db));
            config.listen = listen;
            config.heartbeat = Duration::from_secs(heartbeat_secs.max(1));
            config.idempotency_retention = Duration::from_secs(idempotency_days * 24 * 3600);
            config.trash_retention = Duration::from_secs(trash_days * 24 * 3600);
            config.history_retention = Duration::from_secs(history_days * 24 * 3600);
            config.history_max_versions = history_versions.max(1);
            config.max_concurrency = max_concurrency;
            config.rate_limit_per_sec = rate_limit;
            config.rate_limit_burst = rate_limit.saturating_mul(2);
            config.header_read_timeout = Duration::from_secs(header_timeout_secs.max(1));
            config.body_read_timeout = Duration::from_secs(body_timeout_secs.max(1));
            config.max_connections = max_connections;
            config.max_sse_streams = max_sse_streams;
            config.max_sse_streams_per_user = max_sse_streams_per_user;
            config.reconcile_interval = Duration::from_secs(reconcile_secs.max(1));
            config.pg_pool_size = pg_pool_size;
            let storage = open(config.clone()).await?;
            let signals = shutdown_signals()?;
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, db = %config.location_for_log(), "deckhand-server listening");
            // Scripts read this line to learn the port when started with :0.
            println!("listening on http://{addr}");
            let (tx, rx) = watch::channel(false);
            tokio::spawn(shutdown_signal(signals, tx));
            deckhand_server::serve(listener, config, storage, rx).await?;
            Ok(())
        }
        Command::MigrateFromSqlite { from, to, idempotency_days } => {
            let keep_after = chrono::Utc::now() - chrono::Duration::days(idempotency_days as i64);
            let report = tokio::task::spawn_blocking(move || {
                deckhand_server::storage::import::sqlite_to_postgres(&from, &to, keep_after)
            })
            .await??;
            println!("copied and verified: {report}");
            Ok(())
        }
        Command::ResetEpoch { db } => {
            let config = ServerConfig::for_location(&location(db));
            let epoch = tokio::task::spawn_blocking(move || open_storage(&config)?.reset_epoch()).await??;
            println!("new epoch {epoch}");
            Ok(())
        }
        Command::User { command } => tokio::task::spawn_blocking(move || user_command(command)).await?,
    }
}

/// `user add|token|revoke`, on either backend (runs on a blocking thread).
fn user_command(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, db } => {
            let storage = open_storage(&ServerConfig::for_location(&location(db)))?;
            let token = new_token();
            storage.add_user(&name, hash_token(&token))?;
            println!("{token}");
        }
        UserCommand::Token { name, db } => {
            let storage = open_storage(&ServerConfig::for_location(&location(db)))?;
            let token = new_token();
            storage.add_token(&name, hash_token(&token))?;
            println!("{token}");
        }
        UserCommand::Revoke { name, db } => {
            let storage = open_storage(&ServerConfig::for_location(&location(db)))?;
            let n = storage.revoke_tokens(&name)?;
            // Running servers on a shared database end that user's streams now, not at their
            // next periodic re-check.
            if let Some(notifier) = storage.notifier() {
                notifier.revoked();
            }
            println!("revoked {n} token(s) of {name}");
        }
    }
    Ok(())
}
