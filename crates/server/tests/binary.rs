//! The `deckhand-server` binary: `user add` prints a token that `serve` accepts; SIGTERM exits 0.

mod support;

use std::process::{Command, Stdio};

use support::{DEADLINE, Harness};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_deckhand-server");

fn user_add(db: &std::path::Path, name: &str) -> std::process::Output {
    Command::new(BIN).args(["user", "add", name, "--db"]).arg(db).output().expect("run user add")
}

/// Starts `serve --listen 127.0.0.1:0` and returns the child and the URL from its stdout.
async fn serve(db: &std::path::Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.trim().to_string();
            }
        }
        panic!("serve exited without a listening line");
    })
    .await
    .expect("no listening line before the deadline");
    (child, url)
}

async fn terminate(mut child: tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().expect("child pid").to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
    assert!(kill.success());
    tokio::time::timeout(DEADLINE, child.wait()).await.expect("serve did not exit after SIGTERM").unwrap()
}

#[tokio::test]
async fn user_add_token_works_against_serve_and_sigterm_exits_0() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("bin.db");
    let out = user_add(&db, "ann");
    assert!(out.status.success(), "user add failed: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("dh_") && token.len() > 40, "token {token:?}");
    // A second user of the same name is refused.
    assert!(!user_add(&db, "ann").status.success());

    let (child, url) = serve(&db).await;
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    let http = reqwest::Client::new();
    let ok = http.get(format!("{url}/v1/cards")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let bad = http.get(format!("{url}/v1/cards")).bearer_auth("dh_wrong").send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    // An open event stream must not keep the server from exiting.
    let events = http.get(format!("{url}/v1/events")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(events.status().as_u16(), 200);

    let status = terminate(child).await;
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    drop(events);
}

#[tokio::test]
async fn sigterm_right_after_the_listening_line_is_graceful() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("bin.db");
    assert!(user_add(&db, "ann").status.success());
    for _ in 0..3 {
        let (child, _) = serve(&db).await;
        let status = terminate(child).await;
        assert_eq!(status.code(), Some(0), "exit status {status:?}");
    }
}

#[tokio::test]
async fn data_written_by_the_binary_is_readable_in_process() {
    // The binary and the library share one schema: a user added by the CLI works in TestServer.
    let dir = TempDir::new().unwrap();
    let db = support::db_path(&dir);
    let out = user_add(&db, "ann");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let server = deckhand_server::testing::TestServer::start(&db).await;
    let h = Harness { server, dir, http: reqwest::Client::new() };
    assert_eq!(h.client(&token).get("/v1/cards").await.status, 200);
}

#[test]
fn help_lists_the_commands_and_serve_flags() {
    let top = Command::new(BIN).arg("--help").output().unwrap();
    let top = String::from_utf8(top.stdout).unwrap();
    assert!(top.contains("serve") && top.contains("user"), "{top}");
    let serve = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    let serve = String::from_utf8(serve.stdout).unwrap();
    assert!(serve.contains("--db") && serve.contains("--listen"), "{serve}");
}
