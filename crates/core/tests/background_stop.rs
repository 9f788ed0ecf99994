//! Dropping a `Store` stops its background thread and waits for it, even in the middle of a long
//! indexing tick. Before, the thread ran on for up to a tick's budget (1 s) after the store was
//! gone, writing to a file a recovery might move next; and a connection that had run an FTS5
//! integrity check before such a late write saw "corruption" on its next check (SQLite's FTS5
//! check reuses the index structure it cached: the CI flake in `recovery.rs`).
//!
//! Its own test binary: it counts the process's `deckhand-checkpoint` threads, so no other test's
//! store may run beside it.

use std::time::{Duration, Instant};

use deckhand_core::store::{Store, index};

fn checkpoint_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with("deckhand-checkp"))
        .count()
}

#[test]
fn dropping_a_store_stops_its_background_thread_mid_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deckhand.db");
    let s = Store::open(&path).unwrap();
    // 50,000 cards queued for indexing: the idle store's thread indexes them in batches for a
    // whole tick budget.
    s.write(|tx| {
        tx.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49999)
             INSERT INTO cards(id, title, body, url, tags, lane, position, pinned, created_at, updated_at)
             SELECT printf('00000000-0000-4000-8000-%012d', i), 'card ' || i, 'a body of a few words for card ' || i,
                    'https://example.com/' || i, json_array('t' || (i % 50)), 'todo', i, 0,
                    '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'
             FROM n;",
        )?;
        Ok(())
    })
    .unwrap();
    assert_eq!(checkpoint_threads(), 1);
    let queued = s.read(index::pending).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.read(index::pending).unwrap() == queued {
        assert!(Instant::now() < deadline, "the background thread never started indexing");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(s.read(index::pending).unwrap() > 0, "the tick must still be running when the store drops");
    drop(s);
    assert_eq!(checkpoint_threads(), 0, "the background thread outlived its store");

    // Nothing writes the file any more: a connection that checked it once sees the same file
    // (and no FTS5 "corruption") when it checks again.
    let c = rusqlite::Connection::open(&path).unwrap();
    let queued: i64 = c.query_row("SELECT count(*) FROM index_queue", [], |r| r.get(0)).unwrap();
    let check = || c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)).unwrap();
    assert_eq!(check(), "ok");
    assert_eq!(check(), "ok");
    let after: i64 = c.query_row("SELECT count(*) FROM index_queue", [], |r| r.get(0)).unwrap();
    assert_eq!(after, queued);
}
