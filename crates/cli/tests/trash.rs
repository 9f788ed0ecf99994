//! `cards rm`, `cards trash` and `cards restore` through `deckhand-cli` against the real server:
//! a deleted card is listed in the Trash (on this and on another client, `--json` too), and a
//! restore brings it back with its id on both.

use std::path::Path;

use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;

mod support;
use support::{cli, json, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_trash_restore_round_trip_on_two_clients() {
    let sdir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), ServerConfig::new(&sdir.path().join("s.db"))).await;
    let token = server.add_user("cli");
    let url = server.url();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path().to_path_buf(), b.path().to_path_buf());
    tokio::task::spawn_blocking(move || {
        let env = [("DECKHAND_SERVER", url.as_str()), ("DECKHAND_TOKEN", token.as_str())];
        let sync = |d: &Path| ok(&cli(d, &["sync", "run", "--until-idle", "--timeout", "20"], &env));
        let card = json(&ok(&cli(&a, &["--json", "cards", "add", "--title", "bring me back", "--lane", "doing", "--tag", "x"], &[])));
        let id = card["id"].as_str().unwrap().to_string();
        sync(&a);
        ok(&cli(&a, &["cards", "rm", &id], &[]));
        let trash = json(&ok(&cli(&a, &["--json", "cards", "trash"], &[])));
        assert_eq!(trash.as_array().unwrap().len(), 1, "{trash}");
        assert_eq!((trash[0]["id"].as_str(), trash[0]["title"].as_str(), trash[0]["deleted"].as_bool()), (Some(id.as_str()), Some("bring me back"), Some(true)));
        sync(&a);
        sync(&b);
        // The other client has it in its Trash, in text too, and restores it.
        let text = ok(&cli(&b, &["cards", "trash"], &[]));
        assert!(text.contains(&id) && text.contains("bring me back"), "{text}");
        let back = json(&ok(&cli(&b, &["--json", "cards", "restore", &id], &[])));
        assert_eq!((back["id"].as_str(), back["lane"].as_str(), back["tags"][0].as_str()), (Some(id.as_str()), Some("doing"), Some("x")));
        assert!(json(&ok(&cli(&b, &["--json", "cards", "trash"], &[]))).as_array().unwrap().is_empty());
        sync(&b);
        sync(&a);
        let shown = json(&ok(&cli(&a, &["--json", "cards", "show", &id], &[])));
        assert_eq!((shown["title"].as_str(), shown["confirmed_version"].as_i64()), (Some("bring me back"), Some(3)));
        assert!(json(&ok(&cli(&a, &["--json", "cards", "trash"], &[]))).as_array().unwrap().is_empty());
        // A live card cannot be restored: a clear error, not a crash.
        let again = cli(&a, &["cards", "restore", &id], &[]);
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("not in the trash"), "{}", String::from_utf8_lossy(&again.stderr));
        // Deleted again and the Trash emptied: gone here and on the server.
        ok(&cli(&a, &["cards", "rm", &id], &[]));
        sync(&a);
        let emptied = json(&ok(&cli(&a, &["--json", "cards", "trash", "--empty"], &env)));
        assert_eq!(emptied["purged"], 1);
        assert!(json(&ok(&cli(&a, &["--json", "cards", "trash"], &[]))).as_array().unwrap().is_empty());
        let gone = cli(&a, &["cards", "restore", &id], &[]);
        assert!(!gone.status.success());
    })
    .await
    .unwrap();
    server.stop().await;
}
