//! Prometheus text metrics: requests by route and status, idempotent replays, open SSE streams,
//! database latency.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    pub idempotent_replays: AtomicU64,
    pub sse_streams: AtomicI64,
    /// A live event's seq jumped (publishes raced after their commits): the gap was read from the database.
    pub sse_gap_fills: AtomicU64,
    /// A stream's live channel overflowed (a slow reader): it caught up from the database.
    pub sse_lag_replays: AtomicU64,
    db_seconds_micros: AtomicU64,
    db_calls: AtomicU64,
}

impl Metrics {
    pub fn observe_db(&self, took: Duration) {
        self.db_seconds_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.db_calls.fetch_add(1, Ordering::Relaxed);
    }

    fn record(&self, method: &str, route: &str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP deckhand_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE deckhand_http_requests_total counter\n");
        for ((method, route, status), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "deckhand_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP deckhand_idempotent_replays_total Requests answered from an idempotency record.");
        let _ = writeln!(out, "# TYPE deckhand_idempotent_replays_total counter");
        let _ = writeln!(out, "deckhand_idempotent_replays_total {}", self.idempotent_replays.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP deckhand_sse_streams Open Server-Sent Events streams.");
        let _ = writeln!(out, "# TYPE deckhand_sse_streams gauge");
        let _ = writeln!(out, "deckhand_sse_streams {}", self.sse_streams.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP deckhand_sse_catchups_total Event streams that read changes from the database instead of the live channel.");
        let _ = writeln!(out, "# TYPE deckhand_sse_catchups_total counter");
        let _ = writeln!(out, "deckhand_sse_catchups_total{{reason=\"seq_gap\"}} {}", self.sse_gap_fills.load(Ordering::Relaxed));
        let _ = writeln!(out, "deckhand_sse_catchups_total{{reason=\"lagged\"}} {}", self.sse_lag_replays.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP deckhand_db_seconds Time spent in database calls.");
        let _ = writeln!(out, "# TYPE deckhand_db_seconds summary");
        let micros = self.db_seconds_micros.load(Ordering::Relaxed);
        let _ = writeln!(out, "deckhand_db_seconds_sum {}", micros as f64 / 1e6);
        let _ = writeln!(out, "deckhand_db_seconds_count {}", self.db_calls.load(Ordering::Relaxed));
        out
    }
}

/// Counts every response by its matched route template (not the raw path: bounded cardinality).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    // Only the standard methods become labels: a client inventing a method per request must not
    // grow the metrics map (and the /metrics page) without bound.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "TRACE" | "CONNECT") => m,
        _ => "OTHER",
    }
    .to_string();
    let resp = next.run(req).await;
    state.metrics.record(&method, &route, resp.status().as_u16());
    resp
}
