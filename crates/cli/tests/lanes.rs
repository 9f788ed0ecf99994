//! `deckhand-cli lanes list|add|rename|move|rm` against the real server: the first-run lanes,
//! a rename that moves its cards, a reorder and a removal (cards moved or trashed) reach another
//! client; `--json` on each; a taken name fails cleanly.

mod support;

use std::path::Path;

use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use support::{cli, ok};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn names(dir: &Path) -> Vec<String> {
    let v = json(&ok(&cli(dir, &["--json", "lanes", "list"], &[])));
    v.as_array().unwrap().iter().map(|l| l["lane"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_commands_sync_between_two_clients() {
    let sdir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), ServerConfig::new(&sdir.path().join("s.db"))).await;
    let token = server.add_user("cli");
    let url = server.url();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path().to_path_buf(), b.path().to_path_buf());
    tokio::task::spawn_blocking(move || {
        let env = [("DECKHAND_SERVER", url.as_str()), ("DECKHAND_TOKEN", token.as_str())];
        let sync = |d: &Path| ok(&cli(d, &["sync", "run", "--until-idle", "--timeout", "20"], &env));
        // First run: the default lanes, queued until synced.
        let first = json(&ok(&cli(&a, &["--json", "lanes", "list"], &[])));
        assert_eq!(first.as_array().unwrap().len(), 3, "{first}");
        assert_eq!((first[0]["lane"].as_str(), first[0]["pending"].as_bool()), (Some("Inbox"), Some(true)));
        let card = json(&ok(&cli(&a, &["--json", "cards", "add", "--title", "c", "--lane", "doing"], &[])));
        let id = card["id"].as_str().unwrap().to_string();
        ok(&cli(&a, &["--json", "lanes", "add", "Ideas"], &[]));
        let renamed = json(&ok(&cli(&a, &["--json", "lanes", "rename", "Doing", "Now"], &[])));
        assert_eq!(renamed["moved"][0].as_str(), Some(id.as_str()));
        // A taken name: non-zero exit, one clear line.
        let taken = cli(&a, &["lanes", "rename", "Now", "ideas"], &[]);
        assert!(!taken.status.success());
        assert!(String::from_utf8_lossy(&taken.stderr).contains("exists already"), "{}", String::from_utf8_lossy(&taken.stderr));
        let moved = json(&ok(&cli(&a, &["--json", "lanes", "move", "Ideas", "--before", "Inbox"], &[])));
        assert_eq!(moved[0]["lane"].as_str(), Some("Ideas"));
        assert_eq!(names(&a), ["Ideas", "Inbox", "Now", "Done"]);
        let text = ok(&cli(&a, &["lanes", "list"], &[]));
        assert!(text.contains("Now  (1 card)"), "{text}");
        sync(&a);
        sync(&b);
        assert_eq!(names(&b), ["Ideas", "Inbox", "Now", "Done"]);
        let on_b = json(&ok(&cli(&b, &["--json", "cards", "show", &id], &[])));
        assert_eq!(on_b["lane"].as_str(), Some("Now"));
        // Remove "Now" on b, its card to "Done"; remove "Ideas" to the Trash.
        let rm = json(&ok(&cli(&b, &["--json", "lanes", "rm", "Now", "--move-to", "Done"], &[])));
        assert_eq!(rm["cards"][0].as_str(), Some(id.as_str()));
        ok(&cli(&b, &["lanes", "rm", "Ideas", "--trash"], &[]));
        assert!(!cli(&b, &["lanes", "rm", "Inbox"], &[]).status.success(), "rm must say where the cards go");
        sync(&b);
        sync(&a);
        assert_eq!(names(&a), ["Inbox", "Done"]);
        let on_a = json(&ok(&cli(&a, &["--json", "cards", "show", &id], &[])));
        assert_eq!(on_a["lane"].as_str(), Some("Done"));
    })
    .await
    .unwrap();
}
