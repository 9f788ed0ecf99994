//! The engine with no server (work offline) and across restarts.

mod support;

use std::time::Duration;

use deckhand_core::model::*;
use deckhand_core::{Engine, IdleError};
use deckhand_protocol::CardChanges;
use support::*;

fn input(title: &str) -> NewCardInput {
    NewCardInput { title: title.into(), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_offline_by_choice() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(test_config(dir.path(), None)).await.unwrap();
    assert_eq!(e.status().await.unwrap().connection, ConnectionState::Disabled);
    // The first-run lanes (Inbox, Doing, Done) are queued for a server from the start.
    assert_eq!(e.wait_idle(Duration::from_millis(10)).await, Err(IdleError::Disabled { pending: 3 }));
    let mut ev = event_collector(&e);
    let c = e
        .create(NewCardInput { title: "Plan trip".into(), tags: Some(vec!["travel".into()]), lane: Some("todo".into()), ..Default::default() })
        .await
        .unwrap();
    ev.wait_for("cards changed", |x| matches!(x, EngineEvent::CardsChanged { ids } if ids == &vec![c.id])).await;
    ev.wait_for("status", |x| matches!(x, EngineEvent::StatusChanged { status } if status.pending == 1)).await;
    let moved = e.move_card(c.id, "doing".into(), None).await.unwrap();
    assert_eq!((moved.lane.as_str(), moved.position), ("doing", 1.0));
    e.update(c.id, CardChanges { body: Some("book the ferry".into()), ..Default::default() }).await.unwrap();
    assert_eq!(e.list(ListQuery { text: Some("ferry".into()), ..Default::default() }).await.unwrap().total, 1);
    let lanes: Vec<(String, u32)> = e.lanes().await.unwrap().into_iter().map(|l| (l.lane, l.count)).collect();
    assert_eq!(lanes, [("Inbox".to_string(), 0), ("Doing".to_string(), 1), ("Done".to_string(), 0)], "\"doing\" is the Doing lane's");
    assert_eq!(e.tags().await.unwrap(), ["travel"]);
    assert!(matches!(e.wait_idle(Duration::from_millis(10)).await, Err(IdleError::Disabled { pending: 4 })));
    let st = e.status().await.unwrap();
    assert_eq!(st.pending, 1);
    assert!(st.oldest_pending_age_ms.is_some());

    let err = e.create(input("")).await.unwrap_err();
    assert_eq!(err.kind(), "validation");
    assert!(err.to_string().contains("title"), "{err}");
    let err = e.update(uuid::Uuid::now_v7(), CardChanges::default()).await.unwrap_err();
    assert_eq!(err.kind(), "not_found");
    assert_eq!(e.discard(12345).await.unwrap_err().kind(), "not_found");

    let ids: Vec<_> = {
        let mut v = Vec::new();
        for i in 0..250 {
            v.push(e.create(input(&format!("bulk {i}"))).await.unwrap().id);
        }
        v
    };
    let n = e.bulk(ids, BulkAction::Move { lane: "archive".into() }, Some("job-1".into())).await.unwrap();
    assert_eq!(n, 250);
    ev.wait_for("bulk done", |x| matches!(x, EngineEvent::BulkProgress { done: 250, total: 250, .. })).await;
    assert!(ev.seen.iter().any(|x| matches!(x, EngineEvent::BulkProgress { done: 100, .. })));
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_work_survives_a_restart_and_drains_when_a_server_is_set() {
    let h = sync_harness(0).await;
    let dir = tempfile::tempdir().unwrap();
    let (id, key) = {
        let e = Engine::open(test_config(dir.path(), None)).await.unwrap();
        let c = e.create(input("before restart")).await.unwrap();
        let key = e.outbox().await.unwrap()[0].idempotency_key.clone();
        e.shutdown().await;
        (c.id, key)
    };
    let e = Engine::open(test_config(dir.path(), None)).await.unwrap();
    let ob = e.outbox().await.unwrap();
    assert_eq!((ob.len(), ob[0].idempotency_key.as_str()), (1, key.as_str()));
    let mut ev = event_collector(&e);
    e.set_server(Some(h.settings())).await;
    ev.wait_for("online", |x| matches!(x, EngineEvent::ConnectionChanged { state: ConnectionState::Online })).await;
    e.wait_idle(Duration::from_secs(20)).await.unwrap();
    assert_eq!(h.server_card(id).await.0, 200);
    assert_eq!(e.get(id).await.unwrap().unwrap().sync_state, SyncState::Synced);
    // back to offline: no requests, nothing lost
    e.set_server(None).await;
    assert_eq!(e.status().await.unwrap().connection, ConnectionState::Disabled);
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_with_an_edited_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Engine::open(test_config(dir.path(), None)).await.unwrap());
    let c = rusqlite::Connection::open(dir.path().join("deckhand.db")).unwrap();
    c.execute("UPDATE schema_migrations SET sha256 = 'tampered'", []).unwrap();
    drop(c);
    let err = Engine::open(test_config(dir.path(), None)).await.err().unwrap();
    assert_eq!(err.kind(), "corrupt_database");
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<deckhand_core::CoreError>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_server_url_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = deckhand_core::ServerSettings { url: "ftp://example.com".into(), token: "t".into() };
    let err = Engine::open(test_config(dir.path(), Some(bad))).await.err().unwrap();
    assert_eq!(err.kind(), "config");
}
