//! "Never lose an edit": the ordinary situations in which an edit used to be silently lost
//! (issue "Never lose an edit", scenarios 1-3, 5-7), each through the engine against the real
//! server. Every test here failed on the engine before the rules in docs/sync-engine.md ("Rules").

mod support;

use std::time::Duration;

use deckhand_core::model::*;
use deckhand_core::Engine;
use deckhand_protocol::CardChanges;
use support::*;
use uuid::Uuid;

const IDLE: Duration = Duration::from_secs(20);
const BODY: &str = "l1\nl2\nl3\nl4\n";

fn input(title: &str, body: &str) -> NewCardInput {
    NewCardInput { title: title.into(), body: Some(body.into()), ..Default::default() }
}

fn title(t: &str) -> CardChanges {
    CardChanges { title: Some(t.into()), ..Default::default() }
}

fn body(b: &str) -> CardChanges {
    CardChanges { body: Some(b.into()), ..Default::default() }
}

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

async fn server(h: &Harness, id: Uuid) -> serde_json::Value {
    let (status, card) = h.server_card(id).await;
    assert_eq!(status, 200, "{card}");
    card
}

/// A: one card both engines have at v1; A paused with a title edit; B's title edit on the server;
/// A resumed until its edit is parked in a conflict.
async fn open_title_conflict(h: &Harness, body_text: &str) -> CardView {
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(input("v1", body_text)).await.unwrap();
    settle(a).await;
    settle(b).await;
    a.pause().await;
    a.update(c.id, title("A1")).await.unwrap();
    b.update(c.id, title("B1")).await.unwrap();
    settle(b).await;
    let mut ev = event_collector(a);
    a.resume().await;
    ev.wait_for("conflict", |e| matches!(e, EngineEvent::ConflictDetected { .. })).await;
    c
}

/// Scenario 1: an edit made while the conflict is open is part of "mine"; keep theirs means
/// none of it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_theirs_is_not_overridden_by_an_edit_queued_while_the_conflict_was_open() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = open_title_conflict(&h, BODY).await;
    let mut ev = event_collector(a);
    a.update(c.id, title("A2")).await.unwrap();
    // The open conflict was updated in place (the UI re-renders it).
    let EngineEvent::ConflictUpdated { conflict } = ev.wait_for("updated", |e| matches!(e, EngineEvent::ConflictUpdated { .. })).await else { unreachable!() };
    assert_eq!((conflict.mine.title.as_str(), conflict.theirs.title.as_str()), ("A2", "B1"));
    assert_eq!(a.conflicts().await.unwrap()[0].mine.title, "A2");
    a.resolve(c.id, Resolution::KeepTheirs).await.unwrap();
    settle(a).await;
    settle(b).await;
    assert_eq!(server(&h, c.id).await["title"], "B1");
    assert_eq!(a.get(c.id).await.unwrap().unwrap().title, "B1");
    assert!(a.outbox().await.unwrap().is_empty());
}

/// Scenario 1, merged: the chosen values are final for the fields the resolution settles, even
/// when a later edit touched them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_resolution_is_final_for_fields_a_later_edit_touched() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = open_title_conflict(&h, BODY).await;
    a.update(c.id, CardChanges { title: Some("A2".into()), pinned: Some(true), ..Default::default() }).await.unwrap();
    let rec = a.conflicts().await.unwrap().pop().unwrap();
    let mut chosen = rec.suggested.clone();
    chosen.title = rec.theirs.title.clone();
    a.resolve(c.id, Resolution::Merged { fields: chosen }).await.unwrap();
    settle(a).await;
    settle(b).await;
    let s = server(&h, c.id).await;
    assert_eq!((s["title"].as_str(), s["pinned"].as_bool()), (Some("B1"), Some(true)), "{s}");
}

/// Scenario 1, `sent`: a request that provably never left (connection refused) does not stop
/// later offline edits from coalescing with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_whose_send_never_left_still_coalesces() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let addr = proxy.addr;
    let i = h.add_engine(proxy.url(), |c| c).await;
    let a = &h.engines[i];
    let c = a.create(input("v1", BODY)).await.unwrap();
    settle(a).await;
    // The server's address stops accepting connections: the next send is refused at connect.
    proxy.stop();
    a.update(c.id, title("offline 1")).await.unwrap();
    eventually("a refused attempt", || async { a.outbox().await.unwrap().first().filter(|o| o.attempts >= 1).map(|_| ()) }).await;
    a.update(c.id, title("offline 2")).await.unwrap();
    assert_eq!(a.outbox().await.unwrap().len(), 1, "the second edit coalesced with the never-sent first");
    let proxy = Proxy::start_on(tokio::net::TcpListener::bind(addr).await.unwrap(), h.server.addr());
    settle(a).await;
    let s = server(&h, c.id).await;
    assert_eq!((s["title"].as_str(), s["version"].as_i64()), (Some("offline 2"), Some(2)), "one request");
    assert_eq!(proxy.count("PATCH", &c.id.to_string()), 1);
    proxy.stop();
}

/// Scenario 2: an edit queued behind a parked op keeps the base it was made on, so a remote
/// change to another line of the body is merged, not overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_queued_behind_a_conflict_merges_with_a_remote_change_it_never_saw() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = open_title_conflict(&h, BODY).await;
    a.update(c.id, body("L1 by A\nl2\nl3\nl4\n")).await.unwrap();
    b.update(c.id, body("l1\nl2\nl3\nL4 by B\n")).await.unwrap();
    settle(b).await;
    a.sync_now().await.unwrap();
    eventually("A pulled B's body", || async { (a.get(c.id).await.unwrap()?.confirmed_version == Some(3)).then_some(()) }).await;
    a.resolve(c.id, Resolution::KeepMine).await.unwrap();
    settle(a).await;
    settle(b).await;
    let s = server(&h, c.id).await;
    assert_eq!(s["title"], "A1");
    assert_eq!(s["body"], "L1 by A\nl2\nl3\nL4 by B\n", "B's line survives");
    assert_eq!(b.get(c.id).await.unwrap().unwrap().body, "L1 by A\nl2\nl3\nL4 by B\n");
}

/// Scenario 2, behind a failed op: the queued edit is not pinned to a newer copy when its
/// predecessor is finally confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_queued_behind_a_failed_op_merges_with_a_remote_change_it_never_saw() {
    let mut h = sync_harness(1).await;
    let proxy = Proxy::start(h.server.addr()).await;
    let i = h.add_engine(proxy.url(), |c| c).await;
    let (b, a) = (&h.engines[0], &h.engines[i]);
    let c = a.create(input("v1", BODY)).await.unwrap();
    settle(a).await;
    settle(b).await;
    proxy.add_rule(Rule {
        method: Some("PATCH"),
        path_contains: c.id.to_string(),
        fault: Fault::Status { status: 422, code: "validation_failed", retry_after: None },
        times: 1,
    });
    a.update(c.id, title("A title")).await.unwrap();
    let failed = eventually("op failed", || async { a.outbox().await.unwrap().into_iter().find(|o| o.state == OpState::Failed) }).await;
    a.update(c.id, body("L1 by A\nl2\nl3\nl4\n")).await.unwrap();
    b.update(c.id, body("l1\nl2\nl3\nL4 by B\n")).await.unwrap();
    settle(b).await;
    a.sync_now().await.unwrap();
    eventually("A pulled B's body", || async { (a.get(c.id).await.unwrap()?.confirmed_version == Some(2)).then_some(()) }).await;
    a.retry(failed.op_id).await.unwrap();
    settle(a).await;
    let s = server(&h, c.id).await;
    assert_eq!(s["title"], "A title");
    assert_eq!(s["body"], "L1 by A\nl2\nl3\nL4 by B\n", "B's line survives");
    proxy.stop();
}

/// Scenario 3: an editor filled from v1 saves after a remote edit landed: the edit is made on v1,
/// so the remote change is merged (another line) or raised as a conflict (the same field).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_editor_merges_or_conflicts_instead_of_overwriting() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(input("v1", BODY)).await.unwrap();
    settle(a).await;
    settle(b).await;
    let shown = a.get(c.id).await.unwrap().unwrap(); // the editor opens on v1
    b.update(c.id, CardChanges { body: Some("l1\nl2\nl3\nL4 by B\n".into()), title: Some("B title".into()), ..Default::default() }).await.unwrap();
    settle(b).await;
    a.sync_now().await.unwrap();
    eventually("A pulled v2", || async { (a.get(c.id).await.unwrap()?.confirmed_version == Some(2)).then_some(()) }).await;
    // The form still shows v1's text; Save sends what the user changed in it.
    a.update_on(c.id, body("L1 by A\nl2\nl3\nl4\n"), shown.confirmed_version).await.unwrap();
    settle(a).await;
    let s = server(&h, c.id).await;
    assert_eq!(s["body"], "L1 by A\nl2\nl3\nL4 by B\n");
    assert_eq!(s["title"], "B title", "a field the editor did not change is not reverted");

    // Same field: a conflict the user decides, not a silent overwrite.
    let shown = a.get(c.id).await.unwrap().unwrap();
    b.update(c.id, title("B again")).await.unwrap();
    settle(b).await;
    a.sync_now().await.unwrap();
    eventually("A pulled", || async { (a.get(c.id).await.unwrap()?.confirmed_version == Some(4)).then_some(()) }).await;
    let mut ev = event_collector(a);
    a.update_on(c.id, title("A from a stale form"), shown.confirmed_version).await.unwrap();
    let EngineEvent::ConflictDetected { conflict } = ev.wait_for("conflict", |e| matches!(e, EngineEvent::ConflictDetected { .. })).await else { unreachable!() };
    assert_eq!(conflict.fields, ["title"]);
    assert_eq!((conflict.mine.title.as_str(), conflict.theirs.title.as_str()), ("A from a stale form", "B again"));
    assert_eq!(server(&h, c.id).await["title"], "B again");
}

/// Scenario 5: the server answered but the answer could not be recorded (the store failed): the
/// op goes back to pending with its key (no phantom in-flight op), and the next attempt is
/// replayed by the server and applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_cannot_be_recorded_puts_the_op_back_to_pending() {
    let h = sync_harness(1).await;
    let a = &h.engines[0];
    let c = a.create(input("v1", BODY)).await.unwrap();
    settle(a).await;
    // Any removal of an outbox row fails: recording the success of the next op is refused.
    let db = rusqlite::Connection::open(h.dirs[0].path().join("deckhand.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute_batch(
        "CREATE TRIGGER test_fail_confirm BEFORE DELETE ON outbox BEGIN SELECT RAISE(ABORT, 'injected store failure'); END;",
    )
    .unwrap();
    a.update(c.id, title("v2")).await.unwrap();
    let key = a.outbox().await.unwrap()[0].idempotency_key.clone();
    let stuck = eventually("answer not recorded", || async {
        a.outbox().await.unwrap().into_iter().find(|o| o.last_error.as_ref().is_some_and(|e| e.code == "store"))
    })
    .await;
    assert_eq!(stuck.idempotency_key, key, "same key: the retry is the same request");
    assert_eq!(server(&h, c.id).await["version"], 2, "the server applied it");
    eventually("no phantom in-flight op", || async {
        let s = a.status().await;
        (s.unwrap().in_flight == 0 && a.outbox().await.unwrap().iter().all(|o| o.state != OpState::InFlight)).then_some(())
    })
    .await;
    db.execute_batch("DROP TRIGGER test_fail_confirm;").unwrap();
    settle(a).await;
    let s = server(&h, c.id).await;
    assert_eq!((s["title"].as_str(), s["version"].as_i64()), (Some("v2"), Some(2)), "applied once");
    assert_eq!(a.get(c.id).await.unwrap().unwrap().sync_state, SyncState::Synced);
}

/// Scenario 7: what passes local validation can be sent. A body that fits the character limit
/// but not a request is refused at once; a merge that would not fit is a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_accepted_locally_fits_a_request() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let err = a.create(input("cjk", &"同".repeat(90_000))).await.unwrap_err();
    assert_eq!(err.kind(), "validation", "{err}");
    let c = a.create(input("cjk", &"同".repeat(80_000))).await.unwrap();
    settle(a).await;
    assert_eq!(server(&h, c.id).await["body"].as_str().unwrap().chars().count(), 80_000);

    // Each side's body fits; merged they would not.
    let d = a.create(input("merge", "middle\n")).await.unwrap();
    settle(a).await;
    settle(b).await;
    let big = "同".repeat(45_000);
    a.pause().await;
    a.update(d.id, body(&format!("{big}\nmiddle\n"))).await.unwrap();
    b.update(d.id, body(&format!("middle\n{big}\n"))).await.unwrap();
    settle(b).await;
    let mut ev = event_collector(a);
    a.resume().await;
    let EngineEvent::ConflictDetected { conflict } = ev.wait_for("conflict", |e| matches!(e, EngineEvent::ConflictDetected { .. })).await else { unreachable!() };
    assert_eq!(conflict.fields, ["body"]);
    assert!(a.outbox().await.unwrap().iter().all(|o| o.last_error.is_none()), "nothing was refused by the server");
}
