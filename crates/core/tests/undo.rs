//! Undo and redo through the engine against the real server: each action kind is one step,
//! undone as a NEW op on the card as it is now (offline too), a field changed since on another
//! device is skipped and reported (never clobbered), and the stack survives a restart.

mod support;

use std::time::Duration;

use deckhand_core::Engine;
use deckhand_core::model::*;
use deckhand_core::undo::{UndoDirection, UndoEffect, UndoSkipReason};
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

async fn new_card(e: &Engine, t: &str) -> CardView {
    e.create(NewCardInput { title: t.into(), body: Some("body".into()), lane: Some("inbox".into()), ..Default::default() }).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_undone_and_redone_on_the_server() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = new_card(a, "before").await;
    a.update(c.id, CardChanges { title: Some("after".into()), tags: Some(vec!["x".into()]), ..Default::default() }).await.unwrap();
    settle(a).await;
    assert_eq!(a.undo_state().await.unwrap().undo.as_deref(), Some("edit \"before\""));

    let out = a.undo().await.unwrap().expect("a step to undo");
    assert_eq!((out.direction, out.label.as_str()), (UndoDirection::Undo, "edit \"before\""));
    assert!(out.skipped.is_empty(), "{out:?}");
    assert_eq!(out.applied.len(), 1);
    let UndoEffect::Edited { fields } = &out.applied[0].effect else { panic!("{out:?}") };
    assert_eq!(fields, &vec!["tags".to_string(), "title".to_string()]);
    assert_eq!((out.undo_depth, out.redo_depth), (1, 1), "the create is still below it");
    let v = a.get(c.id).await.unwrap().unwrap();
    assert_eq!((v.title.as_str(), v.tags.len()), ("before", 0));
    settle(a).await;
    let (status, json) = h.server_card(c.id).await;
    assert_eq!((status, json["title"].as_str(), json["version"].as_i64()), (200, Some("before"), Some(2)), "a new op, a new version (the edit rode on the create)");

    let out = a.redo().await.unwrap().expect("a step to redo");
    assert_eq!(out.direction, UndoDirection::Redo);
    settle(a).await;
    assert_eq!(h.server_card(c.id).await.1["title"].as_str(), Some("after"));
    assert!(a.redo().await.unwrap().is_none(), "nothing left to redo");
    // Undo again, then a new action: the redo stack is cleared.
    a.undo().await.unwrap().unwrap();
    assert_eq!(a.undo_state().await.unwrap().redo_depth, 1);
    a.update(c.id, title("newer")).await.unwrap();
    assert_eq!(a.undo_state().await.unwrap().redo_depth, 0);
    assert!(a.redo().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_a_delete_a_restore_and_a_create_are_each_undone() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = new_card(a, "card").await;
    settle(a).await;
    // Move (lane and position).
    a.move_card(c.id, "done".into(), Some(42.0)).await.unwrap();
    assert_eq!(a.undo_state().await.unwrap().undo.as_deref(), Some("move \"card\" to done"));
    a.undo().await.unwrap().unwrap();
    let v = a.get(c.id).await.unwrap().unwrap();
    assert_eq!((v.lane.as_str(), v.position), ("inbox", c.position));
    // Delete: undone by a restore op (same id).
    settle(a).await;
    a.delete(c.id).await.unwrap();
    settle(a).await;
    assert_eq!(h.server_card(c.id).await.0, 410);
    let out = a.undo().await.unwrap().unwrap();
    assert_eq!(out.applied[0].effect, UndoEffect::Restored);
    assert_eq!(a.outbox().await.unwrap()[0].kind, OpKind::Restore);
    settle(a).await;
    let (status, json) = h.server_card(c.id).await;
    assert_eq!((status, json["title"].as_str(), json["lane"].as_str()), (200, Some("card"), Some("inbox")));
    // Redo the delete, then undo it again; then a restore from the trash is undone by a delete.
    a.redo().await.unwrap().unwrap();
    settle(a).await;
    assert_eq!(h.server_card(c.id).await.0, 410);
    a.restore(c.id).await.unwrap();
    assert_eq!(a.undo_state().await.unwrap().undo.as_deref(), Some("restore \"card\""));
    let out = a.undo().await.unwrap().unwrap();
    assert_eq!(out.applied[0].effect, UndoEffect::Deleted);
    settle(a).await;
    assert_eq!(h.server_card(c.id).await.0, 410);
    assert_eq!(a.trash().await.unwrap().iter().map(|t| t.id).collect::<Vec<_>>(), vec![c.id]);
    // A create is undone by a delete (to the trash).
    let d = new_card(a, "fresh").await;
    settle(a).await;
    let out = a.undo().await.unwrap().unwrap();
    assert_eq!((out.label.as_str(), &out.applied[0].effect), ("create \"fresh\"", &UndoEffect::Deleted));
    settle(a).await;
    assert_eq!(h.server_card(d.id).await.0, 410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_is_one_step() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = new_card(a, "v1").await;
    settle(a).await;
    a.update(c.id, title("v2")).await.unwrap();
    settle(a).await;
    a.revert(c.id, 1).await.unwrap();
    assert_eq!(a.undo_state().await.unwrap().undo.as_deref(), Some("revert \"v2\" to version 1"));
    a.undo().await.unwrap().unwrap();
    assert_eq!(a.get(c.id).await.unwrap().unwrap().title, "v2");
    settle(a).await;
    assert_eq!(h.server_card(c.id).await.1["title"].as_str(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_action_is_one_step() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(new_card(a, &format!("c{i}")).await.id);
    }
    settle(a).await;
    let depth = a.undo_state().await.unwrap().undo_depth;
    a.bulk(ids.clone(), BulkAction::Move { lane: "done".into() }, None).await.unwrap();
    a.bulk(ids[..2].to_vec(), BulkAction::Delete, None).await.unwrap();
    let st = a.undo_state().await.unwrap();
    assert_eq!((st.undo_depth, st.undo.as_deref()), (depth + 2, Some("delete 2 cards")));
    settle(a).await;
    let out = a.undo().await.unwrap().unwrap();
    assert_eq!(out.applied.iter().filter(|x| x.effect == UndoEffect::Restored).count(), 2);
    let out = a.undo().await.unwrap().unwrap();
    assert_eq!((out.label.as_str(), out.applied.len()), ("move 5 cards to done", 5), "{out:#?}");
    settle(a).await;
    for id in &ids {
        let (status, json) = h.server_card(*id).await;
        assert_eq!((status, json["lane"].as_str()), (200, Some("inbox")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_never_clobbers_a_field_another_device_changed_since() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = new_card(a, "mine").await;
    settle(a).await;
    a.update(c.id, CardChanges { title: Some("mine, edited".into()), body: Some("my body".into()), ..Default::default() }).await.unwrap();
    settle(a).await;
    settle(b).await;
    // The other device changes the title afterwards; a learns it.
    eventually("b has a's edit", || async { b.get(c.id).await.unwrap().filter(|v| v.title == "mine, edited") }).await;
    b.update(c.id, title("theirs")).await.unwrap();
    settle(b).await;
    eventually("a has b's title", || async { a.get(c.id).await.unwrap().filter(|v| v.title == "theirs") }).await;

    let out = a.undo().await.unwrap().unwrap();
    assert_eq!(out.skipped.len(), 1, "{out:?}");
    assert_eq!((out.skipped[0].field.as_deref(), out.skipped[0].reason), (Some("title"), UndoSkipReason::ChangedSince));
    assert_eq!(out.applied[0].effect, UndoEffect::Edited { fields: vec!["body".into()] });
    settle(a).await;
    let (_, json) = h.server_card(c.id).await;
    assert_eq!((json["title"].as_str(), json["body"].as_str()), (Some("theirs"), Some("body")), "the body went back, their title stayed");
    // Redo puts back only what the undo did.
    let out = a.redo().await.unwrap().unwrap();
    assert_eq!(out.applied[0].effect, UndoEffect::Edited { fields: vec!["body".into()] });
    settle(a).await;
    let (_, json) = h.server_card(c.id).await;
    assert_eq!((json["title"].as_str(), json["body"].as_str()), (Some("theirs"), Some("my body")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_undo_syncs_later() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = new_card(a, "online").await;
    a.update(c.id, title("edited")).await.unwrap();
    settle(a).await;
    a.pause().await;
    a.undo().await.unwrap().unwrap();
    assert_eq!(a.get(c.id).await.unwrap().unwrap().title, "online", "undone at once against the cached card");
    assert_eq!(h.server_card(c.id).await.1["title"].as_str(), Some("edited"), "nothing sent while offline");
    a.resume().await;
    settle(a).await;
    assert_eq!(h.server_card(c.id).await.1["title"].as_str(), Some("online"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_survives_a_restart() {
    let h = sync_harness(0).await;
    let dir = tempfile::tempdir().unwrap();
    let open = || Engine::open(test_config(dir.path(), Some(h.settings())));
    let e = open().await.unwrap();
    let c = new_card(&e, "first").await;
    e.update(c.id, title("second")).await.unwrap();
    settle(&e).await;
    e.shutdown().await;
    drop(e);
    let e = open().await.unwrap();
    assert_eq!(e.undo_state().await.unwrap().undo.as_deref(), Some("edit \"first\""));
    e.undo().await.unwrap().unwrap();
    settle(&e).await;
    assert_eq!(h.server_card(c.id).await.1["title"].as_str(), Some("first"));
    e.shutdown().await;
    drop(e);
    let e = open().await.unwrap();
    let st = e.undo_state().await.unwrap();
    assert_eq!((st.redo.as_deref(), st.redo_depth), (Some("edit \"first\""), 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_keeps_the_last_100_steps() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(test_config(dir.path(), None)).await.unwrap();
    let c = new_card(&e, "t0").await;
    for i in 1..=105 {
        e.update(c.id, title(&format!("t{i}"))).await.unwrap();
    }
    assert_eq!(e.undo_state().await.unwrap().undo_depth, 100);
    for _ in 0..100 {
        e.undo().await.unwrap().unwrap();
    }
    assert!(e.undo().await.unwrap().is_none());
    assert_eq!(e.get(c.id).await.unwrap().unwrap().title, "t5", "the oldest steps fell off");
    assert_eq!(e.undo_state().await.unwrap().redo_depth, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_delete_is_undone_before_it_is_sent_and_a_never_synced_card_comes_back() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let synced = new_card(a, "synced").await;
    settle(a).await;
    a.pause().await;
    // A delete still queued: the undo withdraws it; the card never left the server.
    a.update(synced.id, title("synced, edited")).await.unwrap();
    a.delete(synced.id).await.unwrap();
    let out = a.undo().await.unwrap().unwrap();
    assert_eq!(out.applied[0].effect, UndoEffect::Restored);
    assert_eq!(a.get(synced.id).await.unwrap().unwrap().title, "synced, edited", "as it was when deleted");
    // A card created and deleted offline: the server never saw it; the undo creates it again
    // with the same id.
    let local = new_card(a, "local only").await;
    a.delete(local.id).await.unwrap();
    assert!(a.outbox().await.unwrap().iter().all(|o| o.card_id != local.id), "nothing to send for it");
    a.undo().await.unwrap().unwrap();
    assert_eq!(a.get(local.id).await.unwrap().unwrap().title, "local only");
    a.resume().await;
    settle(a).await;
    let (status, json) = h.server_card(synced.id).await;
    assert_eq!((status, json["title"].as_str()), (200, Some("synced, edited")));
    let (status, json) = h.server_card(local.id).await;
    assert_eq!((status, json["title"].as_str()), (200, Some("local only")));
}
