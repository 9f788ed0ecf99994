//! Lanes as synced records (`/v1/lanes`): idempotent, versioned writes on the user's change feed
//! and stream, names unique per user case-insensitively, isolation. Runs on SQLite and (with
//! `DECKHAND_TEST_BACKEND=postgres`) on PostgreSQL.

mod support;

use deckhand_protocol::{DEFAULT_LANES, Lane, LanesPage};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Client, Harness, Resp, key};
use uuid::Uuid;

async fn create_lane(c: &Client, k: &str, body: &Value) -> Resp {
    Client::send(c.req(Method::POST, "/v1/lanes").header("idempotency-key", k).json(body)).await
}

async fn patch_lane(c: &Client, k: &str, id: Uuid, base: i64, changes: Value) -> Resp {
    Client::send(c.req(Method::PATCH, &format!("/v1/lanes/{id}")).header("idempotency-key", k).json(&json!({"base_version": base, "changes": changes}))).await
}

async fn delete_lane(c: &Client, k: &str, id: Uuid, base: i64) -> Resp {
    Client::send(c.req(Method::DELETE, &format!("/v1/lanes/{id}?base_version={base}")).header("idempotency-key", k)).await
}

fn lane(r: &Resp, status: u16) -> Lane {
    assert_eq!(r.status, status, "body: {}", r.text);
    serde_json::from_value(r.json.clone()).unwrap_or_else(|e| panic!("not a lane ({e}): {}", r.text))
}

async fn list(c: &Client) -> Vec<Lane> {
    let r = c.get("/v1/lanes").await;
    assert_eq!(r.status, 200, "{}", r.text);
    serde_json::from_value::<LanesPage>(r.json).unwrap().items
}

#[tokio::test]
async fn create_rename_move_delete_are_versioned_and_replayed_under_their_key() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    let k = key();
    let body = json!({"id": id, "name": "Ideas", "position": 5.0});
    let made = lane(&create_lane(&ann, &k, &body).await, 201);
    assert_eq!((made.name.as_str(), made.version, made.position, made.deleted), ("Ideas", 1, 5.0, false));
    let again = create_lane(&ann, &k, &body).await;
    assert!(again.replayed());
    assert_eq!(lane(&again, 201), made);
    assert_eq!(ann.changes(0, 100).await.last_seq, 1, "a replay takes no seq");

    let renamed = lane(&patch_lane(&ann, &key(), id, 1, json!({"name": "Later"})).await, 200);
    assert_eq!((renamed.name.as_str(), renamed.version), ("Later", 2));
    let moved = lane(&patch_lane(&ann, &key(), id, 2, json!({"position": 0.5})).await, 200);
    assert_eq!((moved.position, moved.version), (0.5, 3));
    // A stale base is 409 with the lane as it is now.
    let stale = patch_lane(&ann, &key(), id, 1, json!({"name": "Old"})).await;
    let p = stale.problem(409, "version_conflict");
    assert_eq!(p.current_lane, Some(moved.clone()));
    assert!(p.current.is_none());

    let tomb = lane(&delete_lane(&ann, &key(), id, 3).await, 200);
    assert!(tomb.deleted && tomb.version == 4);
    let gone = patch_lane(&ann, &key(), id, 4, json!({"name": "x"})).await.problem(410, "gone");
    assert_eq!(gone.current_lane, Some(tomb.clone()));
    assert!(list(&ann).await.is_empty());
    // A create of the deleted id meets its tombstone (a late first-run create never revives it).
    let late = create_lane(&ann, &key(), &body).await.problem(409, "already_exists");
    assert_eq!(late.current_lane, Some(tomb));
}

#[tokio::test]
async fn names_are_unique_per_user_case_insensitively() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let first = lane(&create_lane(&ann, &key(), &json!({"id": Uuid::now_v7(), "name": "Doing"})).await, 201);
    let dup = create_lane(&ann, &key(), &json!({"id": Uuid::now_v7(), "name": " doING "})).await;
    let p = dup.problem(409, "lane_name_taken");
    assert_eq!(p.current_lane, Some(first.clone()));
    // Another user's names are their own.
    lane(&create_lane(&bob, &key(), &json!({"id": Uuid::now_v7(), "name": "Doing"})).await, 201);
    // A rename onto another lane's name is refused too; onto its own name in another case is not.
    let other = lane(&create_lane(&ann, &key(), &json!({"id": Uuid::now_v7(), "name": "Done"})).await, 201);
    patch_lane(&ann, &key(), other.id, 1, json!({"name": "DOING"})).await.problem(409, "lane_name_taken");
    assert_eq!(lane(&patch_lane(&ann, &key(), other.id, 1, json!({"name": "DONE"})).await, 200).name, "DONE");
    // Once deleted, the name is free.
    lane(&delete_lane(&ann, &key(), first.id, 1).await, 200);
    lane(&create_lane(&ann, &key(), &json!({"id": Uuid::now_v7(), "name": "doing"})).await, 201);
}

#[tokio::test]
async fn default_lanes_created_twice_are_one_set() {
    // Two devices doing first run offline send the same fixed ids: the second create of each is
    // `already_exists` with the first, so there are three lanes, not six.
    let h = Harness::start().await;
    let ann = h.user("ann");
    for device in 0..2 {
        for (id, name, pos) in DEFAULT_LANES {
            let r = create_lane(&ann, &key(), &json!({"id": id, "name": name, "position": pos})).await;
            if device == 0 {
                lane(&r, 201);
            } else {
                assert_eq!(r.problem(409, "already_exists").current_lane.unwrap().id, id);
            }
        }
    }
    let names: Vec<_> = list(&ann).await.into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["Inbox", "Doing", "Done"]);
}

#[tokio::test]
async fn lane_list_is_in_position_order_and_isolated() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    for (name, pos) in [("c", 3.0), ("a", 1.0), ("b", 2.0)] {
        lane(&create_lane(&ann, &key(), &json!({"id": Uuid::now_v7(), "name": name, "position": pos})).await, 201);
    }
    let lanes = list(&ann).await;
    assert_eq!(lanes.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert!(list(&bob).await.is_empty());
    // Bob cannot touch Ann's lane: 404, as for cards.
    patch_lane(&bob, &key(), lanes[0].id, 1, json!({"name": "mine"})).await.problem(404, "not_found");
    delete_lane(&bob, &key(), lanes[0].id, 1).await.problem(404, "not_found");
    patch_lane(&ann, &key(), Uuid::now_v7(), 1, json!({"name": "x"})).await.problem(404, "not_found");
}

#[tokio::test]
async fn lane_writes_ride_the_card_change_feed_in_seq_order() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let c1 = ann.new_card("one").await; // seq 1
    let l = lane(&create_lane(&ann, &key(), &json!({"id": Uuid::now_v7(), "name": "L"})).await, 201); // seq 2
    let c2 = ann.new_card("two").await; // seq 3
    let l2 = lane(&patch_lane(&ann, &key(), l.id, 1, json!({"name": "M"})).await, 200); // seq 4
    let all = ann.changes(0, 100).await;
    assert_eq!(all.next_since, 4);
    assert_eq!(all.changes.iter().map(|c| (c.seq, c.card.id)).collect::<Vec<_>>(), [(1, c1.id), (3, c2.id)]);
    assert_eq!(all.lanes.iter().map(|c| (c.seq, c.lane.clone())).collect::<Vec<_>>(), [(4, l2.clone())], "compacted to its latest state");
    // Pages of one never skip a change of the other kind.
    let mut since = 0;
    let mut seen = Vec::new();
    loop {
        let p = ann.changes(since, 1).await;
        assert!(p.changes.len() + p.lanes.len() <= 1);
        seen.extend(p.changes.iter().map(|c| c.seq).chain(p.lanes.iter().map(|l| l.seq)));
        since = p.next_since;
        if !p.has_more {
            break;
        }
    }
    assert_eq!(seen, [1, 3, 4]);
    // An old client's cursor covers lanes: after seq 3 only the lane remains.
    let tail = ann.changes(3, 100).await;
    assert!(tail.changes.is_empty());
    assert_eq!(tail.lanes.len(), 1);
}

#[tokio::test]
async fn lane_events_stream_live_and_on_replay() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let l = lane(&create_lane(&ann, &key(), &json!({"id": Uuid::now_v7(), "name": "L"})).await, 201);
    let mut live = ann.events(Some(1)).await;
    let renamed = lane(&patch_lane(&ann, &key(), l.id, 1, json!({"name": "R"})).await, 200);
    let ev = live.next_event().await;
    assert_eq!((ev.kind(), ev.seq()), ("lane.updated", 2));
    assert_eq!(serde_json::from_str::<Lane>(&ev.data).unwrap(), renamed);
    let tomb = lane(&delete_lane(&ann, &key(), l.id, 2).await, 200);
    let ev = live.next_event().await;
    assert_eq!((ev.kind(), ev.seq()), ("lane.deleted", 3));
    assert_eq!(serde_json::from_str::<Lane>(&ev.data).unwrap(), tomb);
    // A card after it; a replay from 0 sends both kinds in seq order.
    let card = ann.new_card("c").await;
    let mut replay = ann.events(Some(0)).await;
    let a = replay.next_event().await;
    let b = replay.next_event().await;
    assert_eq!((a.kind(), a.seq()), ("lane.deleted", 3));
    assert_eq!((b.kind(), b.seq()), ("card.created", 4));
    assert_eq!(b.card(), card);
}

#[tokio::test]
async fn bad_lane_requests_are_problems() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    create_lane(&ann, &key(), &json!({"id": id, "name": "  "})).await.problem(422, "validation_failed");
    create_lane(&ann, &key(), &json!({"id": id, "name": "x", "colour": 1})).await.problem(422, "validation_failed");
    let r = Client::send(ann.req(Method::POST, "/v1/lanes").json(&json!({"id": id, "name": "x"}))).await;
    r.problem(400, "idempotency_key_invalid");
    lane(&create_lane(&ann, &key(), &json!({"id": id, "name": "x"})).await, 201);
    patch_lane(&ann, &key(), id, 1, json!({})).await.problem(422, "validation_failed");
    let k = key();
    lane(&patch_lane(&ann, &k, id, 1, json!({"name": "y"})).await, 200);
    patch_lane(&ann, &k, id, 2, json!({"name": "z"})).await.problem(422, "idempotency_key_reused");
    Client::send(ann.req(Method::DELETE, &format!("/v1/lanes/{id}")).header("idempotency-key", key())).await.problem(422, "validation_failed");
    patch_lane(&ann, &key(), Uuid::nil(), 1, json!({"name": "q"})).await.problem(404, "not_found");
    Client::send(ann.req(Method::PATCH, "/v1/lanes/not-a-uuid").header("idempotency-key", key()).json(&json!({"base_version": 1, "changes": {"name": "q"}}))).await.problem(404, "not_found");
}
