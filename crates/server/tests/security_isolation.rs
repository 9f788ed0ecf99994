//! Isolation matrix: user B can neither read, change, delete nor learn of user A's cards on any
//! route, and a 404 for A's card is byte-for-byte the 404 of an absent id (modulo the id itself).

mod hostile_support;

use std::time::Duration;

use hostile_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

/// The problem of a response with the id blanked out of `detail`, plus status and headers that matter.
async fn normalised_404(resp: reqwest::Response, id: &str) -> Value {
    let etag = resp.headers().get("etag").is_some();
    let p = assert_problem(resp, 404, "not_found").await;
    assert!(!etag, "a 404 carries no ETag");
    assert!(p.get("current").is_none(), "a 404 never carries `current`: {p}");
    let mut p = p;
    p["detail"] = Value::String(p["detail"].as_str().unwrap().replace(id, "<id>"));
    p
}

struct World {
    srv: Srv,
    a: String,
    b: String,
    a_live: String,
    a_dead: String,
    a_ids: Vec<String>,
}

async fn world() -> World {
    let srv = start().await;
    let a = srv.server.add_user("alice");
    let b = srv.server.add_user("bob");
    let live = srv.create(&a, "alice's secret").await;
    let a_live = live["id"].as_str().unwrap().to_string();
    let r = srv.write(Method::PATCH, &format!("/v1/cards/{a_live}"), &a).json(&json!({"base_version": 1, "changes": {"title": "alice v2"}})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let dead = srv.create(&a, "alice's deleted").await;
    let a_dead = dead["id"].as_str().unwrap().to_string();
    let r = srv.write(Method::DELETE, &format!("/v1/cards/{a_dead}?base_version=1"), &a).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    World { srv, a, b, a_ids: vec![a_live.clone(), a_dead.clone()], a_live, a_dead }
}

#[tokio::test]
async fn b_gets_the_absent_404_for_a_cards_on_every_card_route() {
    let w = world().await;
    let srv = &w.srv;
    let absent = Uuid::now_v7().to_string();
    for (label, id) in [("live", &w.a_live), ("deleted", &w.a_dead)] {
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, "/v1/cards/{}".to_string(), None),
            (Method::PATCH, "/v1/cards/{}".to_string(), Some(json!({"base_version": 1, "changes": {"title": "pwned"}}))),
            (Method::PATCH, "/v1/cards/{}".to_string(), Some(json!({"base_version": 2, "changes": {"title": "pwned"}}))),
            (Method::DELETE, "/v1/cards/{}?base_version=1".to_string(), None),
            (Method::DELETE, "/v1/cards/{}?base_version=2".to_string(), None),
        ];
        for (method, template, body) in cases {
            let send = |target: &str| {
                let mut rb = srv.write(method.clone(), &template.replace("{}", target), &w.b);
                if let Some(body) = &body {
                    rb = rb.json(body);
                }
                rb.send()
            };
            let theirs = normalised_404(send(id).await.unwrap(), id).await;
            let nobodys = normalised_404(send(&absent).await.unwrap(), &absent).await;
            assert_eq!(theirs, nobodys, "{method} {template} on A's {label} card differs from an absent id");
        }
    }
    // A's cards are untouched.
    let r = srv.req(Method::GET, &format!("/v1/cards/{}", w.a_live), &w.a).send().await.unwrap();
    let card: Value = r.json().await.unwrap();
    assert_eq!((card["version"].as_i64(), card["title"].as_str()), (Some(2), Some("alice v2")));
    let r = srv.req(Method::GET, &format!("/v1/cards/{}", w.a_dead), &w.a).send().await.unwrap();
    assert_problem(r, 410, "gone").await;
}

/// The same matrix through `POST /v1/batch`: each of B's writes on A's cards answers exactly as
/// on an absent id, and A's cards stay untouched.
#[tokio::test]
async fn b_batch_writes_on_a_cards_answer_as_for_absent_ids() {
    let w = world().await;
    let srv = &w.srv;
    let absent = Uuid::now_v7().to_string();
    let writes_on = |id: &str| -> Value {
        let patch = |bv: i64| serde_json::to_string(&json!({"base_version": bv, "changes": {"title": "pwned"}})).unwrap();
        json!({ "writes": [
            {"method": "PATCH", "path": format!("/v1/cards/{id}"), "idempotency_key": Uuid::new_v4().to_string(), "body": patch(1)},
            {"method": "PATCH", "path": format!("/v1/cards/{id}"), "idempotency_key": Uuid::new_v4().to_string(), "body": patch(2)},
            {"method": "DELETE", "path": format!("/v1/cards/{id}?base_version=1"), "idempotency_key": Uuid::new_v4().to_string()},
            {"method": "DELETE", "path": format!("/v1/cards/{id}?base_version=2"), "idempotency_key": Uuid::new_v4().to_string()},
        ] })
    };
    let results = |v: Value, id: &str| -> Vec<Value> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["status"], 404, "{r}");
                assert!(r["body"].get("current").is_none(), "a 404 never carries `current`: {r}");
                let mut r = r.clone();
                r["body"]["detail"] = Value::String(r["body"]["detail"].as_str().unwrap().replace(id, "<id>"));
                r
            })
            .collect()
    };
    for id in [&w.a_live, &w.a_dead] {
        let theirs = srv.req(Method::POST, "/v1/batch", &w.b).json(&writes_on(id)).send().await.unwrap();
        assert_eq!(theirs.status(), StatusCode::OK);
        let nobodys = srv.req(Method::POST, "/v1/batch", &w.b).json(&writes_on(&absent)).send().await.unwrap();
        assert_eq!(results(theirs.json().await.unwrap(), id), results(nobodys.json().await.unwrap(), &absent));
    }
    let r = srv.req(Method::GET, &format!("/v1/cards/{}", w.a_live), &w.a).send().await.unwrap();
    let card: Value = r.json().await.unwrap();
    assert_eq!((card["version"].as_i64(), card["title"].as_str()), (Some(2), Some("alice v2")));
}

#[tokio::test]
async fn b_posting_an_id_a_has_gets_its_own_card() {
    let w = world().await;
    let srv = &w.srv;
    for id in [&w.a_live, &w.a_dead] {
        let r = srv.write(Method::POST, "/v1/cards", &w.b).json(&json!({"id": id, "title": "bob's"})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "B is not told the id exists for someone else");
        let card: Value = r.json().await.unwrap();
        assert_eq!((card["version"].as_i64(), card["title"].as_str()), (Some(1), Some("bob's")));
    }
    // Each sees only their own version of the shared id.
    let mine: Value = srv.req(Method::GET, &format!("/v1/cards/{}", w.a_live), &w.b).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine["title"], "bob's");
    let theirs: Value = srv.req(Method::GET, &format!("/v1/cards/{}", w.a_live), &w.a).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs["title"], "alice v2");
    // B deleting its copy leaves A's alone.
    let r = srv.write(Method::DELETE, &format!("/v1/cards/{}?base_version=1", w.a_live), &w.b).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let theirs: Value = srv.req(Method::GET, &format!("/v1/cards/{}", w.a_live), &w.a).send().await.unwrap().json().await.unwrap();
    assert_eq!((theirs["deleted"].as_bool(), theirs["version"].as_i64()), (Some(false), Some(2)));
}

#[tokio::test]
async fn b_feeds_never_contain_a_ids() {
    let w = world().await;
    let srv = &w.srv;
    // Some cards of A on several pages.
    for i in 0..30 {
        let c = srv.create(&w.a, &format!("a{i}")).await;
        assert!(c["id"].is_string());
    }
    let b_card = srv.create(&w.b, "bob's only").await;
    let b_id = b_card["id"].as_str().unwrap();
    // Card list, paged small.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/cards?limit=1&cursor={c}"),
            None => "/v1/cards?limit=1".to_string(),
        };
        let page: Value = srv.req(Method::GET, &path, &w.b).send().await.unwrap().json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, vec![b_id.to_string()]);
    // A cursor pointing at one of A's ids lists nothing of A's either.
    let page: Value = srv.req(Method::GET, &format!("/v1/cards?cursor={}", w.a_live), &w.b).send().await.unwrap().json().await.unwrap();
    for item in page["items"].as_array().unwrap() {
        assert!(!w.a_ids.contains(&item["id"].as_str().unwrap().to_string()));
    }
    // Change feed from 0: only B's own change, B's own seq numbering.
    let feed: Value = srv.req(Method::GET, "/v1/changes?since=0&limit=1000", &w.b).send().await.unwrap().json().await.unwrap();
    let changes = feed["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["card"]["id"], b_id);
    assert_eq!(changes[0]["seq"], 1, "B's seq does not reveal how much A wrote");
    assert_eq!(feed["next_since"], 1);
    let text = srv.req(Method::GET, "/v1/changes?since=0&limit=1000", &w.b).send().await.unwrap().text().await.unwrap();
    for id in &w.a_ids {
        assert!(!text.contains(id.as_str()));
    }
    assert!(!text.contains("alice"));
}

/// Opens a raw SSE stream with extra request headers; returns the socket after the response head.
async fn sse(addr: std::net::SocketAddr, token: &str, path: &str, extra: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{extra}\r\n").as_bytes()).await.unwrap();
    s
}

/// Everything the stream sent until `sentinel` appeared (panics if it does not within 10 s).
async fn read_until(s: &mut TcpStream, sentinel: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&got).contains(sentinel) {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "stream ended early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("sentinel arrived");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn b_event_streams_never_carry_a_changes_live_or_replayed() {
    let w = world().await;
    let srv = &w.srv;
    let addr = srv.server.addr();
    // Streams opened before, replaying from 0 (header and query forms) and from a seq beyond
    // B's own: none may show A's writes.
    let mut live = sse(addr, &w.b, "/v1/events", "").await;
    let mut replay_hdr = sse(addr, &w.b, "/v1/events", "Last-Event-ID: 0\r\n").await;
    let mut replay_q = sse(addr, &w.b, "/v1/events?since=0", "").await;
    let mut replay_far = sse(addr, &w.b, "/v1/events", "Last-Event-ID: 1\r\n").await;
    for s in [&mut live, &mut replay_hdr, &mut replay_q, &mut replay_far] {
        read_until(s, "event: connected").await;
    }
    // A writes while B listens; then B writes a sentinel.
    let a_new = srv.create(&w.a, "alice live").await;
    let r = srv.write(Method::PATCH, &format!("/v1/cards/{}", w.a_live), &w.a).json(&json!({"base_version": 2, "changes": {"title": "alice v3"}})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b1 = srv.create(&w.b, "bob 1").await;
    let b2 = srv.create(&w.b, "bob 2").await;
    let b2_id = b2["id"].as_str().unwrap();
    let mut a_ids = w.a_ids.clone();
    a_ids.push(a_new["id"].as_str().unwrap().to_string());
    for (name, s) in [("live", &mut live), ("Last-Event-ID: 0", &mut replay_hdr), ("since=0", &mut replay_q), ("Last-Event-ID: 1", &mut replay_far)] {
        let text = read_until(s, b2_id).await;
        for id in &a_ids {
            assert!(!text.contains(id.as_str()), "{name} stream shows A's card {id}");
        }
        assert!(!text.contains("alice"), "{name}");
        assert!(text.contains("id: 2\n"), "{name}: B's own seq numbering");
    }
    // Replaying after the fact from 0: exactly B's two changes.
    let mut late = sse(addr, &w.b, "/v1/events", "Last-Event-ID: 0\r\n").await;
    let text = read_until(&mut late, b2_id).await;
    assert!(text.contains(b1["id"].as_str().unwrap()));
    assert_eq!(text.matches("\nid: ").count() + usize::from(text.starts_with("id: ")), 2, "{text}");
    // A Last-Event-ID far beyond B's seq (A's seq space) replays nothing and shows nothing of A's.
    let mut beyond = sse(addr, &w.b, "/v1/events", "Last-Event-ID: 999\r\n").await;
    read_until(&mut beyond, "event: connected").await;
    let b3 = srv.create(&w.b, "bob 3").await;
    let _ = b3;
    let a4 = srv.create(&w.a, "alice 4").await;
    let b4 = srv.create(&w.b, "bob 4").await;
    // B's seqs 3 and 4 are at or below 999, so that stream skips them; a heartbeat comes anyway.
    let text = read_until(&mut beyond, "heartbeat").await;
    assert!(!text.contains(a4["id"].as_str().unwrap()));
    assert!(!text.contains(b4["id"].as_str().unwrap()));
}

#[tokio::test]
async fn b_replaying_a_idempotency_key_gets_b_own_fresh_result() {
    let w = world().await;
    let srv = &w.srv;
    let key = "shared-key-123";
    let a_body = json!({"id": Uuid::now_v7(), "title": "alice keyed"});
    let r = srv.req(Method::POST, "/v1/cards", &w.a).header("Idempotency-Key", key).json(&a_body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // B sends the very same request with the same key: not A's stored answer, B's own new card.
    let r = srv.req(Method::POST, "/v1/cards", &w.b).header("Idempotency-Key", key).json(&a_body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.headers().get("idempotent-replayed").is_none(), "B must not get A's stored response");
    let b_card: Value = r.json().await.unwrap();
    assert_eq!(b_card["version"], 1);
    // A's key used by A on A's card; B then uses it on A's card: 404 like any id B does not have,
    // not A's stored answer and not `idempotency_key_reused`.
    let patch = json!({"base_version": 2, "changes": {"title": "alice v3"}});
    let r = srv.req(Method::PATCH, &format!("/v1/cards/{}", w.a_live), &w.a).header("Idempotency-Key", "a-patch").json(&patch).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = srv.req(Method::PATCH, &format!("/v1/cards/{}", w.a_live), &w.b).header("Idempotency-Key", "a-patch").json(&patch).send().await.unwrap();
    assert_problem(r, 404, "not_found").await;
    // B with A's key and a different body of its own: a fresh create.
    let r = srv.req(Method::POST, "/v1/cards", &w.b).header("Idempotency-Key", "a-patch").json(&json!({"id": Uuid::now_v7(), "title": "z"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "A's key means nothing to B");
    assert!(r.headers().get("idempotent-replayed").is_none());
    // A's own replay still answers A's original.
    let r = srv.req(Method::POST, "/v1/cards", &w.a).header("Idempotency-Key", key).json(&a_body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let a_card: Value = r.json().await.unwrap();
    assert_eq!(a_card["title"], "alice keyed");
    // And B's replay of its own request answers B's card.
    let r = srv.req(Method::POST, "/v1/cards", &w.b).header("Idempotency-Key", key).json(&a_body).send().await.unwrap();
    assert_eq!(r.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let again: Value = r.json().await.unwrap();
    assert_eq!(again, b_card);
}
