//! Issue 9, scenario 8 through `deckhand-cli`: the server's database is restored from a backup
//! taken before some of this client's writes; the next `sync run` notices (its cursor is beyond
//! the server's last seq), resyncs and offers those writes again; `sync status --json` shows it.

mod support;

use std::path::Path;
use std::time::Duration;

use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use support::{cli, ok};

fn titles(dir: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&ok(&cli(dir, &["--json", "cards", "list"], &[]))).unwrap();
    let mut t: Vec<String> = v.as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap().to_string()).collect();
    t.sort();
    t
}

/// Copy a stopped SQLite database (with its -wal and -shm, present or not) over `to`.
fn copy_db(from: &Path, to: &Path) {
    for s in ["", "-wal", "-shm"] {
        let (f, t) = (format!("{}{s}", from.display()), format!("{}{s}", to.display()));
        let _ = std::fs::remove_file(&t);
        if Path::new(&f).exists() {
            std::fs::copy(&f, &t).unwrap();
        }
    }
}

async fn start(db: &Path, addr: Option<std::net::SocketAddr>) -> TestServer {
    let mut cfg = ServerConfig::new(db);
    cfg.heartbeat = Duration::from_secs(1);
    let l = tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap())).await.unwrap();
    TestServer::start_on(l, cfg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_server_gets_back_what_the_cli_client_held() {
    let sdir = tempfile::tempdir().unwrap();
    let (db, backup) = (sdir.path().join("server.db"), sdir.path().join("backup.db"));
    let server = start(&db, None).await;
    let token = server.add_user("cli");
    let (url, addr) = (server.url(), server.addr());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let online = move |d: &Path, args: &[&str]| ok(&cli(d, args, &[("DECKHAND_SERVER", url.as_str()), ("DECKHAND_TOKEN", token.as_str())]));
    let online2 = online.clone();
    let d2 = d.clone();
    tokio::task::spawn_blocking(move || {
        for t in ["one", "two"] {
            ok(&cli(&d2, &["cards", "add", "--title", t], &[]));
        }
        online2(&d2, &["sync", "run", "--until-idle", "--timeout", "20"]);
    })
    .await
    .unwrap();
    // A cold backup: the server stopped, its database files copied as they are.
    server.stop().await;
    copy_db(&db, &backup);
    let server = start(&db, Some(addr)).await;
    let d3 = d.clone();
    let online3 = online.clone();
    tokio::task::spawn_blocking(move || {
        ok(&cli(&d3, &["cards", "add", "--title", "three, after the backup"], &[]));
        online3(&d3, &["sync", "run", "--until-idle", "--timeout", "20"]);
        // Once more with nothing queued: the cursor passes the seq of "three" (a restore without
        // reset-epoch shows only to a client whose cursor is beyond the restored last seq).
        online3(&d3, &["sync", "run", "--until-idle", "--timeout", "20"]);
    })
    .await
    .unwrap();

    server.stop().await;
    copy_db(&backup, &db);
    let server = start(&db, Some(addr)).await;

    let d4 = d.clone();
    tokio::task::spawn_blocking(move || {
        online(&d4, &["sync", "run", "--until-idle", "--timeout", "20"]);
        let status: serde_json::Value = serde_json::from_str(&online(&d4, &["--json", "sync", "status"])).unwrap();
        assert_eq!(status["last_resync"]["reason"], "cursor_ahead", "{status}");
        assert_eq!(status["last_resync"]["reoffered"], 1, "{status}");
        let text = online(&d4, &["sync", "status"]);
        assert!(text.contains("server restore: resynced") && text.contains("1 card(s) offered again"), "{text}");
        // A second client sees all three on the restored server.
        let other = tempfile::tempdir().unwrap();
        online(other.path(), &["sync", "run", "--until-idle", "--timeout", "20"]);
        let want = vec!["one".to_string(), "three, after the backup".to_string(), "two".to_string()];
        assert_eq!(titles(other.path()), want);
        assert_eq!(titles(&d4), want);
    })
    .await
    .unwrap();
    server.stop().await;
}
