//! `link_meta` on the server: a card field stored with the card (both backends), validated
//! (bounded texts, the icon a data:image/ URI only) and within the card size rule.

mod support;

use serde_json::json;
use support::Harness;
use uuid::Uuid;

fn meta(title: &str) -> serde_json::Value {
    json!({ "status": "ok", "url": "https://example.com/a", "fetched_at": "2026-11-30T10:00:00Z",
            "title": title, "site_name": "Example", "icon": "data:image/png;base64,iVBORw0KGgo=", "http_status": 200 })
}

#[tokio::test]
async fn stored_returned_patched_and_cleared() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    let r = ann.create(&json!({ "id": id, "title": "t", "url": "https://example.com/a", "link_meta": meta("First") })).await;
    let card = r.card(201);
    assert_eq!(card.link_meta.as_ref().and_then(|m| m.title.as_deref()), Some("First"));
    assert_eq!(ann.get_card(id).await.card(200), card);

    let patched = ann.patch(id, 1, json!({ "link_meta": meta("Second") })).await.card(200);
    assert_eq!((patched.version, patched.title.as_str()), (2, "t"));
    assert_eq!(patched.link_meta.unwrap().title.as_deref(), Some("Second"));
    // A card without metadata has no `link_meta` key at all (older clients see nothing new).
    let cleared = ann.patch(id, 2, json!({ "link_meta": null })).await;
    assert!(cleared.json.get("link_meta").is_none(), "{}", cleared.json);
    assert_eq!(cleared.card(200).version, 3);
    let changes = ann.all_changes(0).await;
    assert_eq!(changes.last().unwrap().card.version, 3);
}

#[tokio::test]
async fn remote_icons_and_oversized_texts_are_refused() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    let mut m = meta("x");
    m["icon"] = json!("https://tracker.example/pixel.gif");
    let p = ann.patch(card.id, 1, json!({ "link_meta": m })).await.problem(422, "validation_failed");
    assert_eq!(p.errors.as_ref().unwrap()[0].field, "link_meta.icon");
    let p = ann.patch(card.id, 1, json!({ "link_meta": meta(&"é".repeat(501)) })).await.problem(422, "validation_failed");
    assert_eq!(p.errors.as_ref().unwrap()[0].field, "link_meta.title");
    let mut m = meta("x");
    m["status"] = json!("great");
    ann.patch(card.id, 1, json!({ "link_meta": m })).await.problem(422, "validation_failed");
    assert_eq!(ann.get_card(card.id).await.card(200).version, 1);
}

#[tokio::test]
async fn a_card_with_a_large_body_and_icon_must_still_fit() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    // Each part within its own limit, together over the card size rule.
    let mut m = meta("x");
    m["icon"] = json!(format!("data:image/png;base64,{}", "A".repeat(87_000)));
    m["description"] = json!("d".repeat(1000));
    let big_body = "ü".repeat(90_000);
    let card = ann.patch(card.id, card.version, json!({ "body": big_body })).await.card(200);
    let p = ann.patch(card.id, card.version, json!({ "link_meta": m })).await.problem(422, "validation_failed");
    assert!(p.detail.contains("bytes"), "{}", p.detail);
}
