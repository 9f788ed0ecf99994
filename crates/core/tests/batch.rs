//! Ops drained in batches (`POST /v1/batch`) against the real server through the fault proxy:
//! fewer requests, the same outcome, and each op still applied exactly once.

mod support;

use std::time::Duration;

use deckhand_core::Engine;
use deckhand_core::model::*;
use deckhand_protocol::CardChanges;
use support::*;
use uuid::Uuid;

const IDLE: Duration = Duration::from_secs(20);

fn input(title: &str) -> NewCardInput {
    NewCardInput { title: title.into(), ..Default::default() }
}

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

/// Creates queued while paused, so they are all ready at once when sync resumes.
async fn queued_creates(e: &Engine, n: usize, prefix: &str) -> Vec<Uuid> {
    e.pause().await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(e.create(input(&format!("{prefix} {i}"))).await.unwrap().id);
    }
    ids
}

async fn batched_engine(h: &mut Harness, url: String) -> usize {
    h.add_engine(url, |mut c| {
        c.batch_max = 16;
        c.drain_window = 2;
        c
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_go_in_batches_and_land_as_single_requests_would() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = batched_engine(&mut h, proxy.url()).await;
    let e = &h.engines[i];
    let ids = queued_creates(e, 40, "card").await;
    e.resume().await;
    settle(e).await;
    let batches = proxy.count("POST", "/v1/batch");
    assert!(batches >= 3 && batches < 40, "40 creates took {batches} batch requests");
    // Edits and deletes of confirmed cards, batched too.
    e.pause().await;
    for id in &ids[..20] {
        e.update(*id, CardChanges { title: Some(format!("edited {id}")), pinned: Some(true), ..Default::default() }).await.unwrap();
    }
    for id in &ids[20..25] {
        e.delete(*id).await.unwrap();
    }
    e.resume().await;
    settle(e).await;
    assert_eq!(proxy.count("PATCH", "/v1/cards"), 0, "edits went in batches");
    for id in &ids[..20] {
        let (status, card) = h.server_card(*id).await;
        assert_eq!((status, card["version"].as_i64(), card["pinned"].as_bool()), (200, Some(2), Some(true)));
        assert_eq!(card["title"], format!("edited {id}"));
    }
    for id in &ids[20..25] {
        assert_eq!(h.server_card(*id).await.0, 410);
    }
    let page = e.list(ListQuery { limit: Some(1000), ..Default::default() }).await.unwrap();
    assert_eq!(page.total, 35);
    assert!(page.items.iter().all(|v| v.sync_state == SyncState::Synced));
    assert_eq!(e.metric("ops_succeeded").await.unwrap(), 65);
    // The stream's echoes of the in-flight creates were held and applied after their sends: all
    // 40 arrived, and the stored cursor reaches the server's last change.
    assert!(e.status().await.unwrap().stream.events_created >= 40);
    let last = server_last_seq(&h).await;
    let db = h.dirs[i].path().join("deckhand.db");
    eventually("cursor at the server's last change", || async { (stored_cursor(&db) == last).then_some(()) }).await;
    proxy.stop();
}

/// GET a path of the server as the harness user, as JSON.
async fn server_json(h: &Harness, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new().get(format!("{}{path}", h.server.url())).bearer_auth(&h.token).send().await.unwrap();
    r.json().await.unwrap()
}

async fn server_last_seq(h: &Harness) -> i64 {
    server_json(h, "/v1/changes?since=0&limit=1000").await["next_since"].as_i64().unwrap()
}

fn stored_cursor(db: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let v: String = c.query_row("SELECT value FROM sync_state WHERE key = 'cursor'", [], |r| r.get(0)).unwrap();
    v.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_batch_answer_is_retried_with_the_same_keys_and_applied_once() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = batched_engine(&mut h, proxy.url()).await;
    let e = &h.engines[i];
    let ids = queued_creates(e, 30, "once").await;
    // The server commits the first batch; the client never hears.
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/batch".into(), fault: Fault::DropResponse, times: 1 });
    e.resume().await;
    settle(e).await;
    assert!(proxy.count("POST", "/v1/batch") >= 3, "the lost batch was sent again");
    for id in &ids {
        let (status, card) = h.server_card(*id).await;
        assert_eq!((status, card["version"].as_i64()), (200, Some(1)), "card {id} applied once");
    }
    let all = server_json(&h, "/v1/cards?limit=1000").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 30, "no duplicates");
    assert_eq!(e.outbox().await.unwrap().len(), 0);
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_retried_and_per_write_refusals_stay_per_card() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = batched_engine(&mut h, proxy.url()).await;
    let e = &h.engines[i];
    let ids = queued_creates(e, 10, "retry").await;
    // Two transient refusals of whole batches (Retry-After honoured), then they go through.
    proxy.add_rule(Rule {
        method: Some("POST"),
        path_contains: "/v1/batch".into(),
        fault: Fault::Status { status: 503, code: "overloaded", retry_after: Some(0) },
        times: 2,
    });
    e.resume().await;
    settle(e).await;
    for id in &ids {
        assert_eq!(h.server_card(*id).await.0, 200);
    }
    // Every op of the two refused batches was retried (batches start small: 4 ops, then grow).
    assert!(e.metric("ops_retried").await.unwrap() >= 2);
    assert!(proxy.count("POST", "/v1/batch") >= 3, "two refused batches and at least one that went through");

    // A card another device deleted while this one was paused (no stream, so it doesn't know):
    // only that card's write is refused (410 → the user decides); the rest of the batch lands.
    e.pause().await;
    eventually("stream closed while paused", || async { (e.status().await.unwrap().stream.state != StreamState::Connected).then_some(()) }).await;
    let other = reqwest::Client::new();
    let (_, victim) = h.server_card(ids[0]).await;
    let r = other
        .delete(format!("{}/v1/cards/{}?base_version={}", h.server.url(), ids[0], victim["version"]))
        .bearer_auth(&h.token)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for id in &ids {
        e.update(*id, CardChanges { pinned: Some(true), ..Default::default() }).await.unwrap();
    }
    e.resume().await;
    e.sync_now().await.unwrap();
    eventually("edit-vs-delete conflict", || async { (e.conflicts().await.unwrap().len() == 1).then_some(()) }).await;
    for id in &ids[1..] {
        eventually("pinned on the server", || async { (h.server_card(*id).await.1["pinned"] == true).then_some(()) }).await;
    }
    assert_eq!(e.conflicts().await.unwrap()[0].card_id, ids[0]);
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_inside_a_batch_answer_reaches_the_breaker_and_its_retry_after() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = h
        .add_engine(proxy.url(), |mut c| {
            c.batch_max = 16;
            c.drain_window = 1;
            c.breaker_threshold = 3;
            c.breaker_reset = Duration::from_millis(200);
            c
        })
        .await;
    let e = &h.engines[i];
    let mut ev = event_collector(e);
    let ids = queued_creates(e, 8, "busy").await;
    // The first batch comes back 200 with every write answered 503 + Retry-After: 2 s.
    proxy.add_rule(Rule {
        method: Some("POST"),
        path_contains: "/v1/batch".into(),
        fault: Fault::EachWrite { status: 503, code: "overloaded", retry_after: Some(2) },
        times: 1,
    });
    let asked = chrono::Utc::now();
    e.resume().await;
    // Each write's 503 counts as a failure, as its single request's would: 4 in a row open it.
    ev.wait_for("breaker open", |x| matches!(x, EngineEvent::BreakerChanged { state: BreakerState::Open })).await;
    // And each refused write waits at least its Retry-After (a floor for the backoff).
    let refused: Vec<_> = e.outbox().await.unwrap().into_iter().filter(|o| o.last_error.as_ref().is_some_and(|er| er.status == Some(503))).collect();
    assert!(!refused.is_empty());
    for o in &refused {
        let due = o.next_attempt_at.expect("a retry is scheduled");
        assert!(due >= asked + chrono::Duration::milliseconds(1900), "op {} due {due}, asked {asked}: Retry-After ignored", o.op_id);
    }
    settle(e).await;
    for id in &ids {
        assert_eq!(h.server_card(*id).await.0, 200);
    }
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_batch_is_remembered_and_batch_max_is_clamped_to_the_protocol() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    // batch_max far beyond the protocol's 100 writes: never a batch the server must refuse.
    let i = h
        .add_engine(proxy.url(), |mut c| {
            c.batch_max = 500;
            c.drain_window = 1;
            c
        })
        .await;
    let e = &h.engines[i];
    let ids = queued_creates(e, 250, "big").await;
    e.resume().await;
    settle(e).await;
    // Batches grow 4, 8, 16, ... up to 100 (not 128, which the server refuses with 422, after
    // which the ops would go one by one).
    assert!(proxy.count("POST", "/v1/batch") >= 3);
    assert_eq!(proxy.count("POST", "/v1/cards"), 0, "no batch was refused and sent one by one");
    for id in [ids[0], ids[249]] {
        assert_eq!(h.server_card(id).await.0, 200);
    }

    // A server without the route: one refused batch, then ops go one by one without asking again.
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/batch".into(), fault: Fault::Status { status: 404, code: "not_found", retry_after: None }, times: usize::MAX });
    let before = proxy.count("POST", "/v1/batch");
    for round in 0..3 {
        let ids = queued_creates(e, 6, &format!("round {round}")).await;
        e.resume().await;
        settle(e).await;
        for id in &ids {
            assert_eq!(h.server_card(*id).await.0, 200);
        }
    }
    assert_eq!(proxy.count("POST", "/v1/batch") - before, 1, "the missing route was tried once");
    assert_eq!(proxy.count("POST", "/v1/cards"), 18);
    assert!(e.history(500).await.unwrap().iter().any(|h| h.kind == "batch.unsupported"));
    proxy.stop();
}
