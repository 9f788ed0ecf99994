//! Real `deckhand-server serve` processes for the multi-instance figures (P5 spread, P7, P8): the
//! release binary built beside this one, on a throw-away PostgreSQL cluster (the testkit's) or on
//! a SQLite file, each instance its own process with its own CPU counters.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

/// `deckhand-server` next to `deckhand-bench` (`make bench` builds both in release), or
/// `$DECKHAND_BENCH_SERVER_BIN` (a before/after comparison of a server change).
pub fn server_bin() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("DECKHAND_BENCH_SERVER_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("deckhand-server");
    if !bin.exists() {
        return Err(anyhow!("{} not found: build it first (cargo build --release -p deckhand-server)", bin.display()));
    }
    Ok(bin)
}

pub struct Instance {
    child: Child,
    pub url: String,
    pub pid: u32,
}

impl Instance {
    /// Starts `serve` on 127.0.0.1:0 and waits (bounded) for its "listening on" line. The rate
    /// limit is off (the load is many clients of few tokens) and one user may hold 2,000 streams.
    pub fn start(db: &str, extra: &[String], log: &Path) -> Result<Instance> {
        let logf = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let mut child = Command::new(server_bin()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0", "--max-sse-streams-per-user", "2000", "--db", db])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(logf))
            .spawn()
            .context("spawning deckhand-server")?;
        let pid = child.id();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
        let url = line.trim().strip_prefix("listening on ").ok_or_else(|| anyhow!("unexpected server line {line:?}; log {}", log.display()))?;
        Ok(Instance { url: url.to_string(), pid, child })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SIGTERM (graceful), then SIGKILL if it has not gone within 10 s.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) PostgreSQL has used so far: the postmaster, its live children
/// (backends, writer, WAL writer...) and the children it has already reaped.
pub fn postgres_cpu_secs(postmaster: u32) -> f64 {
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let hz = if hz > 0.0 { hz } else { 100.0 };
    let fields = |pid: &str| -> Option<Vec<String>> {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(s[s.rfind(')')? + 2..].split_whitespace().map(str::to_string).collect())
    };
    let num = |f: &[String], i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    let mut ticks = 0.0;
    // Fields after the command name: 0 state, 1 ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
    if let Some(f) = fields(&postmaster.to_string()) {
        ticks += num(&f, 11) + num(&f, 12) + num(&f, 13) + num(&f, 14);
    }
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some(f) = fields(&name) {
                if f.get(1).map(String::as_str) == Some(&postmaster.to_string()) {
                    ticks += num(&f, 11) + num(&f, 12);
                }
            }
        }
    }
    ticks / hz
}

/// This process's own CPU seconds (the load generator's share).
pub fn self_cpu_secs() -> f64 {
    crate::data::cpu_secs(std::process::id())
}
