//! Trash and restore: `POST /v1/cards/{id}/restore` revives a tombstone with its id and fields at
//! version n+1, answers like every write (new seq, `card.updated`, replay under its key, 409 with
//! `current` on a stale base), and is the only way a tombstone comes back.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Client, Harness, key};
use uuid::Uuid;

#[tokio::test]
async fn restore_brings_the_card_back_with_its_id_and_fields() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    let v1 = ann.create(&json!({"id": id, "title": "keep me", "body": "b", "url": "https://a.example/", "tags": ["t"], "lane": "doing", "position": 3.0, "pinned": true})).await.card(201);
    let tomb = ann.delete(id, 1).await.card(200);
    assert!(tomb.deleted);
    let seq_before = ann.changes(0, 100).await.last_seq;

    let k = key();
    let r = ann.restore_with_key(&k, id, tomb.version).await;
    let live = r.card(200);
    assert!(!r.replayed());
    assert_eq!((live.id, live.version, live.deleted), (id, tomb.version + 1, false));
    assert!(live.same_fields(&v1), "fields, lane and tags come back: {live:?}");
    assert_eq!(live.created_at, v1.created_at);
    assert_eq!(ann.get_card(id).await.card(200), live);

    // A new seq, and the feed carries the live card.
    let page = ann.changes(seq_before, 100).await;
    assert_eq!(page.last_seq, seq_before + 1);
    assert_eq!(page.changes.len(), 1);
    assert_eq!(page.changes[0].card, live);

    // Replayed under its key: same answer, nothing new.
    let again = ann.restore_with_key(&k, id, tomb.version).await;
    assert!(again.replayed());
    assert_eq!(again.card(200), live);
    assert_eq!(ann.changes(0, 100).await.last_seq, seq_before + 1);
}

#[tokio::test]
async fn restore_is_a_card_updated_event() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("e").await;
    let tomb = ann.delete(card.id, 1).await.card(200);
    let mut sse = ann.events(Some(ann.changes(0, 100).await.last_seq)).await;
    let live = ann.restore(card.id, tomb.version).await.card(200);
    let ev = sse.next_event().await;
    assert_eq!(ev.kind(), "card.updated");
    assert_eq!(ev.card(), live);
}

#[tokio::test]
async fn stale_or_live_restores_are_409_with_current() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("s").await;
    // Live card: nothing to restore.
    let p = ann.restore(card.id, 1).await.problem(409, "version_conflict");
    assert_eq!(p.current.as_ref(), Some(&card));
    let tomb = ann.delete(card.id, 1).await.card(200);
    // A base other than the tombstone's version.
    let p = ann.restore(card.id, 1).await.problem(409, "version_conflict");
    assert_eq!(p.current.as_ref(), Some(&tomb));
    // Restored, then restored again by another device on the same tombstone: 409 with the live card.
    let live = ann.restore(card.id, tomb.version).await.card(200);
    let p = ann.restore(card.id, tomb.version).await.problem(409, "version_conflict");
    assert_eq!(p.current.as_ref(), Some(&live));
    // Absent ids, other users' cards and non-UUIDs are 404.
    ann.restore(Uuid::now_v7(), 1).await.problem(404, "not_found");
    h.user("bob").restore(card.id, live.version).await.problem(404, "not_found");
    Client::send(ann.req(Method::POST, "/v1/cards/nope/restore").header("idempotency-key", key()).json(&json!({"base_version": 1})))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn restore_needs_a_key_and_a_valid_body() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("v").await;
    let tomb = ann.delete(card.id, 1).await.card(200);
    let path = format!("/v1/cards/{}/restore", card.id);
    Client::send(ann.req(Method::POST, &path).json(&json!({"base_version": tomb.version}))).await.problem(400, "idempotency_key_invalid");
    Client::send(ann.req(Method::POST, &path).header("idempotency-key", key()).json(&json!({"base_version": "2"}))).await.problem(422, "validation_failed");
    Client::send(ann.req(Method::POST, &path).header("idempotency-key", key()).json(&json!({"base_version": 2, "x": 1}))).await.problem(422, "validation_failed");
    Client::send(ann.req(Method::GET, &path)).await.problem(405, "method_not_allowed");
    // Nothing of that revived it.
    ann.get_card(card.id).await.problem(410, "gone");
}

#[tokio::test]
async fn only_a_restore_revives_a_tombstone() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("dead").await;
    let tomb = ann.delete(card.id, 1).await.card(200);
    // A re-create, a patch at either version, a retried delete: none of them revive it.
    ann.create(&support::new_card(card.id, "again")).await.problem(409, "already_exists");
    ann.patch(card.id, tomb.version, json!({"title": "x"})).await.problem(410, "gone");
    ann.patch(card.id, 1, json!({"title": "x"})).await.problem(410, "gone");
    ann.delete(card.id, 1).await.problem(410, "gone");
    ann.get_card(card.id).await.problem(410, "gone");
    ann.restore(card.id, tomb.version).await.card(200);
}

#[tokio::test]
async fn restore_works_inside_a_batch_and_shares_its_record() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("b").await;
    let tomb = ann.delete(card.id, 1).await.card(200);
    let k = key();
    let w = json!({"method": "POST", "path": format!("/v1/cards/{}/restore", card.id), "idempotency_key": k,
                   "body": json!({"base_version": tomb.version}).to_string()});
    let r = Client::send(ann.req(Method::POST, "/v1/batch").json(&json!({"writes": [w.clone()]}))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["results"][0]["status"], 200);
    assert_eq!(r.json["results"][0]["body"]["deleted"], false);
    // The single request with the same key and body replays the batch's write.
    let single = ann.restore_with_key(&k, card.id, tomb.version).await;
    assert!(single.replayed());
    // Any other method on the restore path is refused per write.
    let bad = json!({"method": "PATCH", "path": format!("/v1/cards/{}/restore", card.id), "idempotency_key": key(), "body": "{}"});
    let r = Client::send(ann.req(Method::POST, "/v1/batch").json(&json!({"writes": [bad]}))).await;
    assert_eq!(r.json["results"][0]["status"], 405);
}

#[tokio::test]
async fn empty_trash_purges_the_callers_tombstones_and_moves_the_horizon() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let live = ann.new_card("live").await;
    let gone = ann.new_card("gone").await;
    let tomb = ann.delete(gone.id, 1).await.card(200);
    let bobs = bob.new_card("bob's").await;
    let bob_tomb = bob.delete(bobs.id, 1).await.card(200);
    let before = ann.changes(0, 100).await;
    assert_eq!(before.purged_seq, 0);
    let tomb_seq = before.changes.iter().find(|c| c.card.id == gone.id).unwrap().seq;

    let r = Client::send(ann.req(Method::DELETE, "/v1/trash")).await;
    assert_eq!((r.status, r.json["purged"].as_u64()), (200, Some(1)), "{}", r.text);
    // Gone for good: not in the feed, 404 like a card that never was, nothing to restore.
    ann.get_card(gone.id).await.problem(404, "not_found");
    ann.restore(gone.id, tomb.version).await.problem(404, "not_found");
    let after = ann.changes(0, 100).await;
    assert_eq!(after.purged_seq, tomb_seq);
    assert_eq!(after.changes.iter().map(|c| c.card.id).collect::<Vec<_>>(), vec![live.id]);
    assert_eq!(ann.get_card(live.id).await.card(200), live);
    // Isolation: bob's Trash is his own.
    bob.get_card(bobs.id).await.problem(410, "gone");
    assert_eq!(bob.changes(0, 100).await.purged_seq, 0);
    assert_eq!(bob.restore(bobs.id, bob_tomb.version).await.card(200).version, 3);
    // Emptying an empty Trash purges nothing and keeps the horizon.
    let r = Client::send(ann.req(Method::DELETE, "/v1/trash")).await;
    assert_eq!(r.json["purged"].as_u64(), Some(0));
    assert_eq!(ann.changes(0, 100).await.purged_seq, tomb_seq);
}

#[tokio::test]
async fn tombstones_past_the_retention_are_purged_in_the_background() {
    let h = Harness::start_with(|c| {
        c.trash_retention = std::time::Duration::ZERO;
        c.purge_interval = std::time::Duration::from_millis(20);
    })
    .await;
    let ann = h.user("ann");
    let live = ann.new_card("stays").await;
    let gone = ann.new_card("expires").await;
    ann.delete(gone.id, 1).await.card(200);
    support::poll("the tombstone purged", || async { (ann.get_card(gone.id).await.status == 404).then_some(()) }).await;
    assert!(ann.changes(0, 100).await.purged_seq > 0);
    assert_eq!(ann.get_card(live.id).await.card(200), live);
}

/// The retention cut-off is the tombstone's time of deletion: a purge with a cut-off before it
/// keeps it (and never touches a live card), one after it removes it.
#[tokio::test]
async fn the_retention_cut_off_keeps_recent_tombstones() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let live = ann.new_card("live").await;
    let gone = ann.new_card("recent").await;
    let tomb = ann.delete(gone.id, 1).await.card(200);
    let storage = h.server.storage().clone();
    let deleted_at = tomb.updated_at;
    let s = storage.clone();
    let n = tokio::task::spawn_blocking(move || s.purge_tombstones(None, Some(deleted_at - chrono::Duration::milliseconds(1)))).await.unwrap().unwrap();
    assert_eq!(n, 0);
    ann.get_card(gone.id).await.problem(410, "gone");
    let n = tokio::task::spawn_blocking(move || storage.purge_tombstones(None, Some(deleted_at + chrono::Duration::milliseconds(1)))).await.unwrap().unwrap();
    assert_eq!(n, 1);
    ann.get_card(gone.id).await.problem(404, "not_found");
    assert_eq!(ann.get_card(live.id).await.card(200), live);
}
