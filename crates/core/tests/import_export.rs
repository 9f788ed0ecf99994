//! Import and export through the engine on real SQLite files and real sample files
//! (tests/data/import): round trips, each format's mapping, idempotency (a second import creates
//! nothing), 10,000 bookmarks with progress, malformed files (a typed error naming the item, and
//! nothing written), and imported cards syncing to the real server without duplicates on a
//! second device.

mod support;

use std::path::{Path, PathBuf};

use deckhand_core::io::{ExportFormat, FolderMapping, ImportFormat, ImportOptions, ImportReport};
use deckhand_core::model::*;
use deckhand_core::{CoreError, Engine, EngineConfig};
use support::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/import").join(name)
}

async fn open(dir: &Path) -> Engine {
    Engine::open(EngineConfig::new(dir)).await.unwrap()
}

async fn all(e: &Engine) -> Vec<CardView> {
    let mut v = e.list(ListQuery { limit: Some(1000), ..Default::default() }).await.unwrap().items;
    v.sort_by_key(|c| c.id);
    v
}

async fn import(e: &Engine, path: &Path) -> ImportReport {
    e.import_file(path.to_path_buf(), ImportOptions::default()).await.unwrap()
}

fn by_title<'a>(cards: &'a [CardView], title: &str) -> &'a CardView {
    cards.iter().find(|c| c.title == title).unwrap_or_else(|| panic!("no card {title:?} in {:?}", cards.iter().map(|c| &c.title).collect::<Vec<_>>()))
}

/// Cards with every awkward value a field can hold.
async fn awkward_cards(e: &Engine) {
    let inputs = [
        NewCardInput { title: "Quotes \"inside\", commas, and\nnewlines".into(), body: Some("line 1\r\nline 2\n\n---\nnot front matter\n".into()), tags: Some(vec!["a,b".into(), "ünï".into()]), lane: Some("Doing".into()), position: Some(0.1 + 0.2), pinned: Some(true), ..Default::default() },
        NewCardInput { title: "同期 カード 🚀".into(), url: Some("https://example.jp/同期?q=1&r=2".into()), lane: Some("inbox".into()), position: Some(-3.5e-7), ..Default::default() },
        NewCardInput { title: "  leading spaces kept in json".into(), body: Some("tab\there".into()), lane: Some("Done ✓".into()), ..Default::default() },
        NewCardInput { title: "---".into(), body: Some("---\ntitle: not me\n---\n".into()), ..Default::default() },
    ];
    for i in inputs {
        e.create(i).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_export_import_export_is_byte_equal_and_a_second_import_creates_nothing() {
    let (d1, d2, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(d1.path()).await;
    awkward_cards(&a).await;
    let (f1, f2) = (out.path().join("one.json"), out.path().join("two.json"));
    let r = a.export_file(f1.clone(), ExportFormat::Json, ListQuery::default()).await.unwrap();
    assert_eq!(r.cards, 4);
    let b = open(d2.path()).await;
    let rep = import(&b, &f1).await;
    assert_eq!((rep.format, rep.total, rep.created, rep.existing), (ImportFormat::Json, 4, 4, 0));
    b.export_file(f2.clone(), ExportFormat::Json, ListQuery::default()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&f1).unwrap(), std::fs::read_to_string(&f2).unwrap());
    let (ca, cb) = (all(&a).await, all(&b).await);
    for (x, y) in ca.iter().zip(&cb) {
        assert_eq!((x.id, &x.title, &x.body, &x.url, &x.tags, &x.lane, x.position, x.pinned), (y.id, &y.title, &y.body, &y.url, &y.tags, &y.lane, y.position, y.pinned));
        assert_eq!(y.sync_state, SyncState::Pending, "an imported card is a normal create, queued to sync");
    }
    // Again, into the store that has them (and into the one they came from): nothing new.
    let again = import(&b, &f1).await;
    assert_eq!((again.created, again.existing), (0, 4));
    assert_eq!((import(&a, &f1).await.created, all(&a).await.len()), (0, 4));
    assert_eq!(b.outbox().await.unwrap().len(), 4, "one create op per card, none for the re-import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_takes_a_filter() {
    let (d, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let e = open(d.path()).await;
    awkward_cards(&e).await;
    let f = out.path().join("doing.json");
    let r = e.export_file(f.clone(), ExportFormat::Json, ListQuery { lane: Some("Doing".into()), ..Default::default() }).await.unwrap();
    assert_eq!(r.cards, 1);
    let f2 = out.path().join("search.csv");
    let r = e.export_file(f2.clone(), ExportFormat::Csv, ListQuery { text: Some("同期".into()), ..Default::default() }).await.unwrap();
    assert_eq!(r.cards, 1);
    assert!(std::fs::read_to_string(&f2).unwrap().contains("同期 カード 🚀"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_markdown_round_trip_every_field() {
    for format in [ExportFormat::Csv, ExportFormat::Md] {
        let (d1, d2, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = open(d1.path()).await;
        awkward_cards(&a).await;
        let path = out.path().join(if format == ExportFormat::Csv { "cards.csv" } else { "notes" });
        assert_eq!(a.export_file(path.clone(), format, ListQuery::default()).await.unwrap().cards, 4);
        let b = open(d2.path()).await;
        let rep = import(&b, &path).await;
        assert_eq!((rep.created, rep.existing), (4, 0), "{format:?}");
        for (x, y) in all(&a).await.iter().zip(&all(&b).await) {
            // CSV is spreadsheet text: titles are trimmed and a tag holding a comma splits.
            let tidy = |t: &str| if format == ExportFormat::Csv { t.trim().to_string() } else { t.to_string() };
            assert_eq!((x.id, tidy(&x.title), &x.body, &x.url, &x.lane, x.position, x.pinned), (y.id, y.title.clone(), &y.body, &y.url, &y.lane, y.position, y.pinned), "{format:?}");
            if !x.tags.iter().any(|t| t.contains(',')) || format == ExportFormat::Md {
                assert_eq!(x.tags, y.tags, "{format:?}");
            }
        }
        assert_eq!(import(&b, &path).await.created, 0, "{format:?}: a second import creates nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_maps_columns_by_header_and_reports_unknown_ones() {
    let d = tempfile::tempdir().unwrap();
    let e = open(d.path()).await;
    let rep = import(&e, &data("cards.csv")).await;
    assert_eq!((rep.format, rep.total, rep.created), (ImportFormat::Csv, 4, 4));
    assert_eq!(rep.unknown_columns, vec!["Owner".to_string()]);
    let cards = all(&e).await;
    let book = by_title(&cards, "Read \"The Rust Book\"");
    assert_eq!(book.body, "Chapter 1\nChapter 2, with a comma");
    assert_eq!((book.url.as_deref(), book.lane.as_str(), book.pinned), (Some("https://doc.rust-lang.org/book/"), "Doing", true));
    assert_eq!(book.tags, vec!["rust", "reading"]);
    let jp = by_title(&cards, "同期のテスト");
    assert_eq!((jp.body.as_str(), jp.tags.clone(), jp.pinned), ("日本語の本文 — non-ASCII ✓", vec!["日本語".to_string(), "test".to_string()], false));
    let plain = by_title(&cards, "Plain row");
    assert_eq!((plain.lane.as_str(), plain.url.as_deref(), plain.tags.len()), ("inbox", None, 0));
    let tabs = by_title(&cards, "Tabs\tand \"quotes\", commas");
    assert_eq!((tabs.body.as_str(), tabs.url.as_deref()), ("multi\nline\nbody", Some("http://example.com/a?x=1&y=2")));
    assert_eq!(import(&e, &data("cards.csv")).await.existing, 4);
    assert_eq!(all(&e).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_markdown_folder_imports_with_and_without_front_matter() {
    let d = tempfile::tempdir().unwrap();
    let e = open(d.path()).await;
    let rep = import(&e, &data("notes")).await;
    assert_eq!((rep.format, rep.created), (ImportFormat::Md, 3), "the .txt file is not a note");
    let cards = all(&e).await;
    let g = by_title(&cards, "Groceries");
    assert_eq!(g.body, "- milk\n- 🍞 bread\n\n---\na horizontal rule above stays in the body\n");
    assert_eq!((g.tags.clone(), g.lane.as_str(), g.pinned, g.url.as_deref()), (vec!["home".to_string(), "list: weekly".to_string()], "Inbox", true, Some("https://example.com/shop")));
    let p = by_title(&cards, "A note without front matter");
    assert!(p.body.contains("ünïcödé") && p.lane == "inbox");
    by_title(&cards, "untitled");
    assert_eq!(import(&e, &data("notes")).await.existing, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trello_board_becomes_lanes_tags_and_links() {
    let d = tempfile::tempdir().unwrap();
    let e = open(d.path()).await;
    let rep = import(&e, &data("trello.json")).await;
    assert_eq!((rep.format, rep.total, rep.created), (ImportFormat::Trello, 4, 4));
    assert_eq!(rep.ignored.len(), 1);
    assert!(rep.ignored[0].contains("Old archived card"), "{:?}", rep.ignored);
    let cards = all(&e).await;
    let bug = by_title(&cards, "Fix the \"sync\" bug");
    assert_eq!((bug.lane.as_str(), bug.tags.clone()), ("To Do", vec!["bug".to_string(), "green".to_string()]));
    assert_eq!(bug.url.as_deref(), Some("https://github.com/example/deckhand/issues/1"));
    assert!(bug.body.starts_with("Steps:\n1. open\n2. crash\n\nAttachments:\n"), "{}", bug.body);
    assert!(bug.body.contains("log.txt — https://trello.com/1/cards/c1/attachments/a2/download/log.txt"), "{}", bug.body);
    assert_eq!(by_title(&cards, "First in To Do").url.as_deref(), Some("https://example.com/spec"));
    assert_eq!(by_title(&cards, "Réécrire l'éditeur").lane, "Doing ✎");
    // Trello's order within a list is kept.
    let todo = e.list(ListQuery { lane: Some("To Do".into()), ..Default::default() }).await.unwrap().items;
    assert_eq!(todo.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(), ["First in To Do", "Fix the \"sync\" bug"]);
    assert_eq!(import(&e, &data("trello.json")).await.created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_folders_become_tags_or_lanes() {
    let d = tempfile::tempdir().unwrap();
    let e = open(d.path()).await;
    let rep = import(&e, &data("bookmarks.html")).await;
    assert_eq!(rep.format, ImportFormat::Bookmarks);
    // 6 web bookmarks, one repeating a URL; a javascript: and a place: entry left out.
    assert_eq!((rep.total, rep.created, rep.existing, rep.ignored.len()), (6, 5, 1, 2), "{rep:?}");
    let cards = all(&e).await;
    let rust = by_title(&cards, "Rust & Cargo");
    assert_eq!((rust.tags.clone(), rust.body.as_str()), (vec!["Bookmarks bar".to_string()], "The language home page"));
    assert_eq!(by_title(&cards, "同期 — Wikipedia").tags, vec!["Bookmarks bar", "Reading"]);
    let deep = by_title(&cards, "Deep link");
    assert_eq!((deep.tags.clone(), deep.url.as_deref()), (vec!["Bookmarks bar".to_string(), "Reading".to_string(), "Deep <nested>".to_string()], Some("https://example.com/deep?a=1&b=2")));
    assert!(by_title(&cards, "Top level").tags.is_empty());
    assert_eq!(by_title(&cards, "https://example.org/untitled").tags, vec!["Other"]);

    let d2 = tempfile::tempdir().unwrap();
    let e2 = open(d2.path()).await;
    let opts = ImportOptions { folders: Some(FolderMapping::Lane), ..Default::default() };
    e2.import_file(data("bookmarks.html"), opts).await.unwrap();
    let cards = all(&e2).await;
    assert_eq!((by_title(&cards, "Deep link").lane.as_str(), by_title(&cards, "Deep link").tags.len()), ("Deep <nested>", 0));
    assert_eq!(by_title(&cards, "Top level").lane, "inbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_bookmarks_import_in_chunks_with_progress_once() {
    let d = tempfile::tempdir().unwrap();
    let e = open(d.path()).await;
    let mut rx = e.subscribe();
    let opts = ImportOptions { job_id: Some("big".into()), ..Default::default() };
    let rep = e.import_file(data("bookmarks-10k.html"), opts.clone()).await.unwrap();
    assert_eq!((rep.total, rep.created, rep.existing), (10_000, 10_000, 0));
    let mut progress = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let EngineEvent::ImportProgress { job_id, done, total } = ev {
            assert_eq!((job_id.as_str(), total), ("big", 10_000));
            progress.push(done);
        }
    }
    // 0, then one per committed chunk of 500.
    assert_eq!(progress, (0..=20).map(|i| i * 500).collect::<Vec<u32>>());
    assert_eq!(e.list(ListQuery::default()).await.unwrap().total, 10_000);
    assert_eq!(e.status().await.unwrap().pending, 10_000);
    let leaf = e.list(ListQuery { tag: Some("leaf 1".into()), ..Default::default() }).await.unwrap();
    assert_eq!(leaf.total, 4 * 3 * 416);
    let cafe = e.list(ListQuery { tag: Some("Café ☕".into()), limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(cafe.total, 3 * 2 * 416);
    assert!(cafe.items[0].title.contains("ünïcode 書籤 <"), "{}", cafe.items[0].title);
    let again = e.import_file(data("bookmarks-10k.html"), opts).await.unwrap();
    assert_eq!((again.created, again.existing), (0, 10_000));
    assert_eq!(e.list(ListQuery::default()).await.unwrap().total, 10_000);
}

async fn import_err(e: &Engine, path: &Path, format: Option<ImportFormat>) -> CoreError {
    e.import_file(path.to_path_buf(), ImportOptions { format, ..Default::default() }).await.expect_err("import must fail")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_a_clear_error_naming_the_item_and_writes_nothing() {
    let (d, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let e = open(d.path()).await;
    let cases: Vec<(PathBuf, Option<ImportFormat>, &str)> = vec![
        (data("bad_width.csv"), None, "line 3"),
        (data("bad_url.csv"), None, "line 3 is not a valid card: url: scheme must be http or https"),
        (data("bad.json"), None, "cards[1] is not a valid card: title: must not be blank"),
        (data("truncated.json"), Some(ImportFormat::Json), "malformed file at line"),
        (data("bad-md"), None, "broken.md: front matter"),
        (data("trello.json"), Some(ImportFormat::Bookmarks), "no bookmarks"),
        (data("notes/ignored.txt"), None, "cannot tell the file's format"),
    ];
    for (path, format, want) in cases {
        let err = import_err(&e, &path, format).await;
        assert_eq!(err.kind(), "validation", "{path:?}: {err}");
        assert!(err.to_string().contains(want), "{path:?}: {err:?} lacks {want:?}");
    }
    let bin = tmp.path().join("latin1.csv");
    std::fs::write(&bin, b"title\ncaf\xe9\n").unwrap();
    assert!(import_err(&e, &bin, None).await.to_string().contains("not UTF-8"));
    assert_eq!(import_err(&e, &tmp.path().join("missing.json"), None).await.kind(), "not_found");
    assert_eq!(e.list(ListQuery::default()).await.unwrap().total, 0, "no row of a bad file was written");
    assert!(e.outbox().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_cards_sync_and_another_device_importing_the_same_file_adds_nothing() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let rep = import(a, &data("trello.json")).await;
    assert_eq!(rep.created, 4);
    a.sync_now().await.unwrap();
    a.wait_idle(DEADLINE).await.unwrap();
    b.sync_now().await.unwrap();
    b.wait_idle(DEADLINE).await.unwrap();
    let rep = import(b, &data("trello.json")).await;
    assert_eq!((rep.created, rep.existing), (0, 4), "the same stable ids: already there from the server");
    let settings = deckhand_core::ServerSettings { url: h.server.url(), token: h.token.clone() };
    let mut titles: Vec<String> = server_titles(&settings).await.into_iter().map(|(_, t)| t).collect();
    titles.sort();
    assert_eq!(titles, ["First in To Do", "Fix the \"sync\" bug", "Réécrire l'éditeur", "Ship it"]);
    // Deleted on the server, it stays deleted: a re-import does not bring a trashed card back.
    let id = all(a).await.iter().find(|c| c.title == "Ship it").unwrap().id;
    a.delete(id).await.unwrap();
    a.sync_now().await.unwrap();
    a.wait_idle(DEADLINE).await.unwrap();
    assert_eq!(import(a, &data("trello.json")).await.created, 0);
    assert!(a.get(id).await.unwrap().is_none());
}

/// A disk that fills up mid-import: the chunks committed before it are whole (every card with its
/// create op), the failing chunk left nothing, and the same import once there is room again
/// creates exactly the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_cut_short_by_a_full_disk_resumes_without_duplicates() {
    let d = tempfile::tempdir().unwrap();
    let e = open(d.path()).await;
    let size = std::fs::metadata(d.path().join("deckhand.db")).unwrap().len();
    e.set_max_db_bytes(Some(size + 3 * 1024 * 1024)).await.unwrap();
    let err = e.import_file(data("bookmarks-10k.html"), ImportOptions::default()).await.expect_err("the disk fills up");
    assert_eq!(err.kind(), "disk_full", "{err}");
    let n = e.list(ListQuery::default()).await.unwrap().total;
    assert!(n > 0 && n < 10_000 && n % 500 == 0, "whole chunks only: {n}");
    let ops = e.outbox().await.unwrap();
    assert_eq!(ops.len() as u32, n, "every committed card has its create op");
    assert!(ops.iter().all(|o| o.kind == OpKind::Create));
    e.set_max_db_bytes(None).await.unwrap();
    let rep = import(&e, &data("bookmarks-10k.html")).await;
    assert_eq!((rep.created, rep.existing), (10_000 - n, n));
    assert_eq!(e.list(ListQuery::default()).await.unwrap().total, 10_000);
}
