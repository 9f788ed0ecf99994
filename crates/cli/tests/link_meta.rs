//! `cards refresh-meta`, `cards broken` and `cards add --unique-url` through the real
//! `deckhand-cli` against a local web server (axum on 127.0.0.1:0) and the real sync server:
//! metadata fetched by one client is shown by another that never fetched.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use support::{cli, ok};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

async fn site(hits: Arc<AtomicUsize>) -> String {
    let page = r#"<html><head><title>Fallback</title><meta property="og:title" content="Release notes">
        <meta property="og:site_name" content="Deckhand"><meta name="description" content="What changed"></head></html>"#;
    let app = Router::new()
        .route(
            "/notes",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async move { ([(header::CONTENT_TYPE, "text/html")], page).into_response() }
            }),
        )
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_broken_and_duplicates_from_the_command_line() {
    let hits = Arc::new(AtomicUsize::new(0));
    let web = site(hits.clone()).await;
    let sdir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), ServerConfig::new(&sdir.path().join("s.db"))).await;
    let token = server.add_user("cli");
    let url = server.url();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path().to_path_buf(), b.path().to_path_buf());
    tokio::task::spawn_blocking(move || {
        let env = [("DECKHAND_SERVER", url.as_str()), ("DECKHAND_TOKEN", token.as_str())];
        let sync = |d: &std::path::Path| ok(&cli(d, &["sync", "run", "--until-idle", "--timeout", "20"], &env));
        let notes = format!("{web}/notes");
        let card = json(&ok(&cli(&a, &["--json", "cards", "add", "--title", "notes", "--url", &notes], &[])));
        let id = card["id"].as_str().unwrap().to_string();
        let gone = json(&ok(&cli(&a, &["--json", "cards", "add", "--title", "dead link", "--url", &format!("{web}/gone")], &[])));

        // One card, --json: the card with its metadata.
        let one = json(&ok(&cli(&a, &["--json", "cards", "refresh-meta", &id], &[])));
        assert_eq!(one["link_meta"]["title"], "Release notes", "{one}");
        assert_eq!(one["link_meta"]["status"], "ok");
        // All cards: a summary.
        let all = json(&ok(&cli(&a, &["--json", "cards", "refresh-meta", "--all"], &[])));
        assert_eq!((all["refreshed"].as_u64(), all["ok"].as_u64(), all["broken"].as_u64()), (Some(2), Some(1), Some(1)), "{all}");
        let text = ok(&cli(&a, &["cards", "refresh-meta", "--all", "--stale"], &[]));
        assert!(text.starts_with("refreshed 0:"), "{text}");

        let broken = json(&ok(&cli(&a, &["--json", "cards", "broken"], &[])));
        assert_eq!(broken.as_array().unwrap().len(), 1, "{broken}");
        assert_eq!(broken[0]["id"], gone["id"]);
        assert_eq!(broken[0]["link_meta"]["http_status"], 404);
        let text = ok(&cli(&a, &["cards", "broken"], &[]));
        assert!(text.contains("dead link") && text.contains("404"), "{text}");

        // The same URL written differently is a duplicate with --unique-url (exit 3, the
        // existing card printed); without the flag it is added anyway.
        let same = format!("{}/notes/?utm_campaign=x#top", web.to_uppercase().replace("HTTP://", "http://"));
        let dup = cli(&a, &["--json", "cards", "add", "--title", "again", "--url", &same, "--unique-url"], &[]);
        assert_eq!(dup.status.code(), Some(3), "{}", String::from_utf8_lossy(&dup.stderr));
        assert_eq!(json(&String::from_utf8(dup.stdout).unwrap())["duplicate"]["id"].as_str(), Some(id.as_str()));
        ok(&cli(&a, &["cards", "add", "--title", "again", "--url", &same], &[]));

        // Another client shows the metadata without fetching the page.
        sync(&a);
        sync(&b);
        let fetched = hits.load(Ordering::SeqCst);
        let shown = ok(&cli(&b, &["cards", "show", &id], &[]));
        assert!(shown.contains("Deckhand — Release notes") && shown.contains("What changed"), "{shown}");
        assert_eq!(hits.load(Ordering::SeqCst), fetched, "B did not fetch");
    })
    .await
    .unwrap();
}
