//! Users never see, touch or collide with each other's cards, changes, events or idempotency records.

mod support;

use serde_json::json;
use support::{Harness, key, new_card};
use uuid::Uuid;

#[tokio::test]
async fn another_users_card_is_404_on_every_route() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let card = ann.new_card("private").await;
    bob.get_card(card.id).await.problem(404, "not_found");
    bob.patch(card.id, 1, json!({"title": "mine now"})).await.problem(404, "not_found");
    bob.delete(card.id, 1).await.problem(404, "not_found");
    assert!(bob.get("/v1/cards").await.page().items.is_empty());
    let feed = bob.changes(0, 100).await;
    assert!(feed.changes.is_empty() && !feed.has_more);
    assert_eq!(ann.get_card(card.id).await.card(200), card);
}

#[tokio::test]
async fn the_same_id_never_collides_across_users() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let id = Uuid::now_v7();
    let a = ann.create(&new_card(id, "ann's")).await.card(201);
    let b = bob.create(&new_card(id, "bob's")).await.card(201);
    assert_eq!((b.id, b.version, b.title.as_str()), (id, 1, "bob's"));
    let b2 = bob.patch(id, 1, json!({"title": "bob's v2"})).await.card(200);
    bob.delete(id, 2).await.card(200);
    assert_eq!(ann.get_card(id).await.card(200), a);
    bob.get_card(id).await.problem(410, "gone");
    // Each user's feed has its own seqs and only its own card state.
    let fa = ann.changes(0, 100).await.changes;
    assert_eq!(fa.len(), 1);
    assert_eq!((fa[0].seq, &fa[0].card), (1, &a));
    let fb = bob.changes(0, 100).await.changes;
    assert_eq!(fb.len(), 1);
    assert!(fb[0].card.deleted && fb[0].card.title == b2.title && fb[0].seq == 3);
}

#[tokio::test]
async fn idempotency_keys_are_per_user() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let k = key();
    let body = new_card(Uuid::now_v7(), "same request");
    let a = ann.create_with_key(&k, &body).await.card(201);
    // Bob sends Ann's exact request with Ann's key: a fresh write of his own, not her response.
    let r = bob.create_with_key(&k, &body).await;
    assert!(!r.replayed(), "bob got ann's stored response");
    let b = r.card(201);
    assert_ne!(b.created_at, a.created_at, "bob's answer carries ann's timestamps");
    assert_eq!(bob.changes(0, 100).await.changes.len(), 1);
    // A different request under the same key is not a reuse for Bob either.
    let k2 = key();
    ann.create_with_key(&k2, &new_card(Uuid::now_v7(), "ann's other")).await.card(201);
    let r = bob.create_with_key(&k2, &new_card(Uuid::now_v7(), "bob's other")).await;
    assert!(!r.replayed());
    assert_eq!(r.card(201).title, "bob's other");
    // And Bob's replay is his own.
    let again = bob.create_with_key(&k, &body).await;
    assert!(again.replayed());
    assert_eq!(again.card(201), b);
}

#[tokio::test]
async fn event_streams_carry_only_the_callers_changes() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let mut ann_live = ann.events(None).await;
    let mut bob_live = bob.events(None).await;
    let a1 = ann.new_card("a1").await;
    let a2 = ann.new_card("a2").await;
    let b1 = bob.new_card("b1").await;
    let a3 = ann.new_card("a3").await;
    // Bob's first event is his own card, though Ann wrote before him.
    let e = bob_live.next_event().await;
    assert_eq!((e.seq(), e.card()), (1, b1.clone()));
    for (seq, card) in [(1, &a1), (2, &a2), (3, &a3)] {
        let e = ann_live.next_event().await;
        assert_eq!((e.seq(), &e.card()), (seq, card));
    }
    // Bob's replay from 0 has his card only.
    let mut bob_replay = bob.events(Some(0)).await;
    assert_eq!(bob_replay.next_event().await.card(), b1);
    let b2 = bob.new_card("b2").await;
    assert_eq!(bob_replay.next_event().await.card(), b2);
    assert_eq!(bob_live.next_event().await.card(), b2);
}
