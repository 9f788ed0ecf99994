//! Response size is bounded: a page of `limit=1000` big cards would be hundreds of MiB built in
//! memory per request. Pages end early at `page_max_bytes` (4 MiB by default, 512 KiB here);
//! paging by `has_more` / `next_cursor` still returns everything, and so does an SSE replay.

mod hostile_support;

use std::collections::BTreeSet;
use std::time::Instant;

use deckhand_protocol::limits::REQUEST_BODY_MAX_BYTES;
use hostile_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

const CARDS: usize = 16;
/// The page budget of this test (the default, 4 MiB, works the same but needs 4x the data).
const PAGE_MAX_BYTES: usize = 512 * 1024;

/// Creates `CARDS` cards of ~120 KB each (30,000 four-byte characters); returns their ids.
async fn big_cards(srv: &Srv, token: &str) -> BTreeSet<String> {
    let body = "😀".repeat(30_000);
    let mut ids = BTreeSet::new();
    for i in 0..CARDS {
        let id = Uuid::now_v7();
        let r = srv.write(Method::POST, "/v1/cards", token).json(&json!({ "id": id, "title": format!("big {i}"), "body": body })).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.insert(id.to_string());
    }
    ids
}

#[tokio::test]
async fn pages_are_bounded_in_bytes_and_paging_still_returns_everything() {
    let srv = start_with(|c| c.page_max_bytes = PAGE_MAX_BYTES).await;
    let token = srv.server.add_user("big");
    let start = Instant::now();
    let ids = big_cards(&srv, &token).await;
    let created = start.elapsed();
    let bound = PAGE_MAX_BYTES + REQUEST_BODY_MAX_BYTES + 4096;
    // Change feed, limit 1000.
    let mut since = 0;
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    let mut largest = 0;
    loop {
        let r = srv.req(Method::GET, &format!("/v1/changes?since={since}&limit=1000"), &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let bytes = r.bytes().await.unwrap();
        largest = largest.max(bytes.len());
        assert!(bytes.len() <= bound, "a changes page of {} bytes", bytes.len());
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        let changes = page["changes"].as_array().unwrap();
        assert!(!changes.is_empty() || !page["has_more"].as_bool().unwrap());
        for c in changes {
            assert!(seen.insert(c["card"]["id"].as_str().unwrap().to_string()), "no duplicates");
        }
        since = page["next_since"].as_i64().unwrap();
        pages += 1;
        assert!(pages <= CARDS + 1);
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(seen, ids);
    eprintln!(
        "pages: {CARDS} cards of ~120 KB ({:.1} MiB) created in {created:?}; /v1/changes?limit=1000 took {pages} pages, largest {:.2} MiB",
        CARDS as f64 * 120_000.0 / 1048576.0,
        largest as f64 / 1048576.0
    );
    assert!(pages > 1);
    // Card list, limit 1000.
    let mut cursor: Option<String> = None;
    let mut listed = BTreeSet::new();
    for _ in 0..=CARDS {
        let path = match &cursor {
            Some(c) => format!("/v1/cards?limit=1000&cursor={c}"),
            None => "/v1/cards?limit=1000".to_string(),
        };
        let r = srv.req(Method::GET, &path, &token).send().await.unwrap();
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.len() <= bound, "a cards page of {} bytes", bytes.len());
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        for c in page["items"].as_array().unwrap() {
            assert!(listed.insert(c["id"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(listed, ids);
    // SSE replay from 0 delivers all of them, in seq order, in bounded database pages.
    let mut s = TcpStream::connect(srv.server.addr()).await.unwrap();
    s.write_all(format!("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nLast-Event-ID: 0\r\n\r\n").as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let last = format!("id: {CARDS}\n");
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
            // Look only at the new bytes (and a needle's length before them).
            let from = got.len().saturating_sub(n + last.len());
            if got[from..].windows(last.len()).any(|w| w == last.as_bytes()) {
                break;
            }
        }
    })
    .await
    .expect("replay complete");
    let text = String::from_utf8_lossy(&got);
    let replayed: BTreeSet<String> = ids.iter().filter(|id| text.contains(id.as_str())).cloned().collect();
    assert_eq!(replayed, ids);
}
