//! `positions`: moves between neighbours, the rebalance, and the (position, id) order of listings.

use deckhand_protocol::NewCard;
use uuid::Uuid;

use super::positions::{lane_order, move_between, slot};
use super::*;
use crate::model::{ListQuery, NewCardInput, OpKind, Priority};

fn create(s: &Store, title: &str) -> Uuid {
    s.write(|tx| writes::create(tx, &NewCardInput { title: title.into(), ..Default::default() })).unwrap()
}

fn order(s: &Store) -> Vec<(Uuid, f64)> {
    s.read(|c| lane_order(c, deckhand_protocol::DEFAULT_LANE)).unwrap()
}

fn listed(s: &Store, lane: Option<&str>, text: Option<&str>) -> Vec<Uuid> {
    let q = ListQuery { lane: lane.map(str::to_string), text: text.map(str::to_string), limit: Some(1000), ..Default::default() };
    s.read(|c| cards::list(c, &q)).unwrap().items.into_iter().map(|v| v.id).collect()
}

#[test]
fn slot_refuses_collisions_and_adjacent_floats() {
    assert_eq!(slot(Some(1.0), Some(2.0)), Some(1.5));
    assert_eq!(slot(None, None), Some(1.0));
    assert_eq!(slot(Some(2.5), None), Some(3.0));
    assert_eq!(slot(None, Some(2.5)), Some(2.0));
    assert_eq!(slot(Some(1.0), Some(1.0)), None);
    assert_eq!(slot(Some(1.0), Some(f64::from_bits(1.0f64.to_bits() + 1))), None);
    assert_eq!(slot(Some(1e300), None), None, "floor + 1 does not move past 1e300");
}

/// 200 inserts at one spot (always right after the first card): the order stays exactly as the
/// user made it, every position distinct and strictly increasing, and the rebalances that made
/// room are queued as ordinary low-priority updates.
#[test]
fn two_hundred_inserts_at_one_spot_keep_a_strict_order() {
    let s = Store::open_in_memory().unwrap();
    let (first, last) = (create(&s, "first"), create(&s, "last"));
    let mut inserted = Vec::new();
    for i in 0..200 {
        let id = create(&s, &format!("card {i}"));
        let placed = s.write(|tx| move_between(tx, id, deckhand_protocol::DEFAULT_LANE, Some(first), None)).unwrap();
        assert!(placed.updated.changed);
        inserted.push(id);
    }
    // Each insert went right after `first`: the newest sits first.
    let mut expected = vec![first];
    expected.extend(inserted.iter().rev());
    expected.push(last);
    let got = order(&s);
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), expected);
    assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "positions not strictly increasing: {got:?}");
    assert_eq!(listed(&s, Some(deckhand_protocol::DEFAULT_LANE), None), expected, "the listing shows the same order");
    // A midpoint-only scheme runs out after ~50 inserts; the room came from rebalances, queued
    // for sync at low priority on cards other than the moved one.
    let low = s
        .read(|c| {
            let mut n = 0;
            for (id, _) in &got {
                n += outbox::for_card(c, *id)?.iter().filter(|op| op.priority == Priority::Low && op.payload.kind() == OpKind::Update).count();
            }
            Ok(n)
        })
        .unwrap();
    assert!(low > 0, "no rebalance was queued");
}

#[test]
fn a_move_lands_before_after_or_at_the_end() {
    let s = Store::open_in_memory().unwrap();
    let [a, b, c] = [create(&s, "a"), create(&s, "b"), create(&s, "c")];
    let lane = deckhand_protocol::DEFAULT_LANE;
    s.write(|tx| move_between(tx, c, lane, None, Some(a))).unwrap();
    assert_eq!(order(&s).iter().map(|x| x.0).collect::<Vec<_>>(), [c, a, b]);
    s.write(|tx| move_between(tx, c, lane, Some(a), Some(b))).unwrap();
    assert_eq!(order(&s).iter().map(|x| x.0).collect::<Vec<_>>(), [a, c, b]);
    s.write(|tx| move_between(tx, c, lane, None, None)).unwrap();
    assert_eq!(order(&s).iter().map(|x| x.0).collect::<Vec<_>>(), [a, b, c]);
    // Dropped where it already is: no change, nothing queued.
    let placed = s.write(|tx| move_between(tx, c, lane, Some(b), None)).unwrap();
    assert!(!placed.updated.changed && placed.rebalanced.is_empty());
    // Into another lane, between nothing: position 1 there.
    let placed = s.write(|tx| move_between(tx, a, "done", None, None)).unwrap();
    assert_eq!((placed.updated.view.lane.as_str(), placed.updated.view.position), ("done", 1.0));
}

/// Equal positions (two devices chose the same midpoint) list by id, whatever order the rows
/// were inserted in locally: every device shows the same order.
#[test]
fn equal_positions_list_by_id_not_by_insertion() {
    let s = Store::open_in_memory().unwrap();
    let lane = deckhand_protocol::DEFAULT_LANE;
    let (lo, hi) = (Uuid::from_u128(0x1000), Uuid::from_u128(0x2000));
    for (id, title) in [(hi, "tie high"), (lo, "tie low")] {
        let new = NewCard { id, title: title.into(), body: String::new(), url: None, tags: vec![], lane: lane.into(), position: 1.5, pinned: false, link_meta: None };
        s.write(|tx| writes::create_card(tx, new, Priority::Normal)).unwrap();
    }
    assert_eq!(listed(&s, Some(lane), None), [lo, hi]);
    assert_eq!(listed(&s, None, None), [lo, hi]);
    assert_eq!(listed(&s, None, Some("tie")), [lo, hi]);
    // A move between the tied pair has no room: the lane is rebalanced around it.
    let mid = create(&s, "between the ties");
    let placed = s.write(|tx| move_between(tx, mid, lane, Some(lo), Some(hi))).unwrap();
    assert_eq!(placed.rebalanced.len(), 2);
    assert_eq!(order(&s), [(lo, 1.0), (mid, 2.0), (hi, 3.0)]);
}
