//! `deckhand-cli export` and `import` end to end, on the real binary and the sample files in
//! crates/core/tests/data/import: round trip, format detection, `--json`, the progress line on
//! stderr, idempotency, and a bad file failing clearly with nothing written.

mod support;

use std::path::{Path, PathBuf};

use support::{cli, ok};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/import").join(name)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn count(dir: &Path) -> usize {
    json(&ok(&cli(dir, &["--json", "cards", "list"], &[]))).as_array().unwrap().len()
}

#[test]
fn export_then_import_elsewhere_round_trips_and_reimport_adds_nothing() {
    let (a, b, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ok(&cli(a.path(), &["cards", "add", "--title", "Say \"hi\", world", "--body", "two\nlines", "--tag", "x", "--lane", "Doing", "--pinned"], &[]));
    ok(&cli(a.path(), &["cards", "add", "--title", "同期", "--url", "https://example.jp/同期"], &[]));
    let f1 = out.path().join("one.json");
    let f1s = f1.to_str().unwrap();
    let r = json(&ok(&cli(a.path(), &["--json", "export", "--format", "json", "--out", f1s], &[])));
    assert_eq!(r["cards"], 2);
    let o = cli(b.path(), &["--json", "import", f1s], &[]);
    let r = json(&ok(&o));
    assert_eq!((r["format"].as_str(), r["created"].as_u64(), r["existing"].as_u64()), (Some("json"), Some(2), Some(0)));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("importing: 2/2"), "progress line: {stderr}");
    let f2 = out.path().join("two.json");
    ok(&cli(b.path(), &["export", "--format", "json", "--out", f2.to_str().unwrap()], &[]));
    assert_eq!(std::fs::read(&f1).unwrap(), std::fs::read(&f2).unwrap(), "export → import → export is byte-equal");
    let text = ok(&cli(b.path(), &["import", f1s], &[]));
    assert!(text.contains("0 created, 2 already here"), "{text}");
    assert_eq!(count(b.path()), 2);
}

#[test]
fn every_format_is_detected_and_imported_once() {
    let d = tempfile::tempdir().unwrap();
    let cases = [("cards.csv", "csv", 4), ("trello.json", "trello", 4), ("bookmarks.html", "bookmarks", 5), ("notes", "md", 3)];
    let mut total = 0;
    for (file, format, created) in cases {
        let p = data(file);
        let r = json(&ok(&cli(d.path(), &["--json", "import", p.to_str().unwrap()], &[])));
        assert_eq!((r["format"].as_str(), r["created"].as_u64()), (Some(format), Some(created)), "{file}: {r}");
        total += created as usize;
        let again = json(&ok(&cli(d.path(), &["--json", "import", p.to_str().unwrap(), "--format", format], &[])));
        assert_eq!(again["created"], 0, "{file}: {again}");
    }
    assert_eq!(count(d.path()), total);
    // The human report says what was left out and which columns were not imported.
    let e = tempfile::tempdir().unwrap();
    let text = ok(&cli(e.path(), &["import", data("cards.csv").to_str().unwrap()], &[]));
    assert!(text.contains("columns not imported (no such card field): Owner"), "{text}");
    let text = ok(&cli(e.path(), &["import", data("bookmarks.html").to_str().unwrap(), "--folders", "lane"], &[]));
    assert!(text.contains("left out: ") && text.contains("javascript: link"), "{text}");
    let lanes = ok(&cli(e.path(), &["cards", "list", "--lane", "Deep <nested>"], &[]));
    assert!(lanes.contains("Deep link"), "{lanes}");
}

#[test]
fn ten_thousand_bookmarks_report_progress_per_chunk() {
    let d = tempfile::tempdir().unwrap();
    let o = cli(d.path(), &["import", data("bookmarks-10k.html").to_str().unwrap()], &[]);
    let text = ok(&o);
    assert!(text.contains("10000 created"), "{text}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("importing: ")).collect();
    assert_eq!(lines.first(), Some(&"importing: 0/10000"));
    assert_eq!(lines.last(), Some(&"importing: 10000/10000"));
    assert_eq!(lines.len(), 21, "{stderr}");
}

#[test]
fn export_md_and_csv_with_a_query() {
    let (d, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ok(&cli(d.path(), &["import", data("trello.json").to_str().unwrap()], &[]));
    let dir = out.path().join("md");
    let r = json(&ok(&cli(d.path(), &["--json", "export", "--format", "md", "--out", dir.to_str().unwrap(), "--lane", "To Do"], &[])));
    assert_eq!(r["cards"], 2);
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert!(names[0].starts_with("first-in-to-do-") && names[1].starts_with("fix-the-sync-bug-"), "{names:?}");
    let f = std::fs::read_to_string(dir.join(&names[1])).unwrap();
    assert!(f.starts_with("---\nid: ") && f.contains("lane: To Do\n") && f.contains("\n---\nSteps:\n1. open"), "{f}");
    let csv = out.path().join("x.csv");
    ok(&cli(d.path(), &["export", "--format", "csv", "--out", csv.to_str().unwrap(), "--query", "éditeur"], &[]));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.starts_with("id,title,body,url,tags,lane,position,pinned\n") && text.contains("Réécrire l'éditeur"), "{text}");
}

#[test]
fn a_bad_file_fails_with_the_item_named_and_nothing_written() {
    let d = tempfile::tempdir().unwrap();
    for (file, want) in [("bad_url.csv", "line 3 is not a valid card: url"), ("bad.json", "cards[1]"), ("bad-md", "broken.md")] {
        let o = cli(d.path(), &["import", data(file).to_str().unwrap()], &[]);
        assert!(!o.status.success(), "{file} must fail");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(want), "{file}: {stderr}");
    }
    let o = cli(d.path(), &["import", data("trello.json").to_str().unwrap(), "--format", "csv"], &[]);
    assert!(!o.status.success());
    assert_eq!(count(d.path()), 0);
}
