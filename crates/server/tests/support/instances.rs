//! Several `deckhand-server serve` processes on one PostgreSQL database, for the multi-instance
//! suite: real binaries, real ports, killed on drop.
#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Client, DEADLINE};

pub const BIN: &str = env!("CARGO_BIN_EXE_deckhand-server");

/// One running `serve` process.
pub struct Instance {
    pub url: String,
    child: Child,
}

/// Flags every instance of a test gets (heartbeat, reconcile period, ...), plus extra env.
#[derive(Clone, Default)]
pub struct Opts {
    pub heartbeat_secs: Option<u64>,
    pub reconcile_secs: Option<u64>,
    pub env: Vec<(String, String)>,
}

impl Instance {
    pub async fn start(db_url: &str, opts: &Opts) -> Instance {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0", "--db", db_url])
            .args(["--heartbeat-secs", &opts.heartbeat_secs.unwrap_or(1).to_string()])
            .args(["--reconcile-secs", &opts.reconcile_secs.unwrap_or(1).to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn deckhand-server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(DEADLINE, async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return url.to_string();
                }
            }
            panic!("deckhand-server exited before listening");
        })
        .await
        .expect("deckhand-server listening in time");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Instance { url, child }
    }

    pub fn client(&self, token: &str, http: &reqwest::Client) -> Client {
        Client { base: self.url.clone(), token: token.to_string(), http: http.clone() }
    }

    /// kill -9.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `deckhand-server user add NAME --db URL`; returns the token.
pub async fn add_user(db_url: &str, name: &str) -> String {
    let out = Command::new(BIN).args(["user", "add", name, "--db", db_url]).output().await.expect("run user add");
    assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Starts `n` instances on `db_url` one after another (each migrates or checks the schema).
pub async fn start_n(db_url: &str, n: usize, opts: &Opts) -> Vec<Instance> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Instance::start(db_url, opts).await);
    }
    out
}

/// A reqwest client whose idle connections do not outlive a killed instance for long.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).no_proxy().build().unwrap()
}
