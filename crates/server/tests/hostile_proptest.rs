//! Property tests of request parsing through the real router (`tower::ServiceExt::oneshot`):
//! arbitrary bytes, JSON-shaped garbage and mutated valid bodies as POST/PATCH bodies never yield a
//! 5xx, and every error is `application/problem+json` with a matching `status`.

#[path = "support/pg.rs"]
mod pg;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use deckhand_server::auth::{hash_token, new_token};
use deckhand_server::state::AppState;
use deckhand_server::open_storage;
use proptest::prelude::*;
use tower::ServiceExt;

struct Fixture {
    rt: tokio::runtime::Runtime,
    state: AppState,
    token: String,
    card_id: String,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = pg::test_config(dir.path());
        config.rate_limit_per_sec = 0;
        let storage = open_storage(&config).unwrap();
        let token = new_token();
        storage.add_user("p", hash_token(&token)).unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let state = AppState::new(config, Arc::clone(&storage), rx);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let mut f = Fixture { rt, state, token, card_id: String::new(), _dir: dir, _shutdown: tx };
        let id = uuid::Uuid::now_v7().to_string();
        let (status, _, _) = f.send("POST", "/v1/cards", "application/json", format!(r#"{{"id":"{id}","title":"seed"}}"#).into_bytes());
        assert_eq!(status, StatusCode::CREATED);
        f.card_id = id;
        f
    })
}

impl Fixture {
    fn send(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, String, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        let app = deckhand_server::app(self.state.clone());
        self.rt.block_on(async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec();
            (status, ct, bytes)
        })
    }
}

fn check(status: StatusCode, ct: &str, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "5xx: {} {}", status, String::from_utf8_lossy(body));
    if status.is_client_error() {
        prop_assert!(ct.starts_with("application/problem+json"), "{} with content-type {:?}", status, ct);
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("problem not JSON: {e}")))?;
        prop_assert_eq!(v["status"].as_u64(), Some(status.as_u16() as u64));
        prop_assert!(v["code"].is_string());
    } else {
        prop_assert!(status.is_success(), "unexpected {}", status);
        prop_assert!(ct.starts_with("application/json"));
    }
    Ok(())
}

/// JSON-ish fragments: shapes the parser has to take apart.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("-0".to_string()),
        Just("1e999".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("\"\\u0000\"".to_string()),
        "\"[a-z]{0,8}\"".prop_map(|s| s),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ];
    let key = prop_oneof![
        Just("id"), Just("title"), Just("body"), Just("url"), Just("tags"), Just("lane"), Just("position"),
        Just("pinned"), Just("base_version"), Just("changes"), Just("version"), Just("x")
    ];
    let value = atom.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| {
                format!("{{{}}}", kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","))
            }),
        ]
    });
    value.prop_map(String::into_bytes)
}

/// A valid body with one byte flipped, cut or duplicated.
fn mutated(valid: String) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len();
    (0..len, any::<u8>(), 0..3u8).prop_map(move |(at, byte, how)| {
        let mut b = valid.clone().into_bytes();
        match how {
            0 => b[at] = byte,
            1 => b.truncate(at),
            _ => b.insert(at, byte),
        }
        b
    })
}

const VALID_NEW: &str = r#"{"id":"0190b1b0-0000-7000-8000-000000000001","title":"t","body":"b","url":"https://e.com","tags":["a","b"],"lane":"inbox","position":1.5,"pinned":true}"#;
const VALID_PATCH: &str = r#"{"base_version":1,"changes":{"title":"t","url":null,"tags":["x"],"position":2,"pinned":false}}"#;

fn bodies(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        jsonish(),
        mutated(valid.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn post_bodies_never_5xx(body in bodies(VALID_NEW), ct in prop_oneof![Just("application/json"), Just("application/merge-patch+json"), Just("text/plain")]) {
        let f = fixture();
        let (status, ct, resp) = f.send("POST", "/v1/cards", ct, body);
        check(status, &ct, &resp)?;
    }

    #[test]
    fn patch_bodies_never_5xx(body in bodies(VALID_PATCH)) {
        let f = fixture();
        let path = format!("/v1/cards/{}", f.card_id);
        let (status, ct, resp) = f.send("PATCH", &path, "application/json", body);
        check(status, &ct, &resp)?;
    }

    #[test]
    fn arbitrary_paths_and_queries_never_5xx(seg in "[a-zA-Z0-9%._~-]{0,40}", q in "[a-z_=&%0-9-]{0,40}", m in prop_oneof![Just("GET"), Just("DELETE"), Just("PATCH")]) {
        let f = fixture();
        let uri = format!("/v1/cards/{seg}?{q}");
        prop_assume!(uri.parse::<axum::http::Uri>().is_ok());
        let (status, ct, resp) = f.send(m, &uri, "application/json", b"{}".to_vec());
        check(status, &ct, &resp)?;
        let uri = format!("/v1/changes?{q}");
        let (status, ct, resp) = f.send("GET", &uri, "application/json", Vec::new());
        check(status, &ct, &resp)?;
    }
}

/// The fixture really reaches the handlers: a valid body is created, garbage is a 400 problem.
#[test]
fn the_harness_distinguishes_good_from_bad() {
    let f = fixture();
    let body = VALID_NEW.replace("0190b1b0-0000-7000-8000-000000000001", &uuid::Uuid::now_v7().to_string());
    let (status, ct, _) = f.send("POST", "/v1/cards", "application/json", body.into_bytes());
    assert_eq!(status, StatusCode::CREATED);
    assert!(ct.starts_with("application/json"));
    let (status, ct, resp) = f.send("POST", "/v1/cards", "application/json", b"{\"id\":".to_vec());
    assert_eq!(status, StatusCode::BAD_REQUEST);
    check(status, &ct, &resp).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes as Idempotency-Key, Authorization (after a valid token or instead of it),
    /// Last-Event-ID and Content-Type: never a 5xx, always a problem on error.
    #[test]
    fn arbitrary_header_values_never_5xx(value in prop::collection::vec(any::<u8>(), 0..300), which in 0..5u8) {
        let f = fixture();
        let Ok(v) = axum::http::HeaderValue::from_bytes(&value) else { return Ok(()) };
        let (method, path) = if which == 3 { ("GET", "/v1/events") } else { ("POST", "/v1/cards") };
        let mut req = Request::builder().method(method).uri(path);
        let body = format!(r#"{{"id":"{}","title":"h"}}"#, uuid::Uuid::now_v7());
        req = match which {
            0 => req.header("authorization", format!("Bearer {}", f.token)).header("idempotency-key", v).header("content-type", "application/json"),
            1 => req.header("authorization", v).header("idempotency-key", "k-auth").header("content-type", "application/json"),
            2 => req.header("authorization", format!("Bearer {}", f.token)).header("authorization", v).header("idempotency-key", "k2").header("content-type", "application/json"),
            3 => req.header("authorization", format!("Bearer {}", f.token)).header("last-event-id", v),
            _ => req.header("authorization", format!("Bearer {}", f.token)).header("idempotency-key", uuid::Uuid::new_v4().to_string()).header("content-type", v),
        };
        let req = req.body(Body::from(body)).unwrap();
        let app = deckhand_server::app(f.state.clone());
        let (status, ct, bytes) = f.rt.block_on(async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            if ct.starts_with("text/event-stream") {
                // An accepted stream never ends: its head is the answer.
                return (status, ct, Vec::new());
            }
            (status, ct, axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec())
        });
        if ct.starts_with("text/event-stream") {
            prop_assert_eq!(status, StatusCode::OK);
            return Ok(());
        }
        check(status, &ct, &bytes)?;
        if which == 2 {
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "two Authorization headers");
        }
    }
}
