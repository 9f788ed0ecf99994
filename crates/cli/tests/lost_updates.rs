//! "Never lose an edit" end to end: two `deckhand-cli` data dirs (one user) against a real
//! `deckhand-server`, as a new user would try it (issue scenarios 1-3). Each asserts what the
//! server ends with.

use std::path::Path;
use std::process::{Command, Output};

use deckhand_server::testing::TestServer;

struct Device {
    dir: tempfile::TempDir,
    url: String,
    token: String,
}

impl Device {
    fn new(server: &TestServer, token: &str) -> Device {
        Device { dir: tempfile::tempdir().unwrap(), url: server.url(), token: token.to_string() }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_deckhand-cli"));
        c.arg("--data-dir").arg(self.dir.path()).args(["--server", &self.url, "--token", &self.token]).args(args);
        for k in ["RUST_LOG", "DECKHAND_SERVER", "DECKHAND_TOKEN", "DECKHAND_JOURNAL", "DECKHAND_BATCH_MAX"] {
            c.env_remove(k);
        }
        c.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?} failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// `sync run --until-idle`; returns the exit code (0 idle, 4 conflicts).
    fn sync(&self) -> i32 {
        self.run(&["sync", "run", "--until-idle", "--timeout", "30"]).status.code().unwrap()
    }
}

async fn server_card(server: &TestServer, token: &str, id: &str) -> serde_json::Value {
    let r = reqwest::Client::new().get(format!("{}/v1/cards/{id}", server.url())).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "GET card {id}: {}", r.status());
    r.json().await.unwrap()
}

async fn setup() -> (TestServer, String, tempfile::TempDir, Device, Device, String) {
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&server_dir.path().join("server.db")).await;
    let token = server.add_user("alice");
    let (a, b) = (Device::new(&server, &token), Device::new(&server, &token));
    let card = a.json(&["cards", "add", "--title", "v1", "--body", "l1\nl2\nl3\nl4\n"]);
    let id = card["id"].as_str().unwrap().to_string();
    assert_eq!(a.sync(), 0);
    assert_eq!(b.sync(), 0);
    (server, token, server_dir, a, b, id)
}

fn path_of(dir: &Path, name: &str, body: &serde_json::Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

/// Scenario 1: keep theirs is final even for an edit made while the conflict was open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_theirs_wins_over_an_edit_made_while_the_conflict_was_open() {
    let (server, token, _sd, a, b, id) = setup().await;
    a.ok(&["cards", "edit", &id, "--title", "A1"]);
    b.ok(&["cards", "edit", &id, "--title", "B1"]);
    assert_eq!(b.sync(), 0);
    assert_eq!(a.sync(), 4, "a conflict");
    a.ok(&["cards", "edit", &id, "--title", "A2"]);
    let conflicts = a.json(&["conflicts", "list"]);
    assert_eq!(conflicts[0]["mine"]["title"], "A2", "the open conflict shows the edit made since");
    a.ok(&["conflicts", "resolve", &id, "--keep", "theirs"]);
    assert_eq!(a.sync(), 0);
    assert_eq!(server_card(&server, &token, &id).await["title"], "B1");

    // Merged, choosing theirs for the title a later edit touched.
    a.ok(&["cards", "edit", &id, "--title", "A3"]);
    b.ok(&["cards", "edit", &id, "--title", "B3"]);
    assert_eq!(b.sync(), 0);
    assert_eq!(a.sync(), 4);
    a.ok(&["cards", "edit", &id, "--title", "A4", "--pinned", "true"]);
    let rec = a.json(&["conflicts", "list"])[0].clone();
    let mut merged = rec["suggested"].clone();
    merged["title"] = rec["theirs"]["title"].clone();
    let file = path_of(a.dir.path(), "merged.json", &merged);
    a.ok(&["conflicts", "resolve", &id, "--merged", &file]);
    assert_eq!(a.sync(), 0);
    let s = server_card(&server, &token, &id).await;
    assert_eq!((s["title"].as_str(), s["pinned"].as_bool()), (Some("B3"), Some(true)), "{s}");
}

/// Scenario 2: an edit queued behind an open conflict merges with a remote change it never saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_behind_a_conflict_keeps_its_base() {
    let (server, token, _sd, a, b, id) = setup().await;
    a.ok(&["cards", "edit", &id, "--title", "A1"]);
    b.ok(&["cards", "edit", &id, "--title", "B1"]);
    assert_eq!(b.sync(), 0);
    assert_eq!(a.sync(), 4);
    a.ok(&["cards", "edit", &id, "--body", "L1 by A\nl2\nl3\nl4\n"]);
    b.ok(&["cards", "edit", &id, "--body", "l1\nl2\nl3\nL4 by B\n"]);
    assert_eq!(b.sync(), 0);
    assert_eq!(a.sync(), 4, "A pulls B's body; the conflict stays open");
    a.ok(&["conflicts", "resolve", &id, "--keep", "mine"]);
    assert_eq!(a.sync(), 0);
    let s = server_card(&server, &token, &id).await;
    assert_eq!((s["title"].as_str(), s["body"].as_str()), (Some("A1"), Some("L1 by A\nl2\nl3\nL4 by B\n")), "{s}");
}

/// Scenario 3: an edit made on the version `cards show` printed merges with what landed since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_on_an_older_version_merges_with_what_landed_since() {
    let (server, token, _sd, a, b, id) = setup().await;
    let shown = a.json(&["cards", "show", &id]);
    let version = shown["confirmed_version"].as_i64().unwrap().to_string();
    b.ok(&["cards", "edit", &id, "--body", "l1\nl2\nl3\nL4 by B\n"]);
    assert_eq!(b.sync(), 0);
    assert_eq!(a.sync(), 0, "A pulls B's edit");
    a.ok(&["cards", "edit", &id, "--body", "L1 by A\nl2\nl3\nl4\n", "--base-version", &version]);
    assert_eq!(a.sync(), 0);
    assert_eq!(server_card(&server, &token, &id).await["body"], "L1 by A\nl2\nl3\nL4 by B\n");
}
