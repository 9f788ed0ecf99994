//! `deckhand-cli undo` / `redo` against the real server: an edit undone in a later process (the
//! stack is in the database), sent by `sync run`, redone; `--json` and text; nothing to undo.

use std::path::Path;

use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;

mod support;
use support::{cli, json, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_and_redo_an_edit_across_processes() {
    let sdir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), ServerConfig::new(&sdir.path().join("s.db"))).await;
    let token = server.add_user("cli");
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (surl, stoken) = (url.clone(), token.clone());
    let rt = tokio::runtime::Handle::current();
    // Read on the blocking thread below: the server's copy, over plain HTTP.
    let server_title = move |id: &str| -> String {
        rt.block_on(async {
            let r = reqwest::Client::new().get(format!("{surl}/v1/cards/{id}")).bearer_auth(&stoken).send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()["title"].as_str().unwrap().to_string()
        })
    };
    tokio::task::spawn_blocking(move || {
        let env = [("DECKHAND_SERVER", url.as_str()), ("DECKHAND_TOKEN", token.as_str())];
        let sync = |d: &Path| ok(&cli(d, &["sync", "run", "--until-idle", "--timeout", "20"], &env));
        let none = json(&ok(&cli(&d, &["--json", "undo"], &[])));
        assert!(none.is_null(), "{none}");
        assert_eq!(ok(&cli(&d, &["redo"], &[])).trim(), "nothing to redo");
        let card = json(&ok(&cli(&d, &["--json", "cards", "add", "--title", "first"], &[])));
        let id = card["id"].as_str().unwrap().to_string();
        sync(&d);
        ok(&cli(&d, &["cards", "edit", &id, "--title", "second"], &[]));
        sync(&d);
        assert_eq!(server_title(&id), "second");

        let undone = json(&ok(&cli(&d, &["--json", "undo"], &[])));
        assert_eq!((undone["direction"].as_str(), undone["label"].as_str()), (Some("undo"), Some("edit \"first\"")), "{undone}");
        assert_eq!((undone["applied"][0]["effect"].as_str(), undone["applied"][0]["fields"][0].as_str()), (Some("edited"), Some("title")));
        assert_eq!(undone["skipped"].as_array().map(Vec::len), Some(0));
        sync(&d);
        assert_eq!(server_title(&id), "first");

        let text = ok(&cli(&d, &["redo"], &[]));
        assert!(text.starts_with("redo: edit \"first\" (done)") && text.contains("put back title"), "{text}");
        sync(&d);
        assert_eq!(server_title(&id), "second");
    })
    .await
    .unwrap();
}
