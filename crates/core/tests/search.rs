//! Search people trust (issue 12) on derived indexes kept off the write path (issue 13, Q1/P1).
//!
//! "Search stays consistent for the user" means (store::index):
//! - read-your-writes: every write that returned before a search began is found by it, with its
//!   current text, and a deleted card is never found (`search_equals_the_model`, engine tests);
//! - an idle store catches up by itself within a bound (`the_idle_store_indexes_the_queue`);
//! - a crash between a write and its indexing loses nothing: the queue is durable and indexed
//!   after the next start (`a_queue_left_by_a_crash_is_indexed_at_start`).
//! `the_model_test_catches_a_planted_bug` shows the model test failing when updates stop being
//! queued for indexing.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use deckhand_core::Engine;
use deckhand_core::model::*;
use deckhand_core::store::{Store, cards, index, writes};
use deckhand_protocol::CardChanges;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::*;
use uuid::Uuid;

fn text(q: &str) -> ListQuery {
    ListQuery { text: Some(q.into()), limit: Some(1000), ..Default::default() }
}

fn titles(p: &CardPage) -> BTreeSet<String> {
    p.items.iter().map(|c| c.title.clone()).collect()
}

fn queued(s: &Store) -> i64 {
    s.read(index::pending).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substrings_cjk_and_operators_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(test_config(dir.path(), None)).await.unwrap();
    let mk = |title: &str, body: &str, tags: &[&str], lane: &str| NewCardInput {
        title: title.into(),
        body: Some(body.into()),
        tags: Some(tags.iter().map(|t| t.to_string()).collect()),
        lane: Some(lane.into()),
        ..Default::default()
    };
    let deploy = e.create(mk("Deploying the server", "release notes for v2", &["work"], "Doing")).await.unwrap();
    let sync = e.create(mk("データ同期の設計", "オフライン同期", &["設計"], "Inbox")).await.unwrap();
    let cafe = e.create(mk("Café résumé", "a draft", &["home", "two words"], "Inbox")).await.unwrap();
    e.update(cafe.id, CardChanges { pinned: Some(true), ..Default::default() }).await.unwrap();

    let q = |s: &'static str| {
        let e = &e;
        async move { titles(&e.list(text(s)).await.unwrap()) }
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // The middle of a word, CJK of 2 and of 3+ characters, accents and case ignored.
    assert_eq!(q("ploy").await, set(&["Deploying the server"]));
    assert_eq!(q("同期").await, set(&["データ同期の設計"]));
    assert_eq!(q("タ同期").await, set(&["データ同期の設計"]));
    assert_eq!(q("SUME").await, set(&["Café résumé"]));
    assert_eq!(q("cafe resume").await, set(&["Café résumé"]));
    // Phrases: in order only.
    assert_eq!(q("\"release notes\"").await, set(&["Deploying the server"]));
    assert!(q("\"notes release\"").await.is_empty());
    // Operators, negation, combinations.
    assert_eq!(q("tag:work").await, set(&["Deploying the server"]));
    assert_eq!(q("tag:\"two words\"").await, set(&["Café résumé"]));
    assert_eq!(q("lane:Inbox -同期").await, set(&["Café résumé"]));
    assert_eq!(q("is:pinned").await, set(&["Café résumé"]));
    assert_eq!(q("-is:pinned lane:Inbox").await, set(&["データ同期の設計"]));
    assert_eq!(q("is:pending").await.len(), 3, "offline: every card waits to be sent");
    assert!(q("is:failed").await.is_empty() && q("is:conflict").await.is_empty());
    assert_eq!(q("-tag:work -draft").await, set(&["データ同期の設計"]));
    // Bad input is never an FTS5 syntax error; an unknown state is a clear validation error.
    for odd in ["\"", "-", "NOT", "a AND", "NEAR(", "*", "^x", "(", "tag:", "x\"y", "\"\"\"", "':;", "-\"\""] {
        e.list(text(odd)).await.unwrap_or_else(|err| panic!("{odd:?}: {err}"));
    }
    let err = e.list(text("is:bogus")).await.unwrap_err();
    assert_eq!(err.kind(), "validation", "{err}");
    assert!(err.to_string().contains("is:pending"), "{err}");

    // Read-your-writes: edits and deletes are seen by the very next search.
    e.update(deploy.id, CardChanges { title: Some("Rollback plan".into()), ..Default::default() }).await.unwrap();
    assert!(q("ploy").await.is_empty());
    assert_eq!(q("llbac").await, set(&["Rollback plan"]));
    e.delete(sync.id).await.unwrap();
    assert!(q("同期").await.is_empty());
    assert_eq!(e.tags().await.unwrap(), ["home", "two words", "work"]);
    e.shutdown().await;
}

#[test]
fn the_idle_store_indexes_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("deckhand.db")).unwrap();
    for i in 0..500 {
        let input = NewCardInput { title: format!("queued card {i}"), ..Default::default() };
        s.write(|tx| writes::create(tx, &input)).unwrap();
    }
    // No search runs: the background thread alone must empty the queue once writes stop.
    let deadline = Instant::now() + Duration::from_secs(20);
    while queued(&s) > 0 {
        assert!(Instant::now() < deadline, "the idle store left {} rowids unindexed", queued(&s));
        std::thread::sleep(Duration::from_millis(20));
    }
    let n: i64 = s.read(|c| Ok(c.query_row("SELECT count(*) FROM cards_tri WHERE cards_tri MATCH '\"ued car\"'", [], |r| r.get(0))?)).unwrap();
    assert_eq!(n, 500);
}

#[test]
fn a_queue_left_by_a_crash_is_indexed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deckhand.db");
    drop(Store::open(&path).unwrap());
    // A process that wrote and stopped before indexing: a plain connection runs the same writes
    // (and triggers) and no indexer.
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..300 {
        writes::create(&tx, &NewCardInput { title: format!("survivor {i}"), tags: Some(vec!["kept".into()]), ..Default::default() }).unwrap();
    }
    tx.commit().unwrap();
    let left: i64 = conn.query_row("SELECT count(*) FROM index_queue", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 300);
    drop(conn);

    let s = Store::open(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while queued(&s) > 0 {
        assert!(Instant::now() < deadline, "not indexed after the restart");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.read(|c| cards::list(c, &text("survivor"))).unwrap().total, 300);
    assert_eq!(s.read(cards::tags).unwrap(), ["kept"]);
}

/// Migration 0010 moves existing databases forward: cards written under the old triggers are
/// in both new indexes, their tag rows stay, and nothing is left queued.
#[test]
fn migration_10_indexes_existing_cards() {
    use deckhand_core::store::migrate;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deckhand.db");
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    let before = migrate::MIGRATIONS.iter().position(|m| m.name == "0010_index_queue").unwrap();
    migrate::run(&mut conn, &migrate::MIGRATIONS[..before]).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..50 {
        writes::create(&tx, &NewCardInput { title: format!("older card {i} データ同期"), tags: Some(vec!["legacy".into()]), ..Default::default() }).unwrap();
    }
    tx.commit().unwrap();
    drop(conn);

    let s = Store::open(&path).unwrap();
    assert_eq!(queued(&s), 0);
    let n = |q: &str| s.read(|c| cards::list(c, &text(q))).unwrap().total;
    assert_eq!(n("older"), 50);
    assert_eq!(n("lder"), 50);
    assert_eq!(n("同期"), 50);
    assert_eq!(n("tag:legacy"), 50);
    assert_eq!(n("\"card 7\""), 1);
    assert_eq!(n("ld"), 0, "2 ASCII letters: word starts only");
    // Migration 0011 took the words already indexed into the vocabulary: the middle of a word
    // and short CJK terms are answered through it.
    let words: i64 = s.read(|c| Ok(c.query_row("SELECT count(*) FROM search_terms", [], |r| r.get(0))?)).unwrap();
    assert!(words >= 50 + 3, "vocabulary after migration: {words} words");
    assert_eq!(n("タ同"), 50);
}

// ---- model test ----

const WORDS: &[&str] = &["alpha", "bravo", "Charlie", "delta", "echo", "foxtrot", "データ同期", "golf", "hotel"];
const LANES: &[&str] = &["Inbox", "Doing", "Done"];
const TAGS: &[&str] = &["work", "home", "red"];

#[derive(Debug, Clone)]
enum Step {
    Create { title: Vec<usize>, body: Vec<usize>, tags: Vec<usize>, lane: usize, pinned: bool },
    Update { card: usize, title: Option<Vec<usize>>, body: Option<Vec<usize>>, tags: Option<Vec<usize>>, lane: Option<usize> },
    Delete { card: usize },
    /// The background indexer doing part of the queue.
    IndexSome { n: usize },
    Search { query: String },
}

fn words(ix: &[usize]) -> String {
    ix.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ")
}

fn term() -> impl Strategy<Value = String> {
    let word = (0..WORDS.len()).prop_map(|i| WORDS[i].to_string());
    // The middle of a word (4 letters, 3 letters: word starts only, or 2 or 3 CJK characters:
    // the scan and the trigram path), or a 2-letter word start.
    let middle = (0..WORDS.len(), 0usize..3, any::<bool>()).prop_map(|(i, at, longer)| {
        let w: Vec<char> = WORDS[i].chars().collect();
        let len = if w[0].is_ascii() { 3 + longer as usize } else { 2 + longer as usize };
        let at = at.min(w.len() - len);
        w[at..at + len].iter().collect()
    });
    let start = (0..WORDS.len()).prop_filter("ascii", |i| WORDS[*i].is_ascii()).prop_map(|i| WORDS[i][..2].to_uppercase());
    let phrase = (0..WORDS.len(), 0..WORDS.len()).prop_map(|(a, b)| format!("\"{} {}\"", WORDS[a], WORDS[b]));
    let op = prop_oneof![
        (0..TAGS.len()).prop_map(|i| format!("tag:{}", TAGS[i])),
        (0..LANES.len()).prop_map(|i| format!("lane:{}", LANES[i])),
        Just("is:pinned".to_string()),
        Just("is:pending".to_string()),
    ];
    (prop_oneof![3 => word, 3 => middle, 1 => start, 1 => phrase, 2 => op], any::<bool>())
        .prop_map(|(t, neg)| if neg { format!("-{t}") } else { t })
}

fn step() -> impl Strategy<Value = Step> {
    let ws = || prop::collection::vec(0..WORDS.len(), 0..4);
    let tags = || prop::collection::vec(0..TAGS.len(), 0..3);
    prop_oneof![
        3 => (prop::collection::vec(0..WORDS.len(), 1..4), ws(), tags(), 0..LANES.len(), any::<bool>())
            .prop_map(|(title, body, tags, lane, pinned)| Step::Create { title, body, tags, lane, pinned }),
        3 => (0usize..64, prop::option::of(prop::collection::vec(0..WORDS.len(), 1..4)), prop::option::of(ws()), prop::option::of(tags()), prop::option::of(0..LANES.len()))
            .prop_map(|(card, title, body, tags, lane)| Step::Update { card, title, body, tags, lane }),
        1 => (0usize..64).prop_map(|card| Step::Delete { card }),
        1 => (1usize..4).prop_map(|n| Step::IndexSome { n }),
        4 => prop::collection::vec(term(), 1..3).prop_map(|t| Step::Search { query: t.join(" ") }),
    ]
}

#[derive(Debug, Clone)]
struct ModelCard {
    title: String,
    body: String,
    tags: Vec<String>,
    lane: String,
    pinned: bool,
}

fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(|t| t.to_lowercase()).collect()
}

/// The reference: what each clause means, written from the query language's documentation.
fn model_matches(c: &ModelCard, query: &str) -> bool {
    let tags_json = serde_json::to_string(&c.tags).unwrap();
    let fields = [c.title.as_str(), c.body.as_str(), "", tags_json.as_str()];
    let text_match = |t: &str, phrase: bool| {
        let lower = t.to_lowercase();
        let n = t.chars().count();
        fields.iter().any(|f| {
            let ft = tokens(f);
            let want = tokens(t);
            let by_words = if phrase || want.len() != 1 {
                !want.is_empty() && ft.windows(want.len()).any(|w| w == want.as_slice())
            } else {
                ft.iter().any(|w| w.starts_with(&want[0]))
            };
            let min = if t.is_ascii() { 4 } else { 3 };
            let by_substring = (n >= min && f.to_lowercase().contains(&lower)) || (n < 3 && !t.is_ascii() && f.contains(t));
            by_words || by_substring
        })
    };
    let mut rest = query;
    let mut ok = true;
    while let Some(tok) = next_token(&mut rest) {
        let (neg, tok) = match tok.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, tok.as_str()),
        };
        let m = if let Some(p) = tok.strip_prefix('"') {
            text_match(p.trim_end_matches('"'), true)
        } else if let Some(t) = tok.strip_prefix("tag:") {
            c.tags.iter().any(|x| x == t)
        } else if let Some(l) = tok.strip_prefix("lane:") {
            c.lane == l
        } else if tok == "is:pinned" {
            c.pinned
        } else if tok == "is:pending" {
            true
        } else {
            text_match(tok, false)
        };
        ok &= m != neg;
    }
    ok
}

fn next_token(rest: &mut &str) -> Option<String> {
    let s = rest.trim_start();
    if s.is_empty() {
        return None;
    }
    let quoted = s.starts_with("\"") || s.starts_with("-\"");
    let end = if quoted {
        let open = s.find('"').unwrap();
        s[open + 1..].find('"').map(|e| open + e + 2).unwrap_or(s.len())
    } else {
        s.find(char::is_whitespace).unwrap_or(s.len())
    };
    *rest = &s[end..];
    Some(s[..end].to_string())
}

fn run_model(s: &Store, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut model: Vec<(Uuid, ModelCard)> = Vec::new();
    for st in steps {
        match st {
            Step::Create { title, body, tags, lane, pinned } => {
                let mut t: Vec<String> = tags.iter().map(|&i| TAGS[i].to_string()).collect();
                t.dedup();
                let c = ModelCard { title: words(title), body: words(body), tags: t, lane: LANES[*lane].into(), pinned: *pinned };
                let input = NewCardInput {
                    title: c.title.clone(),
                    body: Some(c.body.clone()),
                    tags: Some(c.tags.clone()),
                    lane: Some(c.lane.clone()),
                    pinned: Some(c.pinned),
                    ..Default::default()
                };
                let id = s.write(|tx| writes::create(tx, &input)).unwrap();
                model.push((id, c));
            }
            Step::Update { card, title, body, tags, lane } => {
                if model.is_empty() {
                    continue;
                }
                let at = card % model.len();
                let (id, c) = &mut model[at];
                let mut ch = CardChanges::default();
                if let Some(t) = title {
                    c.title = words(t);
                    ch.title = Some(c.title.clone());
                }
                if let Some(b) = body {
                    c.body = words(b);
                    ch.body = Some(c.body.clone());
                }
                if let Some(t) = tags {
                    let mut t: Vec<String> = t.iter().map(|&i| TAGS[i].to_string()).collect();
                    t.dedup();
                    c.tags = t.clone();
                    ch.tags = Some(t);
                }
                if let Some(l) = lane {
                    c.lane = LANES[*l].into();
                    ch.lane = Some(c.lane.clone());
                }
                let id = *id;
                s.write(|tx| writes::update(tx, id, &ch, Priority::Normal)).unwrap();
            }
            Step::Delete { card } => {
                if model.is_empty() {
                    continue;
                }
                let (id, _) = model.remove(card % model.len());
                s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
            }
            Step::IndexSome { n } => {
                s.read(|c| index::drain_some(c, *n)).unwrap();
            }
            Step::Search { query } => {
                let got = s.read(|c| cards::list(c, &text(query))).unwrap();
                let got: BTreeSet<Uuid> = got.items.iter().map(|c| c.id).collect();
                let want: BTreeSet<Uuid> = model.iter().filter(|(_, c)| model_matches(c, query)).map(|(id, _)| *id).collect();
                prop_assert_eq!(got, want, "query {:?}", query);
            }
        }
    }
    Ok(())
}

fn model_runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

#[test]
fn search_equals_the_model() {
    model_runner(200)
        .run(&prop::collection::vec(step(), 1..40), |steps| run_model(&Store::open_in_memory().unwrap(), &steps))
        .unwrap();
}

/// The same property on a store whose updates are no longer queued for indexing (the trigger a
/// write relies on is dropped): the model test must fail.
#[test]
fn the_model_test_catches_a_planted_bug() {
    let r = model_runner(200).run(&prop::collection::vec(step(), 1..40), |steps| {
        let s = Store::open_in_memory().unwrap();
        s.read(|c| Ok(c.execute_batch("DROP TRIGGER cards_index_au")?)).unwrap();
        run_model(&s, &steps)
    });
    let err = r.expect_err("the model test missed updates that were never indexed");
    eprintln!("caught as expected: {err}");
}

/// The same property on a store whose vocabulary (`search_terms`, which answers the middle of a
/// word and short CJK terms) no longer learns new words: the model test must fail.
#[test]
fn the_model_test_catches_a_vocabulary_that_stops_learning() {
    let r = model_runner(200).run(&prop::collection::vec(step(), 1..40), |steps| {
        let s = Store::open_in_memory().unwrap();
        s.read(|c| Ok(c.execute_batch("CREATE TRIGGER planted BEFORE INSERT ON search_terms BEGIN SELECT RAISE(IGNORE); END")?))
            .unwrap();
        run_model(&s, &steps)
    });
    let err = r.expect_err("the model test missed words the vocabulary never learned");
    eprintln!("caught as expected: {err}");
}
