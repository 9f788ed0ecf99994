//! `cards history` and `cards revert` through `deckhand-cli` against the real server (`--json`
//! and text), and revert's edit reaching the server on the next sync.

use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;

mod support;
use support::{cli, json, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_revert_end_to_end() {
    let sdir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), ServerConfig::new(&sdir.path().join("s.db"))).await;
    let token = server.add_user("cli");
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let env = [("DECKHAND_SERVER", url.as_str()), ("DECKHAND_TOKEN", token.as_str())];
        let sync = || ok(&cli(&d, &["sync", "run", "--until-idle", "--timeout", "20"], &env));
        let card = json(&ok(&cli(&d, &["--json", "cards", "add", "--title", "one"], &[])));
        let id = card["id"].as_str().unwrap().to_string();
        sync();
        ok(&cli(&d, &["cards", "edit", &id, "--title", "two"], &[]));
        sync();
        let hist = json(&ok(&cli(&d, &["--json", "cards", "history", &id], &env)));
        let titles: Vec<(i64, &str)> = hist.as_array().unwrap().iter().map(|v| (v["card"]["version"].as_i64().unwrap(), v["card"]["title"].as_str().unwrap())).collect();
        assert_eq!(titles, vec![(2, "two"), (1, "one")]);
        let text = ok(&cli(&d, &["cards", "history", &id], &env));
        assert!(text.lines().next().unwrap().starts_with("v2 ") && text.contains("one"), "{text}");
        // Without a server, history says so.
        let off = cli(&d, &["cards", "history", &id], &[]);
        assert!(!off.status.success() && String::from_utf8_lossy(&off.stderr).contains("needs a server"));
        // Revert offline (this device kept v1), then sync.
        let back = json(&ok(&cli(&d, &["--json", "cards", "revert", &id, "--version", "1"], &[])));
        assert_eq!(back["title"], "one");
        sync();
        let hist = json(&ok(&cli(&d, &["--json", "cards", "history", &id, "--limit", "1"], &env)));
        assert_eq!((hist[0]["card"]["version"].as_i64(), hist[0]["card"]["title"].as_str()), (Some(3), Some("one")));
    })
    .await
    .unwrap();
    server.stop().await;
    drop(dir);
}
