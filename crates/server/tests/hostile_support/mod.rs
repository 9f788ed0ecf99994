//! Helpers of the hostile-input and security tests (kept apart from the functional tests' support).
#![allow(dead_code)]

#[path = "../support/pg.rs"]
pub mod pg;

use std::time::{Duration, Instant};

use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

pub struct Srv {
    pub server: TestServer,
    pub client: Client,
    pub dir: tempfile::TempDir,
}

impl Srv {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.url(), path)
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("server.db")
    }

    /// What `deckhand-server --db` takes to reach this server's database (file or URL).
    pub fn db_arg(&self) -> String {
        pg::db_arg(&self.server.state().config)
    }

    pub fn req(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    /// A write with a fresh Idempotency-Key.
    pub fn write(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.req(method, path, token).header("Idempotency-Key", Uuid::new_v4().to_string())
    }

    pub async fn create(&self, token: &str, title: &str) -> Value {
        let id = Uuid::now_v7();
        let resp = self.write(Method::POST, "/v1/cards", token).json(&json!({ "id": id, "title": title })).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    /// Still serving normal requests: `/healthz` and an authenticated list, each within `within`.
    pub async fn assert_responsive(&self, token: &str, within: Duration) -> Duration {
        let start = Instant::now();
        let health = tokio::time::timeout(within, self.client.get(self.url("/healthz")).send())
            .await
            .expect("healthz answered in time")
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let list = tokio::time::timeout(within, self.req(Method::GET, "/v1/cards?limit=1", token).send())
            .await
            .expect("list answered in time")
            .unwrap();
        assert_eq!(list.status(), StatusCode::OK);
        start.elapsed()
    }
}

pub async fn start() -> Srv {
    start_with(|_| {}).await
}

/// A test server with the test defaults (1 s heartbeat) changed by `tune`.
pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let mut config = pg::test_config(dir.path());
    config.heartbeat = Duration::from_secs(1);
    tune(&mut config);
    let server = TestServer::start_with(config).await;
    let client = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    Srv { server, client, dir }
}

/// Asserts `resp` is an `application/problem+json` with this status and code; returns the problem.
pub async fn assert_problem(resp: Response, status: u16, code: &str) -> Value {
    let got = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "status (body: {})", truncate(&text));
    assert!(ct.starts_with("application/problem+json"), "content-type {ct:?} (body: {})", truncate(&text));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("problem is JSON: {e}: {}", truncate(&text)));
    assert_eq!(v["code"], code, "code in {}", truncate(&text));
    assert_eq!(v["status"], status);
    v
}

/// Any error must be a 4xx problem+json: never a 5xx, never a bare text error.
pub async fn assert_client_error_problem(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = resp.text().await.unwrap_or_default();
    assert!((400..500).contains(&status), "status {status} is a 4xx (body: {})", truncate(&text));
    assert!(ct.starts_with("application/problem+json"), "content-type {ct:?} for {status}");
    let v: Value = serde_json::from_str(&text).expect("problem is JSON");
    assert_eq!(v["status"], status);
    (status, v)
}

pub fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Resident set size of this process (server and test clients together), from /proc.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sends raw bytes on a fresh connection and reads until the server closes or `deadline` passes.
pub async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8], deadline: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Polls `check` until it holds or `deadline` passes; returns whether it held.
pub async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of one un-labelled metric on /metrics.
pub async fn metric(srv: &Srv, token: &str, name: &str) -> Option<f64> {
    let text = srv.req(Method::GET, "/metrics", token).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
