//! `GET /v1/cards/{id}/versions`: every write keeps the card's version (fields, time, writer),
//! newest first, paged; isolation like every route; bounded by age and count.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Client, Harness};
use uuid::Uuid;

async fn versions(c: &Client, id: Uuid, q: &str) -> support::Resp {
    c.get(&format!("/v1/cards/{id}/versions{q}")).await
}

#[tokio::test]
async fn every_write_is_a_version_newest_first_with_its_writer() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("v1").await;
    ann.patch(card.id, 1, json!({"title": "v2"})).await.card(200);
    let tomb = ann.delete(card.id, 2).await.card(200);
    let live = ann.restore(card.id, tomb.version).await.card(200);
    let r = versions(&ann, card.id, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json["items"].as_array().unwrap();
    let got: Vec<(i64, &str, bool)> = items.iter().map(|v| (v["card"]["version"].as_i64().unwrap(), v["card"]["title"].as_str().unwrap(), v["card"]["deleted"].as_bool().unwrap())).collect();
    assert_eq!(got, vec![(4, "v2", false), (3, "v2", true), (2, "v2", false), (1, "v1", false)]);
    assert_eq!(r.json["next_cursor"], serde_json::Value::Null);
    assert_eq!(items[0]["card"]["updated_at"], serde_json::to_value(live.updated_at).unwrap());
    // One token wrote them all: the same short writer id, never the token itself.
    let writer = items[0]["writer"].as_str().unwrap();
    assert_eq!(writer.len(), 16);
    assert!(items.iter().all(|v| v["writer"] == writer));
    assert!(!ann.token.contains(writer));
}

#[tokio::test]
async fn versions_page_by_cursor() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t0").await;
    for v in 1..5 {
        ann.patch(card.id, v, json!({"title": format!("t{v}")})).await.card(200);
    }
    let p1 = versions(&ann, card.id, "?limit=2").await;
    let v1: Vec<i64> = p1.json["items"].as_array().unwrap().iter().map(|v| v["card"]["version"].as_i64().unwrap()).collect();
    assert_eq!(v1, vec![5, 4]);
    let cursor = p1.json["next_cursor"].as_str().unwrap().to_string();
    let p2 = versions(&ann, card.id, &format!("?limit=2&cursor={cursor}")).await;
    let v2: Vec<i64> = p2.json["items"].as_array().unwrap().iter().map(|v| v["card"]["version"].as_i64().unwrap()).collect();
    assert_eq!(v2, vec![3, 2]);
    let p3 = versions(&ann, card.id, &format!("?limit=2&cursor={}", p2.json["next_cursor"].as_str().unwrap())).await;
    assert_eq!(p3.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(p3.json["next_cursor"], serde_json::Value::Null);
    versions(&ann, card.id, "?cursor=abc").await.problem(422, "validation_failed");
    versions(&ann, card.id, "?limit=0").await.problem(422, "validation_failed");
}

#[tokio::test]
async fn versions_are_isolated_and_go_with_a_purged_card() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let card = ann.new_card("mine").await;
    versions(&bob, card.id, "").await.problem(404, "not_found");
    versions(&ann, Uuid::now_v7(), "").await.problem(404, "not_found");
    Client::send(ann.req(Method::GET, "/v1/cards/nope/versions")).await.problem(404, "not_found");
    ann.delete(card.id, 1).await.card(200);
    assert_eq!(versions(&ann, card.id, "").await.json["items"].as_array().unwrap().len(), 2, "a card in the Trash keeps its history");
    Client::send(ann.req(Method::DELETE, "/v1/trash")).await;
    versions(&ann, card.id, "").await.problem(404, "not_found");
}

#[tokio::test]
async fn history_is_bounded_by_count_and_age_but_keeps_the_current_version() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t0").await;
    for v in 1..6 {
        ann.patch(card.id, v, json!({"title": format!("t{v}")})).await.card(200);
    }
    let s = h.server.storage().clone();
    let keep3 = s.clone();
    let n = tokio::task::spawn_blocking(move || keep3.purge_versions(chrono::Utc::now() - chrono::Duration::days(1), 3)).await.unwrap().unwrap();
    assert_eq!(n, 3);
    let vs: Vec<i64> = versions(&ann, card.id, "").await.json["items"].as_array().unwrap().iter().map(|v| v["card"]["version"].as_i64().unwrap()).collect();
    assert_eq!(vs, vec![6, 5, 4]);
    // Everything is older than a cut-off in the future: only the current version stays.
    let n = tokio::task::spawn_blocking(move || s.purge_versions(chrono::Utc::now() + chrono::Duration::days(1), 100)).await.unwrap().unwrap();
    assert_eq!(n, 2);
    let vs: Vec<i64> = versions(&ann, card.id, "").await.json["items"].as_array().unwrap().iter().map(|v| v["card"]["version"].as_i64().unwrap()).collect();
    assert_eq!(vs, vec![6]);
}
