//! Processes of the chaos suite: the real `deckhand-server` and `deckhand-cli` binaries, always
//! killed on drop. Every wait has a deadline; nothing sleeps to synchronise.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where the real binaries are: `CHAOS_BIN_DIR`, else the `target/debug` this test was built into
/// (the test binary is `target/debug/deps/chaos-*`).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CHAOS_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().and_then(|p| p.parent()).map(Path::to_path_buf).expect("target/debug")
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p deckhand-server -p deckhand-cli` first (or set CHAOS_BIN_DIR)",
        p.display()
    );
    p
}

/// The binaries in `bin_dir()` are shared by every branch building into the same target dir:
/// make sure this CLI has the hidden commands the suite drives.
pub fn preflight() {
    let out = std::process::Command::new(bin("deckhand-cli")).args(["sync", "run", "--past-conflicts", "--help"]).output().expect("run deckhand-cli");
    let script = std::process::Command::new(bin("deckhand-cli")).args(["--journal", "/dev/null", "script", "--help"]).output().expect("run deckhand-cli");
    assert!(
        out.status.success() && script.status.success(),
        "{} lacks `script` / `sync run --past-conflicts` / `--journal`: rebuild it from this tree (`cargo build -p deckhand-server -p deckhand-cli`) or set CHAOS_BIN_DIR",
        bin("deckhand-cli").display()
    );
}

/// `deckhand-server user add NAME --db DB` (a SQLite path or a PostgreSQL URL) → token.
pub fn user_add(db: &str, name: &str) -> String {
    let out = std::process::Command::new(bin("deckhand-server"))
        .args(["user", "add", name, "--db"])
        .arg(db)
        .output()
        .expect("run deckhand-server user add");
    assert!(out.status.success(), "user add failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A `deckhand-server serve` process.
pub struct ServerProc {
    child: Child,
    pub db: String,
    pub url: String,
    pub port: u16,
    log: PathBuf,
}

impl ServerProc {
    /// Starts on `127.0.0.1:port` (0 = any) and waits (bounded) for its "listening on" line.
    pub async fn start(db: &str, port: u16, log: &Path) -> Result<ServerProc, String> {
        let logf = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut child = Command::new(bin("deckhand-server"))
            .args(["serve", "--heartbeat-secs", "2", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--db")
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(logf))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn server: {e}"))?;
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| "server did not say it was listening within 30 s".to_string())?
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "server exited before listening".to_string())?;
        let url = line.strip_prefix("listening on ").ok_or_else(|| format!("unexpected server line {line:?}"))?.to_string();
        let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).ok_or("no port")?;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProc { child, db: db.to_string(), url, port, log: log.to_path_buf() })
    }

    /// SIGKILL and reap.
    pub async fn kill9(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// kill -9, then start again on the same database, on the same port when it can be bound
    /// again (else on a new one: the caller re-points the proxy).
    pub async fn crash_and_restart(&mut self) -> Result<(), String> {
        self.kill9().await;
        let again = match ServerProc::start(&self.db, self.port, &self.log).await {
            Ok(s) => s,
            Err(_) => ServerProc::start(&self.db, 0, &self.log).await?,
        };
        *self = again;
        Ok(())
    }
}

/// How a CLI process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Killed,
    TimedOut,
}

/// One headless client: its own data dir, talking to the proxy.
#[derive(Clone)]
pub struct Client {
    pub idx: usize,
    pub dir: PathBuf,
    pub server: String,
    pub token: String,
    pub log: PathBuf,
}

impl Client {
    /// The client's journal (`deckhand-cli --journal`), beside its data dir: what the oracle reads.
    pub fn journal(&self) -> PathBuf {
        self.dir.with_file_name(format!("client{}-journal.jsonl", self.idx))
    }

    fn command(&self) -> Command {
        let mut c = Command::new(bin("deckhand-cli"));
        c.arg("--data-dir")
            .arg(&self.dir)
            .arg("--journal")
            .arg(self.journal())
            .args(["--server", &self.server, "--token", &self.token, "--json"])
            // Faster retries than a desktop app would want, so a run takes minutes, not hours.
            .env("DECKHAND_BACKOFF_BASE_MS", "50")
            .env("DECKHAND_BACKOFF_CAP_MS", "1500")
            .env("DECKHAND_BREAKER_RESET_MS", "300")
            .env("DECKHAND_REQUEST_TIMEOUT_MS", "5000")
            // Client 0 sends one op per request, the others batch (`POST /v1/batch`): both paths
            // meet the same faults.
            .env("DECKHAND_BATCH_MAX", if self.idx == 0 { "1" } else { "50" })
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap()
    }

    /// Run a short command to completion (bounded) and parse its JSON stdout.
    pub async fn run(&self, args: &[&str]) -> Result<(i32, Value), String> {
        let child = self
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn cli: {e}"))?;
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .map_err(|_| format!("client {} `{}` did not finish within 120 s", self.idx, args.join(" ")))?
            .map_err(|e| e.to_string())?;
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = if stdout.trim().is_empty() { Value::Null } else { serde_json::from_str(stdout.trim()).map_err(|e| format!("{e}: {stdout}"))? };
        if code != 0 {
            return Err(format!(
                "client {} `{}` exited {code}: {}",
                self.idx,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok((code, value))
    }

    /// `sync run --until-idle`: kill -9 at `kill_at` if still running then; bounded by `limit`.
    pub async fn sync(&self, timeout_s: u64, realtime: bool, kill_at: Option<Duration>, limit: Duration) -> Exit {
        let mut cmd = self.command();
        cmd.args(["sync", "run", "--until-idle", "--past-conflicts", "--timeout", &timeout_s.to_string()]);
        if realtime {
            cmd.arg("--realtime");
        }
        let mut child = match cmd.stdout(Stdio::null()).stderr(Stdio::from(self.log_file())).spawn() {
            Ok(c) => c,
            Err(e) => panic!("spawn sync: {e}"),
        };
        let started = Instant::now();
        if let Some(at) = kill_at {
            tokio::select! {
                r = child.wait() => return r.ok().and_then(|s| s.code()).map(Exit::Code).unwrap_or(Exit::Killed),
                _ = tokio::time::sleep(at) => {
                    let _ = child.start_kill();
                    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                    return Exit::Killed;
                }
            }
        }
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, child.wait()).await {
            Ok(Ok(s)) => s.code().map(Exit::Code).unwrap_or(Exit::Killed),
            _ => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                Exit::TimedOut
            }
        }
    }

    /// Every local card, paging past the CLI's 1000-card page.
    pub async fn cards(&self) -> Result<Vec<Value>, String> {
        let mut all = Vec::new();
        for page in 0..100u32 {
            let offset = (page * 1000).to_string();
            let (_, v) = self.run(&["cards", "list", "--limit", "1000", "--offset", &offset]).await?;
            let items = v.as_array().cloned().unwrap_or_default();
            let n = items.len();
            all.extend(items);
            if n < 1000 {
                return Ok(all);
            }
        }
        Err("more than 100,000 cards".into())
    }

    pub async fn script(&self, ops: &[Value], file: &Path) -> Result<Vec<Value>, String> {
        std::fs::write(file, serde_json::to_vec(ops).unwrap()).map_err(|e| e.to_string())?;
        let (_, v) = self.run(&["script", file.to_str().unwrap()]).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}
