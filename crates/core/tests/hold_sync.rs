//! `EngineConfig::hold_sync`: the desktop app opens the engine with background sync held until its
//! window has painted the cards (P9 in docs/benchmarks.md). Held, nothing is sent; `release_sync`
//! starts it.

mod support;

use std::time::Duration;

use deckhand_core::model::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_sync_sends_nothing_until_released() {
    let h = sync_harness_with(1, |_, mut c| {
        c.hold_sync = true;
        c
    })
    .await;
    let e = &h.engines[0];
    let c = e.create(NewCardInput { title: "held".into(), ..Default::default() }).await.unwrap();
    // Held: the op stays queued. A bounded look, not a timing assertion: 300 ms is many times what
    // an engine that is not held takes to send one op to a server on 127.0.0.1.
    assert!(e.wait_idle(Duration::from_millis(300)).await.is_err(), "a held engine drained its outbox");
    assert_eq!(h.server_card(c.id).await.0, 404);
    assert_eq!(e.status().await.unwrap().pending, 1);

    e.release_sync();
    e.wait_idle(DEADLINE).await.unwrap();
    assert_eq!(h.server_card(c.id).await.1["title"], "held");
    // Idempotent.
    e.release_sync();
    let d = e.create(NewCardInput { title: "after".into(), ..Default::default() }).await.unwrap();
    e.wait_idle(DEADLINE).await.unwrap();
    assert_eq!(h.server_card(d.id).await.1["title"], "after");
}
