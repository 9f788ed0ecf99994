//! HTTP client for protocol v1 (reqwest). Every request carries the bearer token; writes carry
//! the op's stored `Idempotency-Key`. Answers are classified, never interpreted here.

use std::time::Duration;

use deckhand_protocol::{Card, CardChanges, ChangesPage, NewCard, PatchCard, Problem, headers};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::error::SyncError;

#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A definite HTTP answer to a write.
#[derive(Debug, Clone)]
pub enum Answer {
    Ok(Card),
    Problem { status: u16, problem: Option<Problem>, retry_after: Option<Duration> },
}

/// Transport-level failures.
#[derive(Debug, Clone)]
pub enum TransportFailure {
    /// Could not connect (server down, DNS, refused).
    Connect(String),
    Timeout,
    /// Connection broke mid-request (may or may not have been applied).
    Other(String),
}

impl TransportFailure {
    pub fn code(&self) -> &'static str {
        match self {
            TransportFailure::Connect(_) => "connect",
            TransportFailure::Timeout => "timeout",
            TransportFailure::Other(_) => "transport",
        }
    }

    pub fn message(&self) -> String {
        match self {
            TransportFailure::Connect(m) | TransportFailure::Other(m) => m.clone(),
            TransportFailure::Timeout => "request timed out".into(),
        }
    }
}

fn transport(e: reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        TransportFailure::Timeout
    } else if e.is_connect() {
        TransportFailure::Connect(e.to_string())
    } else {
        TransportFailure::Other(e.to_string())
    }
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(headers::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (when.timestamp_millis() - chrono::Utc::now().timestamp_millis()).max(0) as u64;
    Some(Duration::from_millis(ms.min(3_600_000)))
}

impl SyncClient {
    pub fn new(base: &str, token: &str, timeout: Duration) -> Result<SyncClient, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| SyncError::Transport(e.to_string()))?;
        Ok(SyncClient { http, base: base.trim_end_matches('/').to_string(), token: token.to_string() })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    async fn answer(resp: reqwest::Response) -> Result<Answer, TransportFailure> {
        let status = resp.status();
        if status.is_success() {
            let card: Card = resp.json().await.map_err(|e| TransportFailure::Other(format!("bad body: {e}")))?;
            return Ok(Answer::Ok(card));
        }
        let ra = retry_after(resp.headers());
        let problem = resp.json::<Problem>().await.ok();
        Ok(Answer::Problem { status: status.as_u16(), problem, retry_after: ra })
    }

    fn write(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
            .header(headers::IDEMPOTENCY_KEY, key)
    }

    pub async fn create(&self, card: &NewCard, key: &str) -> Result<Answer, TransportFailure> {
        let resp = self.write(reqwest::Method::POST, "/v1/cards", key).json(card).send().await.map_err(transport)?;
        Self::answer(resp).await
    }

    pub async fn patch(&self, id: Uuid, base_version: i64, changes: &CardChanges, key: &str) -> Result<Answer, TransportFailure> {
        let body = PatchCard { base_version, changes: changes.clone() };
        let resp = self
            .write(reqwest::Method::PATCH, &format!("/v1/cards/{id}"), key)
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        Self::answer(resp).await
    }

    pub async fn delete(&self, id: Uuid, base_version: i64, key: &str) -> Result<Answer, TransportFailure> {
        let resp = self
            .write(reqwest::Method::DELETE, &format!("/v1/cards/{id}?base_version={base_version}"), key)
            .send()
            .await
            .map_err(transport)?;
        Self::answer(resp).await
    }

    /// One page of the change feed. A non-2xx answer is returned as `Answer::Problem` in `Err(Ok)`.
    pub async fn changes(&self, since: i64, limit: u32) -> Result<Result<ChangesPage, Answer>, TransportFailure> {
        let resp = self
            .http
            .get(format!("{}/v1/changes?since={since}&limit={limit}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(transport)?;
        if resp.status().is_success() {
            let page = resp.json().await.map_err(|e| TransportFailure::Other(format!("bad body: {e}")))?;
            return Ok(Ok(page));
        }
        let status = resp.status().as_u16();
        let ra = retry_after(resp.headers());
        let problem = resp.json::<Problem>().await.ok();
        Ok(Err(Answer::Problem { status, problem, retry_after: ra }))
    }

    pub async fn healthz(&self) -> Result<bool, TransportFailure> {
        let resp = self.http.get(format!("{}/healthz", self.base)).send().await.map_err(transport)?;
        Ok(resp.status() == StatusCode::OK)
    }
}
