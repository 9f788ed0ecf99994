//! The desktop commands through Tauri's mock runtime, against a real engine on a temp data dir
//! and a real deckhand-server on 127.0.0.1:0.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use deckhand_server::testing::TestServer;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{Listener, WebviewWindow, WebviewWindowBuilder};

fn invoke(webview: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().expect("json response"))
}

fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn commands_drive_a_real_engine_against_a_real_server() {
    let server_dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let server = tauri::async_runtime::block_on(TestServer::start(&server_dir.path().join("server.db")));
    let token = server.add_user("shell");

    // The real context: the real capability file decides which commands the window may call.
    let mut app = deckhand_app::builder(mock_builder()).build(tauri::generate_context!()).expect("app builds");
    deckhand_app::setup(&mut app, Some(data_dir.path().to_path_buf())).expect("engine opens");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    let (tx, events) = mpsc::channel::<Value>();
    app.listen_any("engine-event", move |e| {
        let _ = tx.send(serde_json::from_str(e.payload()).unwrap());
    });

    // Fresh install: no server, token masked.
    let s = invoke(&webview, "settings_get", json!({})).unwrap();
    assert_eq!(s["server_url"], Value::Null);
    assert_eq!(s["token_set"], false);

    // Offline write shows at once as pending.
    let card = invoke(&webview, "card_create", json!({ "input": { "title": "from the shell", "tags": ["a"] } })).unwrap();
    assert_eq!(card["title"], "from the shell");
    assert_eq!(card["sync_state"], "pending");
    let id = card["id"].as_str().unwrap().to_string();
    poll("cards_changed event", Duration::from_secs(5), || {
        events.try_recv().ok().filter(|e| e["type"] == "cards_changed" && e["ids"].to_string().contains(&id))
    });

    // Bad input is a typed error, never a bare string.
    let err = invoke(&webview, "card_update", json!({ "id": id, "changes": { "title": "   " } })).unwrap_err();
    assert_eq!(err["kind"], "validation", "{err}");
    assert!(err["message"].as_str().unwrap().contains("title"), "{err}");
    let err = invoke(&webview, "settings_set", json!({ "settings": {
        "server_url": "ftp://nope", "token": null, "token_set": false, "sync_enabled": true,
        "drain_window": 8, "theme": "dark", "first_run_done": true } }))
    .unwrap_err();
    assert_eq!(err["kind"], "config", "{err}");

    // Connecting applies at once (no restart) and the token never comes back.
    let saved = invoke(&webview, "settings_set", json!({ "settings": {
        "server_url": server.url(), "token": token, "token_set": false, "sync_enabled": true,
        "drain_window": 4, "theme": "dark", "first_run_done": true } }))
    .unwrap();
    assert_eq!(saved["token"], Value::Null);
    assert_eq!(saved["token_set"], true);
    assert_eq!(saved["drain_window"], 4);

    poll("card synced", Duration::from_secs(20), || {
        let c = invoke(&webview, "card_get", json!({ "id": id })).unwrap();
        (c["sync_state"] == "synced").then_some(())
    });
    let uuid = id.parse().unwrap();
    let on_server = server.storage().get_card(1, uuid).unwrap().expect("card reached the server");
    assert_eq!(on_server.title, "from the shell");
    assert_eq!(on_server.tags, vec!["a".to_string()]);

    let status = invoke(&webview, "sync_status", json!({})).unwrap();
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(invoke(&webview, "outbox_list", json!({})).unwrap(), json!([]));
    assert_eq!(invoke(&webview, "conflicts_list", json!({})).unwrap(), json!([]));
    let page = invoke(&webview, "cards_list", json!({ "query": { "text": "shell" } })).unwrap();
    assert_eq!(page["total"], 1, "{page}");
    let lanes = invoke(&webview, "lanes_list", json!({})).unwrap();
    // The card names "inbox"; the lane record (first-run default) is "Inbox": names match without case.
    assert_eq!(lanes[0]["lane"], "Inbox");

    // Moves and deletes go through the engine too, and reach the server.
    // The command takes neighbours, not a position: the engine picks it (end of an empty lane: 1).
    let moved = invoke(&webview, "card_move", json!({ "id": id, "lane": "doing", "before": null, "after": null })).unwrap();
    assert_eq!((moved["lane"].as_str(), moved["position"].as_f64()), (Some("doing"), Some(1.0)), "{moved}");
    invoke(&webview, "card_delete", json!({ "id": id })).unwrap();
    poll("delete on the server", Duration::from_secs(20), || {
        server.storage().get_card(1, uuid).unwrap().filter(|c| c.deleted).map(|_| ())
    });
    let history = invoke(&webview, "sync_history", json!({ "limit": 50 })).unwrap();
    assert!(history.as_array().is_some_and(|h| !h.is_empty()), "{history}");

    // Settings persist in the store file for the next start.
    let stored = std::fs::read_to_string(data_dir.path().join("settings.json")).unwrap();
    assert!(stored.contains(&server.url()));
    tauri::async_runtime::block_on(server.stop());
}

/// A database found corrupt at start: the app still starts, and the recovery commands report the
/// move-aside and offer the salvaged ops (docs/commands.md, "Recovery").
#[test]
fn recovery_commands_report_and_offer_salvaged_ops() {
    let data_dir = tempfile::tempdir().unwrap();
    tauri::async_runtime::block_on(async {
        let engine = deckhand_core::Engine::open(deckhand_core::EngineConfig::new(data_dir.path())).await.unwrap();
        for t in ["queued one", "queued two"] {
            engine.create(deckhand_core::model::NewCardInput { title: t.into(), ..Default::default() }).await.unwrap();
        }
        engine.shutdown().await;
    });
    // What the engine leaves when a corruption error shows up while the app runs.
    std::fs::write(data_dir.path().join("deckhand.db.needs-recovery"), "database disk image is malformed").unwrap();

    let mut app = deckhand_app::builder(mock_builder()).build(tauri::generate_context!()).expect("app builds");
    deckhand_app::setup(&mut app, Some(data_dir.path().to_path_buf())).expect("engine opens");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();

    let report = invoke(&webview, "recovery_report", json!({})).unwrap();
    let moved = report["moved_to"].as_str().unwrap();
    assert!(moved.contains("deckhand.db.corrupt-") && std::path::Path::new(moved).exists(), "{report}");
    assert!(report["reason"].as_str().unwrap().contains("malformed"), "{report}");
    assert_eq!(report["salvaged"], 2);
    assert_eq!(invoke(&webview, "sync_status", json!({})).unwrap()["recovery"], report);
    assert_eq!(invoke(&webview, "cards_list", json!({ "query": {} })).unwrap()["total"], 0, "fresh database");

    let ops = invoke(&webview, "recovery_list", json!({})).unwrap();
    let ops = ops.as_array().unwrap().clone();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["kind"], "create");
    assert_eq!(ops[0]["payload"]["title"], "queued one");
    let r = invoke(&webview, "recovery_requeue", json!({ "ids": [ops[0]["id"]] })).unwrap();
    assert_eq!(r, json!({ "requeued": 1, "skipped": 0, "kept": 0 }));
    assert_eq!(invoke(&webview, "outbox_list", json!({})).unwrap().as_array().unwrap().len(), 1);
    assert_eq!(invoke(&webview, "recovery_discard", json!({ "ids": [] })).unwrap(), 1);
    assert_eq!(invoke(&webview, "recovery_list", json!({})).unwrap(), json!([]));
    let page = invoke(&webview, "cards_list", json!({ "query": {} })).unwrap();
    assert_eq!(page["items"][0]["title"], "queued one", "{page}");
}

fn app_on(
    data_dir: &std::path::Path,
    adjust: impl FnOnce(&mut deckhand_core::EngineConfig),
) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let mut app = deckhand_app::builder(mock_builder()).build(tauri::generate_context!()).expect("app builds");
    deckhand_app::setup_with(&mut app, Some(data_dir.to_path_buf()), adjust).expect("engine opens");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    (app, webview)
}

fn seed_card(data_dir: &std::path::Path, title: &str) {
    tauri::async_runtime::block_on(async {
        let engine = deckhand_core::Engine::open(deckhand_core::EngineConfig::new(data_dir)).await.unwrap();
        engine.create(deckhand_core::model::NewCardInput { title: title.into(), ..Default::default() }).await.unwrap();
        engine.shutdown().await;
    });
}

/// Disk full and read-only reach the UI as `{kind, message}`; reads keep working; nothing is written.
#[test]
fn disk_full_and_read_only_are_typed_command_errors() {
    let data_dir = tempfile::tempdir().unwrap();
    seed_card(data_dir.path(), "kept");

    // A size cap at the current size (SQLite max_page_count): the next page is "the full disk".
    let (_app, webview) = app_on(data_dir.path(), |c| c.max_db_bytes = Some(1));
    let big = "x".repeat(20_000);
    let err = invoke(&webview, "card_create", json!({ "input": { "title": "big", "body": big } })).unwrap_err();
    assert_eq!(err["kind"], "disk_full", "{err}");
    assert!(err["message"].as_str().unwrap().contains("disk is full"), "{err}");
    let page = invoke(&webview, "cards_list", json!({ "query": {} })).unwrap();
    assert_eq!(page["total"], 1, "reads work, the failed card is absent: {page}");
    assert_eq!(invoke(&webview, "outbox_list", json!({})).unwrap().as_array().unwrap().len(), 1);
    drop(webview);
    drop(_app);

    let (_app, webview) = app_on(data_dir.path(), |c| c.read_only = true);
    let err = invoke(&webview, "card_create", json!({ "input": { "title": "new" } })).unwrap_err();
    assert_eq!(err["kind"], "read_only", "{err}");
    let id = invoke(&webview, "cards_list", json!({ "query": {} })).unwrap()["items"][0]["id"].clone();
    let err = invoke(&webview, "card_delete", json!({ "id": id })).unwrap_err();
    assert_eq!(err["kind"], "read_only", "{err}");
    assert_eq!(invoke(&webview, "cards_list", json!({ "query": {} })).unwrap()["total"], 1);
}

/// Saving a setting other than server/token never restarts sync: a restart would abort in-flight
/// sends, drop the change stream and re-pull. A token change still reconnects (the positive
/// control: the same probe sees it).
#[test]
fn only_a_server_or_token_change_reconnects() {
    let server_dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let server = tauri::async_runtime::block_on(TestServer::start(&server_dir.path().join("server.db")));
    let token = server.add_user("settings");
    let (app, webview) = app_on(data_dir.path(), |_| {});
    let (tx, events) = mpsc::channel::<Value>();
    app.listen_any("engine-event", move |e| {
        let _ = tx.send(serde_json::from_str(e.payload()).unwrap());
    });
    let settings = |theme: &str, drain: u32, token: Option<&str>| {
        json!({ "settings": { "server_url": server.url(), "token": token, "token_set": true, "sync_enabled": true,
            "drain_window": drain, "theme": theme, "first_run_done": true } })
    };
    invoke(&webview, "settings_set", settings("light", 8, Some(&token))).unwrap();
    poll("online", Duration::from_secs(20), || {
        let s = invoke(&webview, "sync_status", json!({})).unwrap();
        (s["connection"] == "online").then_some(())
    });
    // Everything seen so far is the first connect.
    while events.try_recv().is_ok() {}

    // Reconnecting announces `connecting` synchronously inside settings_set, before the marker
    // card's cards_changed: everything up to the marker tells whether a reconnect happened.
    let reconnected_before_marker = |title: &str| -> bool {
        let card = invoke(&webview, "card_create", json!({ "input": { "title": title } })).unwrap();
        let id = card["id"].as_str().unwrap().to_string();
        let mut reconnected = false;
        poll("marker event", Duration::from_secs(10), || {
            let e = events.try_recv().ok()?;
            if e["type"] == "connection_changed" && e["state"] == "connecting" {
                reconnected = true;
            }
            (e["type"] == "cards_changed" && e["ids"].to_string().contains(&id)).then_some(())
        });
        reconnected
    };
    invoke(&webview, "settings_set", settings("dark", 8, None)).unwrap();
    assert!(!reconnected_before_marker("after theme"), "a theme change restarted sync");
    invoke(&webview, "settings_set", settings("dark", 3, None)).unwrap();
    assert!(!reconnected_before_marker("after drain window"), "a drain window change restarted sync");
    invoke(&webview, "settings_set", settings("dark", 3, Some(&token))).unwrap();
    assert!(!reconnected_before_marker("after the same token"), "re-entering the same token restarted sync");

    let other = server.add_user("settings-2");
    invoke(&webview, "settings_set", settings("dark", 3, Some(&other))).unwrap();
    assert!(reconnected_before_marker("after a new token"), "a new token must reconnect");
    tauri::async_runtime::block_on(server.stop());
}
