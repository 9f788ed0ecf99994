//! Overload protection: per-token rate limit (429) and concurrency cap (503), both with Retry-After.

mod support;

use futures::channel::mpsc;
use reqwest::Method;
use support::{Client, Harness, Resp, key, new_card, poll};
use uuid::Uuid;

fn retry_after(r: &Resp) -> u64 {
    r.header("retry-after").expect("Retry-After header").parse().expect("Retry-After in whole seconds")
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let h = Harness::start_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 2;
    })
    .await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    assert_eq!(ann.get("/v1/cards").await.status, 200);
    assert_eq!(ann.get("/v1/cards").await.status, 200);
    let r = ann.get("/v1/cards").await;
    r.problem(429, "rate_limited");
    assert!((1..=2).contains(&retry_after(&r)), "Retry-After {}", retry_after(&r));
    // Writes are limited too, and nothing happens.
    ann.create(&new_card(Uuid::now_v7(), "t")).await.problem(429, "rate_limited");
    // The limit is per token: another user, and another token of the same user, are unaffected.
    assert_eq!(bob.get("/v1/cards").await.status, 200);
    let second = deckhand_server::auth::new_token();
    h.server.storage().add_token("ann", deckhand_server::auth::hash_token(&second)).unwrap();
    assert_eq!(h.client(&second).get("/v1/cards").await.status, 200);
    ann.get("/v1/cards").await.problem(429, "rate_limited");
    // Health checks are never limited.
    let health = Resp::read(h.http.get(format!("{}/healthz", h.url())).send().await.unwrap()).await;
    assert_eq!(health.status, 200);
}

/// A POST whose body the test feeds by hand: it holds a concurrency permit until finished.
struct SlowPost {
    tx: mpsc::UnboundedSender<Result<Vec<u8>, std::io::Error>>,
    task: tokio::task::JoinHandle<Resp>,
    rest: Vec<u8>,
}

fn slow_post(c: &Client, id: Uuid) -> SlowPost {
    let body = new_card(id, "slow").to_string().into_bytes();
    let (head, rest) = body.split_at(10);
    let (tx, rx) = mpsc::unbounded();
    tx.unbounded_send(Ok(head.to_vec())).unwrap();
    let rb = c
        .req(Method::POST, "/v1/cards")
        .header("idempotency-key", key())
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(rx));
    SlowPost { tx, task: tokio::spawn(Client::send(rb)), rest: rest.to_vec() }
}

impl SlowPost {
    async fn finish(self) -> Resp {
        self.tx.unbounded_send(Ok(self.rest)).unwrap();
        drop(self.tx);
        self.task.await.unwrap()
    }
}

#[tokio::test]
async fn concurrency_cap_answers_503_with_retry_after() {
    let h = Harness::start_with(|c| c.max_concurrency = 1).await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    // A probe may hold the only permit just as the slow POST arrives; then the POST itself is
    // refused and is sent again.
    let (slow, r) = loop {
        let slow = slow_post(&ann, id);
        let task = &slow.task;
        let ann = &ann;
        let r = poll("a 503 while the slow POST holds the permit", || async move {
            if task.is_finished() {
                return Some(None);
            }
            let r = ann.get("/v1/cards").await;
            (r.status != 200).then_some(Some(r))
        })
        .await;
        match r {
            Some(r) => break (slow, r),
            None => slow.task.await.unwrap().problem(503, "overloaded"),
        };
    };
    r.problem(503, "overloaded");
    assert!(retry_after(&r) >= 1);
    // SSE streams are exempt from the cap; health checks need no permit.
    let mut events = ann.events(None).await;
    let health = Resp::read(h.http.get(format!("{}/healthz", h.url())).send().await.unwrap()).await;
    assert_eq!(health.status, 200);

    let card = slow.finish().await.card(201);
    assert_eq!(card.id, id);
    assert_eq!(events.next_event().await.card(), card);
    // The permit is back.
    assert_eq!(ann.get_card(id).await.card(200), card);
}
