//! Shared by every integration test: a real server on a temp database (SQLite, or PostgreSQL
//! with `DECKHAND_TEST_BACKEND=postgres`, see `pg.rs`), a small typed client, and a minimal
//! Server-Sent Events frame reader.
#![allow(dead_code)]

pub mod instances;
pub mod pg;

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use deckhand_protocol::{Card, ChangesPage, CardsPage, Problem};
use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;
use uuid::Uuid;

/// How long any poll or wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A running server plus the temp directory holding its database.
pub struct Harness {
    pub server: TestServer,
    pub dir: TempDir,
    pub http: reqwest::Client,
}

pub fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("server.db")
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    /// Starts with the default test config changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Harness {
        let dir = TempDir::new().expect("tempdir");
        let mut config = pg::test_config(dir.path());
        config.heartbeat = Duration::from_secs(1);
        tweak(&mut config);
        let server = TestServer::start_with(config).await;
        Harness { server, dir, http: reqwest::Client::new() }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A new user and a client authenticated as it.
    pub fn user(&self, name: &str) -> Client {
        let token = self.server.add_user(name);
        self.client(&token)
    }

    pub fn client(&self, token: &str) -> Client {
        Client { base: self.url(), token: token.to_string(), http: self.http.clone() }
    }

    /// Graceful stop, then a fresh server on the same database (and a fresh HTTP pool).
    pub async fn restart(self) -> Harness {
        let Harness { server, dir, .. } = self;
        let config = (*server.state().config).clone();
        server.stop().await;
        let server = TestServer::start_with(config).await;
        Harness { server, dir, http: reqwest::Client::new() }
    }

    /// What `deckhand-server --db` takes to reach this server's database.
    pub fn db_arg(&self) -> String {
        pg::db_arg(&self.server.state().config)
    }
}

/// A response read to the end: status, headers and the body as JSON (Null when not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("read body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, json }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii header"))
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The body as a card; fails unless the status is `status` and the body is `application/json`.
    pub fn card(&self, status: u16) -> Card {
        assert_eq!(self.status, status, "unexpected status, body: {}", self.text);
        assert_eq!(self.content_type(), "application/json", "body: {}", self.text);
        serde_json::from_value(self.json.clone()).unwrap_or_else(|e| panic!("not a card ({e}): {}", self.text))
    }

    /// The body as a problem; fails unless status, `code` and content type are as the protocol says.
    pub fn problem(&self, status: u16, code: &str) -> Problem {
        assert_eq!(self.status, status, "unexpected status, body: {}", self.text);
        assert_eq!(self.content_type(), "application/problem+json", "body: {}", self.text);
        for field in ["type", "title", "status", "detail", "code"] {
            assert!(self.json.get(field).is_some(), "problem lacks {field}: {}", self.text);
        }
        assert_eq!(self.json["status"], status, "problem status field: {}", self.text);
        assert_eq!(self.json["code"], code, "problem code: {}", self.text);
        serde_json::from_value(self.json.clone()).unwrap_or_else(|e| panic!("not a problem ({e}): {}", self.text))
    }

    pub fn page(&self) -> CardsPage {
        assert_eq!(self.status, 200, "body: {}", self.text);
        serde_json::from_value(self.json.clone()).expect("cards page")
    }

    pub fn changes(&self) -> ChangesPage {
        assert_eq!(self.status, 200, "body: {}", self.text);
        serde_json::from_value(self.json.clone()).expect("changes page")
    }

    pub fn replayed(&self) -> bool {
        self.header("idempotent-replayed") == Some("true")
    }
}

/// A minimal card body for `POST /v1/cards`.
pub fn new_card(id: Uuid, title: &str) -> Value {
    json!({ "id": id, "title": title })
}

pub fn key() -> String {
    Uuid::new_v4().to_string()
}

/// A client authenticated as one user.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Client {
    /// A request with this user's bearer token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path)).bearer_auth(&self.token)
    }

    pub async fn send(rb: RequestBuilder) -> Resp {
        Resp::read(rb.send().await.expect("send request")).await
    }

    pub async fn create_with_key(&self, key: &str, body: &Value) -> Resp {
        Self::send(self.req(Method::POST, "/v1/cards").header("idempotency-key", key).json(body)).await
    }

    pub async fn create(&self, body: &Value) -> Resp {
        self.create_with_key(&key(), body).await
    }

    /// Creates a card titled `title` and returns it (asserting 201).
    pub async fn new_card(&self, title: &str) -> Card {
        self.create(&new_card(Uuid::now_v7(), title)).await.card(201)
    }

    pub async fn patch_with_key(&self, key: &str, id: Uuid, base_version: i64, changes: Value) -> Resp {
        let body = json!({ "base_version": base_version, "changes": changes });
        Self::send(self.req(Method::PATCH, &format!("/v1/cards/{id}")).header("idempotency-key", key).json(&body))
            .await
    }

    pub async fn patch(&self, id: Uuid, base_version: i64, changes: Value) -> Resp {
        self.patch_with_key(&key(), id, base_version, changes).await
    }

    pub async fn delete_with_key(&self, key: &str, id: Uuid, base_version: i64) -> Resp {
        let path = format!("/v1/cards/{id}?base_version={base_version}");
        Self::send(self.req(Method::DELETE, &path).header("idempotency-key", key)).await
    }

    pub async fn delete(&self, id: Uuid, base_version: i64) -> Resp {
        self.delete_with_key(&key(), id, base_version).await
    }

    pub async fn restore_with_key(&self, key: &str, id: Uuid, base_version: i64) -> Resp {
        let body = json!({ "base_version": base_version });
        Self::send(self.req(Method::POST, &format!("/v1/cards/{id}/restore")).header("idempotency-key", key).json(&body))
            .await
    }

    pub async fn restore(&self, id: Uuid, base_version: i64) -> Resp {
        self.restore_with_key(&key(), id, base_version).await
    }

    pub async fn get_card(&self, id: Uuid) -> Resp {
        Self::send(self.req(Method::GET, &format!("/v1/cards/{id}"))).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::send(self.req(Method::GET, path)).await
    }

    pub async fn changes(&self, since: i64, limit: u32) -> ChangesPage {
        self.get(&format!("/v1/changes?since={since}&limit={limit}")).await.changes()
    }

    /// Every change after `since`, following `next_since` to the end.
    pub async fn all_changes(&self, mut since: i64) -> Vec<deckhand_protocol::Change> {
        let mut out = Vec::new();
        loop {
            let page = self.changes(since, 1000).await;
            out.extend(page.changes);
            since = page.next_since;
            if !page.has_more {
                return out;
            }
        }
    }

    /// Opens `GET /v1/events`, resuming after `last_event_id` when given; asserts 200 + event-stream.
    pub async fn events(&self, last_event_id: Option<i64>) -> Sse {
        let mut rb = self.req(Method::GET, "/v1/events");
        if let Some(id) = last_event_id {
            rb = rb.header("last-event-id", id.to_string());
        }
        Sse::open(rb).await
    }
}

/// One parsed SSE item.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `: text`
    Comment(String),
    /// `retry: ms`
    Retry(u64),
    Event(SseEvent),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn seq(&self) -> i64 {
        self.id.as_deref().expect("event has an id").parse().expect("id is a seq")
    }

    pub fn card(&self) -> Card {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("data is not a card ({e}): {}", self.data))
    }

    pub fn kind(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// Reads SSE frames from a response body, line by line.
pub struct Sse {
    body: BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: Vec<u8>,
    current: Option<SseEvent>,
    ready: VecDeque<Frame>,
    ended: bool,
}

impl Sse {
    pub async fn open(rb: RequestBuilder) -> Sse {
        let r = rb.send().await.expect("open event stream");
        assert_eq!(r.status().as_u16(), 200, "events status: {}", r.text().await.unwrap_or_default());
        let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        Sse::from_response(r)
    }

    pub fn from_response(r: reqwest::Response) -> Sse {
        Sse { body: r.bytes_stream().boxed(), buf: Vec::new(), current: None, ready: VecDeque::new(), ended: false }
    }

    /// The next frame; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.ready.pop_front() {
                return Some(f);
            }
            if self.ended {
                return None;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    self.buf.extend_from_slice(chunk.as_ref());
                    self.parse_lines();
                }
                Some(Err(_)) | None => self.ended = true,
            }
        }
    }

    /// The next frame within the deadline; panics on timeout.
    pub async fn next_in(&mut self, within: Duration) -> Option<Frame> {
        tokio::time::timeout(within, self.next()).await.expect("no SSE frame before the deadline")
    }

    /// The next change event (skipping comments, retry and the opening `connected` event) within
    /// [`DEADLINE`]; panics if the stream ends.
    pub async fn next_event(&mut self) -> SseEvent {
        loop {
            match self.next_in(DEADLINE).await {
                Some(Frame::Event(e)) if e.kind() == "connected" => {}
                Some(Frame::Event(e)) => return e,
                Some(_) => {}
                None => panic!("event stream ended"),
            }
        }
    }

    fn parse_lines(&mut self) {
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line).expect("utf-8 line");
            self.line(&line);
        }
    }

    fn line(&mut self, line: &str) {
        if line.is_empty() {
            if let Some(e) = self.current.take() {
                self.ready.push_back(Frame::Event(e));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            self.ready.push_back(Frame::Comment(comment.trim_start().to_string()));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "retry" => self.ready.push_back(Frame::Retry(value.parse().expect("retry is ms"))),
            "id" => self.current.get_or_insert_with(Default::default).id = Some(value.to_string()),
            "event" => self.current.get_or_insert_with(Default::default).event = Some(value.to_string()),
            "data" => {
                let e = self.current.get_or_insert_with(Default::default);
                if !e.data.is_empty() {
                    e.data.push('\n');
                }
                e.data.push_str(value);
            }
            other => panic!("unknown SSE field {other:?}"),
        }
    }
}

/// Polls `check` until it returns `Some`, failing after [`DEADLINE`].
pub async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
