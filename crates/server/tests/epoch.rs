//! The database's epoch (docs/protocol.md, "Epoch"): made once when the database is created, kept
//! across restarts, made again by `deckhand-server reset-epoch` (after restoring a backup); it
//! travels with every change page together with the caller's last seq.

mod support;

use std::process::Command;

use deckhand_server::testing::TestServer;
use support::{Client, Harness, db_path};

const BIN: &str = env!("CARGO_BIN_EXE_deckhand-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epoch_survives_restarts_and_reset_epoch_makes_a_new_one() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("kept").await;
    let first = ann.changes(0, 10).await;
    assert_eq!(first.last_seq, 1);
    // `since` beyond the last seq: an empty page that still names the last seq (how a client
    // whose cursor is ahead of a restored server notices).
    let ahead = ann.changes(50, 10).await;
    assert_eq!((ahead.changes.len(), ahead.next_since, ahead.last_seq), (0, 50, 1));

    let token = ann.token.clone();
    let h = h.restart().await;
    let ann = h.client(&token);
    assert_eq!(ann.changes(0, 10).await.epoch, first.epoch, "a restart keeps the epoch");

    let support::Harness { server, dir, .. } = h;
    server.stop().await;
    let out = Command::new(BIN).args(["reset-epoch", "--db"]).arg(db_path(&dir)).output().expect("run reset-epoch");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let server = TestServer::start(&db_path(&dir)).await;
    let ann = Client { base: server.url(), token, http: reqwest::Client::new() };
    let after = ann.changes(0, 10).await;
    assert_ne!(after.epoch, first.epoch, "reset-epoch makes a new epoch");
    assert_eq!(printed, format!("new epoch {}", after.epoch));
    // Nothing else changed.
    assert_eq!((after.last_seq, after.changes.len(), after.changes[0].card.id), (1, 1, card.id));
    server.stop().await;
}
