//! Version history through the engine against the real server: `card_history` lists what the
//! server kept; `revert` is a new edit made on the current card, so a change made elsewhere to
//! another field survives it, and it works offline from the versions this device confirmed.

mod support;

use std::time::Duration;

use deckhand_core::Engine;
use deckhand_core::model::*;
use deckhand_protocol::CardChanges;
use support::*;

const IDLE: Duration = Duration::from_secs(20);

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

fn title(t: &str) -> CardChanges {
    CardChanges { title: Some(t.into()), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_versions_and_revert_is_a_new_edit() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(NewCardInput { title: "first".into(), body: Some("b1".into()), ..Default::default() }).await.unwrap();
    settle(a).await;
    a.update(c.id, title("second")).await.unwrap();
    settle(a).await;
    a.update(c.id, title("third")).await.unwrap();
    settle(a).await;
    let hist = a.card_history(c.id, 100).await.unwrap();
    let got: Vec<(i64, &str)> = hist.iter().map(|v| (v.card.version, v.card.title.as_str())).collect();
    assert_eq!(got, vec![(3, "third"), (2, "second"), (1, "first")]);
    assert!(hist.iter().all(|v| v.writer.is_some()));
    assert_eq!(a.card_history(c.id, 2).await.unwrap().len(), 2);

    // a goes offline; b changes the body (a does not see it); a reverts to v1 from its own
    // copies: made on what a shows (title "third", body "b1"), it changes only the title.
    settle(b).await;
    a.pause().await;
    b.update(c.id, CardChanges { body: Some("b's body".into()), ..Default::default() }).await.unwrap();
    settle(b).await;
    let reverted = a.revert(c.id, 1).await.unwrap();
    assert_eq!((reverted.title.as_str(), reverted.body.as_str()), ("first", "b1"));
    assert_eq!(a.outbox().await.unwrap().len(), 1);
    a.resume().await;
    settle(a).await;
    // Merged with b's unseen change like any edit: the title reverted, b's body kept.
    let (_, json) = h.server_card(c.id).await;
    assert_eq!((json["title"].as_str(), json["body"].as_str(), json["version"].as_i64()), (Some("first"), Some("b's body"), Some(5)));
    settle(b).await;
    assert_eq!(b.get(c.id).await.unwrap().unwrap().title, "first");
    // History now shows the revert as the newest version.
    assert_eq!(a.card_history(c.id, 1).await.unwrap()[0].card.title, "first");
    // Reverting to the version it already has changes nothing.
    a.revert(c.id, 5).await.unwrap();
    assert!(a.outbox().await.unwrap().is_empty());
    // Unknown versions and cards are not_found.
    assert_eq!(a.revert(c.id, 99).await.unwrap_err().kind(), "not_found");
    assert_eq!(a.card_history(uuid::Uuid::now_v7(), 10).await.unwrap_err().kind(), "not_found");
}
