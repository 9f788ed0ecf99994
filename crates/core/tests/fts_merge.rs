//! The full-text index is merged off the write path (migration 0004; 0010 for the substring
//! index): indexing transactions leave segments behind, the store's background thread merges them
//! once the writer is idle, and search keeps finding everything.

use std::time::{Duration, Instant};

use deckhand_core::model::{ListQuery, NewCardInput};
use deckhand_core::store::{Store, cards, index, writes};

fn index_rows(s: &Store) -> i64 {
    s.read(|c| Ok(c.query_row("SELECT (SELECT count(*) FROM cards_fts_idx) + (SELECT count(*) FROM cards_tri_idx)", [], |r| r.get(0))?)).unwrap()
}

#[test]
fn writes_do_not_merge_the_index_and_the_idle_store_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("deckhand.db")).unwrap();
    for table in ["cards_fts", "cards_tri"] {
        let automerge: i64 = s.read(|c| Ok(c.query_row(&format!("SELECT v FROM {table}_config WHERE k = 'automerge'"), [], |r| r.get(0))?)).unwrap();
        assert_eq!(automerge, 0, "FTS5 must not merge {table} inside the user's writes");
    }
    // 300 indexing transactions (a search after every write indexes it at once): FTS5 writes one
    // segment per transaction; only crisis merges (16 on a level) happen inline, so level 0 ends
    // with 300 % 16 = 12 unmerged segments.
    for i in 0..300 {
        let input = NewCardInput { title: format!("alpha card {i}"), body: Some(format!("body text number {i}")), ..Default::default() };
        s.write(|tx| writes::create(tx, &input)).unwrap();
        s.read(index::catch_up).unwrap();
    }
    let written = index_rows(&s);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = index_rows(&s);
        if now < written {
            break;
        }
        assert!(Instant::now() < deadline, "the idle store never merged the index ({written} rows)");
        std::thread::sleep(Duration::from_millis(50));
    }
    let found = s.read(|c| cards::list(c, &ListQuery { text: Some("alpha".into()), limit: Some(1000), ..Default::default() })).unwrap();
    assert_eq!(found.total, 300);
    let one = s.read(|c| cards::list(c, &ListQuery { text: Some("number 123".into()), ..Default::default() })).unwrap();
    assert_eq!(one.total, 1);
}
