//! Link metadata against real local web servers (axum on 127.0.0.1:0 in the test): the pages a
//! fetcher meets in the wild, each within its limits. Nothing here reaches the internet.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use deckhand_core::link::{FetchLimits, LinkFetcher};
use deckhand_protocol::LinkStatus;

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41,
    0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

const OG_PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8">
<title>Plain title</title>
<meta property="og:title" content="Sync that never loses an edit">
<meta property="og:description" content="How Deckhand keeps cards in step.">
<meta property="og:site_name" content="Deckhand Blog">
<link rel="icon" href="/static/icon.png">
</head><body><p>Hello</p></body></html>"#;

fn html(body: impl Into<Body>) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.into()).into_response()
}

struct Site {
    base: String,
    /// Requests for `/og` so far (who fetched the page).
    og_hits: Arc<AtomicUsize>,
    /// Most `/item/{n}` requests in flight at once.
    max_in_flight: Arc<AtomicUsize>,
    /// Bytes of `/huge` handed to the connection so far.
    huge_sent: Arc<AtomicUsize>,
}

const HUGE_BYTES: usize = 32 * 1024 * 1024;

async fn site() -> Site {
    let huge_sent = Arc::new(AtomicUsize::new(0));
    let sent = huge_sent.clone();
    let og_hits = Arc::new(AtomicUsize::new(0));
    let hits = og_hits.clone();
    let (in_flight, max_in_flight) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (now, max) = (in_flight.clone(), max_in_flight.clone());
    let app = Router::new()
        .route(
            "/og",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { html(OG_PAGE) }
            }),
        )
        .route(
            "/item/{n}",
            get(move |axum::extract::Path(n): axum::extract::Path<u32>| {
                let (now, max) = (now.clone(), max.clone());
                async move {
                    let cur = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(cur, Ordering::SeqCst);
                    // Server latency, so that fetches overlap when the client lets them (only an
                    // upper bound on the overlap is asserted, never a duration).
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    if n % 3 == 0 { (StatusCode::GONE, html("gone")) } else { (StatusCode::OK, html(format!("<title>Item {n}</title>"))) }
                }
            }),
        )
        .route("/static/icon.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], PNG).into_response() }))
        .route("/title-only", get(|| async { html("<html><head><title>  Just a\n title </title></head><body>x</body></html>") }))
        .route(
            "/huge",
            get(move || {
                let sent = sent.clone();
                async move {
                    // The head first, then 32 MiB of filler streamed in 64 KiB chunks.
                    let head = futures::stream::once(async { Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"<html><head><title>Huge page</title></head><body>")) });
                    let filler = futures::stream::iter(0..HUGE_BYTES / 65536).map(move |_| {
                        sent.fetch_add(65536, Ordering::SeqCst);
                        Ok(bytes::Bytes::from(vec![b'a'; 65536]))
                    });
                    html(Body::from_stream(head.chain(filler)))
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                // Far beyond the fetcher's timeout; the test never waits for it.
                tokio::time::sleep(Duration::from_secs(600)).await;
                html("<title>too late</title>")
            }),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/hop/1", get(|| async { Redirect::permanent("/hop/2") }))
        .route("/hop/2", get(|| async { Redirect::to("/og") }))
        .route("/file.pdf", get(|| async { ([(header::CONTENT_TYPE, "application/pdf")], "%PDF-1.4").into_response() }))
        .route(
            "/latin1",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/html; charset=ISO-8859-1")], &b"<title>Caf\xe9 cr\xe8me</title>"[..]).into_response()
            }),
        )
        .route("/latin1-meta", get(|| async { ([(header::CONTENT_TYPE, "text/html")], &b"<meta charset=\"windows-1252\"><title>\x93Quoted\x94 na\xefve</title>"[..]).into_response() }))
        .route("/broken-utf8", get(|| async { html(&b"<title>Bad \xff\xfe bytes</title>"[..]) }))
        .route(
            "/data-icon",
            get(|| async { html("<title>D</title><link rel=\"shortcut icon\" href=\"data:image/png;base64,iVBORw0KGgo=\">") }),
        )
        .route("/big-icon-page", get(|| async { html("<title>B</title><link rel=icon href=/big.png>") }))
        .route("/big.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0u8; 200 * 1024]).into_response() }))
        .route("/gone", get(|| async { (StatusCode::NOT_FOUND, html("<title>Not found</title>")) }))
        .route("/favicon.ico", get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], PNG).into_response() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site { base, huge_sent, og_hits, max_in_flight }
}

use futures::StreamExt;

fn fetcher() -> LinkFetcher {
    LinkFetcher::new(FetchLimits { timeout: Duration::from_millis(1500), ..FetchLimits::default() })
}

fn png_uri() -> String {
    use base64::Engine as _;
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(PNG))
}

#[tokio::test]
async fn open_graph_page_gives_title_description_site_and_icon() {
    let s = site().await;
    let m = fetcher().fetch(&format!("{}/og", s.base)).await;
    assert_eq!(m.status, LinkStatus::Ok, "{m:?}");
    assert_eq!(m.title.as_deref(), Some("Sync that never loses an edit"));
    assert_eq!(m.description.as_deref(), Some("How Deckhand keeps cards in step."));
    assert_eq!(m.site_name.as_deref(), Some("Deckhand Blog"));
    assert_eq!(m.icon.as_deref(), Some(png_uri().as_str()));
    assert_eq!(m.http_status, Some(200));
    assert_eq!(m.url, format!("{}/og", s.base));
}

#[tokio::test]
async fn title_only_page_falls_back_to_title_and_favicon_ico() {
    let s = site().await;
    let m = fetcher().fetch(&format!("{}/title-only", s.base)).await;
    assert_eq!(m.status, LinkStatus::Ok);
    assert_eq!(m.title.as_deref(), Some("Just a title"));
    assert_eq!((m.description.as_deref(), m.site_name.as_deref()), (None, None));
    // /favicon.ico is served as application/octet-stream: recognised by its bytes.
    assert_eq!(m.icon.as_deref(), Some(png_uri().as_str()));
}

#[tokio::test]
async fn oversized_page_is_read_only_up_to_the_cap() {
    let s = site().await;
    let f = LinkFetcher::new(FetchLimits { max_html_bytes: 256 * 1024, timeout: Duration::from_secs(10), ..FetchLimits::default() });
    let m = f.fetch(&format!("{}/huge", s.base)).await;
    assert_eq!(m.status, LinkStatus::Ok, "{m:?}");
    assert_eq!(m.title.as_deref(), Some("Huge page"));
    // The server stops being read once the cap is reached: far less than the whole page left
    // it (the rest is what socket buffers held when the fetcher hung up).
    let sent = s.huge_sent.load(Ordering::SeqCst);
    assert!(sent < HUGE_BYTES / 2, "{sent} of {HUGE_BYTES} bytes were sent");
}

#[tokio::test]
async fn slow_page_times_out_as_failed_not_broken() {
    let s = site().await;
    let f = LinkFetcher::new(FetchLimits { timeout: Duration::from_millis(300), ..FetchLimits::default() });
    let m = f.fetch(&format!("{}/slow", s.base)).await;
    assert_eq!(m.status, LinkStatus::Failed);
    assert_eq!(m.error_code.as_deref(), Some("timeout"));
    assert!(m.title.is_none());
}

#[tokio::test]
async fn redirect_loop_fails_and_short_chains_are_followed() {
    let s = site().await;
    let m = fetcher().fetch(&format!("{}/loop", s.base)).await;
    assert_eq!((m.status, m.error_code.as_deref()), (LinkStatus::Failed, Some("too_many_redirects")), "{m:?}");
    let m = fetcher().fetch(&format!("{}/hop/1", s.base)).await;
    assert_eq!(m.title.as_deref(), Some("Sync that never loses an edit"));
    // The icon's relative href is resolved against the page the redirects ended on.
    assert_eq!(m.icon.as_deref(), Some(png_uri().as_str()));
}

#[tokio::test]
async fn non_html_is_refused_by_content_type() {
    let s = site().await;
    let m = fetcher().fetch(&format!("{}/file.pdf", s.base)).await;
    assert_eq!((m.status, m.error_code.as_deref()), (LinkStatus::Failed, Some("not_html")));
    assert!(m.error.unwrap().contains("application/pdf"));
}

#[tokio::test]
async fn charsets_from_header_meta_and_broken_bytes() {
    let s = site().await;
    let f = fetcher();
    assert_eq!(f.fetch(&format!("{}/latin1", s.base)).await.title.as_deref(), Some("Café crème"));
    assert_eq!(f.fetch(&format!("{}/latin1-meta", s.base)).await.title.as_deref(), Some("\u{201c}Quoted\u{201d} naïve"));
    let m = f.fetch(&format!("{}/broken-utf8", s.base)).await;
    assert_eq!(m.status, LinkStatus::Ok);
    assert_eq!(m.title.as_deref(), Some("Bad \u{fffd}\u{fffd} bytes"));
}

#[tokio::test]
async fn icons_are_data_uris_within_the_cap() {
    let s = site().await;
    let m = fetcher().fetch(&format!("{}/data-icon", s.base)).await;
    assert_eq!(m.icon.as_deref(), Some("data:image/png;base64,iVBORw0KGgo="));
    let m = fetcher().fetch(&format!("{}/big-icon-page", s.base)).await;
    assert_eq!(m.status, LinkStatus::Ok);
    assert_eq!(m.icon, None, "a 200 KiB icon is over the 64 KiB cap");
}

#[tokio::test]
async fn http_404_and_refused_connections_are_broken() {
    let s = site().await;
    let m = fetcher().fetch(&format!("{}/gone", s.base)).await;
    assert_eq!((m.status, m.http_status, m.error_code.as_deref()), (LinkStatus::Broken, Some(404), Some("http_status")));
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let m = fetcher().fetch(&format!("http://{addr}/")).await;
    assert_eq!((m.status, m.error_code.as_deref()), (LinkStatus::Broken, Some("connect")), "{m:?}");
}

// ---- the engine: stored with the card, synced, listed, deduplicated ----

use deckhand_core::link::CreateOutcome;
use deckhand_core::model::NewCardInput;
use deckhand_core::{Engine, EngineConfig};
use deckhand_protocol::CardChanges;
use support::{eventually, sync_harness, sync_harness_with, test_config};

fn link_card(title: &str, url: &str) -> NewCardInput {
    NewCardInput { title: title.into(), url: Some(url.into()), ..Default::default() }
}

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(support::DEADLINE).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_fetched_on_one_device_reaches_the_other_without_a_fetch() {
    let s = site().await;
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(link_card("post", &format!("{}/og", s.base))).await.unwrap();
    settle(a).await;
    let v = a.refresh_link_meta(c.id).await.unwrap();
    let meta = v.link_meta.clone().expect("stored on A");
    assert_eq!(meta.title.as_deref(), Some("Sync that never loses an edit"));
    // An ordinary edit through the outbox, on the card's current version: version 2 on the
    // server. (Not "one op queued": the drain may already have sent it; the CI flake.)
    settle(a).await;
    let (_, on_server) = h.server_card(c.id).await;
    assert_eq!(on_server["version"], 2);
    assert_eq!(on_server["link_meta"]["site_name"], "Deckhand Blog");
    settle(b).await;
    let on_b = eventually("metadata on B", || async { b.get(c.id).await.unwrap().and_then(|v| v.link_meta) }).await;
    assert_eq!(on_b, meta);
    assert_eq!(s.og_hits.load(Ordering::SeqCst), 1, "only A fetched the page");
    // A title edit on B keeps the metadata (it is one more field of the card).
    b.update(c.id, CardChanges { title: Some("renamed".into()), ..Default::default() }).await.unwrap();
    settle(b).await;
    settle(a).await;
    let on_a = a.get(c.id).await.unwrap().unwrap();
    assert_eq!((on_a.title.as_str(), on_a.link_meta.as_ref()), ("renamed", Some(&meta)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_recorded_and_broken_links_are_listed() {
    let s = site().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.link_fetch.timeout = Duration::from_millis(300);
    let e = Engine::open(cfg).await.unwrap();
    let ok = e.create(link_card("ok", &format!("{}/og", s.base))).await.unwrap();
    let gone = e.create(link_card("gone", &format!("{}/gone", s.base))).await.unwrap();
    let slow = e.create(link_card("slow", &format!("{}/slow", s.base))).await.unwrap();
    let plain = e.create(NewCardInput { title: "no url".into(), ..Default::default() }).await.unwrap();
    for id in [ok.id, gone.id, slow.id] {
        e.refresh_link_meta(id).await.unwrap();
    }
    let g = e.get(gone.id).await.unwrap().unwrap().link_meta.unwrap();
    assert_eq!((g.status, g.http_status), (LinkStatus::Broken, Some(404)));
    let sl = e.get(slow.id).await.unwrap().unwrap().link_meta.unwrap();
    assert_eq!((sl.status, sl.error_code.as_deref()), (LinkStatus::Failed, Some("timeout")));
    let broken: Vec<_> = e.broken_links().await.unwrap().into_iter().map(|v| v.id).collect();
    assert_eq!(broken, vec![gone.id], "a timeout is not a broken link");
    let err = e.refresh_link_meta(plain.id).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_state");
    // Changing the URL retires the old verdict: the card is no longer listed as broken.
    e.update(gone.id, CardChanges { url: Some(Some(format!("{}/og", s.base))), ..Default::default() }).await.unwrap();
    assert!(e.broken_links().await.unwrap().is_empty());
    assert_eq!(e.get(gone.id).await.unwrap().unwrap().link_meta, None, "metadata of the old URL is not shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_refresh_runs_with_bounded_concurrency() {
    let s = site().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.link_refresh_concurrency = 3;
    let e = Engine::open(cfg).await.unwrap();
    for n in 1..=12 {
        e.create(link_card(&format!("c{n}"), &format!("{}/item/{n}", s.base))).await.unwrap();
    }
    e.create(NewCardInput { title: "no url".into(), ..Default::default() }).await.unwrap();
    let sum = e.refresh_all_link_meta(false).await.unwrap();
    assert_eq!((sum.refreshed, sum.ok, sum.broken, sum.failed, sum.skipped), (12, 8, 4, 0, 0));
    let max = s.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=3).contains(&max), "{max} fetches at once");
    assert_eq!(e.broken_links().await.unwrap().len(), 4);
    // Nothing is stale now: a stale-only refresh fetches nothing.
    assert_eq!(e.refresh_all_link_meta(true).await.unwrap(), Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_url_offers_the_existing_card() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(EngineConfig { ..test_config(dir.path(), None) }).await.unwrap();
    let first = e.create(link_card("first", "https://Example.com/docs/?utm_source=news&id=7")).await.unwrap();
    let again = link_card("again", "https://example.COM:443/docs?id=7&fbclid=abc#top");
    match e.create_checked(again.clone()).await.unwrap() {
        CreateOutcome::Duplicate { existing } => assert_eq!(existing.id, first.id),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(e.list(Default::default()).await.unwrap().total, 1, "nothing created");
    // Another page of the same site is not a duplicate; "add anyway" is plain `create`.
    let other = e.create_checked(link_card("other", "https://example.com/docs?id=8")).await.unwrap();
    assert!(matches!(other, CreateOutcome::Created { .. }));
    e.create(again).await.unwrap();
    assert_eq!(e.list(Default::default()).await.unwrap().total, 3);
    assert_eq!(e.find_duplicate("http://example.com/docs?id=7").await.unwrap(), None, "the scheme is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_fetched_automatically_on_create_and_url_change() {
    let s = site().await;
    let h = sync_harness_with(1, |_, mut c| {
        c.link_meta_auto = true;
        c
    })
    .await;
    let a = &h.engines[0];
    let c = a.create(link_card("auto", &format!("{}/title-only", s.base))).await.unwrap();
    let m = eventually("metadata after create", || async { a.get(c.id).await.unwrap().and_then(|v| v.link_meta) }).await;
    assert_eq!(m.title.as_deref(), Some("Just a title"));
    a.update(c.id, CardChanges { url: Some(Some(format!("{}/og", s.base))), ..Default::default() }).await.unwrap();
    let m = eventually("metadata after the URL changed", || async { a.get(c.id).await.unwrap().and_then(|v| v.link_meta) }).await;
    assert_eq!(m.title.as_deref(), Some("Sync that never loses an edit"));
    settle(a).await;
    let (_, on_server) = h.server_card(c.id).await;
    assert_eq!(on_server["link_meta"]["url"], format!("{}/og", s.base));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_a_remote_icon() {
    let h = sync_harness(1).await;
    let body = serde_json::json!({
        "id": uuid::Uuid::now_v7(), "title": "t", "url": "https://example.com/",
        "link_meta": { "status": "ok", "url": "https://example.com/", "fetched_at": "2026-01-01T00:00:00Z",
                       "icon": "https://tracker.example/pixel.png" }
    });
    let r = reqwest::Client::new().post(format!("{}/v1/cards", h.server.url())).bearer_auth(&h.token).header("idempotency-key", "icon-1").json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["errors"][0]["field"], "link_meta.icon", "{p}");
}
