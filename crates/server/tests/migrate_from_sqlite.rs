//! `deckhand-server migrate-from-sqlite`: a SQLite server's users, tokens, cards, tombstones and
//! idempotency records move to PostgreSQL; clients continue from their cursors (no resync, no
//! duplicate) and retries of writes made before the move still replay.

mod support;

use std::process::Command;

use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use serde_json::json;
use support::instances::BIN;
use support::{Harness, key, new_card, pg};
use uuid::Uuid;

fn migrate(from: &std::path::Path, to: &str) -> std::process::Output {
    Command::new(BIN).args(["migrate-from-sqlite", "--from"]).arg(from).args(["--to", to]).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_server_moves_to_postgres_and_clients_continue_from_their_cursors() {
    // Before: a SQLite server with two users, live cards, a tombstone and idempotency records.
    let dir = tempfile::TempDir::new().unwrap();
    let sqlite = dir.path().join("server.db");
    let server = TestServer::start(&sqlite).await;
    let h = Harness { server, dir, http: reqwest::Client::new() };
    let ann = h.user("ann");
    let bob = h.user("bob");
    let mut ann_cards = Vec::new();
    for i in 0..5 {
        ann_cards.push(ann.new_card(&format!("ann {i}")).await);
    }
    let patched = ann.patch(ann_cards[0].id, 1, json!({ "title": "edited" })).await.card(200);
    ann.delete(ann_cards[1].id, 1).await.card(200);
    let retry_key = key();
    let retry_body = new_card(Uuid::now_v7(), "made just before the move");
    let before_move = ann.create_with_key(&retry_key, &retry_body).await.card(201);
    bob.new_card("bob's").await;
    // The client's cursor and view before the move.
    let ann_before = ann.all_changes(0).await;
    let cursor = ann_before.last().unwrap().seq;
    let epoch_before = ann.changes(0, 1).await.epoch;
    assert_eq!(cursor, 8);
    let support::Harness { server, dir, .. } = h;
    server.stop().await;

    let target = pg::shared().fresh_database();
    let out = migrate(&sqlite, &target);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 users, 2 tokens, 7 cards (1 tombstones), 9 idempotency records"), "{stdout}");

    // After: the same tokens work on a PostgreSQL server.
    let mut config = ServerConfig::new("");
    config.database_url = Some(target.clone());
    let server = TestServer::start_with(config).await;
    let h = Harness { server, dir, http: reqwest::Client::new() };
    let ann = h.client(&ann.token);
    let bob = h.client(&bob.token);
    assert_eq!(ann.all_changes(0).await, ann_before, "every change with its seq, verbatim");
    assert_eq!(ann.changes(0, 1).await.epoch, epoch_before, "the same epoch: clients do not resync");
    assert!(ann.changes(cursor, 100).await.changes.is_empty(), "nothing new after the client's cursor");
    assert_eq!(ann.get_card(patched.id).await.card(200), patched);
    ann.get_card(ann_cards[1].id).await.problem(410, "gone");
    // A retry of the write made before the move replays; it does not create again.
    let replay = ann.create_with_key(&retry_key, &retry_body).await;
    assert!(replay.replayed());
    assert_eq!(replay.card(201), before_move);
    // New writes continue the user's seq; the stream resumes from the old cursor.
    let mut sse = ann.events(Some(cursor)).await;
    let next = ann.new_card("after the move").await;
    let e = sse.next_event().await;
    assert_eq!((e.seq(), e.card().id), (cursor + 1, next.id));
    assert_eq!(ann.all_changes(cursor).await.len(), 1, "the client fetches only the new change");
    assert_eq!(bob.all_changes(0).await.len(), 1);
    // New users get fresh ids after the copied ones.
    h.user("cid").new_card("cid's").await;
    assert_eq!(bob.all_changes(0).await.len(), 1, "another user's card is not bob's");
    h.server.stop().await;

    // A second import into the now non-empty database is refused.
    let again = migrate(&sqlite, &target);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&again.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_move_to_postgres_with_their_seqs() {
    let dir = tempfile::TempDir::new().unwrap();
    let sqlite = dir.path().join("server.db");
    let server = TestServer::start(&sqlite).await;
    let h = Harness { server, dir, http: reqwest::Client::new() };
    let ann = h.user("ann");
    let lane_id = Uuid::now_v7();
    let made = support::Client::send(ann.req(reqwest::Method::POST, "/v1/lanes").header("idempotency-key", key()).json(&json!({"id": lane_id, "name": "Ideas"}))).await;
    assert_eq!(made.status, 201, "{}", made.text);
    ann.new_card("c").await;
    let renamed = support::Client::send(ann.req(reqwest::Method::PATCH, &format!("/v1/lanes/{lane_id}")).header("idempotency-key", key()).json(&json!({"base_version": 1, "changes": {"name": "Later"}}))).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let before = ann.changes(0, 100).await;
    assert_eq!((before.lanes.len(), before.next_since), (1, 3));
    let support::Harness { server, dir, .. } = h;
    server.stop().await;

    let target = pg::shared().fresh_database();
    let out = migrate(&sqlite, &target);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut config = ServerConfig::new("");
    config.database_url = Some(target.clone());
    let server = TestServer::start_with(config).await;
    let h = Harness { server, dir, http: reqwest::Client::new() };
    let ann = h.client(&ann.token);
    let after = ann.changes(0, 100).await;
    assert_eq!((after.changes, after.lanes, after.next_since), (before.changes, before.lanes, before.next_since));
    // The lane's next write continues the user's seq on PostgreSQL.
    let moved = support::Client::send(ann.req(reqwest::Method::PATCH, &format!("/v1/lanes/{lane_id}")).header("idempotency-key", key()).json(&json!({"base_version": 2, "changes": {"position": 9.0}}))).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(ann.changes(3, 100).await.lanes[0].seq, 4);
    h.server.stop().await;
}
