//! `POST /v1/batch`: each write answers exactly as its single request, shares that request's
//! idempotency record, stays inside the caller's cards, and the batch obeys its limits.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Client, Harness, Resp, key, new_card};
use uuid::Uuid;

fn write(method: &str, path: &str, key: &str, body: Option<&Value>) -> Value {
    let mut w = json!({ "method": method, "path": path, "idempotency_key": key });
    if let Some(b) = body {
        // The exact text a single request would send (reqwest's `.json` uses serde_json too).
        w["body"] = Value::String(serde_json::to_string(b).unwrap());
    }
    w
}

async fn batch(c: &Client, writes: Vec<Value>) -> Resp {
    Client::send(c.req(Method::POST, "/v1/batch").json(&json!({ "writes": writes }))).await
}

fn results(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    let v: Value = serde_json::from_str(&r.text).unwrap();
    v["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_write_answers_as_its_single_request() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let gone = ann.new_card("gone").await;
    ann.delete(gone.id, 1).await.card(200);
    let r = batch(
        &ann,
        vec![
            write("POST", "/v1/cards", &key(), Some(&new_card(a, "a"))),
            write("POST", "/v1/cards", &key(), Some(&new_card(b, "b"))),
            write("PATCH", &format!("/v1/cards/{a}"), &key(), Some(&json!({"base_version": 1, "changes": {"title": "a2"}}))),
            write("DELETE", &format!("/v1/cards/{b}?base_version=1"), &key(), None),
            write("POST", "/v1/cards", &key(), Some(&json!({"id": Uuid::now_v7(), "title": ""}))),
            write("PATCH", &format!("/v1/cards/{a}"), &key(), Some(&json!({"base_version": 1, "changes": {"title": "stale"}}))),
            write("PATCH", &format!("/v1/cards/{}", gone.id), &key(), Some(&json!({"base_version": 2, "changes": {"title": "x"}}))),
            write("GET", &format!("/v1/cards/{a}"), &key(), None),
            write("POST", "/v1/elsewhere", &key(), Some(&json!({}))),
            write("PATCH", &format!("/v1/cards/{}", Uuid::now_v7()), &key(), Some(&json!({"base_version": 1, "changes": {"pinned": true}}))),
            write("POST", "/v1/cards", &key(), Some(&json!("not an object"))),
            write("POST", "/v1/cards", "", Some(&new_card(Uuid::now_v7(), "no key"))),
        ],
    )
    .await;
    let res = results(&r);
    let statuses: Vec<u64> = res.iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![201, 201, 200, 200, 422, 409, 410, 405, 404, 404, 422, 400]);
    assert_eq!(res[2]["body"]["title"], "a2");
    assert_eq!(res[2]["body"]["version"], 2);
    assert_eq!(res[3]["body"]["deleted"], true);
    assert_eq!(res[4]["body"]["code"], "validation_failed");
    assert_eq!(res[5]["body"]["code"], "version_conflict");
    assert_eq!(res[5]["body"]["current"]["title"], "a2", "409 carries the current card");
    assert_eq!(res[6]["body"]["current"]["deleted"], true);
    assert_eq!(res[7]["body"]["code"], "method_not_allowed");
    assert_eq!(res[11]["body"]["code"], "idempotency_key_invalid");
    // The writes happened, in order, each with its own change number.
    assert_eq!(ann.get_card(a).await.card(200).title, "a2");
    assert_eq!(ann.get_card(b).await.status, 410);
    let feed = ann.all_changes(0).await;
    assert_eq!(feed.iter().filter(|c| c.card.id == a || c.card.id == b).count(), 2, "compacted feed: one row per card");
}

#[tokio::test]
async fn a_write_shares_its_idempotency_record_with_the_single_request() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    // Sent alone first, then retried inside a batch: the stored answer, nothing applied twice.
    let (k1, c1) = (key(), new_card(Uuid::now_v7(), "alone first"));
    let first = ann.create_with_key(&k1, &c1).await;
    let card1 = first.card(201);
    ann.patch(card1.id, 1, json!({"title": "changed since"})).await.card(200);
    let res = results(&batch(&ann, vec![write("POST", "/v1/cards", &k1, Some(&c1))]).await);
    assert_eq!(res[0]["status"], 201);
    assert_eq!(res[0]["replayed"], true);
    assert_eq!(res[0]["body"], serde_json::from_str::<Value>(&first.text).unwrap());

    // Sent in a batch first, then retried alone.
    let (k2, c2) = (key(), new_card(Uuid::now_v7(), "batch first"));
    let res = results(&batch(&ann, vec![write("POST", "/v1/cards", &k2, Some(&c2))]).await);
    assert_eq!((res[0]["status"].as_u64(), res[0]["replayed"].as_bool()), (Some(201), Some(false)));
    let again = ann.create_with_key(&k2, &c2).await;
    assert!(again.replayed());
    assert_eq!(serde_json::from_str::<Value>(&again.text).unwrap(), res[0]["body"]);

    // The same key for a different write is refused, as it would be alone.
    let res = results(&batch(&ann, vec![write("POST", "/v1/cards", &k2, Some(&new_card(Uuid::now_v7(), "other")))]).await);
    assert_eq!(res[0]["status"], 422);
    assert_eq!(res[0]["body"]["code"], "idempotency_key_reused");
    let live = ann.get("/v1/cards?limit=100").await.page().items;
    assert_eq!(live.len(), 2, "nothing applied twice: {live:?}");
}

#[tokio::test]
async fn another_users_cards_and_keys_stay_out_of_reach() {
    let h = Harness::start().await;
    let (ann, bob) = (h.user("ann"), h.user("bob"));
    let k = key();
    let card = ann.create_with_key(&k, &new_card(Uuid::now_v7(), "ann's")).await.card(201);
    let res = results(
        &batch(
            &bob,
            vec![
                write("PATCH", &format!("/v1/cards/{}", card.id), &key(), Some(&json!({"base_version": 1, "changes": {"title": "bob was here"}}))),
                write("DELETE", &format!("/v1/cards/{}?base_version=1", card.id), &key(), None),
                // Ann's key and body: bob gets his own record (a create of his own), not ann's answer.
                write("POST", "/v1/cards", &k, Some(&new_card(Uuid::now_v7(), "bob's"))),
            ],
        )
        .await,
    );
    assert_eq!(res[0]["status"], 404);
    assert_eq!(res[1]["status"], 404);
    assert_eq!((res[2]["status"].as_u64(), res[2]["replayed"].as_bool()), (Some(201), Some(false)));
    assert_eq!(res[2]["body"]["title"], "bob's");
    let mine = ann.get_card(card.id).await.card(200);
    assert_eq!((mine.title.as_str(), mine.version), ("ann's", 1));
    assert!(res.iter().all(|r| !r.to_string().contains("ann's")), "nothing of ann's leaks: {res:?}");
}

#[tokio::test]
async fn batch_limits_are_clear_errors() {
    let h = Harness::start_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 20;
    })
    .await;
    let ann = h.user("ann");
    let none = batch(&ann, vec![]).await;
    none.problem(422, "validation_failed");
    let many: Vec<Value> = (0..101).map(|_| write("POST", "/v1/cards", &key(), Some(&new_card(Uuid::now_v7(), "x")))).collect();
    batch(&ann, many).await.problem(422, "validation_failed");
    let huge = "x".repeat(300 * 1024);
    let res = results(&batch(&ann, vec![write("POST", "/v1/cards", &key(), Some(&json!({"id": Uuid::now_v7(), "title": "t", "body": huge})))]).await);
    assert_eq!(res[0]["status"], 413);
    let over = "y".repeat(5 * 1024 * 1024);
    Client::send(ann.req(Method::POST, "/v1/batch").header("content-type", "application/json").body(over)).await.problem(413, "payload_too_large");
    Client::send(ann.req(Method::POST, "/v1/batch").header("content-type", "text/plain").body("{}")).await.problem(415, "unsupported_media_type");
    let anon = Client::send(h.client("nope").req(Method::POST, "/v1/batch").json(&json!({"writes": []}))).await;
    anon.problem(401, "unauthorized");
    // Every write counts against the token's rate limit: 20 writes do not fit in what is left.
    let twenty: Vec<Value> = (0..20).map(|_| write("POST", "/v1/cards", &key(), Some(&new_card(Uuid::now_v7(), "r")))).collect();
    let limited = batch(&ann, twenty).await;
    limited.problem(429, "rate_limited");
    assert!(limited.header("retry-after").is_some());
    assert!(ann.get("/v1/cards?limit=100").await.page().items.is_empty(), "a refused batch applies nothing");
}
