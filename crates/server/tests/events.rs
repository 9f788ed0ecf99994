//! GET /v1/events: frame format, event kinds, retry, heartbeat, resume with Last-Event-ID / ?since=.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use deckhand_protocol::StreamHello;
use support::{Client, Frame, Harness, Sse};

/// Reads the stream's opening (retry + the `connected` event) before any change; returns the retry.
async fn handshake(s: &mut Sse) -> u64 {
    handshake_hello(s).await.0
}

/// The opening's retry and the `connected` event's data.
async fn handshake_hello(s: &mut Sse) -> (u64, StreamHello) {
    let mut retry = None;
    loop {
        match s.next_in(support::DEADLINE).await {
            Some(Frame::Retry(ms)) => retry = Some(ms),
            Some(Frame::Comment(_)) => {}
            Some(Frame::Event(e)) if e.kind() == "connected" && retry.is_some() => {
                assert_eq!(e.id, None, "the hello carries no seq (it must not move Last-Event-ID)");
                return (retry.unwrap(), serde_json::from_str(&e.data).expect("connected data is a StreamHello"));
            }
            other => panic!("expected retry and `connected` before any change, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn connected_names_the_epoch_the_last_seq_and_the_heartbeat() {
    let h = Harness::start_with(|c| c.heartbeat = Duration::from_millis(700)).await;
    let ann = h.user("ann");
    ann.new_card("one").await;
    ann.new_card("two").await;
    // Resuming from an older seq: last_seq is still the server's latest, not the resume point.
    let mut s = ann.events(Some(1)).await;
    let (_, hello) = handshake_hello(&mut s).await;
    assert_eq!((hello.last_seq, hello.heartbeat_ms), (2, 700));
    assert_eq!(hello.epoch.len(), 32, "a random 128-bit id in hex: {}", hello.epoch);
    // The same epoch travels with every change page.
    let page = ann.changes(0, 10).await;
    assert_eq!((page.epoch.as_str(), page.last_seq), (hello.epoch.as_str(), 2));
    assert_eq!(s.next_event().await.seq(), 2, "then the replay");
    // Another database has another epoch.
    let other = Harness::start().await;
    let bob = other.user("bob");
    assert_ne!(bob.changes(0, 10).await.epoch, hello.epoch);
}

#[tokio::test]
async fn live_events_have_seq_kind_and_card() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    // Seq 1 is written before connecting: without Last-Event-ID it is not replayed.
    ann.new_card("before connect").await;
    let mut s = ann.events(None).await;
    assert_eq!(handshake(&mut s).await, 2000, "retry: is the configured 2 s");

    let created = ann.new_card("live").await;
    let updated = ann.patch(created.id, 1, json!({"title": "live 2"})).await.card(200);
    let deleted = ann.delete(created.id, 2).await.card(200);
    let expect = [(2, "card.created", &created), (3, "card.updated", &updated), (4, "card.deleted", &deleted)];
    for (seq, kind, card) in expect {
        let e = s.next_event().await;
        assert_eq!((e.seq(), e.kind(), &e.card()), (seq, kind, card));
    }
}

#[tokio::test]
async fn heartbeat_comments_arrive_on_an_idle_stream() {
    let h = Harness::start_with(|c| c.heartbeat = Duration::from_millis(200)).await;
    let ann = h.user("ann");
    let mut s = ann.events(None).await;
    handshake(&mut s).await;
    let started = Instant::now();
    let mut beats = 0;
    while beats < 2 {
        match s.next_in(Duration::from_secs(2)).await {
            Some(Frame::Comment(_)) => beats += 1,
            other => panic!("expected a heartbeat comment, got {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(2), "two 200 ms heartbeats took {:?}", started.elapsed());
}

#[tokio::test]
async fn last_event_id_replays_then_goes_live() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let mut cards = Vec::new();
    for i in 0..5 {
        cards.push(ann.new_card(&format!("c{i}")).await);
    }
    let mut s = ann.events(Some(2)).await;
    handshake(&mut s).await;
    for seq in 3..=5 {
        let e = s.next_event().await;
        assert_eq!((e.seq(), e.card()), (seq, cards[seq as usize - 1].clone()));
    }
    let live = ann.new_card("live").await;
    let e = s.next_event().await;
    assert_eq!((e.seq(), e.kind(), e.card()), (6, "card.created", live));

    // ?since= does the same when there is no header.
    let mut q = Sse::open(ann.req(Method::GET, "/v1/events?since=4")).await;
    let seqs = [q.next_event().await.seq(), q.next_event().await.seq()];
    assert_eq!(seqs, [5, 6]);

    // Resuming at the head replays nothing and waits for the next change.
    let mut head = ann.events(Some(6)).await;
    handshake(&mut head).await;
    let next = ann.new_card("next").await;
    let e = head.next_event().await;
    assert_eq!((e.seq(), e.card()), (7, next));
}

#[tokio::test]
async fn replay_includes_tombstones_as_deleted_events() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    let tomb = ann.delete(card.id, 1).await.card(200);
    let mut s = ann.events(Some(0)).await;
    let e = s.next_event().await;
    assert_eq!((e.seq(), e.kind(), e.card()), (2, "card.deleted", tomb));
}

#[tokio::test]
async fn bad_last_event_id_is_422() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    for v in ["-1", "abc"] {
        Client::send(ann.req(Method::GET, "/v1/events").header("last-event-id", v))
            .await
            .problem(422, "validation_failed");
    }
    ann.get("/v1/events?since=x").await.problem(422, "validation_failed");
}
