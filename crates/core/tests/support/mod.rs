//! Shared harness for the sync integration tests: a real `deckhand-server` on a temp database,
//! N engines on temp data dirs, an event collector with deadlines, and a fault-injecting HTTP
//! proxy (forwards to the real server; can answer statuses, drop or delay requests per script).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deckhand_core::model::EngineEvent;
use deckhand_core::{Engine, EngineConfig, ServerSettings};
use deckhand_server::testing::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// Every live card on the server as (id, title), straight over HTTP, page by page.
pub async fn server_titles(settings: &ServerSettings) -> Vec<(uuid::Uuid, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/cards?limit=1000", settings.url);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let v: serde_json::Value = reqwest::Client::new().get(url).bearer_auth(&settings.token).send().await.unwrap().json().await.unwrap();
        out.extend(
            v["items"].as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().parse().unwrap(), c["title"].as_str().unwrap().to_string())),
        );
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// One card as the server has it, straight over HTTP.
pub async fn server_card_json(settings: &ServerSettings, id: uuid::Uuid) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}/v1/cards/{id}", settings.url))
        .bearer_auth(&settings.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Engine config with small backoff and breaker timings for tests.
pub fn test_config(dir: &std::path::Path, server: Option<ServerSettings>) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.server = server;
    c.backoff_base = Duration::from_millis(10);
    c.backoff_cap = Duration::from_millis(200);
    // One op per request: these tests count and fault single requests by path; batching has
    // its own tests (tests/batch.rs).
    c.batch_max = 1;
    c.breaker_threshold = 5;
    c.breaker_reset = Duration::from_millis(300);
    c.request_timeout = Duration::from_secs(5);
    c.heartbeat = Duration::from_secs(1);
    c
}

pub struct Harness {
    pub server: TestServer,
    pub token: String,
    pub dirs: Vec<tempfile::TempDir>,
    pub engines: Vec<Engine>,
    _server_dir: tempfile::TempDir,
}

/// Start a TestServer and `n` engines syncing to it directly.
pub async fn sync_harness(n: usize) -> Harness {
    sync_harness_with(n, |_, c| c).await
}

/// Like `sync_harness`, letting the test adjust each engine's config (index, config).
pub async fn sync_harness_with(n: usize, adjust: impl Fn(usize, EngineConfig) -> EngineConfig) -> Harness {
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&server_dir.path().join("server.db")).await;
    let token = server.add_user("alice");
    let mut dirs = Vec::new();
    let mut engines = Vec::new();
    for i in 0..n {
        let dir = tempfile::tempdir().unwrap();
        let cfg = test_config(dir.path(), Some(ServerSettings { url: server.url(), token: token.clone() }));
        engines.push(Engine::open(adjust(i, cfg)).await.unwrap());
        dirs.push(dir);
    }
    Harness { server, token, dirs, engines, _server_dir: server_dir }
}

impl Harness {
    pub fn settings(&self) -> ServerSettings {
        ServerSettings { url: self.server.url(), token: self.token.clone() }
    }

    /// Open one more engine with its own data dir, pointed at `url`.
    pub async fn add_engine(&mut self, url: String, adjust: impl Fn(EngineConfig) -> EngineConfig) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let cfg = test_config(dir.path(), Some(ServerSettings { url, token: self.token.clone() }));
        self.engines.push(Engine::open(adjust(cfg)).await.unwrap());
        self.dirs.push(dir);
        self.engines.len() - 1
    }

    /// A plain HTTP client to look at the server directly.
    pub async fn server_card(&self, id: uuid::Uuid) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .get(format!("{}/v1/cards/{id}", self.server.url()))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// Waits on engine events with a deadline.
pub struct EventCollector {
    rx: broadcast::Receiver<EngineEvent>,
    pub seen: Vec<EngineEvent>,
}

pub fn event_collector(engine: &Engine) -> EventCollector {
    EventCollector { rx: engine.subscribe(), seen: Vec::new() }
}

impl EventCollector {
    /// Wait for the first event matching `pred` (also checks events already seen).
    pub async fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&EngineEvent) -> bool) -> EngineEvent {
        if let Some(e) = self.seen.iter().find(|e| pred(e)) {
            return e.clone();
        }
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Err(_) => panic!("timed out waiting for {what}; saw {:#?}", self.seen),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(e)) => panic!("event channel closed: {e}"),
                Ok(Ok(e)) => {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
            }
        }
    }
}

/// Poll `check` until it returns Some, or panic at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------- fault-injecting proxy

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (problem+json body with `code`), optional Retry-After seconds.
    Status { status: u16, code: &'static str, retry_after: Option<u32> },
    /// Close the connection without answering (the server never sees the request).
    Drop,
    /// Forward, let the server apply it, then close without passing the answer on.
    DropResponse,
    /// Wait, then forward.
    Delay(Duration),
    /// Answer a `POST /v1/batch` with 200 and this status for every write (problem body with
    /// `code` and the write's `retry_after`), as a server answers writes it could not run.
    EachWrite { status: u16, code: &'static str, retry_after: Option<u64> },
    /// Forward, pass the answer's head and first event on, then nothing more while keeping the
    /// connection open (a stream gone silent behind a middlebox). Counts the client hanging up.
    Silence,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub method: Option<&'static str>,
    /// Substring of the request path (and query).
    pub path_contains: String,
    pub fault: Fault,
    /// How many requests it applies to.
    pub times: usize,
}

#[derive(Default)]
struct ProxyState {
    rules: VecDeque<Rule>,
    log: Vec<(String, String, u16)>,
    writes: Vec<SeenWrite>,
    /// Silenced connections the client closed.
    hung_up: usize,
}

/// A request as the proxy saw it: its Idempotency-Key, and whether the server's answer (passed
/// on or dropped) said `Idempotent-Replayed: true`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenWrite {
    pub method: String,
    pub path: String,
    pub key: Option<String>,
    pub replayed: bool,
}

pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    cut: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Proxy::start_on(l, upstream)
    }

    pub fn start_on(listener: TcpListener, upstream: SocketAddr) -> Proxy {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let (cut, _) = watch::channel(0u64);
        let (st, cut2) = (state.clone(), cut.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let (st, cut_rx) = (st.clone(), cut2.subscribe());
                tokio::spawn(async move {
                    let mut cut_rx = cut_rx;
                    tokio::select! {
                        _ = handle(sock, upstream, st) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Proxy { addr, state, cut, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_rule(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push_back(rule);
    }

    pub fn clear_rules(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Cut every open connection (e.g. SSE streams); new ones are accepted.
    pub fn cut_all(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// (method, path, status answered or forwarded-0) of every request seen.
    pub fn log(&self) -> Vec<(String, String, u16)> {
        self.state.lock().unwrap().log.clone()
    }

    /// Every request with its Idempotency-Key and whether its answer was a replay, in order.
    pub fn writes(&self, method: &str, path_contains: &str) -> Vec<SeenWrite> {
        self.state.lock().unwrap().writes.iter().filter(|w| w.method == method && w.path.contains(path_contains)).cloned().collect()
    }

    /// How many `Fault::Silence` connections the client closed.
    pub fn hung_up(&self) -> usize {
        self.state.lock().unwrap().hung_up
    }

    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.log().iter().filter(|(m, p, _)| m == method && p.contains(path_contains)).count()
    }

    pub fn stop(self) {
        self.cut_all();
        self.task.abort();
    }
}

fn find(buf: &[u8], pat: &[u8]) -> Option<usize> {
    buf.windows(pat.len()).position(|w| w == pat)
}

/// One request per client connection: read it, apply the script, forward or answer, close.
async fn handle(mut client: TcpStream, upstream: SocketAddr, st: Arc<Mutex<ProxyState>>) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        match client.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let first = head.split("\r\n").next().unwrap_or("");
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let header = |name: &str| {
        head.split("\r\n").skip(1).filter_map(|l| l.split_once(':')).find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
    };
    let key = header("idempotency-key");
    let content_length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + content_length {
        match client.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let fault = {
        let mut s = st.lock().unwrap();
        let mut hit = None;
        for r in s.rules.iter_mut() {
            if r.times > 0 && r.method.is_none_or(|m| m == method) && path.contains(&r.path_contains) {
                r.times -= 1;
                hit = Some(r.fault.clone());
                break;
            }
        }
        s.rules.retain(|r| r.times > 0);
        let status = match &hit {
            Some(Fault::Status { status, .. }) | Some(Fault::EachWrite { status, .. }) => *status,
            Some(Fault::Drop) => 1,
            Some(Fault::DropResponse) => 2,
            _ => 0,
        };
        s.log.push((method.clone(), path.clone(), status));
        s.writes.push(SeenWrite { method: method.clone(), path: path.clone(), key: key.clone(), replayed: false });
        hit
    };
    let index = st.lock().unwrap().writes.len() - 1;
    let note_replayed = |answer: &[u8]| {
        let head_end = find(answer, b"\r\n\r\n").unwrap_or(answer.len());
        let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
        if head.contains("\r\nidempotent-replayed: true") {
            st.lock().unwrap().writes[index].replayed = true;
        }
    };
    match fault.clone() {
        Some(Fault::Status { status, code, retry_after }) => {
            let body = format!(
                r#"{{"type":"https://deckhand.dev/problems/{code}","title":"injected","status":{status},"detail":"injected by test proxy","code":"{code}"}}"#
            );
            let ra = retry_after.map(|s| format!("retry-after: {s}\r\n")).unwrap_or_default();
            let resp = format!(
                "HTTP/1.1 {status} Injected\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n{ra}connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(resp.as_bytes()).await;
            let _ = client.shutdown().await;
            return;
        }
        Some(Fault::EachWrite { status, code, retry_after }) => {
            let req: serde_json::Value = serde_json::from_slice(&buf[head_end..]).unwrap_or_default();
            let n = req["writes"].as_array().map_or(0, |w| w.len());
            let problem = serde_json::json!({
                "type": format!("https://deckhand.dev/problems/{code}"), "title": "injected", "status": status,
                "detail": "injected by test proxy", "code": code,
            });
            let result = serde_json::json!({ "status": status, "body": problem, "replayed": false, "retry_after": retry_after });
            let body = serde_json::json!({ "results": vec![result; n] }).to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(resp.as_bytes()).await;
            let _ = client.shutdown().await;
            return;
        }
        Some(Fault::Drop) => return,
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::DropResponse) | Some(Fault::Silence) | None => {}
    }
    // Forward with `connection: close` so the response ends at EOF (streams pass through).
    let mut up = match TcpStream::connect(upstream).await {
        Ok(u) => u,
        Err(_) => return,
    };
    let mut new_head = String::new();
    for (i, l) in head[..head_end - 4].split("\r\n").enumerate() {
        if i > 0 && l.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        new_head.push_str(l);
        new_head.push_str("\r\n");
    }
    new_head.push_str("connection: close\r\n\r\n");
    if up.write_all(new_head.as_bytes()).await.is_err() || up.write_all(&buf[head_end..]).await.is_err() {
        return;
    }
    let (mut ur, _uw) = up.split();
    if matches!(fault, Some(Fault::Silence)) {
        let mut first = Vec::new();
        while find(&first, b"event: connected").is_none_or(|i| find(&first[i..], b"\n\n").is_none()) {
            match ur.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => first.extend_from_slice(&tmp[..n]),
            }
        }
        if client.write_all(&first).await.is_err() {
            return;
        }
        // Nothing more is passed on; wait for the client to give up on the connection.
        loop {
            match client.read(&mut tmp).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        st.lock().unwrap().hung_up += 1;
        return;
    }
    if matches!(fault, Some(Fault::DropResponse)) {
        let mut sink = Vec::new();
        let _ = ur.read_to_end(&mut sink).await;
        note_replayed(&sink);
        return;
    }
    // The answer's head is read first (to see whether it is a replay), then everything streams on.
    let mut answer = Vec::new();
    while find(&answer, b"\r\n\r\n").is_none() {
        match ur.read(&mut tmp).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&tmp[..n]),
        }
    }
    note_replayed(&answer);
    if client.write_all(&answer).await.is_err() {
        return;
    }
    let _ = tokio::io::copy(&mut ur, &mut client).await;
    let _ = client.shutdown().await;
}
