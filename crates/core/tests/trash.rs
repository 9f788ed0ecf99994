//! Trash and restore through the engine against the real server: a deleted card shows in the
//! Trash on every device, a restore (offline too) brings it back with its id and fields through
//! the outbox, and two devices restoring the same card revive it once.

mod support;

use std::time::Duration;

use deckhand_core::Engine;
use deckhand_core::model::*;
use support::*;
use uuid::Uuid;

const IDLE: Duration = Duration::from_secs(20);

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

async fn trash_ids(e: &Engine) -> Vec<Uuid> {
    e.trash().await.unwrap().iter().map(|c| c.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_card_is_in_every_trash_and_comes_back_with_its_id() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let input = NewCardInput { title: "keep".into(), body: Some("notes".into()), tags: Some(vec!["t".into()]), lane: Some("doing".into()), ..Default::default() };
    let c = a.create(input).await.unwrap();
    settle(a).await;
    settle(b).await;
    a.delete(c.id).await.unwrap();
    assert_eq!(trash_ids(a).await, vec![c.id], "in the trash at once, before the server answers");
    settle(a).await;
    settle(b).await;
    assert!(b.get(c.id).await.unwrap().is_none());
    assert_eq!(trash_ids(b).await, vec![c.id]);
    assert_eq!(h.server_card(c.id).await.0, 410);

    let back = b.restore(c.id).await.unwrap();
    assert_eq!((back.id, back.title.as_str(), back.lane.as_str()), (c.id, "keep", "doing"));
    assert!(trash_ids(b).await.is_empty());
    settle(b).await;
    let (status, json) = h.server_card(c.id).await;
    assert_eq!((status, json["version"].as_i64(), json["deleted"].as_bool()), (200, Some(3), Some(false)));
    // The other device sees it come back (a newer version than its tombstone), fields intact.
    let on_a = eventually("restored on a", || async { a.get(c.id).await.unwrap() }).await;
    assert_eq!((on_a.title.as_str(), on_a.body.as_str(), on_a.tags.clone()), ("keep", "notes", vec!["t".to_string()]));
    assert!(trash_ids(a).await.is_empty());
    // Restoring a live card is refused.
    assert_eq!(a.restore(c.id).await.unwrap_err().kind(), "invalid_state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_made_offline_syncs_later() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = a.create(NewCardInput { title: "offline".into(), ..Default::default() }).await.unwrap();
    settle(a).await;
    a.delete(c.id).await.unwrap();
    settle(a).await;
    a.pause().await;
    assert_eq!(a.restore(c.id).await.unwrap().title, "offline");
    let queued = a.outbox().await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind, OpKind::Restore);
    // An edit made on the restored card rides behind the restore.
    a.update(c.id, deckhand_protocol::CardChanges { title: Some("offline, edited".into()), ..Default::default() }).await.unwrap();
    assert_eq!(h.server_card(c.id).await.0, 410, "nothing sent while paused");
    a.resume().await;
    settle(a).await;
    let (status, json) = h.server_card(c.id).await;
    assert_eq!((status, json["title"].as_str(), json["version"].as_i64()), (200, Some("offline, edited"), Some(4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_restoring_the_same_card_revive_it_once() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(NewCardInput { title: "twice".into(), ..Default::default() }).await.unwrap();
    settle(a).await;
    a.delete(c.id).await.unwrap();
    settle(a).await;
    settle(b).await;
    assert_eq!(trash_ids(b).await, vec![c.id]);
    a.pause().await;
    b.pause().await;
    a.restore(c.id).await.unwrap();
    b.restore(c.id).await.unwrap();
    a.resume().await;
    settle(a).await;
    b.resume().await;
    settle(b).await;
    // b's restore met a live card (409 with current): its effect is in place, nothing failed.
    assert!(b.outbox().await.unwrap().is_empty());
    let (status, json) = h.server_card(c.id).await;
    assert_eq!((status, json["version"].as_i64()), (200, Some(3)));
    assert_eq!(b.get(c.id).await.unwrap().unwrap().confirmed_version, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_meets_a_card_restored_elsewhere_counts_as_done() {
    let mut h = sync_harness(1).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = h.add_engine(proxy.url(), |c| c).await;
    let (a, b) = (&h.engines[0], &h.engines[i]);
    let c = a.create(NewCardInput { title: "raced".into(), ..Default::default() }).await.unwrap();
    settle(a).await;
    a.delete(c.id).await.unwrap();
    settle(a).await;
    settle(b).await;
    b.pause().await;
    b.restore(c.id).await.unwrap();
    // Another device restores it first.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/cards/{}/restore", h.server.url(), c.id))
        .bearer_auth(&h.token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&serde_json::json!({"base_version": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // b sends before it can pull: its restore meets the live card (409 with `current`).
    for path in ["/v1/changes", "/v1/events"] {
        proxy.add_rule(Rule { method: Some("GET"), path_contains: path.into(), fault: Fault::Delay(Duration::from_secs(120)), times: 1000 });
    }
    b.resume().await;
    eventually("b's restore answered", || async { b.outbox().await.unwrap().is_empty().then_some(()) }).await;
    assert_eq!(proxy.writes("POST", "/restore").len(), 1);
    assert_eq!(b.get(c.id).await.unwrap().map(|v| (v.title, v.confirmed_version)), Some(("raced".into(), Some(3))));
    assert_eq!(h.server_card(c.id).await.1["version"], 3, "revived once");
    proxy.clear_rules();
    proxy.stop();
}

async fn empty_server_trash(h: &Harness) -> u64 {
    let r = reqwest::Client::new().delete(format!("{}/v1/trash", h.server.url())).bearer_auth(&h.token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<serde_json::Value>().await.unwrap()["purged"].as_u64().unwrap()
}

/// A client offline while a card was deleted and its tombstone purged learns the card is gone:
/// its cursor is below the server's purge horizon, so it pulls everything again and drops what
/// the server no longer has (its offline edit of that card too), keeping everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_away_past_a_purge_drops_the_purged_card() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let x = a.create(NewCardInput { title: "deleted while b was away".into(), ..Default::default() }).await.unwrap();
    let y = a.create(NewCardInput { title: "stays".into(), ..Default::default() }).await.unwrap();
    let z = a.create(NewCardInput { title: "in b's trash".into(), ..Default::default() }).await.unwrap();
    settle(a).await;
    a.delete(z.id).await.unwrap();
    settle(a).await;
    settle(b).await;
    assert_eq!(trash_ids(b).await, vec![z.id]);
    b.pause().await;
    b.update(x.id, deckhand_protocol::CardChanges { body: Some("offline note".into()), ..Default::default() }).await.unwrap();
    a.delete(x.id).await.unwrap();
    settle(a).await;
    assert_eq!(empty_server_trash(&h).await, 2);
    b.resume().await;
    settle(b).await;
    assert!(b.get(x.id).await.unwrap().is_none(), "the purged card is gone");
    assert!(b.outbox().await.unwrap().is_empty(), "its offline edit went with it");
    assert!(trash_ids(b).await.is_empty(), "purged tombstones leave the trash too");
    assert_eq!(b.get(y.id).await.unwrap().map(|v| v.title), Some("stays".into()));
    assert_eq!(b.status().await.unwrap().last_resync.map(|r| r.reason), Some("trash_purged".into()));
    // Nothing came back on the server, and a's cursor was past the horizon: no resync there.
    assert_eq!(h.server_card(x.id).await.0, 404);
    settle(a).await;
    assert!(a.status().await.unwrap().last_resync.is_none());
    // Once reconciled, b does not resync again.
    settle(b).await;
    let n = b.metric("resyncs").await.unwrap();
    b.sync_now().await.unwrap();
    b.wait_idle(IDLE).await.unwrap();
    assert_eq!(b.metric("resyncs").await.unwrap(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_trash_purges_here_and_on_the_server() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = a.create(NewCardInput { title: "bye".into(), ..Default::default() }).await.unwrap();
    let keep = a.create(NewCardInput { title: "stays".into(), ..Default::default() }).await.unwrap();
    settle(a).await;
    a.delete(c.id).await.unwrap();
    settle(a).await;
    assert_eq!(trash_ids(a).await, vec![c.id]);
    assert_eq!(a.empty_trash().await.unwrap(), 1);
    assert!(trash_ids(a).await.is_empty());
    assert_eq!(h.server_card(c.id).await.0, 404);
    assert_eq!(a.restore(c.id).await.unwrap_err().kind(), "not_found");
    assert!(a.get(keep.id).await.unwrap().is_some());
    settle(a).await;
    assert!(a.status().await.unwrap().last_resync.is_none(), "its own purge needs no resync");
}
