//! Restarts on the same database keep everything; a graceful stop ends streams and lets
//! in-flight requests finish.

mod support;

use futures::channel::mpsc;
use reqwest::Method;
use serde_json::json;
use support::{Client, DEADLINE, Harness, key, new_card, poll};
use uuid::Uuid;

#[tokio::test]
async fn restart_keeps_cards_seqs_tokens_and_idempotency_records() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let bob = h.user("bob");
    let k = key();
    let body = new_card(Uuid::now_v7(), "kept");
    let kept = ann.create_with_key(&k, &body).await.card(201);
    let other = ann.new_card("other").await;
    ann.patch(other.id, 1, json!({"title": "other v2"})).await.card(200);
    ann.delete(other.id, 2).await.card(200);
    bob.new_card("bob's").await;
    let feed = ann.changes(0, 100).await;
    let cards = ann.get("/v1/cards").await.page();
    let (ann_token, bob_token) = (ann.token.clone(), bob.token.clone());

    let h = h.restart().await;
    let (ann, bob) = (h.client(&ann_token), h.client(&bob_token));
    assert_eq!(ann.get("/v1/cards").await.page(), cards);
    assert_eq!(ann.changes(0, 100).await, feed);
    ann.get_card(other.id).await.problem(410, "gone");
    // The idempotency record survived: the same request replays, a different one is a reuse.
    let again = ann.create_with_key(&k, &body).await;
    assert!(again.replayed());
    assert_eq!(again.card(201), kept);
    ann.create_with_key(&k, &new_card(Uuid::now_v7(), "x")).await.problem(422, "idempotency_key_reused");
    // Seqs continue where they were, per user.
    let next = ann.new_card("after restart").await;
    let tail = ann.changes(feed.next_since, 100).await;
    assert_eq!(tail.changes.len(), 1);
    assert_eq!((tail.changes[0].seq, &tail.changes[0].card), (feed.next_since + 1, &next));
    assert_eq!(bob.changes(0, 100).await.next_since, 1);
    // And resuming the event stream across the restart works.
    let mut s = ann.events(Some(feed.next_since)).await;
    assert_eq!(s.next_event().await.card(), next);
}

#[tokio::test]
async fn graceful_stop_ends_open_event_streams() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    ann.new_card("t").await;
    let mut live = ann.events(None).await;
    let mut replaying = ann.events(Some(0)).await;
    replaying.next_event().await;
    tokio::time::timeout(DEADLINE, h.server.stop()).await.expect("stop hangs with open streams");
    for s in [&mut live, &mut replaying] {
        let ended = tokio::time::timeout(DEADLINE, async {
            while s.next().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "stream still open after stop");
    }
}

#[tokio::test]
async fn graceful_stop_lets_an_in_flight_write_finish() {
    let h = Harness::start_with(|c| c.max_concurrency = 1).await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    let body = new_card(id, "in flight").to_string().into_bytes();
    // A probe may hold the only permit just as the slow POST arrives; then the POST itself is
    // refused (503) and is sent again (same race as in limits.rs).
    let (tx, post) = loop {
        let (tx, rx) = mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
        tx.unbounded_send(Ok(body[..10].to_vec())).unwrap();
        let rb = ann
            .req(Method::POST, "/v1/cards")
            .header("idempotency-key", key())
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(rx));
        let post = tokio::spawn(Client::send(rb));
        // The POST is being served once it holds the only permit.
        let held = poll("the slow POST to hold the permit", || async {
            if post.is_finished() {
                return Some(false);
            }
            (ann.get("/v1/cards").await.status == 503).then_some(true)
        })
        .await;
        if held {
            break (tx, post);
        }
        post.await.unwrap().problem(503, "overloaded");
    };

    let url = h.url();
    let support::Harness { server, dir, .. } = h;
    let config = (*server.state().config).clone();
    let stop = tokio::spawn(server.stop());
    // Once stopping, the server takes no new connections.
    poll("the listener to close", || async {
        let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        fresh.get(format!("{url}/healthz")).send().await.is_err().then_some(())
    })
    .await;
    assert!(!stop.is_finished(), "stop returned while a request was in flight");
    tx.unbounded_send(Ok(body[10..].to_vec())).unwrap();
    drop(tx);
    let created = post.await.unwrap().card(201);
    tokio::time::timeout(DEADLINE, stop).await.expect("stop after the last request").unwrap();

    let server = deckhand_server::testing::TestServer::start_with(config).await;
    let h = Harness { server, dir, http: reqwest::Client::new() };
    assert_eq!(h.client(&ann.token).get_card(id).await.card(200), created);
}
