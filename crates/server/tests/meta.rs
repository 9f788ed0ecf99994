//! /healthz-adjacent surface: /metrics, /v1/openapi.json, X-Request-Id.

mod support;

use reqwest::Method;
use support::{Client, Harness, key, new_card, poll};
use uuid::Uuid;

fn gauge(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("metric {name} missing from:\n{text}"))
        .trim()
        .parse()
        .expect("metric value")
}

#[tokio::test]
async fn metrics_count_replays_and_open_streams() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let m = ann.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.content_type().starts_with("text/plain"), "{}", m.content_type());
    assert_eq!(gauge(&m.text, "deckhand_idempotent_replays_total"), 0.0);
    assert_eq!(gauge(&m.text, "deckhand_sse_streams"), 0.0);

    let k = key();
    let body = new_card(Uuid::now_v7(), "once");
    ann.create_with_key(&k, &body).await.card(201);
    assert!(ann.create_with_key(&k, &body).await.replayed());
    let _events = ann.events(None).await;

    let text = poll("the stream gauge", || async {
        let t = ann.get("/metrics").await.text;
        (gauge(&t, "deckhand_sse_streams") == 1.0).then_some(t)
    })
    .await;
    assert_eq!(gauge(&text, "deckhand_idempotent_replays_total"), 1.0);
    assert!(text.contains("# TYPE deckhand_http_requests_total counter"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("deckhand_http_requests_total{")
            && l.contains("route=\"/v1/cards\"")
            && l.contains("status=\"201\"")),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_lists_every_v1_path() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let r = ann.get("/v1/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "application/json");
    let doc = &r.json;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", r.text);
    let paths = doc["paths"].as_object().expect("paths object");
    let expect: &[(&str, &[&str])] = &[
        ("/v1/cards", &["get", "post"]),
        ("/v1/cards/{id}", &["get", "patch", "delete"]),
        ("/v1/batch", &["post"]),
        ("/v1/changes", &["get"]),
        ("/v1/events", &["get"]),
        ("/v1/openapi.json", &["get"]),
    ];
    for (path, methods) in expect {
        let item = paths.get(*path).unwrap_or_else(|| panic!("openapi lacks {path}: {:?}", paths.keys()));
        for m in *methods {
            assert!(item.get(*m).is_some(), "openapi lacks {m} {path}");
        }
    }
    for schema in ["Card", "NewCard", "PatchCard", "ChangesPage", "Problem", "BatchRequest", "BatchResponse"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "openapi lacks schema {schema}");
    }
}

#[tokio::test]
async fn request_id_is_echoed_or_made_up() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let r = Client::send(ann.req(Method::GET, "/v1/cards").header("x-request-id", "trace-me-42")).await;
    assert_eq!(r.header("x-request-id"), Some("trace-me-42"));
    // Errors and unauthenticated answers carry it too.
    let r = Client::send(h.http.get(format!("{}/v1/cards", h.url())).header("x-request-id", "no-auth-1")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-request-id"), Some("no-auth-1"));
    let a = ann.get("/v1/cards").await;
    let b = ann.get("/v1/cards").await;
    let (a, b) = (a.header("x-request-id").expect("generated id"), b.header("x-request-id").expect("generated id"));
    assert!(!a.is_empty() && a != b, "{a} vs {b}");
}
