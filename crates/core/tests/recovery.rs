//! Corrupted or unreadable local database (docs/reliability.md, "Local durability"): a truncated
//! file, a file of random bytes and a corrupted page in the middle each open, are moved aside
//! (and kept), the database is rebuilt from a real server, and the readable outbox ops are listed
//! as salvaged and can be requeued or discarded.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use deckhand_core::model::{ListQuery, NewCardInput, OpKind};
use deckhand_core::{Engine, ServerSettings};
use deckhand_protocol::CardChanges;
use deckhand_server::testing::TestServer;
use rand::{Rng, SeedableRng};
use support::{DEADLINE, server_titles, test_config};
use uuid::Uuid;

struct Setup {
    /// Kept alive for the test; reached through `settings`.
    _server: TestServer,
    settings: ServerSettings,
    dir: tempfile::TempDir,
    _server_dir: tempfile::TempDir,
    /// Cards confirmed by the server before the damage.
    synced: BTreeSet<Uuid>,
    /// Card ids of the ops still queued when the damage happened (5 creates, 2 updates).
    queued: Vec<(Uuid, OpKind)>,
}

fn input(title: &str, body: &str) -> NewCardInput {
    NewCardInput { title: title.into(), body: Some(body.into()), ..Default::default() }
}

/// 60 synced cards with ~1.5 KB bodies, then 5 creates and 2 updates queued offline.
async fn setup() -> Setup {
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&server_dir.path().join("server.db")).await;
    let token = server.add_user("alice");
    let settings = ServerSettings { url: server.url(), token };
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), Some(settings.clone()))).await.unwrap();
    let mut synced = BTreeSet::new();
    for i in 0..60 {
        synced.insert(engine.create(input(&format!("synced {i}"), &"x".repeat(1500))).await.unwrap().id);
    }
    engine.wait_idle(DEADLINE).await.unwrap();
    engine.set_server(None).await;
    let mut queued = Vec::new();
    for i in 0..5 {
        queued.push((engine.create(input(&format!("offline {i}"), "queued")).await.unwrap().id, OpKind::Create));
    }
    for id in synced.iter().take(2) {
        let ch = CardChanges { title: Some("edited offline".into()), ..Default::default() };
        engine.update(*id, ch).await.unwrap();
        queued.push((*id, OpKind::Update));
    }
    assert_eq!(engine.outbox().await.unwrap().len(), 7);
    engine.shutdown().await;
    drop(engine);
    // Everything into the main file (no -wal left), so the damage below is the whole story.
    let c = rusqlite::Connection::open(db(dir.path())).unwrap();
    // A status task of the dropped engine may still hold the database for a moment.
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    // Leaving WAL needs the file to ourselves: poll (bounded) until the engine's last task let go.
    let deadline = std::time::Instant::now() + DEADLINE;
    while let Err(e) = c.pragma_update(None, "journal_mode", "DELETE") {
        assert!(std::time::Instant::now() < deadline, "database still in use: {e}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(c);
    Setup { _server: server, settings, dir, _server_dir: server_dir, synced, queued }
}

fn key(o: &(Uuid, OpKind)) -> (Uuid, String) {
    (o.0, format!("{:?}", o.1))
}

fn db(dir: &Path) -> PathBuf {
    dir.join("deckhand.db")
}

/// Pages of the outbox table and its indexes, and of the cards table (dbstat).
fn pages(path: &Path) -> (Vec<i64>, Vec<i64>, i64) {
    let c = rusqlite::Connection::open(path).unwrap();
    let q = |names: &str| -> Vec<i64> {
        let mut st = c.prepare(&format!("SELECT pageno FROM dbstat WHERE name IN ({names}) ORDER BY pageno")).unwrap();
        st.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let outbox = q("'outbox', 'outbox_card', 'outbox_state', 'sqlite_autoindex_outbox_1'");
    let cards = q("'cards'");
    let total: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    (outbox, cards, total)
}

/// Open on the damaged data dir, check the move-aside, the rebuild, and the salvaged ops.
/// Returns the salvaged card ids.
async fn recover_and_check(s: &Setup, damaged: &[u8]) -> Vec<(Uuid, OpKind)> {
    let engine = Engine::open(test_config(s.dir.path(), Some(s.settings.clone()))).await.expect("open recovers");
    let report = engine.recovery().await.unwrap().expect("a recovery report");
    let status = engine.status().await.unwrap();
    assert_eq!(status.recovery.as_ref(), Some(&report));
    let moved = PathBuf::from(&report.moved_to);
    assert!(moved.file_name().unwrap().to_str().unwrap().starts_with("deckhand.db.corrupt-"), "{report:?}");
    assert_eq!(moved.parent(), Some(s.dir.path()));
    assert_eq!(std::fs::read(&moved).expect("the old file is kept"), damaged, "kept byte for byte");
    eprintln!("reason: {} | salvaged {} unreadable {}", report.reason, report.salvaged, report.unreadable);

    // Rebuilt from the server (full pull from cursor 0): exactly the synced cards.
    engine.wait_idle(DEADLINE).await.expect("rebuild syncs");
    let page = engine.list(ListQuery { limit: Some(1000), ..Default::default() }).await.unwrap();
    let local: BTreeSet<Uuid> = page.items.iter().map(|c| c.id).collect();
    assert_eq!(local, s.synced, "rebuilt database holds what the server has");
    assert!(engine.outbox().await.unwrap().is_empty());

    let salvaged = engine.salvaged().await.unwrap();
    assert_eq!(salvaged.len() as u32, report.salvaged);
    let got: Vec<(Uuid, OpKind)> = salvaged.iter().map(|o| (o.card_id, o.kind)).collect();
    for g in &got {
        assert!(s.queued.contains(g), "salvaged {g:?} was not queued before the damage");
    }
    assert_eq!(got.iter().map(key).collect::<HashSet<_>>().len(), got.len(), "no duplicates");

    // Requeue them all: they reach the server.
    let r = engine.requeue_salvaged(Vec::new()).await.unwrap();
    assert_eq!(r.requeued + r.skipped, report.salvaged);
    assert_eq!(r.skipped, 0, "nothing of these ops reached the server before");
    assert!(engine.salvaged().await.unwrap().is_empty());
    engine.wait_idle(DEADLINE).await.unwrap();
    let server_cards = server_titles(&s.settings).await;
    for (id, kind) in &got {
        let t = server_cards.iter().find(|(i, _)| i == id).map(|(_, t)| t.clone());
        match kind {
            OpKind::Create => assert!(t.is_some_and(|t| t.starts_with("offline")), "{id} created on the server"),
            OpKind::Update => assert_eq!(t.as_deref(), Some("edited offline")),
            OpKind::Delete | OpKind::Restore => unreachable!(),
        }
    }
    engine.shutdown().await;
    // A second open does not recover again, and the moved file is still there.
    drop(engine);
    let engine = Engine::open(test_config(s.dir.path(), Some(s.settings.clone()))).await.unwrap();
    assert_eq!(engine.recovery().await.unwrap(), Some(report), "the report stays until the next recovery");
    assert!(moved.exists());
    let n = std::fs::read_dir(s.dir.path()).unwrap().filter(|e| {
        e.as_ref().unwrap().file_name().to_str().unwrap().starts_with("deckhand.db.corrupt-")
            && !e.as_ref().unwrap().file_name().to_str().unwrap().ends_with("-shm")
    });
    assert_eq!(n.count(), 1, "moved aside exactly once");
    engine.shutdown().await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_file_is_moved_aside_and_rebuilt() {
    let s = setup().await;
    let path = db(s.dir.path());
    // VACUUM lays the tables out in schema order (cards ... outbox, then conflicts, sync_state,
    // history, metrics, salvaged_ops), so the cut below lands at a known place.
    rusqlite::Connection::open(&path).unwrap().execute_batch("VACUUM").unwrap();
    let (outbox, _cards, total) = pages(&path);
    let keep = *outbox.iter().max().unwrap();
    assert!(keep < total - 1, "pages of later tables lie past the cut ({keep} of {total})");
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(keep as u64 * 4096).unwrap();
    drop(f);
    eprintln!("truncated {total} pages to {keep} (outbox pages {outbox:?})");
    let damaged = std::fs::read(&path).unwrap();
    let got = recover_and_check(&s, &damaged).await;
    assert_eq!(got.len(), 7, "the whole outbox was before the cut: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_of_random_bytes_is_moved_aside_and_rebuilt() {
    let s = setup().await;
    let path = db(s.dir.path());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut bytes = vec![0u8; 256 * 1024];
    rng.fill(&mut bytes[..]);
    std::fs::write(&path, &bytes).unwrap();
    let got = recover_and_check(&s, &bytes).await;
    assert!(got.is_empty(), "nothing can be read from random bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_page_in_the_middle_is_moved_aside_and_outbox_salvaged() {
    let s = setup().await;
    let path = db(s.dir.path());
    let (outbox, cards, total) = pages(&path);
    // A page of the cards table near the middle of the file (never an outbox page).
    let victim = *cards.iter().filter(|p| !outbox.contains(p)).min_by_key(|p| (**p - total / 2).abs()).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let off = (victim as usize - 1) * 4096;
    rng.fill(&mut bytes[off..off + 4096]);
    std::fs::write(&path, &bytes).unwrap();
    eprintln!("garbled page {victim} of {total}");
    let got = recover_and_check(&s, &bytes).await;
    let want: BTreeSet<_> = s.queued.iter().map(key).collect();
    assert_eq!(got.iter().map(key).collect::<BTreeSet<_>>(), want, "every queued op salvaged");
}

/// A corruption error seen after open leaves a marker; the next open recovers even though the
/// file itself checks out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_seen_later_recovers_at_next_open_and_discard_drops_salvage() {
    let s = setup().await;
    let path = db(s.dir.path());
    deckhand_core::store::recovery::leave_marker(&path, "database disk image is malformed (test)");
    let engine = Engine::open(test_config(s.dir.path(), Some(s.settings.clone()))).await.unwrap();
    let report = engine.recovery().await.unwrap().expect("recovered");
    assert!(report.reason.contains("malformed (test)"), "{}", report.reason);
    assert!(!deckhand_core::store::recovery::marker_path(&path).exists());
    assert!(Path::new(&report.moved_to).exists());
    let salvaged = engine.salvaged().await.unwrap();
    assert_eq!(salvaged.len(), 7, "an intact file: the whole outbox");
    engine.wait_idle(DEADLINE).await.unwrap();
    assert_eq!(engine.discard_salvaged(vec![salvaged[0].id]).await.unwrap(), 1);
    assert_eq!(engine.discard_salvaged(Vec::new()).await.unwrap(), 6);
    assert!(engine.salvaged().await.unwrap().is_empty());
    assert!(engine.outbox().await.unwrap().is_empty(), "discarded ops are not queued");
    assert_eq!(server_titles(&s.settings).await.len(), s.synced.len());
    engine.shutdown().await;
}

/// A read-only open of a corrupt database refuses with `corrupt_database` and moves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_open_of_a_corrupt_file_is_refused_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(db(dir.path()), vec![0x5a; 8192]).unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.read_only = true;
    let err = Engine::open(cfg).await.err().expect("refused");
    assert_eq!(err.kind(), "corrupt_database", "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing moved or created");
}

/// Half the file gone: whatever of the outbox lay in the first half is salvaged, nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_truncated_to_half_is_moved_aside_and_rebuilt() {
    let s = setup().await;
    let path = db(s.dir.path());
    let (outbox, _, total) = pages(&path);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len((total / 2) as u64 * 4096).unwrap();
    drop(f);
    let damaged = std::fs::read(&path).unwrap();
    let got = recover_and_check(&s, &damaged).await;
    eprintln!("half cut: {total} -> {} pages, outbox pages {outbox:?}, salvaged {}", total / 2, got.len());
    if outbox.iter().all(|p| *p <= total / 2) {
        assert_eq!(got.len(), 7);
    }
}

/// The cost of the checks at open on a 100,000-card database (cards, FTS, tags and confirmed
/// copies: ~80 MB): `quick_check` is about O(pages) and must stay small next to the open itself.
#[test]
fn large_files_are_page_checked_after_open_and_recovered_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(dir.path());
    let s = deckhand_core::store::Store::open(&path).unwrap();
    s.write(|tx| {
        tx.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
             INSERT INTO cards(id, title, body, url, tags, lane, position, pinned, created_at, updated_at)
             SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)
                    || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
                    'card ' || i || ' alpha' || (i % 100), 'a body of a few words for card ' || i,
                    'https://example.com/' || i, json_array('t' || (i % 50)),
                    CASE i % 3 WHEN 0 THEN 'todo' WHEN 1 THEN 'doing' ELSE 'done' END, i, 0,
                    '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'
             FROM n;
             INSERT INTO confirmed(id, version, deleted, card)
             SELECT id, 1, 0, json_object('id', id, 'title', title, 'body', body, 'url', url, 'tags', json(tags),
                    'lane', lane, 'position', position, 'pinned', json('false'), 'version', 1,
                    'created_at', created_at, 'updated_at', updated_at) FROM cards;",
        )?;
        Ok(())
    })
    .unwrap();
    drop(s);
    let size = std::fs::metadata(&path).unwrap().len() + std::fs::metadata(path.with_file_name("deckhand.db-wal")).map(|m| m.len()).unwrap_or(0);
    let time = |f: &dyn Fn()| {
        (0..3).map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed()
        }).min().unwrap()
    };
    let open = time(&|| drop(deckhand_core::store::Store::open(&path).unwrap()));
    // A fresh connection per check, as the store makes them: SQLite's FTS5 check reuses the index
    // structure a connection cached at its previous check.
    let check = |pragma: &str| {
        let c = rusqlite::Connection::open(&path).unwrap();
        let r: String = c.query_row(pragma, [], |r| r.get(0)).unwrap();
        assert_eq!(r, "ok", "{pragma}");
    };
    let qc = time(&|| check("PRAGMA quick_check"));
    let ic = time(&|| check("PRAGMA integrity_check"));
    eprintln!("100k cards, {} MB: open with checks {open:?} (quick_check alone {qc:?}, integrity_check {ic:?})", size >> 20);

    // Large files are page-checked after open, in the background: damage in the middle of the
    // cards table does not fail the open, leaves the marker, and the next open recovers.
    let _ = std::fs::remove_file(deckhand_core::store::recovery::marker_path(&path));
    let (outbox, cards, total) = pages(&path);
    let victim = *cards.iter().filter(|p| !outbox.contains(p)).min_by_key(|p| (**p - total / 2).abs()).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let off = (victim as usize - 1) * 4096;
    rand::rngs::StdRng::seed_from_u64(5).fill(&mut bytes[off..off + 4096]);
    std::fs::write(&path, &bytes).unwrap();
    let _ = std::fs::remove_file(path.with_file_name("deckhand.db-wal"));
    let store = deckhand_core::store::Store::open(&path).expect("a large file opens before its pages are checked");
    let marker = deckhand_core::store::recovery::marker_path(&path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !marker.exists() {
        assert!(std::time::Instant::now() < deadline, "the background page check never flagged the damage");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(store);
    let (_store, report) = deckhand_core::store::Store::open_with(&path, Default::default()).unwrap();
    let report = report.expect("recovered at the next open");
    assert!(std::path::Path::new(&report.moved_to).exists(), "{report:?}");
}

/// Any store access that meets SQLITE_CORRUPT leaves the marker (once), returns
/// `corrupt_database`, and the next open recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corruption_error_on_access_leaves_the_marker() {
    use deckhand_core::store::{Store, recovery};
    let dir = tempfile::tempdir().unwrap();
    let path = db(dir.path());
    let store = Store::open(&path).unwrap();
    let corrupt = || {
        deckhand_core::StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some("database disk image is malformed".into()),
        ))
    };
    // Other errors leave nothing.
    let e = store.read(|_| -> deckhand_core::store::Result<()> { Err(deckhand_core::StoreError::InvalidState("x".into())) });
    assert!(e.is_err() && !recovery::marker_path(&path).exists());
    let e = store.read(|_| -> deckhand_core::store::Result<()> { Err(corrupt()) }).unwrap_err();
    assert_eq!(deckhand_core::CoreError::from(e).kind(), "corrupt_database");
    assert!(recovery::marker_path(&path).exists());
    let e = store.write(|_| -> deckhand_core::store::Result<()> { Err(corrupt()) }).unwrap_err();
    assert!(recovery::is_corruption(&e));
    drop(store);
    let engine = Engine::open(test_config(dir.path(), None)).await.unwrap();
    let r = engine.recovered_at_open().expect("recovered at the next open").clone();
    assert!(r.reason.contains("malformed"), "{r:?}");
    assert!(!recovery::marker_path(&path).exists());
    engine.shutdown().await;
}

/// A recovery interrupted after the move (crash): the next open salvages from the moved file
/// named in the marker, and sets aside (keeps) whatever had been started in its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_recovery_resumes_from_the_moved_file() {
    use deckhand_core::store::recovery;
    let s = setup().await;
    let path = db(s.dir.path());
    let moved = s.dir.path().join("deckhand.db.corrupt-20260101T000000.000Z");
    std::fs::rename(&path, &moved).unwrap();
    std::fs::write(&path, b"half-made new database").unwrap();
    std::fs::write(recovery::marker_path(&path), format!("file is not a database\nmoved_to {}\n", moved.display())).unwrap();
    let engine = Engine::open(test_config(s.dir.path(), Some(s.settings.clone()))).await.unwrap();
    let r = engine.recovered_at_open().unwrap().clone();
    assert_eq!(Path::new(&r.moved_to), moved);
    assert_eq!(r.salvaged, 7, "salvaged from the file moved before the crash");
    let kept = std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_str().unwrap().starts_with("deckhand.db.corrupt-"))
        .count();
    assert_eq!(kept, 2, "the half-made database is kept too");
    assert!(!recovery::marker_path(&path).exists());
    engine.wait_idle(DEADLINE).await.unwrap();
    assert_eq!(engine.requeue_salvaged(Vec::new()).await.unwrap().requeued, 7);
    engine.shutdown().await;
}

/// Scenario 6 of "never lose an edit": salvaged edits are requeued only once the rebuilt database
/// has caught up (a requeue during a slow rebuild pull used to drop edits of cards not pulled
/// yet), and keep the base they were made on (they used to be applied blind over a newer copy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salvaged_edits_wait_for_the_rebuild_and_merge_with_what_changed_since() {
    use deckhand_core::store::recovery;
    use support::{Fault, Proxy, Rule};
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&server_dir.path().join("server.db")).await;
    let token = server.add_user("alice");
    let direct = ServerSettings { url: server.url(), token: token.clone() };
    let proxy = Proxy::start(server.addr()).await;
    let via_proxy = ServerSettings { url: proxy.url(), token };
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), Some(direct.clone()))).await.unwrap();
    let card = engine.create(input("card", "l1\nl2\nl3\nl4\n")).await.unwrap();
    engine.wait_idle(DEADLINE).await.unwrap();
    engine.set_server(None).await;
    engine.update(card.id, CardChanges { body: Some("L1 offline\nl2\nl3\nl4\n".into()), ..Default::default() }).await.unwrap();
    engine.shutdown().await;
    drop(engine);
    // Another device changes another line meanwhile.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Engine::open(test_config(other_dir.path(), Some(direct.clone()))).await.unwrap();
    other.wait_idle(DEADLINE).await.unwrap();
    other.update(card.id, CardChanges { body: Some("l1\nl2\nl3\nL4 elsewhere\n".into()), ..Default::default() }).await.unwrap();
    other.wait_idle(DEADLINE).await.unwrap();
    // The local database is lost as if corrupt (a recovery interrupted after the move).
    let path = db(dir.path());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    drop(c);
    let moved = dir.path().join("deckhand.db.corrupt-20260101T000000.000Z");
    std::fs::rename(&path, &moved).unwrap();
    std::fs::write(recovery::marker_path(&path), format!("file is not a database\nmoved_to {}\n", moved.display())).unwrap();
    // The rebuild's pull is slow.
    proxy.add_rule(Rule { method: Some("GET"), path_contains: "/v1/changes".into(), fault: Fault::Delay(std::time::Duration::from_millis(700)), times: 1 });
    let engine = Engine::open(test_config(dir.path(), Some(via_proxy))).await.unwrap();
    assert_eq!(engine.salvaged().await.unwrap().len(), 1);
    let r = engine.requeue_salvaged(Vec::new()).await.unwrap();
    assert_eq!((r.requeued, r.skipped, r.kept), (1, 0, 0), "requeued after the catch-up, not dropped");
    engine.wait_idle(DEADLINE).await.unwrap();
    let body = support::server_card_json(&direct, card.id).await["body"].as_str().unwrap().to_string();
    assert_eq!(body, "L1 offline\nl2\nl3\nL4 elsewhere\n", "merged with the change made since, not applied blind");
    engine.shutdown().await;
    other.shutdown().await;
    proxy.stop();
}
