//! Refusals of bad requests: 400 malformed, 413, 415, 422 with per-field errors, Idempotency-Key rules.

mod support;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Client, Harness, key, new_card};
use uuid::Uuid;

fn raw_post(c: &Client, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    c.req(Method::POST, "/v1/cards").header("idempotency-key", key()).header("content-type", content_type).body(body)
}

#[tokio::test]
async fn malformed_json_is_400() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    for body in ["{\"id\": ", "not json", "", "{\"title\": \"x\",}"] {
        Client::send(raw_post(&ann, "application/json", body)).await.problem(400, "malformed_request");
    }
    let card = ann.new_card("t").await;
    let r = Client::send(
        ann.req(Method::PATCH, &format!("/v1/cards/{}", card.id))
            .header("idempotency-key", key())
            .header("content-type", "application/json")
            .body("{\"base_version\": 1, \"changes\": {"),
    )
    .await;
    r.problem(400, "malformed_request");
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let body = new_card(Uuid::now_v7(), "t").to_string();
    Client::send(raw_post(&ann, "text/plain", body.clone())).await.problem(415, "unsupported_media_type");
    Client::send(ann.req(Method::POST, "/v1/cards").header("idempotency-key", key()).body(body.clone()))
        .await
        .problem(415, "unsupported_media_type");
    // Nothing was created.
    assert!(ann.get("/v1/cards").await.page().items.is_empty());
    Client::send(raw_post(&ann, "application/json; charset=utf-8", body)).await.card(201);
}

fn big_card() -> String {
    // Valid JSON of about 300 KiB: over the 256 KiB request limit.
    new_card(Uuid::now_v7(), "big").as_object().cloned().map(|mut o| {
        o.insert("body".into(), Value::String("x".repeat(300 * 1024)));
        Value::Object(o).to_string()
    }).unwrap()
}

#[tokio::test]
async fn body_over_256_kib_is_413() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    Client::send(raw_post(&ann, "application/json", big_card())).await.problem(413, "payload_too_large");
    // Without Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big_card().into_bytes().chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks).boxed());
    Client::send(raw_post(&ann, "application/json", body)).await.problem(413, "payload_too_large");
    assert!(ann.get("/v1/cards").await.page().items.is_empty());
}

#[tokio::test]
async fn the_limit_is_256_kib_exactly() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    // JSON allows trailing whitespace: pad a valid card to an exact size.
    let padded = |len: usize| {
        let mut s = new_card(Uuid::now_v7(), "padded").to_string();
        s.push_str(&" ".repeat(len - s.len()));
        s
    };
    Client::send(raw_post(&ann, "application/json", padded(256 * 1024))).await.card(201);
    Client::send(raw_post(&ann, "application/json", padded(256 * 1024 + 1))).await.problem(413, "payload_too_large");
}

fn fields(r: &support::Resp) -> Vec<String> {
    let p = r.problem(422, "validation_failed");
    p.errors.expect("422 carries errors").into_iter().map(|e| e.field).collect()
}

#[tokio::test]
async fn invalid_fields_are_422_with_errors() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"id": id, "title": ""}), &["title"]),
        (json!({"id": id, "title": "   "}), &["title"]),
        (json!({"id": id, "title": "t".repeat(501)}), &["title"]),
        (json!({"id": id, "title": "t", "body": "b".repeat(100_001)}), &["body"]),
        (json!({"id": id, "title": "t", "url": "/relative"}), &["url"]),
        (json!({"id": id, "title": "t", "url": "ftp://example.com/x"}), &["url"]),
        (json!({"id": id, "title": "t", "tags": (0..33).map(|i| format!("t{i}")).collect::<Vec<_>>()}), &["tags"]),
        (json!({"id": id, "title": "t", "tags": ["ok", ""]}), &["tags[1]"]),
        (json!({"id": id, "title": "t", "tags": ["k".repeat(65)]}), &["tags[0]"]),
        (json!({"id": id, "title": "t", "lane": "l".repeat(65)}), &["lane"]),
        (json!({"id": id, "title": "t", "lane": ""}), &["lane"]),
        (json!({"id": id, "title": "", "url": "mailto:a@b.c", "lane": ""}), &["title", "url", "lane"]),
    ];
    for (body, expect) in cases {
        let r = ann.create(&body).await;
        assert_eq!(fields(&r), expect, "body {}", &body.to_string()[..body.to_string().len().min(120)]);
    }
    // Well-formed JSON of the wrong shape is 422 too.
    for body in [json!({"title": "no id"}), json!({"id": "nope", "title": "t"}), json!({"id": id, "title": 5}),
                 json!({"id": id, "title": "t", "colour": "red"}), json!([1, 2])] {
        ann.create(&body).await.problem(422, "validation_failed");
    }
    // A field of the wrong type is named by its path.
    assert_eq!(fields(&ann.create(&json!({"id": id, "title": 5})).await), ["title"]);
    assert_eq!(fields(&ann.create(&json!({"id": id, "title": "t", "tags": ["a", 7]})).await), ["tags[1]"]);
    assert!(ann.get("/v1/cards").await.page().items.is_empty(), "an invalid create took effect");
}

#[tokio::test]
async fn limits_are_inclusive() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let tags: Vec<String> = (0..32).map(|i| format!("{i:0>64}")).collect();
    let body = json!({
        "id": Uuid::now_v7(), "title": "é".repeat(500), "body": "b".repeat(100_000),
        "tags": tags, "lane": "l".repeat(64), "url": "http://example.com"
    });
    let card = ann.create(&body).await.card(201);
    assert_eq!(card.tags.len(), 32);
}

#[tokio::test]
async fn invalid_patches_are_422() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    assert_eq!(fields(&ann.patch(card.id, 1, json!({})).await), ["changes"]);
    assert_eq!(fields(&ann.patch(card.id, 1, json!({"title": "", "tags": [""]})).await), ["title", "tags[0]"]);
    ann.patch(card.id, 1, json!({"version": 5})).await.problem(422, "validation_failed");
    assert_eq!(ann.get_card(card.id).await.card(200), card);
}

#[tokio::test]
async fn idempotency_key_is_required_and_bounded() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    let patch_body = json!({"base_version": 1, "changes": {"title": "x"}});
    let requests = |k: Option<String>| {
        let mut out = vec![
            ann.req(Method::POST, "/v1/cards").json(&new_card(Uuid::now_v7(), "t")),
            ann.req(Method::PATCH, &format!("/v1/cards/{}", card.id)).json(&patch_body),
            ann.req(Method::DELETE, &format!("/v1/cards/{}?base_version=1", card.id)),
        ];
        if let Some(k) = k {
            out = out.into_iter().map(|rb| rb.header("idempotency-key", k.clone())).collect();
        }
        out
    };
    for k in [None, Some(String::new()), Some("k".repeat(256))] {
        for rb in requests(k.clone()) {
            Client::send(rb).await.problem(400, "idempotency_key_invalid");
        }
    }
    assert_eq!(ann.get_card(card.id).await.card(200), card);
    assert_eq!(ann.changes(0, 100).await.changes.len(), 1);
    // 255 characters is fine.
    ann.create_with_key(&"k".repeat(255), &new_card(Uuid::now_v7(), "t")).await.card(201);
}
