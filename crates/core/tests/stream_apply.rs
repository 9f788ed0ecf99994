//! Issue 9, scenario 4: a stream event that fails to apply is not skipped. The stream ends, the
//! stored cursor stays before the event, and the reconnect replays it from there.
//!
//! The failure is real: a trigger in the engine's own SQLite database refuses to store the
//! confirmed copy of one card id (as a full disk or a locked database would refuse a write).

mod support;

use std::time::Duration;

use deckhand_core::Engine;
use deckhand_core::model::StreamState;
use support::*;
use uuid::Uuid;

const IDLE: Duration = Duration::from_secs(20);

/// Create a card on the server as another device would (straight over HTTP).
async fn remote_create(settings: &deckhand_core::ServerSettings, id: Uuid, title: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/cards", settings.url))
        .bearer_auth(&settings.token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&serde_json::json!({ "id": id, "title": title }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn history_has(e: &Engine, kind: &str) -> bool {
    e.history(500).await.unwrap().iter().any(|h| h.kind == kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_fails_to_apply_is_replayed_after_the_reconnect() {
    let h = sync_harness(1).await;
    let e = &h.engines[0];
    e.wait_idle(IDLE).await.unwrap();
    eventually("stream connected", || async { (e.status().await.unwrap().stream.state == StreamState::Connected).then_some(()) }).await;

    let (x, y) = (Uuid::now_v7(), Uuid::now_v7());
    let db = rusqlite::Connection::open(h.dirs[0].path().join("deckhand.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute_batch(&format!(
        "CREATE TRIGGER refuse_x BEFORE INSERT ON confirmed WHEN NEW.id = '{x}'
         BEGIN SELECT RAISE(ABORT, 'planted: cannot store this card'); END;"
    ))
    .unwrap();

    remote_create(&h.settings(), x, "refused once").await;
    eventually("the event failed to apply", || async { history_has(e, "stream.apply_failed").await.then_some(()) }).await;
    assert!(e.get(x).await.unwrap().is_none(), "the refused card is not there yet");
    // The database takes it again; a later event must not carry the cursor past the failed one.
    db.execute_batch("DROP TRIGGER refuse_x;").unwrap();
    remote_create(&h.settings(), y, "after").await;

    eventually("both cards arrived", || async {
        let (gx, gy) = (e.get(x).await.unwrap(), e.get(y).await.unwrap());
        (gx.is_some() && gy.is_some()).then_some(())
    })
    .await;
    // And the cursor is where the server is: nothing skipped, nothing pending.
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
    assert_eq!(e.get(x).await.unwrap().unwrap().title, "refused once");
}
