//! `cards search` and `cards list --query` through `deckhand-cli` (offline): the search language
//! (substrings, CJK, tag:, lane:, -term) works end to end, `--json` too, and a bad `is:` value is
//! a clear error with a non-zero exit, never an FTS5 syntax error.

mod support;

use support::{cli, ok};

#[test]
fn search_language_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ok(&cli(dir, &["cards", "add", "--title", "データ同期の設計", "--tag", "work"], &[]));
    ok(&cli(dir, &["cards", "add", "--title", "Deploying v2", "--lane", "Doing"], &[]));
    ok(&cli(dir, &["cards", "add", "--title", "Deploy notes", "--tag", "work"], &[]));

    let titles = |args: &[&str]| -> Vec<String> {
        let mut a = args.to_vec();
        a.push("--json");
        let v: serde_json::Value = serde_json::from_str(&ok(&cli(dir, &a, &[]))).unwrap();
        let mut t: Vec<String> = v.as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap().to_string()).collect();
        t.sort();
        t
    };
    assert_eq!(titles(&["cards", "search", "同期"]), ["データ同期の設計"]);
    assert_eq!(titles(&["cards", "search", "ploy"]), ["Deploy notes", "Deploying v2"]);
    assert_eq!(titles(&["cards", "search", "ploy -tag:work"]), ["Deploying v2"]);
    assert_eq!(titles(&["cards", "list", "--query", "tag:work -同期"]), ["Deploy notes"]);
    assert_eq!(titles(&["cards", "list", "--lane", "Doing", "--query", "\"deploying v2\""]), ["Deploying v2"]);
    assert!(titles(&["cards", "search", "\"unclosed NEAR( *"]).is_empty());

    let bad = cli(dir, &["cards", "search", "is:bogus"], &[]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("is:pending") && !err.contains("fts5"), "{err}");

    let help = ok(&cli(dir, &["cards", "search", "--help"], &[]));
    for op in ["tag:x", "lane:y", "is:pending", "is:conflict", "is:pinned", "-term", "\"two words\""] {
        assert!(help.contains(op), "help lacks {op}: {help}");
    }
}
