//! `--journal PATH` / `DECKHAND_JOURNAL`: one JSON line per local edit with the values the card
//! showed before and the fields written (what the chaos oracle reads; docs/reliability.md). The
//! resolution entries are exercised against a real server by tests/chaos/scenarios.rs.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deckhand-cli"));
    c.arg("--data-dir").arg(dir.join("data")).args(args).env_remove("RUST_LOG");
    for k in ["DECKHAND_SERVER", "DECKHAND_TOKEN", "DECKHAND_READ_ONLY", "DECKHAND_MAX_DB_BYTES", "DECKHAND_JOURNAL"] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> Value {
    assert!(o.status.success(), "failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn edits_are_journaled_with_what_the_card_showed_before() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = dir.join("journal.jsonl");
    let js = j.to_str().unwrap();
    let card = ok(&cli(dir, &["--json", "--journal", js, "cards", "add", "--title", "t0", "--body", "m\nx", "--tag", "red"], &[]));
    let id = card["id"].as_str().unwrap();
    // Through the environment variable too.
    ok(&cli(dir, &["--json", "cards", "edit", id, "--title", "t1", "--body", "m\nx"], &[("DECKHAND_JOURNAL", js)]));
    ok(&cli(dir, &["--json", "--journal", js, "cards", "mv", id, "--lane", "done", "--position", "7"], &[]));
    // Not journaled: no --journal.
    ok(&cli(dir, &["--json", "cards", "edit", id, "--title", "t2"], &[]));
    ok(&cli(dir, &["--json", "--journal", js, "cards", "rm", id], &[]));

    let l = lines(&j);
    assert_eq!(l.len(), 4, "create, edit, mv, delete: {l:#?}");
    assert_eq!((l[0]["kind"].as_str(), l[0]["card"].as_str()), (Some("create"), Some(id)));
    assert_eq!(l[0]["wrote"]["title"], "t0");
    assert_eq!(l[0]["wrote"]["tags"], serde_json::json!(["red"]));

    assert_eq!(l[1]["kind"], "edit");
    assert_eq!(l[1]["before"]["title"], "t0", "the value the card showed before the edit");
    assert_eq!(l[1]["before"]["sync_state"], "pending");
    assert_eq!(l[1]["wrote"], serde_json::json!({ "title": "t1" }), "only fields whose value changed (the body was the same)");

    assert_eq!((l[2]["kind"].as_str(), l[2]["op"].as_str()), (Some("edit"), Some("mv")));
    assert_eq!(l[2]["before"]["lane"], "inbox");
    assert_eq!(l[2]["wrote"], serde_json::json!({ "lane": "done", "position": 7.0 }));

    assert_eq!(l[3]["kind"], "delete");
    assert_eq!(l[3]["before"]["title"], "t2", "the delete saw the unjournaled edit");
}

#[test]
fn script_ops_are_journaled_and_refused_ops_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = dir.join("journal.jsonl");
    let card = ok(&cli(dir, &["--json", "cards", "add", "--title", "t0"], &[]));
    let id = card["id"].as_str().unwrap();
    let ops = serde_json::json!([
        { "op": "edit", "id": id, "changes": { "title": "s1" } },
        { "op": "edit", "id": "01900000-0000-7000-8000-000000000009", "changes": { "title": "nobody" } },
        { "op": "mv", "id": id, "lane": "doing", "position": null },
    ]);
    let file = dir.join("ops.json");
    std::fs::write(&file, ops.to_string()).unwrap();
    let results = ok(&cli(dir, &["--json", "--journal", j.to_str().unwrap(), "script", file.to_str().unwrap()], &[]));
    assert_eq!(results[1]["ok"], false);
    let l = lines(&j);
    assert_eq!(l.len(), 2, "{l:#?}");
    assert_eq!((l[0]["before"]["title"].as_str(), l[0]["wrote"]["title"].as_str()), (Some("t0"), Some("s1")));
    // The engine put the card at the end of the empty lane: position 1, as it was in "inbox", so
    // only the lane changed.
    assert_eq!(l[1]["before"]["position"], 1.0);
    assert_eq!(l[1]["wrote"], serde_json::json!({ "lane": "doing" }), "{}", l[1]);
}
