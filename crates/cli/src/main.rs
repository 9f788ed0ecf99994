//! `deckhand-cli`: the headless face of deckhand-core. Card commands work locally and return at
//! once; only `sync` talks to the server. Errors: one line on stderr, non-zero exit, no panic.

mod args;
mod commands;
mod journal;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use deckhand_core::{Engine, EngineConfig, ServerSettings};

use args::{CardsCommand, Cli, Command, SyncCommand};
use commands::sync::{SyncOutcome, idle_exit_code};
use output::Out;

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/deckhand-cli")).unwrap_or_else(|| ".deckhand-cli".into())
}

fn config(cli: &Cli, online: bool) -> anyhow::Result<EngineConfig> {
    let mut config = EngineConfig::new(cli.data_dir.clone().unwrap_or_else(default_data_dir));
    config.read_only = cli.read_only;
    config.max_db_bytes = cli.max_db_bytes;
    if online {
        let (Some(url), Some(token)) = (&cli.server, &cli.token) else {
            anyhow::bail!("sync needs --server URL and --token T (or DECKHAND_SERVER and DECKHAND_TOKEN)");
        };
        config.server = Some(ServerSettings { url: url.clone(), token: token.clone() });
        // A one-shot run pulls the change feed; it does not need the realtime stream.
        config.realtime = matches!(cli.command, Command::Sync { command: SyncCommand::Run { realtime: true, .. } });
    } else if matches!(cli.command, Command::Cards { command: CardsCommand::History { .. } | CardsCommand::Revert { .. } | CardsCommand::Trash { empty: true } }) {
        // History lives on the server (revert reads it when this device kept no copy of the
        // version); without a server, history fails clearly and revert uses local copies only.
        if let (Some(url), Some(token)) = (&cli.server, &cli.token) {
            config.server = Some(ServerSettings { url: url.clone(), token: token.clone() });
            config.realtime = false;
        }
    }
    // Hidden tuning for test harnesses (chaos suite): shorter backoff and breaker periods.
    let ms = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok()).map(std::time::Duration::from_millis);
    if let Some(d) = ms("DECKHAND_BACKOFF_BASE_MS") {
        config.backoff_base = d;
    }
    if let Some(d) = ms("DECKHAND_BACKOFF_CAP_MS") {
        config.backoff_cap = d;
    }
    if let Some(d) = ms("DECKHAND_BREAKER_RESET_MS") {
        config.breaker_reset = d;
    }
    if let Some(d) = ms("DECKHAND_REQUEST_TIMEOUT_MS") {
        config.request_timeout = d;
    }
    if let Some(n) = std::env::var("DECKHAND_BATCH_MAX").ok().and_then(|v| v.parse::<usize>().ok()) {
        config.batch_max = n.max(1);
    }
    Ok(config)
}

/// Open the engine; a data dir this user may not write opens read-only (reads work, writes fail
/// with `read_only`). A database just recovered from corruption is announced on stderr.
async fn open(mut config: EngineConfig) -> anyhow::Result<Engine> {
    let engine = match Engine::open(config.clone()).await {
        Ok(e) => e,
        Err(e) if e.kind() == "read_only" && !config.read_only => {
            config.read_only = true;
            Engine::open(config).await.map_err(|_| e)?
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(r) = engine.recovered_at_open() {
        eprintln!(
            "deckhand-cli: warning: the local database was corrupt ({}); it was moved to {} and rebuilt; {} queued operation(s) salvaged (see `deckhand-cli recovery list`)",
            r.reason, r.moved_to, r.salvaged
        );
    }
    Ok(engine)
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let out = Out { json: cli.json };
    let online = matches!(cli.command, Command::Sync { .. });
    let mut journal = journal::Journal::open(cli.journal.as_deref())?;
    let engine = open(config(&cli, online)?).await?;
    let code = match cli.command {
        Command::Cards { command } => commands::cards::run(&engine, &mut journal, &out, command).await.map(|_| 0),
        Command::Lanes { command } => commands::lanes::run(&engine, &out, command).await.map(|_| 0),
        Command::Outbox { command } => commands::outbox::run(&engine, &out, command).await.map(|_| 0),
        Command::Conflicts { command } => commands::conflicts::run(&engine, &mut journal, &out, command).await.map(|_| 0),
        Command::Recovery { command } => commands::recovery::run(&engine, &out, command).await.map(|_| 0),
        Command::Export(args) => commands::transfer::export(&engine, &out, args).await.map(|_| 0),
        Command::Import(args) => commands::transfer::import(&engine, &out, args).await.map(|_| 0),
        Command::Script { ref file } => commands::script::run(&engine, &mut journal, file).await.map(|_| 0),
        Command::Metrics => commands::script::metrics(&engine).await.map(|_| 0),
        Command::Undo => commands::undo::run(&engine, &out, deckhand_core::undo::UndoDirection::Undo).await.map(|_| 0),
        Command::Redo => commands::undo::run(&engine, &out, deckhand_core::undo::UndoDirection::Redo).await.map(|_| 0),
        Command::Sync { command } => match commands::sync::run(&engine, &out, command).await {
            Ok(SyncOutcome::Done) => Ok(0),
            Ok(SyncOutcome::NotIdle(e)) => {
                eprintln!("deckhand-cli: not idle: {e}");
                Ok(idle_exit_code(&e))
            }
            Err(e) => Err(e),
        },
    };
    engine.shutdown().await;
    // The journal is fsynced before the command returns; a journal error fails the command.
    let journaled = journal.finish();
    let code = code?;
    journaled?;
    Ok(code)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deckhand-cli: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("deckhand-cli: {e:#}");
            ExitCode::FAILURE
        }
    }
}
