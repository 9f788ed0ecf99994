//! End-to-end sync against the real reference server (optionally through a fault proxy).

mod support;

use std::time::Duration;

use deckhand_core::model::*;
use deckhand_core::{Engine, IdleError, ServerSettings};
use deckhand_protocol::CardChanges;
use support::*;
use uuid::Uuid;

const IDLE: Duration = Duration::from_secs(20);

fn input(title: &str) -> NewCardInput {
    NewCardInput { title: title.into(), ..Default::default() }
}

fn title(t: &str) -> CardChanges {
    CardChanges { title: Some(t.into()), ..Default::default() }
}

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

async fn view(e: &Engine, id: Uuid) -> Option<CardView> {
    e.get(id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_delete_reach_the_server_and_the_other_engine() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(input("hello")).await.unwrap();
    assert_eq!(c.sync_state, SyncState::Pending);
    settle(a).await;
    let v = view(a, c.id).await.unwrap();
    assert_eq!((v.sync_state, v.confirmed_version), (SyncState::Synced, Some(1)));
    settle(b).await;
    assert_eq!(view(b, c.id).await.unwrap().title, "hello");

    a.update(c.id, title("edited")).await.unwrap();
    settle(a).await;
    settle(b).await;
    assert_eq!(view(b, c.id).await.unwrap().title, "edited");
    assert_eq!(h.server_card(c.id).await.1["version"], 2);

    b.delete(c.id).await.unwrap();
    settle(b).await;
    settle(a).await;
    assert!(view(a, c.id).await.is_none());
    assert_eq!(h.server_card(c.id).await.0, 410);
    assert!(a.history(50).await.unwrap().iter().any(|e| e.kind == "op.sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_writes_then_reconnect_converge() {
    let mut h = sync_harness(1).await;
    // A port with nothing listening yet: the engine starts offline.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let i = h.add_engine(format!("http://{addr}"), |c| c).await;
    let off = &h.engines[i];
    let mut ev = event_collector(off);
    let ids: Vec<Uuid> = futures_ids(off, 5).await;
    off.update(ids[0], title("first, edited offline")).await.unwrap();
    eventually("offline", || async { (off.status().await.unwrap().connection == ConnectionState::Offline).then_some(()) }).await;
    assert!(matches!(off.wait_idle(Duration::from_millis(50)).await, Err(IdleError::Offline { pending: 8 })));
    // The server comes back on that address: no user action needed.
    let proxy = Proxy::start_on(tokio::net::TcpListener::bind(addr).await.unwrap(), h.server.addr());
    ev.wait_for("online", |e| matches!(e, EngineEvent::ConnectionChanged { state: ConnectionState::Online })).await;
    off.wait_idle(IDLE).await.unwrap();
    let other = &h.engines[0];
    settle(other).await;
    assert_eq!(other.list(ListQuery::default()).await.unwrap().total, 5);
    assert_eq!(view(other, ids[0]).await.unwrap().title, "first, edited offline");
    // create+update coalesced: one POST per card, no PATCH
    assert_eq!(proxy.count("POST", "/v1/cards"), 5);
    assert_eq!(proxy.count("PATCH", "/v1/cards"), 0);
    proxy.stop();
}

async fn futures_ids(e: &Engine, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(e.create(input(&format!("card {i}"))).await.unwrap().id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_edits_coalesce_into_one_request() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = a.create(input("v")).await.unwrap();
    settle(a).await;
    a.pause().await;
    for i in 0..10 {
        a.update(c.id, title(&format!("v{i}"))).await.unwrap();
    }
    a.update(c.id, CardChanges { pinned: Some(true), ..Default::default() }).await.unwrap();
    let ob = a.outbox().await.unwrap();
    assert_eq!(ob.len(), 1);
    assert_eq!(ob[0].kind, OpKind::Update);
    assert_eq!(a.status().await.unwrap().connection, ConnectionState::Paused);
    eventually("stream closed while paused", || async { (a.status().await.unwrap().stream.state != StreamState::Connected).then_some(()) }).await;
    a.resume().await;
    settle(a).await;
    let (_, card) = h.server_card(c.id).await;
    assert_eq!(card["version"], 2, "eleven edits, one PATCH");
    assert_eq!(card["title"], "v9");
    assert_eq!(card["pinned"], true);
    // create + delete before sending: nothing reaches the server
    a.pause().await;
    let gone = a.create(input("never sent")).await.unwrap();
    a.delete(gone.id).await.unwrap();
    assert!(a.outbox().await.unwrap().is_empty());
    a.resume().await;
    settle(a).await;
    assert_eq!(h.server_card(gone.id).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_merge_disjoint_fields_and_conflict_on_overlap() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(input("base")).await.unwrap();
    settle(a).await;
    settle(b).await;

    // Disjoint: A retitles, B pins — both survive everywhere.
    a.pause().await;
    b.pause().await;
    a.update(c.id, title("from A")).await.unwrap();
    b.update(c.id, CardChanges { pinned: Some(true), ..Default::default() }).await.unwrap();
    b.resume().await;
    settle(b).await;
    a.resume().await;
    settle(a).await;
    settle(b).await;
    for e in [a, b] {
        let v = view(e, c.id).await.unwrap();
        assert_eq!((v.title.as_str(), v.pinned, v.sync_state), ("from A", true, SyncState::Synced));
    }

    // Overlapping: both retitle.
    a.pause().await;
    let mut ev = event_collector(a);
    a.update(c.id, title("A wins?")).await.unwrap();
    b.update(c.id, title("B wins?")).await.unwrap();
    settle(b).await;
    a.resume().await;
    let got = ev.wait_for("conflict", |e| matches!(e, EngineEvent::ConflictDetected { .. })).await;
    let EngineEvent::ConflictDetected { conflict } = got else { unreachable!() };
    assert_eq!(conflict.kind, ConflictKind::Fields);
    assert_eq!(conflict.fields, ["title"]);
    assert_eq!(conflict.theirs.title, "B wins?");
    assert_eq!(conflict.mine.title, "A wins?");
    assert!(matches!(a.wait_idle(IDLE).await, Err(IdleError::Conflicts(1))));
    assert_eq!(view(a, c.id).await.unwrap().sync_state, SyncState::Conflict);
    assert_eq!(a.conflicts().await.unwrap().len(), 1);

    // keep_mine
    a.resolve(c.id, Resolution::KeepMine).await.unwrap();
    ev.wait_for("resolved", |e| matches!(e, EngineEvent::ConflictResolved { .. })).await;
    settle(a).await;
    settle(b).await;
    assert_eq!(view(b, c.id).await.unwrap().title, "A wins?");

    // keep_theirs
    a.pause().await;
    a.update(c.id, title("A again")).await.unwrap();
    b.update(c.id, title("B again")).await.unwrap();
    settle(b).await;
    a.resume().await;
    eventually("conflict 2", || async { (a.conflicts().await.unwrap().len() == 1).then_some(()) }).await;
    a.resolve(c.id, Resolution::KeepTheirs).await.unwrap();
    settle(a).await;
    assert_eq!(view(a, c.id).await.unwrap().title, "B again");
    assert_eq!(view(a, c.id).await.unwrap().sync_state, SyncState::Synced);

    // merged
    a.pause().await;
    a.update(c.id, title("A3")).await.unwrap();
    b.update(c.id, title("B3")).await.unwrap();
    settle(b).await;
    a.resume().await;
    let rec = eventually("conflict 3", || async { a.conflicts().await.unwrap().pop() }).await;
    let mut f = rec.suggested.clone();
    f.title = "A3 + B3".into();
    a.resolve(c.id, Resolution::Merged { fields: f }).await.unwrap();
    settle(a).await;
    settle(b).await;
    assert_eq!(view(b, c.id).await.unwrap().title, "A3 + B3");
    // resolving a card without a conflict is invalid_state
    assert_eq!(a.resolve(c.id, Resolution::KeepMine).await.unwrap_err().kind(), "invalid_state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_vs_delete_restore_or_accept() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c1 = a.create(input("one")).await.unwrap();
    let c2 = a.create(input("two")).await.unwrap();
    settle(a).await;
    settle(b).await;
    a.pause().await;
    a.update(c1.id, title("one, edited")).await.unwrap();
    a.update(c2.id, title("two, edited")).await.unwrap();
    b.delete(c1.id).await.unwrap();
    b.delete(c2.id).await.unwrap();
    settle(b).await;
    a.resume().await;
    a.sync_now().await.unwrap();
    eventually("two conflicts", || async { (a.conflicts().await.unwrap().len() == 2).then_some(()) }).await;
    for c in a.conflicts().await.unwrap() {
        assert_eq!(c.kind, ConflictKind::EditVsDelete);
        assert!(c.theirs.deleted);
    }
    // keep_theirs: the card goes away
    a.resolve(c2.id, Resolution::KeepTheirs).await.unwrap();
    assert!(view(a, c2.id).await.is_none());
    // keep_mine: restored with its id and my values (restore, then one edit)
    a.resolve(c1.id, Resolution::KeepMine).await.unwrap();
    assert_eq!(view(a, c1.id).await.unwrap().title, "one, edited");
    settle(a).await;
    settle(b).await;
    assert_eq!(view(b, c1.id).await.unwrap().title, "one, edited");
    assert_eq!(h.server_card(c1.id).await.1["version"], 4, "v2 tombstone, v3 restored, v4 my edit");
    assert_eq!(b.list(ListQuery::default()).await.unwrap().total, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_pauses_and_keeps_everything_queued() {
    let h = sync_harness(0).await;
    let dir = tempfile::tempdir().unwrap();
    let bad = ServerSettings { url: h.server.url(), token: "not-a-token".into() };
    let e = Engine::open(test_config(dir.path(), Some(bad))).await.unwrap();
    let c = e.create(input("queued")).await.unwrap();
    // The 401 may come before a subscriber could attach: poll the state, with a deadline.
    eventually("auth_required", || async { (e.status().await.unwrap().connection == ConnectionState::AuthRequired).then_some(()) }).await;
    assert_eq!(e.wait_idle(IDLE).await, Err(IdleError::AuthRequired));
    assert_eq!(e.outbox().await.unwrap().len(), 1);
    assert_eq!(e.status().await.unwrap().connection, ConnectionState::AuthRequired);
    // a fresh token: reconnects without restart and drains
    e.set_server(Some(h.settings())).await;
    e.wait_idle(IDLE).await.unwrap();
    assert_eq!(h.server_card(c.id).await.0, 200);
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanently_rejected_card_does_not_block_the_others() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = h.add_engine(proxy.url(), |c| c).await;
    let e = &h.engines[i];
    let bad = e.create(input("rejected")).await.unwrap();
    settle(e).await;
    proxy.add_rule(Rule {
        method: Some("PATCH"),
        path_contains: bad.id.to_string(),
        fault: Fault::Status { status: 422, code: "validation_failed", retry_after: None },
        times: usize::MAX,
    });
    let mut ev = event_collector(e);
    e.update(bad.id, title("server says no")).await.unwrap();
    let others = futures_ids(e, 3).await;
    let EngineEvent::OpFailed { op_id, error, .. } =
        ev.wait_for("op failed", |x| matches!(x, EngineEvent::OpFailed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!((error.code.as_str(), error.status), ("validation_failed", Some(422)));
    assert!(matches!(e.wait_idle(IDLE).await, Err(IdleError::Failed(1))));
    for id in &others {
        eventually("others synced", || async { (view(e, *id).await.unwrap().sync_state == SyncState::Synced).then_some(()) }).await;
    }
    let v = view(e, bad.id).await.unwrap();
    assert_eq!(v.sync_state, SyncState::Failed);
    assert_eq!(v.error.unwrap().code, "validation_failed");
    // retry still fails (the proxy insists); discard rolls back to the confirmed copy
    e.retry(op_id).await.unwrap();
    ev.wait_for("failed again", |x| matches!(x, EngineEvent::OpFailed { op_id: o, .. } if *o == op_id) ).await;
    eventually("failed again", || async { (view(e, bad.id).await.unwrap().sync_state == SyncState::Failed).then_some(()) }).await;
    e.discard(op_id).await.unwrap();
    let v = view(e, bad.id).await.unwrap();
    assert_eq!((v.title.as_str(), v.sync_state), ("rejected", SyncState::Synced));
    e.wait_idle(IDLE).await.unwrap();
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_with_the_same_idempotency_key() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/cards".into(), fault: Fault::Status { status: 503, code: "overloaded", retry_after: Some(1) }, times: 1 });
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/cards".into(), fault: Fault::Status { status: 429, code: "rate_limited", retry_after: None }, times: 1 });
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/cards".into(), fault: Fault::Status { status: 500, code: "internal", retry_after: None }, times: 1 });
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/cards".into(), fault: Fault::Drop, times: 1 });
    let i = h.add_engine(proxy.url(), |c| c).await;
    let e = &h.engines[i];
    let started = std::time::Instant::now();
    let c = e.create(input("persistent")).await.unwrap();
    let key = e.outbox().await.unwrap()[0].idempotency_key.clone();
    eventually("first retry", || async {
        let ob = e.outbox().await.unwrap();
        ob.first().filter(|o| o.attempts >= 1 && o.last_error.is_some()).map(|o| {
            assert_eq!(o.idempotency_key, key);
            assert_eq!(o.last_error.as_ref().unwrap().status, Some(503));
        })
    })
    .await;
    settle(e).await;
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After is a floor");
    assert_eq!(proxy.count("POST", "/v1/cards"), 5);
    assert_eq!(h.server_card(c.id).await.1["version"], 1);
    assert!(e.metric("ops_retried").await.unwrap() >= 4);
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_on_repeated_failures_and_recovers() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/cards".into(), fault: Fault::Status { status: 500, code: "internal", retry_after: None }, times: 6 });
    let i = h.add_engine(proxy.url(), |mut c| {
        c.drain_window = 1;
        c
    })
    .await;
    let e = &h.engines[i];
    let mut ev = event_collector(e);
    let ids = futures_ids(e, 3).await;
    ev.wait_for("open", |x| matches!(x, EngineEvent::BreakerChanged { state: BreakerState::Open })).await;
    ev.wait_for("half-open", |x| matches!(x, EngineEvent::BreakerChanged { state: BreakerState::HalfOpen })).await;
    ev.wait_for("closed", |x| matches!(x, EngineEvent::BreakerChanged { state: BreakerState::Closed })).await;
    settle(e).await;
    for id in ids {
        assert_eq!(h.server_card(id).await.0, 200);
    }
    assert_eq!(e.status().await.unwrap().breaker, BreakerState::Closed);
    proxy.stop();
}

/// `429 rate_limited` is the server asking a healthy client to slow down, not a failure: the ops
/// wait for its Retry-After, and the breaker stays closed. (It used to count toward the breaker:
/// five in a row opened it for 30 s, the 34.7 s "synced" outlier of a 10,000-op drain in P9.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answers_wait_for_retry_after_without_opening_the_breaker() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    // Every request (writes, pulls, the stream) meets the limit a while: 20 answers in a row.
    proxy.add_rule(Rule { method: None, path_contains: "/v1/".into(), fault: Fault::Status { status: 429, code: "rate_limited", retry_after: Some(0) }, times: 20 });
    let i = h.add_engine(proxy.url(), |mut c| {
        c.drain_window = 1;
        c
    })
    .await;
    let e = &h.engines[i];
    let mut rx = e.subscribe();
    let ids = futures_ids(e, 3).await;
    settle(e).await;
    for id in ids {
        assert_eq!(h.server_card(id).await.0, 200);
    }
    assert!(proxy.log().iter().filter(|(_, _, s)| *s == 429).count() == 20, "every rule answer was used");
    loop {
        match rx.try_recv() {
            Ok(EngineEvent::BreakerChanged { state }) => assert_ne!(state, BreakerState::Open, "a 429 opened the breaker"),
            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert_eq!(e.status().await.unwrap().breaker, BreakerState::Closed);
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_delivers_changes_and_resumes_after_a_drop() {
    let mut h = sync_harness(1).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = h.add_engine(proxy.url(), |c| c).await;
    let (a, b) = (&h.engines[0], &h.engines[i]);
    eventually("stream connected", || async { (b.status().await.unwrap().stream.state == StreamState::Connected).then_some(()) }).await;
    let mut ev = event_collector(b);
    let c = a.create(input("pushed")).await.unwrap();
    a.wait_idle(IDLE).await.unwrap();
    // no sync_now on b: the event stream brings it
    ev.wait_for("pushed card", |x| matches!(x, EngineEvent::CardsChanged { ids } if ids.contains(&c.id))).await;
    assert_eq!(view(b, c.id).await.unwrap().title, "pushed");
    assert!(b.status().await.unwrap().stream.events_created >= 1);

    // drop the stream; changes made meanwhile arrive after the reconnect
    proxy.cut_all();
    let mut later = Vec::new();
    for t in ["while down 1", "while down 2"] {
        later.push(a.create(input(t)).await.unwrap().id);
    }
    a.update(c.id, title("pushed, edited")).await.unwrap();
    a.wait_idle(IDLE).await.unwrap();
    for id in later {
        eventually("missed change", || async { view(b, id).await }).await;
    }
    eventually("edit", || async { (view(b, c.id).await.unwrap().title == "pushed, edited").then_some(()) }).await;
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_cards_drain_in_parallel_and_window_is_adjustable() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    a.set_drain_window(16).await;
    let ids: Vec<Uuid> = futures_ids(a, 60).await;
    let n = a.bulk(ids.clone(), BulkAction::AddTag { tag: "bulk".into() }, Some("job".into())).await.unwrap();
    assert_eq!(n, 60);
    settle(a).await;
    settle(b).await;
    let p = b.list(ListQuery { tag: Some("bulk".into()), limit: Some(1000), ..Default::default() }).await.unwrap();
    assert_eq!(p.total, 60);
    assert!(p.items.iter().all(|v| v.sync_state == SyncState::Synced));
    let st = a.status().await.unwrap();
    assert_eq!((st.pending, st.in_flight, st.failed, st.conflicts), (0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_with_the_same_key_and_applied_once() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = h.add_engine(proxy.url(), |c| c).await;
    let e = &h.engines[i];
    let c = e.create(input("once")).await.unwrap();
    settle(e).await;
    proxy.add_rule(Rule { method: Some("PATCH"), path_contains: c.id.to_string(), fault: Fault::DropResponse, times: 1 });
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/cards".into(), fault: Fault::DropResponse, times: 1 });
    e.update(c.id, CardChanges { body: Some("appended once".into()), ..Default::default() }).await.unwrap();
    let c2 = e.create(input("created once")).await.unwrap();
    settle(e).await;
    assert_eq!(proxy.count("PATCH", &c.id.to_string()), 2, "retried after the lost answer");
    // Retried with the SAME key, and the server answered the retry from its record (a
    // regenerated key would be applied twice, or refused, and never be a replay).
    let patches = proxy.writes("PATCH", &c.id.to_string());
    let posts = proxy.writes("POST", "/v1/cards");
    assert_eq!(posts.len(), 3, "the first card's create, then the lost one and its retry: {posts:?}");
    for seen in [&patches[..], &posts[1..]] {
        assert_eq!(seen.len(), 2, "the lost one and its retry: {seen:?}");
        assert!(seen[0].key.is_some() && seen[0].key == seen[1].key, "same Idempotency-Key: {seen:?}");
        assert_eq!((seen[0].replayed, seen[1].replayed), (false, true), "the retry is answered as a replay: {seen:?}");
    }
    let (_, card) = h.server_card(c.id).await;
    assert_eq!((card["version"].as_i64(), card["body"].as_str()), (Some(2), Some("appended once")));
    let (status, card2) = h.server_card(c2.id).await;
    assert_eq!((status, card2["version"].as_i64()), (200, Some(1)));
    assert!(e.outbox().await.unwrap().is_empty());
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_goes_offline_and_back_without_user_action() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = deckhand_server::testing::TestServer::start(&db).await;
    let token = server.add_user("bob");
    let addr = server.addr();
    let edir = tempfile::tempdir().unwrap();
    let e = Engine::open(test_config(edir.path(), Some(ServerSettings { url: server.url(), token: token.clone() }))).await.unwrap();
    let first = e.create(input("before")).await.unwrap();
    settle(&e).await;
    server.stop().await;
    let during = e.create(input("while the server is down")).await.unwrap();
    eventually("offline", || async { (e.status().await.unwrap().connection == ConnectionState::Offline).then_some(()) }).await;
    assert_eq!(e.get(during.id).await.unwrap().unwrap().sync_state, SyncState::Pending);
    let mut cfg = deckhand_server::ServerConfig::new(&db);
    cfg.heartbeat = Duration::from_secs(1);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let server = deckhand_server::testing::TestServer::start_on(listener, cfg).await;
    e.wait_idle(IDLE).await.unwrap();
    let client = reqwest::Client::new();
    for id in [first.id, during.id] {
        let r = client.get(format!("{}/v1/cards/{id}", server.url())).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    eventually("stream back", || async { (e.status().await.unwrap().stream.state == StreamState::Connected).then_some(()) }).await;
    e.shutdown().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stream_is_dropped_by_the_watchdog_of_the_servers_heartbeat_and_hung_up() {
    // The server announces 100 ms heartbeats in `connected` (watchdog 300 ms); the engine's own
    // setting is a minute, so only the announced interval can make it notice in time.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = deckhand_server::ServerConfig::new(dir.path().join("server.db"));
    cfg.heartbeat = Duration::from_millis(100);
    let server = deckhand_server::testing::TestServer::start_with(cfg).await;
    let token = server.add_user("ann");
    let proxy = Proxy::start(server.addr()).await;
    proxy.add_rule(Rule { method: Some("GET"), path_contains: "/v1/events".into(), fault: Fault::Silence, times: usize::MAX });
    let edir = tempfile::tempdir().unwrap();
    let mut c = test_config(edir.path(), Some(ServerSettings { url: proxy.url(), token: token.clone() }));
    c.heartbeat = Duration::from_secs(60);
    let e = Engine::open(c).await.unwrap();
    eventually("three stream connections", || async { (proxy.count("GET", "/v1/events") >= 3).then_some(()) }).await;
    // The old connections are closed, not left open with a reader task behind them.
    eventually("silent streams hung up", || async { (proxy.hung_up() >= 2).then_some(()) }).await;
    // Changes still arrive (a catch-up after every reconnect).
    let other = tempfile::tempdir().unwrap();
    let b = Engine::open(test_config(other.path(), Some(ServerSettings { url: server.url(), token }))).await.unwrap();
    let card = b.create(input("seen anyway")).await.unwrap();
    b.wait_idle(IDLE).await.unwrap();
    eventually("change", || async { view(&e, card.id).await }).await;
    e.shutdown().await;
    b.shutdown().await;
    proxy.stop();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stream_is_terminal_and_the_feed_still_works() {
    let mut h = sync_harness(1).await;
    let proxy = Proxy::start(h.server.addr()).await;
    // 403 on the stream: terminal, no more attempts; sync still works through the feed.
    let j = h.add_engine(proxy.url(), |c| c).await;
    let _ = j;
    proxy.add_rule(Rule { method: Some("GET"), path_contains: "/v1/events".into(), fault: Fault::Status { status: 403, code: "unauthorized", retry_after: None }, times: usize::MAX });
    proxy.cut_all();
    let e2 = &h.engines[j];
    eventually("stream error", || async { (e2.status().await.unwrap().stream.state == StreamState::Error).then_some(()) }).await;
    let c2 = h.engines[0].create(input("via the feed")).await.unwrap();
    h.engines[0].wait_idle(IDLE).await.unwrap();
    settle(e2).await;
    assert!(view(e2, c2.id).await.is_some());
    proxy.stop();
}

/// Found by the chaos suite: a fresh engine (cursor 0) whose first catch-up pull keeps failing
/// while its event stream works used to open the stream without `Last-Event-ID` ("from now"); the
/// first live event moved the cursor past every older change, which the pull then never fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_event_never_moves_the_cursor_past_changes_not_yet_pulled() {
    let mut h = sync_harness(1).await;
    let a = &h.engines[0];
    let early = a.create(input("made before b connected")).await.unwrap();
    settle(a).await;
    let proxy = Proxy::start(h.server.addr()).await;
    proxy.add_rule(Rule {
        method: Some("GET"),
        path_contains: "/v1/changes".into(),
        fault: Fault::Status { status: 500, code: "internal", retry_after: None },
        times: 100_000,
    });
    let i = h.add_engine(proxy.url(), |c| c).await;
    let (a, b) = (&h.engines[0], &h.engines[i]);
    eventually("stream connected", || async { (b.status().await.unwrap().stream.state == StreamState::Connected).then_some(()) }).await;
    let live = a.create(input("made while b streams")).await.unwrap();
    a.wait_idle(IDLE).await.unwrap();
    eventually("live card over the stream", || async { view(b, live.id).await }).await;
    proxy.clear_rules();
    settle(b).await;
    assert_eq!(view(b, early.id).await.map(|c| c.title), Some("made before b connected".to_string()));
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_changes_show_under_pending_edits_without_flicker() {
    let mut h = sync_harness(1).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = h.add_engine(proxy.url(), |c| c).await;
    let (b, a) = (&h.engines[0], &h.engines[i]);
    let c = a.create(input("shared")).await.unwrap();
    settle(a).await;
    settle(b).await;
    eventually("a streams", || async { (a.status().await.unwrap().stream.state == StreamState::Connected).then_some(()) }).await;
    // A's edit is slow to reach the server; meanwhile B's change arrives at A over the stream.
    proxy.add_rule(Rule { method: Some("PATCH"), path_contains: c.id.to_string(), fault: Fault::Delay(Duration::from_millis(1500)), times: 1 });
    a.update(c.id, title("mine")).await.unwrap();
    b.update(c.id, CardChanges { pinned: Some(true), ..Default::default() }).await.unwrap();
    b.wait_idle(IDLE).await.unwrap();
    let v = eventually("their pin under my pending title", || async {
        let v = view(a, c.id).await.unwrap();
        v.pinned.then_some(v)
    })
    .await;
    assert_eq!((v.title.as_str(), v.sync_state), ("mine", SyncState::Pending));
    a.wait_idle(IDLE).await.unwrap();
    settle(b).await;
    for e in [a, b] {
        let v = view(e, c.id).await.unwrap();
        assert_eq!((v.title.as_str(), v.pinned, v.sync_state), ("mine", true, SyncState::Synced));
    }
    // My title and their pin were merged: by the server's 409 when the PATCH left before their
    // change arrived here (the usual case), or before sending when it arrived first (rule 2 of
    // docs/sync-engine.md). Either way it counts as an automatic merge.
    let m = a.metrics().await.unwrap();
    assert!(m.iter().any(|(n, v)| n == "auto_merges" && *v >= 1), "{m:?}");
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_in_flight_at_shutdown_is_resent_with_its_key_after_reopening() {
    let h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    // The POST reaches the server only after the engine is gone.
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/cards".into(), fault: Fault::Delay(Duration::from_millis(300)), times: 1 });
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(test_config(dir.path(), Some(ServerSettings { url: proxy.url(), token: h.token.clone() }))).await.unwrap();
    let c = e.create(input("in flight")).await.unwrap();
    let key = eventually("in flight", || async {
        e.outbox().await.unwrap().into_iter().find(|o| o.state == OpState::InFlight).map(|o| o.idempotency_key)
    })
    .await;
    eventually("request at the proxy", || async { (proxy.count("POST", "/v1/cards") == 1).then_some(()) }).await;
    e.shutdown().await;
    drop(e);
    eventually("applied by the server", || async { (h.server_card(c.id).await.0 == 200).then_some(()) }).await;
    // Reopen: the op is pending again with the same key; sent straight to the server, its replay confirms it.
    let e = Engine::open(test_config(dir.path(), None)).await.unwrap();
    let ob = e.outbox().await.unwrap();
    assert_eq!((ob.len(), ob[0].state, ob[0].idempotency_key.as_str()), (1, OpState::Pending, key.as_str()));
    e.set_server(Some(h.settings())).await;
    e.wait_idle(IDLE).await.unwrap();
    assert_eq!(e.get(c.id).await.unwrap().unwrap().confirmed_version, Some(1));
    assert_eq!(h.server_card(c.id).await.1["version"], 1);
    let hist = e.history(100).await.unwrap();
    assert!(hist.iter().any(|x| x.kind == "op.sent"), "{hist:?}");
    e.shutdown().await;
    proxy.stop();
}

/// A new device catching up over several feed pages fetches the next page while it applies the
/// previous one (`sync/pull.rs`): every page is asked for once, in cursor order, and the device
/// ends with exactly the server's cards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_page_catch_up_fetches_each_page_once_and_misses_nothing() {
    let mut h = sync_harness(1).await;
    let n = 2 * deckhand_core::sync::pull::PAGE as usize + 234;
    futures_ids(&h.engines[0], n).await;
    settle(&h.engines[0]).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let b = h.add_engine(proxy.url(), |c| c).await;
    settle(&h.engines[b]).await;

    let mut on_server = server_titles(&h.settings()).await;
    let mut on_b: Vec<(Uuid, String)> = Vec::new();
    loop {
        let q = ListQuery { limit: Some(500), offset: Some(on_b.len() as u32), ..Default::default() };
        let got = h.engines[b].list(q).await.unwrap();
        on_b.extend(got.items.iter().map(|v| (v.id, v.title.clone())));
        if got.items.is_empty() || on_b.len() >= got.total as usize {
            break;
        }
    }
    on_server.sort();
    on_b.sort();
    assert_eq!(on_server.len(), n);
    let missing: Vec<_> = on_server.iter().filter(|c| on_b.binary_search(c).is_err()).take(5).collect();
    let extra: Vec<_> = on_b.iter().filter(|c| on_server.binary_search(c).is_err()).take(5).collect();
    assert!(missing.is_empty() && extra.is_empty() && on_b.len() == n, "the new device holds {} cards, not the server's {n}: missing {missing:?}, extra {extra:?}", on_b.len());

    let since: Vec<i64> = proxy
        .log()
        .iter()
        .filter(|(m, p, _)| m == "GET" && p.starts_with("/v1/changes"))
        .map(|(_, p, _)| p.split("since=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap())
        .collect();
    // Later pulls (the stream's connect, `sync_now`) may ask again from the final cursor; every
    // page before it was asked for exactly once.
    let last = *since.iter().max().unwrap();
    let pages: Vec<i64> = since.iter().copied().filter(|s| *s < last).collect();
    assert_eq!(pages.first(), Some(&0), "{since:?}");
    assert!(pages.len() >= 2, "{since:?}");
    assert!(pages.windows(2).all(|w| w[0] < w[1]), "each page once, in cursor order: {since:?}");
}
