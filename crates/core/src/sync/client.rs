//! HTTP client for protocol v1 (reqwest). Every request carries the bearer token; writes carry
//! the op's stored `Idempotency-Key`. Answers are classified, never interpreted here.

use std::time::Duration;

use deckhand_protocol::{BatchRequest, BatchResponse, BatchWrite, Card, CardChanges, ChangesPage, NewCard, PatchCard, Problem, RestoreCard, TrashEmptied, VersionsPage, headers};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::error::SyncError;

#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

fn transport(e: reqwest::Error) -> SyncError {
    if e.is_timeout() {
        SyncError::Timeout
    } else if e.is_connect() {
        SyncError::Connect(e.to_string())
    } else {
        SyncError::Transport(e.to_string())
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

    /// A 2xx body as `T`, or the refusal (status, problem, Retry-After).
    async fn answer<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, SyncError> {
        let status = resp.status();
        if status.is_success() {
            return resp.json().await.map_err(|e| SyncError::Transport(format!("bad body: {e}")));
        }
        let ra = retry_after(resp.headers());
        let problem = resp.json::<Problem>().await.ok();
        Err(SyncError::Refused { status: status.as_u16(), problem, retry_after: ra })
    }

    /// One write as its own request: the method, path, `Idempotency-Key` and body text of `w`
    /// (the same bytes a batch would carry for it).
    pub async fn send(&self, w: &BatchWrite) -> Result<Card, SyncError> {
        let method = reqwest::Method::from_bytes(w.method.as_bytes()).map_err(|e| SyncError::Transport(e.to_string()))?;
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, w.path))
            .bearer_auth(&self.token)
            .header(headers::IDEMPOTENCY_KEY, &w.idempotency_key);
        if let Some(body) = &w.body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        Self::answer(rb.send().await.map_err(transport)?).await
    }

    /// The write an op stands for, the same whether sent alone (`send`) or in a batch, so the
    /// server's idempotency record is shared whichever way the op goes.
    pub fn create_write(card: &NewCard, key: &str) -> BatchWrite {
        let body = serde_json::to_string(card).expect("a card serialises");
        BatchWrite { method: "POST".into(), path: "/v1/cards".into(), idempotency_key: key.into(), body: Some(body) }
    }

    pub fn patch_write(id: Uuid, base_version: i64, changes: &CardChanges, key: &str) -> BatchWrite {
        let body = serde_json::to_string(&PatchCard { base_version, changes: changes.clone() }).expect("changes serialise");
        BatchWrite { method: "PATCH".into(), path: format!("/v1/cards/{id}"), idempotency_key: key.into(), body: Some(body) }
    }

    pub fn delete_write(id: Uuid, base_version: i64, key: &str) -> BatchWrite {
        let path = format!("/v1/cards/{id}?base_version={base_version}");
        BatchWrite { method: "DELETE".into(), path, idempotency_key: key.into(), body: None }
    }

    pub fn restore_write(id: Uuid, base_version: i64, key: &str) -> BatchWrite {
        let body = serde_json::to_string(&RestoreCard { base_version }).expect("a restore serialises");
        BatchWrite { method: "POST".into(), path: format!("/v1/cards/{id}/restore"), idempotency_key: key.into(), body: Some(body) }
    }

    /// Several writes in one request. `Ok(answers)`: one answer per write, in order (a 2xx whose
    /// body is not a card is a transport failure of that write). `Err`: the batch as a whole
    /// failed or was refused.
    pub async fn batch(&self, writes: Vec<BatchWrite>) -> Result<Vec<Result<Card, SyncError>>, SyncError> {
        let n = writes.len();
        let resp = self
            .http
            .post(format!("{}/v1/batch", self.base))
            .bearer_auth(&self.token)
            .json(&BatchRequest { writes })
            .send()
            .await
            .map_err(transport)?;
        let body: BatchResponse = Self::answer(resp).await?;
        if body.results.len() != n {
            return Err(SyncError::Transport(format!("batch answered {} results for {n} writes", body.results.len())));
        }
        let answers = body
            .results
            .into_iter()
            .map(|r| {
                if (200..300).contains(&r.status) {
                    serde_json::from_value::<Card>(r.body).map_err(|e| SyncError::Transport(format!("bad card in batch: {e}")))
                } else {
                    // The write's own Retry-After, so a 429/503 inside a batch backs off like a single request.
                    let retry_after = r.retry_after.map(|s| Duration::from_secs(s.min(3600)));
                    Err(SyncError::Refused { status: r.status, problem: serde_json::from_value(r.body).ok(), retry_after })
                }
            })
            .collect();
        Ok(answers)
    }

    /// One lane write (`/v1/lanes`), answered with the lane.
    pub async fn send_lane(&self, w: &BatchWrite) -> Result<deckhand_protocol::Lane, SyncError> {
        let method = reqwest::Method::from_bytes(w.method.as_bytes()).map_err(|e| SyncError::Transport(e.to_string()))?;
        let mut rb = self.http.request(method, format!("{}{}", self.base, w.path)).bearer_auth(&self.token).header(headers::IDEMPOTENCY_KEY, &w.idempotency_key);
        if let Some(body) = &w.body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        Self::answer(rb.send().await.map_err(transport)?).await
    }

    /// One page of the change feed.
    pub async fn changes(&self, since: i64, limit: u32) -> Result<ChangesPage, SyncError> {
        let resp = self
            .http
            .get(format!("{}/v1/changes?since={since}&limit={limit}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(transport)?;
        Self::answer(resp).await
    }

    /// "Empty trash" (`DELETE /v1/trash`): the caller's tombstones are purged on the server.
    pub async fn empty_trash(&self) -> Result<TrashEmptied, SyncError> {
        let resp = self.http.delete(format!("{}/v1/trash", self.base)).bearer_auth(&self.token).send().await.map_err(transport)?;
        Self::answer(resp).await
    }

    /// One page of a card's stored versions, newest first (`GET /v1/cards/{id}/versions`).
    pub async fn versions(&self, id: Uuid, limit: u32, cursor: Option<&str>) -> Result<VersionsPage, SyncError> {
        let mut url = format!("{}/v1/cards/{id}/versions?limit={limit}", self.base);
        if let Some(c) = cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let resp = self.http.get(url).bearer_auth(&self.token).send().await.map_err(transport)?;
        Self::answer(resp).await
    }

    pub async fn healthz(&self) -> Result<bool, SyncError> {
        let resp = self.http.get(format!("{}/healthz", self.base)).send().await.map_err(transport)?;
        Ok(resp.status() == StatusCode::OK)
    }
}
