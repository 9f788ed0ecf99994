//! Smaller failure paths of issue 9: a healthy but quiet stream does not grow its reconnect
//! backoff; `status()` and `sync_now()` report store errors instead of made-up zeros; a cursor
//! that does not parse is an error, not 0.

mod support;

use std::time::Duration;

use deckhand_core::model::*;
use deckhand_core::{Engine, ServerSettings};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_quiet_stream_reconnects_at_once_however_often_it_is_cut() {
    // Backoff that would reach minutes after a dozen failed attempts: only a reset on health
    // (the server's hello and heartbeats, no events at all) keeps reconnects prompt.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = deckhand_server::ServerConfig::new(dir.path().join("server.db"));
    cfg.heartbeat = Duration::from_millis(100);
    // The stream's `retry:` hint is a floor for every reconnect; keep it out of the way.
    cfg.sse_retry = Duration::from_millis(20);
    let server = deckhand_server::testing::TestServer::start_with(cfg).await;
    let token = server.add_user("ann");
    let proxy = Proxy::start(server.addr()).await;
    let edir = tempfile::tempdir().unwrap();
    let mut c = test_config(edir.path(), Some(ServerSettings { url: proxy.url(), token }));
    c.backoff_base = Duration::from_millis(10);
    c.backoff_cap = Duration::from_secs(600);
    let e = Engine::open(c).await.unwrap();
    for cut in 1..=16 {
        // Connected = the server's hello arrived: a healthy connection, not a failed attempt.
        eventually("stream connected", || async {
            let st = e.status().await.unwrap();
            (st.stream.state == StreamState::Connected && proxy.count("GET", "/v1/events") == cut).then_some(())
        })
        .await;
        proxy.cut_all();
    }
    assert_eq!(e.status().await.unwrap().stream.events_created, 0, "no events: health came from hello and heartbeats");
    e.shutdown().await;
    proxy.stop();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_sync_now_report_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(test_config(dir.path(), None)).await.unwrap();
    e.create(NewCardInput { title: "queued".into(), ..Default::default() }).await.unwrap();
    assert_eq!(e.status().await.unwrap().pending, 1);
    // The outbox table goes missing under the engine (a damaged or foreign-edited database).
    let db = rusqlite::Connection::open(dir.path().join("deckhand.db")).unwrap();
    db.execute_batch("ALTER TABLE outbox RENAME TO outbox_elsewhere;").unwrap();
    let err = e.status().await.expect_err("status cannot count the outbox");
    assert_eq!(err.kind(), "storage", "{err}");
    assert!(e.sync_now().await.is_err(), "sync_now could not make the ops due");
    db.execute_batch("ALTER TABLE outbox_elsewhere RENAME TO outbox;").unwrap();
    assert_eq!(e.status().await.unwrap().pending, 1);
    e.sync_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_does_not_parse_is_an_error_not_a_full_pull() {
    let h = sync_harness(1).await;
    let e = &h.engines[0];
    e.create(NewCardInput { title: "one".into(), ..Default::default() }).await.unwrap();
    e.wait_idle(Duration::from_secs(20)).await.unwrap();
    e.pause().await;
    let db = rusqlite::Connection::open(h.dirs[0].path().join("deckhand.db")).unwrap();
    db.execute("UPDATE sync_state SET value = 'not a number' WHERE key = 'cursor'", []).unwrap();
    let store = deckhand_core::store::Store::open(&h.dirs[0].path().join("deckhand.db")).unwrap();
    let err = store.read(deckhand_core::store::sync_state::cursor).expect_err("a damaged cursor is an error");
    assert!(err.to_string().contains("sync cursor"), "{err}");
}
