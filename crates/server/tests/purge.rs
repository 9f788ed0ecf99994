//! Expired idempotency records are purged in the background; the key is then a fresh request.

mod support;

use std::time::Duration;

use support::{Harness, key, new_card, poll};
use uuid::Uuid;

#[tokio::test]
async fn expired_records_are_purged() {
    let h = Harness::start_with(|c| {
        c.idempotency_retention = Duration::ZERO;
        c.purge_interval = Duration::from_millis(50);
    })
    .await;
    let ann = h.user("ann");
    let k = key();
    let body = new_card(Uuid::now_v7(), "t");
    let card = ann.create_with_key(&k, &body).await.card(201);
    // While the record exists the request replays; once purged it runs again and finds the card.
    let p = poll("the record to be purged", || async {
        let r = ann.create_with_key(&k, &body).await;
        if r.status == 201 {
            assert!(r.replayed(), "a second create with a new effect: {}", r.text);
            None
        } else {
            Some(r)
        }
    })
    .await
    .problem(409, "already_exists");
    assert_eq!(p.current, Some(card));
    assert_eq!(ann.changes(0, 100).await.changes.len(), 1);
}
