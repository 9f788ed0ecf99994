//! Disk full and read-only data (docs/reliability.md, "Local durability"). The tests run as root,
//! where chmod does not stop writes, so they use real SQLite settings instead of mocks: a size cap
//! (`EngineConfig::max_db_bytes` = `PRAGMA max_page_count`; past it SQLite fails with SQLITE_FULL
//! exactly as on a full disk) and `EngineConfig::read_only` (`SQLITE_OPEN_READ_ONLY`).

mod support;

use deckhand_core::Engine;
use deckhand_core::model::{BulkAction, ListQuery, NewCardInput};
use deckhand_protocol::CardChanges;
use support::test_config;

fn card(title: &str) -> NewCardInput {
    // 3 KB bodies: the cap is reached after a few dozen cards.
    NewCardInput { title: title.into(), body: Some("x".repeat(3000)), ..Default::default() }
}

async fn count(engine: &Engine) -> (u32, usize) {
    let p = engine.list(ListQuery { limit: Some(1000), ..Default::default() }).await.unwrap();
    (p.total, engine.outbox().await.unwrap().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_is_a_clear_error_writes_nothing_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.max_db_bytes = Some(400 * 1024);
    let engine = Engine::open(cfg).await.unwrap();

    // Fill up (bounded): every create either fully succeeds or fails with disk_full.
    let mut made = Vec::new();
    let err = loop {
        assert!(made.len() < 500, "the cap was never reached");
        match engine.create(card(&format!("card {}", made.len()))).await {
            Ok(c) => made.push(c.id),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), "disk_full", "{err}");
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert!(made.len() >= 10, "some cards fit first: {}", made.len());
    let failed_title = format!("card {}", made.len());
    eprintln!("disk full after {} cards: {err}", made.len());

    // Nothing half-written: the card and its op are both absent; every earlier card is intact.
    assert_eq!(count(&engine).await, (made.len() as u32, made.len()));
    let p = engine.list(ListQuery { text: Some(failed_title.clone()), limit: Some(10), ..Default::default() }).await.unwrap();
    assert!(p.items.iter().all(|c| c.title != failed_title), "the failed card is not visible");
    assert!(engine.outbox().await.unwrap().iter().all(|o| !made.is_empty() && made.contains(&o.card_id)));

    // A bulk edit that cannot fit is all-or-nothing.
    let big = CardChanges { body: Some("y".repeat(20_000)), ..Default::default() };
    let e = engine.bulk(made.clone(), BulkAction::Update { changes: big }, None).await.unwrap_err();
    assert_eq!(e.kind(), "disk_full");
    for id in &made {
        let c = engine.get(*id).await.unwrap().unwrap();
        assert_eq!(c.body.len(), 3000, "bulk rolled back entirely");
    }

    // The engine keeps working for reads (and for writes that free or fit in space).
    assert!(engine.get(made[0]).await.unwrap().is_some());
    assert_eq!(engine.lanes().await.unwrap().iter().map(|l| l.count).sum::<u32>(), made.len() as u32);
    let st = engine.status().await.unwrap();
    assert_eq!(st.pending, made.len() as u32);
    engine.delete(made[0]).await.expect("a delete of a never-sent card frees space");

    // Space returns: writes work again, including the one that failed.
    engine.set_max_db_bytes(None).await.unwrap();
    let c = engine.create(card(&failed_title)).await.expect("writes work once space returns");
    assert_eq!(c.title, failed_title);
    assert_eq!(count(&engine).await, (made.len() as u32, made.len()));
    engine.shutdown().await;

    // And the database is sound afterwards.
    let conn = rusqlite::Connection::open(dir.path().join("deckhand.db")).unwrap();
    let ic: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ic, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_at_open_of_a_new_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.max_db_bytes = Some(8 * 1024); // two pages: the schema does not fit
    let err = Engine::open(cfg).await.err().expect("cannot create the schema");
    assert_eq!(err.kind(), "disk_full", "{err}");
    // Nothing half-made: the migration transaction rolled back, a later open works.
    let engine = Engine::open(test_config(dir.path(), None)).await.expect("opens once there is space");
    engine.create(card("a")).await.unwrap();
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_database_reads_work_and_writes_fail_with_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), None)).await.unwrap();
    let a = engine.create(card("a")).await.unwrap();
    engine.shutdown().await;
    drop(engine);
    let db = dir.path().join("deckhand.db");

    let mut cfg = test_config(dir.path(), None);
    cfg.read_only = true;
    let engine = Engine::open(cfg).await.expect("a read-only database opens");
    let before = std::fs::read(&db).unwrap();
    assert_eq!(engine.get(a.id).await.unwrap().unwrap().title, "a");
    assert_eq!(count(&engine).await, (1, 1));
    assert_eq!(engine.status().await.unwrap().pending, 1);

    let e = engine.create(card("b")).await.unwrap_err();
    assert_eq!(e.kind(), "read_only", "{e}");
    assert!(e.to_string().contains("read-only"), "{e}");
    let e = engine.update(a.id, CardChanges { title: Some("a2".into()), ..Default::default() }).await.unwrap_err();
    assert_eq!(e.kind(), "read_only");
    assert_eq!(engine.delete(a.id).await.unwrap_err().kind(), "read_only");
    assert_eq!(engine.bulk(vec![a.id], BulkAction::Delete, None).await.unwrap_err().kind(), "read_only");
    assert_eq!(engine.get(a.id).await.unwrap().unwrap().title, "a", "unchanged");
    assert_eq!(count(&engine).await, (1, 1));
    engine.shutdown().await;
    drop(engine);
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file was not touched");

    // Writable again: the queued op is still there and new writes work.
    let engine = Engine::open(test_config(dir.path(), None)).await.unwrap();
    engine.create(card("b")).await.unwrap();
    assert_eq!(count(&engine).await, (2, 2));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_open_of_a_missing_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.read_only = true;
    let err = Engine::open(cfg).await.err().expect("nothing to read");
    assert!(matches!(err.kind(), "read_only"), "{}: {err}", err.kind());
}
