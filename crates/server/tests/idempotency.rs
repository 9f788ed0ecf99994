//! Idempotency-Key semantics: replay, reuse with a different request, concurrent duplicates.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Client, Harness, key, new_card};
use uuid::Uuid;

#[tokio::test]
async fn replayed_create_returns_the_stored_response_and_does_nothing() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let k = key();
    let body = new_card(Uuid::now_v7(), "once");
    let first = ann.create_with_key(&k, &body).await;
    let card = first.card(201);
    assert!(!first.replayed());
    // Change the card meanwhile: the replay must still be the original response.
    ann.patch(card.id, 1, json!({"title": "edited"})).await.card(200);
    let feed = ann.changes(0, 100).await;

    let again = ann.create_with_key(&k, &body).await;
    assert!(again.replayed(), "headers: {:?}", again.headers);
    assert_eq!(again.card(201), card);
    assert_eq!(again.text, first.text, "replay body differs");
    assert_eq!(again.header("etag"), Some("\"1\""));
    assert_eq!(ann.changes(0, 100).await, feed, "replay changed the feed");
    assert_eq!(ann.get_card(card.id).await.card(200).version, 2);
}

#[tokio::test]
async fn replayed_patch_and_delete_do_not_apply_twice() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    let kp = key();
    let v2 = ann.patch_with_key(&kp, card.id, 1, json!({"title": "v2"})).await.card(200);
    let again = ann.patch_with_key(&kp, card.id, 1, json!({"title": "v2"})).await;
    assert!(again.replayed());
    assert_eq!(again.card(200), v2);
    assert_eq!(ann.get_card(card.id).await.card(200), v2);

    let kd = key();
    let tomb = ann.delete_with_key(&kd, card.id, 2).await.card(200);
    let seq_after_delete = ann.changes(0, 100).await.next_since;
    let again = ann.delete_with_key(&kd, card.id, 2).await;
    assert!(again.replayed(), "a replayed DELETE must not answer 410: {}", again.text);
    assert_eq!(again.card(200), tomb);
    assert_eq!(ann.changes(0, 100).await.next_since, seq_after_delete);
}

#[tokio::test]
async fn same_key_different_request_is_422() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let k = key();
    let card = ann.create_with_key(&k, &new_card(Uuid::now_v7(), "a")).await.card(201);
    // Different body, same route.
    ann.create_with_key(&k, &new_card(Uuid::now_v7(), "b")).await.problem(422, "idempotency_key_reused");
    // Different method and route.
    ann.patch_with_key(&k, card.id, 1, json!({"title": "c"})).await.problem(422, "idempotency_key_reused");
    ann.delete_with_key(&k, card.id, 1).await.problem(422, "idempotency_key_reused");
    assert_eq!(ann.get("/v1/cards").await.page().items, vec![card.clone()]);
    assert_eq!(ann.changes(0, 100).await.changes.len(), 1);
    // The original request still replays.
    assert!(ann.create_with_key(&k, &new_card(card.id, "a")).await.replayed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_take_effect_once() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let k = key();
    let body = new_card(Uuid::now_v7(), "raced");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (ann, k, body) = (ann.clone(), k.clone(), body.clone());
            tokio::spawn(async move { ann.create_with_key(&k, &body).await })
        })
        .collect();
    let mut fresh = Vec::new();
    let (mut replays, mut in_flight) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            201 if r.replayed() => {
                replays += 1;
                fresh.push(r.card(201));
            }
            201 => fresh.insert(0, r.card(201)),
            409 => {
                r.problem(409, "idempotency_in_flight");
                in_flight += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    eprintln!("{replays} replays, {in_flight} in flight");
    assert_eq!(fresh.len() - replays, 1, "exactly one request executes ({replays} replays, {in_flight} in flight)");
    assert!(fresh.iter().all(|c| *c == fresh[0]), "every 201 is the same card");
    assert_eq!(ann.changes(0, 100).await.changes.len(), 1);
    assert_eq!(ann.get_card(fresh[0].id).await.card(200).version, 1);
}

#[tokio::test]
async fn refused_writes_leave_the_key_usable() {
    // A 409 stores nothing: once the conflict is resolved the same key may carry the write.
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    let k = key();
    ann.patch_with_key(&k, card.id, 7, json!({"title": "x"})).await.problem(409, "version_conflict");
    let r = Client::send(
        ann.req(Method::PATCH, &format!("/v1/cards/{}", card.id))
            .header("idempotency-key", &k)
            .json(&json!({"base_version": 1, "changes": {"title": "x"}})),
    )
    .await;
    assert_eq!(r.card(200).version, 2);
}
