//! The two places a live event stream reads from the database instead of its live channel:
//! a jump in seq (a change committed but not yet published, or published out of order) is filled
//! from the database, and a stream whose channel overflowed (a reader slower than > 1,024 changes
//! from concurrent writers) replays from the database. Either way: every seq once, in order.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use deckhand_protocol::{BatchRequest, BatchWrite, NewCard};
use deckhand_server::auth::hash_token;
use deckhand_server::domain::WriteOp;
use deckhand_server::storage::IdemKey;
use reqwest::Method;
use support::{DEADLINE, Harness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

fn card(title: &str, body: String) -> NewCard {
    NewCard {
        id: Uuid::now_v7(),
        title: title.into(),
        body,
        url: None,
        tags: vec![],
        lane: "inbox".into(),
        position: 0.0,
        pinned: false,
        link_meta: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seq_jump_is_filled_from_the_database() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    ann.new_card("one").await; // seq 1
    let mut s = ann.events(None).await; // live from seq 1
    // The opening must have been sent, so the stream is subscribed before the writes below.
    loop {
        if let Some(support::Frame::Event(e)) = s.next_in(DEADLINE).await {
            if e.kind() == "connected" {
                break;
            }
        }
    }
    // Seq 2 commits without being published (as when publishes race after their commits)...
    let storage = h.server.storage().clone();
    let user = storage.user_for_token(&hash_token(&ann.token)).unwrap().unwrap();
    let hidden = card("committed, not published", String::new());
    let idem = IdemKey { key: "hidden".into(), fingerprint: [7; 32], token: None };
    storage.write(user, &idem, &WriteOp::Create(hidden.clone()), Utc::now()).unwrap();
    // ... then seq 3 is published: the stream sees 3 after 1 and reads 2 and 3 from the database.
    let third = ann.new_card("three").await;
    let e2 = s.next_event().await;
    assert_eq!((e2.seq(), e2.card().id), (2, hidden.id), "the gap is filled, in order");
    let e3 = s.next_event().await;
    assert_eq!((e3.seq(), e3.card().id), (3, third.id));
    let fills = h.server.state().metrics.sse_gap_fills.load(Ordering::Relaxed);
    if h.server.state().notifier.is_none() {
        assert_eq!(fills, 1, "filled from the database once");
    } else {
        // On PostgreSQL the write's own NOTIFY comes back to this instance, and the hub may read
        // seq 2 and publish it before seq 3 is published: then no stream meets a gap at all.
        assert!(fills <= 1, "filled from the database at most once: {fills}");
    }
    // Nothing twice: the next change is seq 4.
    let fourth = ann.new_card("four").await;
    let e4 = s.next_event().await;
    assert_eq!((e4.seq(), e4.card().id), (4, fourth.id));
}

/// Writers, concurrent requests of 50 cards each.
const WRITERS: usize = 4;
const BATCHES_PER_WRITER: usize = 7;
const PER_BATCH: usize = 50;
/// 1,400 changes, each ~8 KiB (11 MiB, more than socket buffers hold): more than the live channel's 1,024 while the reader's socket is full.
const TOTAL: usize = WRITERS * BATCHES_PER_WRITER * PER_BATCH;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_that_lags_behind_concurrent_writers_gets_every_change_once_in_order() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    // A raw connection with a small receive buffer: the server's writes block soon, so the
    // stream stops draining its live channel and the channel overflows.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut conn = sock.connect(h.server.addr()).await.unwrap();
    let req = format!(
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        ann.token
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut reader = SseReader::default();
    // Wait for the opening, so the stream is subscribed before the writes start.
    while !reader.saw_connected {
        reader.read_some(&mut conn).await;
    }

    let body = "x".repeat(8 * 1024);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (ann, body) = (ann.clone(), body.clone());
        writers.push(tokio::spawn(async move {
            for b in 0..BATCHES_PER_WRITER {
                let writes = (0..PER_BATCH)
                    .map(|i| {
                        let c = card(&format!("w{w} b{b} c{i}"), body.clone());
                        BatchWrite {
                            method: "POST".into(),
                            path: "/v1/cards".into(),
                            idempotency_key: Uuid::now_v7().to_string(),
                            body: Some(serde_json::to_string(&c).unwrap()),
                        }
                    })
                    .collect();
                let r = ann.req(Method::POST, "/v1/batch").json(&BatchRequest { writes }).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let v: serde_json::Value = r.json().await.unwrap();
                assert!(v["results"].as_array().unwrap().iter().all(|r| r["status"] == 201), "{v}");
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    // Now read everything (the stream finds out it lagged when it next polls its channel).
    let deadline = tokio::time::Instant::now() + DEADLINE * 3;
    while reader.seqs.len() < TOTAL {
        assert!(tokio::time::Instant::now() < deadline, "got {} of {TOTAL} events", reader.seqs.len());
        reader.read_some(&mut conn).await;
    }
    let expected: Vec<i64> = (1..=TOTAL as i64).collect();
    assert_eq!(reader.seqs, expected, "every seq once, in order");
    let lagged = h.server.state().metrics.sse_lag_replays.load(Ordering::Relaxed);
    assert!(lagged >= 1, "the live channel never overflowed: the lag branch was not exercised");
    eprintln!("{TOTAL} changes from {WRITERS} concurrent writers; the stream lagged {lagged} time(s), filled {} gap(s)",
        h.server.state().metrics.sse_gap_fills.load(Ordering::Relaxed));
}

/// A minimal reader of a chunked SSE response on a raw socket: the seqs of card events in order.
#[derive(Default)]
struct SseReader {
    raw: Vec<u8>,
    head_done: bool,
    body: Vec<u8>,
    saw_connected: bool,
    seqs: Vec<i64>,
}

impl SseReader {
    async fn read_some(&mut self, conn: &mut tokio::net::TcpStream) {
        let mut buf = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf)).await.expect("stream stalled").unwrap();
        assert!(n > 0, "server closed the stream");
        self.raw.extend_from_slice(&buf[..n]);
        if !self.head_done {
            let Some(i) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else { return };
            let head = String::from_utf8_lossy(&self.raw[..i]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert!(head.contains("transfer-encoding: chunked"), "{head}");
            self.raw.drain(..i + 4);
            self.head_done = true;
        }
        // De-chunk what is complete.
        loop {
            let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") else { break };
            let size = usize::from_str_radix(std::str::from_utf8(&self.raw[..eol]).unwrap().trim(), 16).unwrap();
            if self.raw.len() < eol + 2 + size + 2 {
                break;
            }
            self.body.extend_from_slice(&self.raw[eol + 2..eol + 2 + size]);
            self.raw.drain(..eol + 2 + size + 2);
        }
        // Complete events end with a blank line.
        while let Some(end) = self.body.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.body.drain(..end + 2).collect();
            let text = String::from_utf8(event).unwrap();
            let mut id = None;
            for line in text.lines() {
                if line == "event: connected" {
                    self.saw_connected = true;
                }
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse::<i64>().unwrap());
                }
            }
            if let Some(id) = id {
                self.seqs.push(id);
            }
        }
    }
}
