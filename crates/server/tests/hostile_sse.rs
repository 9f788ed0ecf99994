//! Thousands of open SSE streams: the server keeps answering normal requests, memory stays bounded,
//! every slot is freed when the clients go, and the per-user and global caps answer problems.

mod hostile_support;

use std::time::{Duration, Instant};

use hostile_support::*;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STREAMS: usize = 2_000;
const USERS: usize = 20;

/// Opens `GET /v1/events` on a raw connection and returns it once `event: connected` arrived.
async fn open_stream(addr: std::net::SocketAddr, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(16).any(|w| w == b"event: connected") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "stream closed before connecting: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
    s
}

/// Reads from `s` until `needle` appears (or the stream ends / `deadline` passes).
async fn read_until(s: &mut TcpStream, needle: &str, deadline: Duration) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(deadline, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if String::from_utf8_lossy(&got).contains(needle) {
                        return true;
                    }
                }
            }
        }
    })
    .await
    .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_streams_stay_cheap_and_the_server_responsive() {
    // Long heartbeat: this test is about idle streams, not about heartbeat traffic.
    let srv = start_with(|c| c.heartbeat = Duration::from_secs(60)).await;
    let tokens: Vec<String> = (0..USERS).map(|i| srv.server.add_user(&format!("u{i}"))).collect();
    let addr = srv.server.addr();
    srv.assert_responsive(&tokens[0], Duration::from_secs(5)).await;
    let rss_before = rss_kib();
    let start = Instant::now();
    // Open them 100 at a time.
    let mut streams: Vec<(usize, TcpStream)> = Vec::with_capacity(STREAMS);
    for batch in 0..STREAMS / 100 {
        let opened = futures::future::join_all((0..100).map(|i| {
            let n = batch * 100 + i;
            let token = tokens[n % USERS].clone();
            async move { (n % USERS, open_stream(addr, &token).await) }
        }))
        .await;
        streams.extend(opened);
    }
    let open_time = start.elapsed();
    let rss_open = rss_kib();
    assert_eq!(metric(&srv, &tokens[0], "deckhand_sse_streams").await, Some(STREAMS as f64));
    // Normal requests still answer promptly with 2,000 streams open.
    let mut worst = Duration::ZERO;
    for t in tokens.iter().take(5) {
        worst = worst.max(srv.assert_responsive(t, Duration::from_secs(2)).await);
    }
    // A write reaches every stream of its user (100 of them) and no other.
    let card = srv.create(&tokens[3], "fan-out").await;
    let id = card["id"].as_str().unwrap().to_string();
    let mut delivered = 0;
    for (user, s) in streams.iter_mut().filter(|(u, _)| *u == 3) {
        assert_eq!(*user, 3);
        if read_until(s, &id, Duration::from_secs(10)).await {
            delivered += 1;
        }
    }
    assert_eq!(delivered, STREAMS / USERS);
    let fanout = start.elapsed() - open_time;
    let per_stream = (rss_open.saturating_sub(rss_before)) as f64 / STREAMS as f64;
    eprintln!(
        "sse: {STREAMS} streams opened in {open_time:?}; RSS {rss_before} KiB -> {rss_open} KiB ({per_stream:.1} KiB/stream, \
         server and raw clients in one process); worst normal request while open {worst:?}; \
         one write fanned out to {delivered} streams in {fanout:?}"
    );
    assert!(per_stream < 64.0, "each open stream costs {per_stream:.1} KiB");
    // Clients go away: every slot and the gauge come back to zero.
    drop(streams);
    let token = tokens[0].clone();
    let srv_ref = &srv;
    assert!(
        eventually(Duration::from_secs(10), move || {
            let token = token.clone();
            async move { metric(srv_ref, &token, "deckhand_sse_streams").await == Some(0.0) }
        })
        .await,
        "open-stream gauge returns to 0"
    );
    assert!(eventually(Duration::from_secs(5), move || async move { srv_ref.server.state().sse_slots.lock().unwrap().0 == 0 }).await);
    assert!(srv.server.state().sse_slots.lock().unwrap().1.is_empty());
    eprintln!("sse: after closing all, RSS {} KiB", rss_kib());
}

#[tokio::test]
async fn stream_caps_answer_problems_and_free_on_close() {
    let srv = start_with(|c| {
        c.max_sse_streams_per_user = 3;
        c.max_sse_streams = 5;
    })
    .await;
    let a = srv.server.add_user("a");
    let b = srv.server.add_user("b");
    let addr = srv.server.addr();
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(open_stream(addr, &a).await);
    }
    // A's 4th: per-user cap, 429 with Retry-After.
    let r = srv.req(Method::GET, "/v1/events", &a).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, 429, "rate_limited").await;
    // B is not affected by A's cap, until the server-wide cap of 5.
    let mut theirs = Vec::new();
    for _ in 0..2 {
        theirs.push(open_stream(addr, &b).await);
    }
    let r = srv.req(Method::GET, "/v1/events", &b).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, 503, "overloaded").await;
    // Normal requests are not streams: they still work.
    srv.assert_responsive(&a, Duration::from_secs(2)).await;
    // Closing one of A's frees a slot (the server notices the closed socket on its next write,
    // i.e. by the 1 s heartbeat at the latest).
    drop(mine.pop());
    let s = &srv;
    assert!(
        eventually(Duration::from_secs(5), move || async move { s.server.state().sse_slots.lock().unwrap().0 == 4 }).await,
        "slot freed"
    );
    mine.push(open_stream(addr, &a).await);
}
