//! Card positions across two devices against the real server: moves to the same spot converge to
//! one order, and a rebalance syncs like any move.

mod support;

use std::time::Duration;

use deckhand_core::Engine;
use deckhand_core::model::*;
use support::*;
use uuid::Uuid;

const IDLE: Duration = Duration::from_secs(20);
const LANE: &str = "inbox";

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

async fn create(e: &Engine, title: &str) -> Uuid {
    e.create(NewCardInput { title: title.into(), lane: Some(LANE.into()), ..Default::default() }).await.unwrap().id
}

async fn lane(e: &Engine) -> Vec<(Uuid, f64)> {
    let q = ListQuery { lane: Some(LANE.into()), ..Default::default() };
    e.list(q).await.unwrap().items.into_iter().map(|c| (c.id, c.position)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_moving_to_the_same_spot_converge_to_one_order() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let left = create(a, "left").await;
    let right = create(a, "right").await;
    settle(a).await;
    settle(b).await;

    // Each device makes a card and drops it between the same neighbours: both get position 1.5.
    // Each device stores its own card first and the other's when it pulls it, so a tie broken by
    // local insertion order would show the pair in opposite orders.
    let x = create(a, "from a").await;
    let y = create(b, "from b").await;
    let xa = a.move_card_between(x, LANE.into(), Some(left), Some(right)).await.unwrap();
    let yb = b.move_card_between(y, LANE.into(), Some(left), Some(right)).await.unwrap();
    assert_eq!((xa.position, yb.position), (1.5, 1.5));
    settle(a).await;
    settle(b).await;
    settle(a).await;
    let (on_a, on_b) = (lane(a).await, lane(b).await);
    assert_eq!(on_a, on_b, "the devices disagree on the lane's order");
    let (lo, hi) = if x < y { (x, y) } else { (y, x) };
    assert_eq!(on_a.iter().map(|c| c.0).collect::<Vec<_>>(), [left, lo, hi, right]);

    // Dropping a card between the tied pair leaves no room: the lane is rebalanced on `b`, every
    // changed position syncs, and `a` ends with the same, strictly ordered lane.
    let moved = b.move_card_between(right, LANE.into(), Some(lo), Some(hi)).await.unwrap();
    assert_eq!(moved.sync_state, SyncState::Pending);
    settle(b).await;
    settle(a).await;
    let (on_a, on_b) = (lane(a).await, lane(b).await);
    assert_eq!(on_a, on_b, "the rebalance did not converge");
    assert_eq!(on_a, [(left, 1.0), (lo, 2.0), (right, 3.0), (hi, 4.0)]);
    assert!(a.conflicts().await.unwrap().is_empty() && b.conflicts().await.unwrap().is_empty());
    for id in [left, lo, right, hi] {
        assert_eq!(h.server_card(id).await.1["position"].as_f64(), on_a.iter().find(|c| c.0 == id).map(|c| c.1), "server copy of {id}");
    }
}
