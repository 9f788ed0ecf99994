//! SSE resume under load: a reader that keeps disconnecting and resuming with Last-Event-ID while
//! a writer makes 200 changes sees every card's final state, no seq twice, nothing out of order.

mod support;

use std::collections::HashMap;
use std::time::Instant;

use deckhand_protocol::Card;
use serde_json::json;
use support::{DEADLINE, Harness};
use uuid::Uuid;

const WRITES: usize = 200;
const CARDS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resume_has_no_gap_and_no_duplicate_while_writes_continue() {
    let h = Harness::start().await;
    let ann = h.user("ann");

    let writer = {
        let ann = ann.clone();
        tokio::spawn(async move {
            let mut cards: Vec<Card> = Vec::new();
            for i in 0..WRITES {
                if cards.len() < CARDS {
                    cards.push(ann.new_card(&format!("card {i}")).await);
                    continue;
                }
                let slot = i % CARDS;
                let c = &cards[slot];
                let next = if i + CARDS >= WRITES && slot.is_multiple_of(2) {
                    // The last round deletes half the cards: tombstones must arrive too.
                    ann.delete(c.id, c.version).await.card(200)
                } else {
                    ann.patch(c.id, c.version, json!({"title": format!("edit {i}"), "position": i as f64}))
                        .await
                        .card(200)
                };
                cards[slot] = next;
            }
            cards
        })
    };

    let mut seen_seqs = Vec::new();
    let mut latest: HashMap<Uuid, Card> = HashMap::new();
    let mut last: i64 = 0;
    let mut connections = 0;
    let mut resumed_during_writes = 0;
    let started = Instant::now();
    let final_seq = loop {
        assert!(started.elapsed() < DEADLINE, "reader did not catch up; last seq {last}");
        // Reconnect (first time: from the beginning) and read a bounded number of events.
        let mut s = ann.events(Some(last)).await;
        connections += 1;
        for _ in 0..17 {
            let e = tokio::select! {
                e = s.next_event() => e,
                _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => break,
            };
            let seq = e.seq();
            assert!(seq > last, "seq {seq} after {last}: duplicate or out of order");
            let card = e.card();
            let kind = if card.deleted { "card.deleted" } else if card.version == 1 { "card.created" } else { "card.updated" };
            assert_eq!(e.kind(), kind, "event name for {card:?}");
            if let Some(prev) = latest.get(&card.id) {
                assert!(card.version > prev.version, "card {} went from v{} to v{}", card.id, prev.version, card.version);
            }
            latest.insert(card.id, card);
            seen_seqs.push(seq);
            last = seq;
        }
        drop(s);
        if !writer.is_finished() {
            resumed_during_writes += 1;
        } else {
            let feed = ann.all_changes(0).await;
            let final_seq = feed.last().map(|c| c.seq).unwrap_or(0);
            if last >= final_seq {
                break final_seq;
            }
        }
    };
    let cards = writer.await.unwrap();

    assert!(connections >= 4, "the reader should have resumed several times, connected {connections}");
    assert!(resumed_during_writes >= 2, "only {resumed_during_writes} reconnects happened while writes went on");
    assert_eq!(last, final_seq);
    // A set, not `dedup` (which only drops neighbours): any seq seen twice shrinks it.
    let distinct: std::collections::HashSet<i64> = seen_seqs.iter().copied().collect();
    assert_eq!(distinct.len(), seen_seqs.len(), "a seq was seen twice");
    assert_eq!(latest.len(), CARDS, "every card was seen");
    for card in cards {
        assert_eq!(latest.get(&card.id), Some(&card), "final state of {}", card.id);
    }
}
