//! Tokens: only their hash is stored; revocation works at once, including on open SSE streams,
//! whether it comes through the server or from another process (the CLI).

mod hostile_support;

use std::time::{Duration, Instant};

use hostile_support::*;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn the_database_never_holds_a_plaintext_token() {
    let srv = start().await;
    let tokens: Vec<String> = (0..5).map(|i| srv.server.add_user(&format!("u{i}"))).collect();
    for t in &tokens {
        srv.create(t, "x").await;
    }
    srv.server.revoke("u0");
    let conn = rusqlite::Connection::open_with_flags(srv.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let rows: Vec<(Vec<u8>, i64)> = conn
        .prepare("SELECT hash, user_id FROM tokens")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), tokens.len());
    for t in &tokens {
        let hash = deckhand_server::auth::hash_token(t);
        assert!(rows.iter().any(|(h, _)| h.as_slice() == hash), "the sha256 is what is stored");
        for (h, _) in &rows {
            assert_eq!(h.len(), 32);
            assert!(!h.windows(8).any(|w| t.as_bytes().windows(8).any(|tw| tw == w)), "no token fragment in a hash");
            assert!(!String::from_utf8_lossy(h).contains(t.as_str()));
        }
    }
    // Not anywhere else in the database either: scan every text and blob cell of every table.
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut cells = 0;
    for table in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                let bytes = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
                    _ => continue,
                };
                cells += 1;
                for t in &tokens {
                    let hex_part = &t[3..];
                    assert!(!String::from_utf8_lossy(&bytes).contains(hex_part), "token found in {table}");
                }
            }
        }
    }
    assert!(cells > 0);
    // And not in the raw file bytes (WAL included), where a deleted row could linger.
    drop(conn);
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", srv.db_path().display());
        if let Ok(raw) = std::fs::read(&path) {
            for t in &tokens {
                assert!(!raw.windows(t.len()).any(|w| w == t.as_bytes()), "token bytes in {path}");
            }
        }
    }
}

/// Opens `/v1/events` and returns the socket once `event: connected` arrived.
async fn open_stream(addr: std::net::SocketAddr, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("event: connected") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    s
}

/// Time until the server ends the stream (the chunked body's last chunk, or the socket closing).
async fn until_stream_ends(s: &mut TcpStream, deadline: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(deadline, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.ends_with(b"0\r\n\r\n") {
                        return;
                    }
                }
            }
        }
    })
    .await
    .ok()
    .map(|_| start.elapsed())
}

#[tokio::test]
async fn revocation_through_the_server_ends_open_streams_at_once() {
    // A long heartbeat: the stream must end because of the revocation signal, not a periodic check.
    let srv = start_with(|c| c.heartbeat = Duration::from_secs(60)).await;
    let token = srv.server.add_user("mallory");
    let second = srv.server.add_user("mallory2");
    let other = srv.server.add_user("olivia");
    let addr = srv.server.addr();
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(open_stream(addr, &token).await);
    }
    let mut bystander = open_stream(addr, &other).await;
    let mut cousin = open_stream(addr, &second).await;
    assert_eq!(srv.server.revoke("mallory"), 1);
    let mut worst = Duration::ZERO;
    for s in &mut streams {
        let took = until_stream_ends(s, Duration::from_secs(5)).await.expect("revoked stream ended");
        worst = worst.max(took);
    }
    eprintln!("revocation via server: 3 open streams ended within {worst:?}");
    assert!(worst < Duration::from_secs(2));
    // The next request with the token: 401.
    let r = srv.req(Method::GET, "/v1/cards", &token).send().await.unwrap();
    assert_problem(r, 401, "unauthorized").await;
    let r = srv.req(Method::GET, "/v1/events", &token).send().await.unwrap();
    assert_problem(r, 401, "unauthorized").await;
    // Other users' streams live on (even one whose name starts the same): they still get events.
    let card = srv.create(&other, "still here").await;
    let id = card["id"].as_str().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&got).contains(id) {
            let n = bystander.read(&mut buf).await.unwrap();
            assert!(n > 0, "bystander stream ended");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("bystander got its event");
    assert!(until_stream_ends(&mut cousin, Duration::from_millis(300)).await.is_none(), "mallory2 unaffected");
    let r = srv.req(Method::GET, "/v1/cards", &second).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn revocation_by_the_cli_in_another_process_ends_streams_within_a_heartbeat() {
    let srv = start().await; // heartbeat (and token re-check) every second
    let token = srv.server.add_user("eve");
    let addr = srv.server.addr();
    let mut stream = open_stream(addr, &token).await;
    let start = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_deckhand-server"))
        .args(["user", "revoke", "eve", "--db"])
        .arg(srv.db_path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked 1"));
    // Requests fail at once: every request checks the database.
    let r = srv.req(Method::GET, "/v1/cards", &token).send().await.unwrap();
    assert_problem(r, 401, "unauthorized").await;
    let took = until_stream_ends(&mut stream, Duration::from_secs(5)).await.expect("stream ended after CLI revoke");
    eprintln!("revocation via CLI: request refused at once, open stream ended {:?} after the revoke", start.elapsed());
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn token_lookalikes_are_refused() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let hash_hex = hex::encode(deckhand_server::auth::hash_token(&token));
    for t in [flipped.as_str(), &token[..token.len() - 1], &format!("{token}0"), &token.to_uppercase(), &hash_hex, &format!(" {token}x")] {
        let r = srv.req(Method::GET, "/v1/cards", t).send().await.unwrap();
        assert_problem(r, 401, "unauthorized").await;
    }
    // Scheme is case-insensitive; surrounding whitespace is tolerated.
    let r = srv.client.get(srv.url("/v1/cards")).header("authorization", format!("bearer   {token}  ")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
