//! `POST /v1/batch` on SQLite commits its writes together (one transaction, a savepoint per
//! write): a write that fails half-way is undone alone — its seq, card, version and idempotency
//! record with it — and the writes around it commit. A storage-level test: the failure is a
//! trigger planted in the database, which no request can cause.

use chrono::Utc;
use deckhand_server::domain::WriteOp;
use deckhand_server::storage::sqlite::SqliteStorage;
use deckhand_server::storage::{IdemKey, Storage, WriteOutcome};
use serde_json::json;
use uuid::Uuid;

fn create(title: &str) -> (IdemKey, WriteOp) {
    let card = serde_json::from_value(json!({ "id": Uuid::now_v7(), "title": title })).unwrap();
    let key = IdemKey { key: format!("key-{title}"), fingerprint: [title.len() as u8; 32], token: None };
    (key, WriteOp::Create(card))
}

#[test]
fn a_failed_write_in_a_batch_is_undone_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let s = SqliteStorage::open(&path, 2).unwrap();
    let user = s.add_user("ann", [7; 32]).unwrap();
    let writes = vec![create("first"), create("doomed"), create("third")];
    let doomed = writes[1].1.card_id();
    // Fails after the write bumped the user's seq and stored the card: only the savepoint's
    // rollback can take those back.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(&format!(
        "CREATE TRIGGER planted BEFORE INSERT ON card_versions WHEN NEW.card_id = '{doomed}'
         BEGIN SELECT RAISE(ABORT, 'planted failure'); END;"
    ))
    .unwrap();

    let out = s.write_many(user, &writes, Utc::now());
    assert_eq!(out.len(), 3);
    let seq = |o: &Result<WriteOutcome, _>| match o {
        Ok(WriteOutcome::Applied { change, .. }) => change.seq,
        other => panic!("expected an applied write, got {other:?}"),
    };
    assert!(out[1].is_err(), "{:?}", out[1]);
    assert_eq!((seq(&out[0]), seq(&out[2])), (1, 2), "the failed write's seq was rolled back with it");
    assert_eq!(s.last_seq(user).unwrap(), 2);

    let cards: Vec<(String, i64)> = raw
        .prepare("SELECT id, seq FROM cards ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ids: Vec<String> = [&writes[0], &writes[2]].iter().map(|(_, op)| op.card_id().to_string()).collect();
    assert_eq!(cards, vec![(ids[0].clone(), 1), (ids[1].clone(), 2)]);
    let versions: i64 = raw.query_row("SELECT count(*) FROM card_versions", [], |r| r.get(0)).unwrap();
    assert_eq!(versions, 2);

    // The committed writes replay; the failed one left no record and runs again once it can.
    raw.execute_batch("DROP TRIGGER planted").unwrap();
    let again = s.write_many(user, &writes, Utc::now());
    assert!(matches!(again[0], Ok(WriteOutcome::Replayed(_))), "{:?}", again[0]);
    assert_eq!(seq(&again[1]), 3);
    assert!(matches!(again[2], Ok(WriteOutcome::Replayed(_))), "{:?}", again[2]);
}
