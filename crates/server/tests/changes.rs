//! GET /v1/changes: per-user seqs, pagination, tombstones.

mod support;

use serde_json::json;
use support::Harness;

#[tokio::test]
async fn pages_of_three_over_ten_changes() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    for i in 0..10 {
        ann.new_card(&format!("c{i}")).await;
    }
    let mut since = 0;
    let mut seqs = Vec::new();
    let mut shape = Vec::new();
    loop {
        let page = ann.changes(since, 3).await;
        assert!(page.changes.len() <= 3);
        if let Some(last) = page.changes.last() {
            assert_eq!(page.next_since, last.seq);
        }
        shape.push((page.changes.len(), page.has_more));
        seqs.extend(page.changes.iter().map(|c| c.seq));
        since = page.next_since;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(shape, [(3, true), (3, true), (3, true), (1, false)]);
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    let end = ann.changes(since, 3).await;
    assert!(end.changes.is_empty() && !end.has_more);
    assert_eq!(end.next_since, 10);
    // Default parameters: everything from the start.
    assert_eq!(ann.get("/v1/changes").await.changes().changes.len(), 10);
}

#[tokio::test]
async fn every_write_gets_a_higher_seq_and_tombstones_stay() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let a = ann.new_card("a").await;
    let b = ann.new_card("b").await;
    let before = ann.changes(0, 100).await.next_since;
    let a2 = ann.patch(a.id, 1, json!({"pinned": true})).await.card(200);
    let after_patch = ann.changes(before, 100).await;
    assert_eq!(after_patch.changes.len(), 1);
    assert!(after_patch.next_since > before);
    assert_eq!(after_patch.changes[0].card, a2);

    let tomb = ann.delete(b.id, 1).await.card(200);
    let feed = ann.changes(0, 100).await.changes;
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq), "seqs not increasing: {feed:?}");
    let last = feed.last().unwrap();
    assert_eq!(last.card, tomb, "the tombstone is in the feed");
    assert!(last.card.deleted);
    // The feed holds each card's latest state.
    assert!(feed.iter().any(|c| c.card == a2));
    assert!(!feed.iter().any(|c| c.card.id == b.id && !c.card.deleted));
}

#[tokio::test]
async fn bad_since_or_limit_is_422() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    for q in ["since=-1", "since=abc", "limit=0", "limit=1001"] {
        ann.get(&format!("/v1/changes?{q}")).await.problem(422, "validation_failed");
    }
}
