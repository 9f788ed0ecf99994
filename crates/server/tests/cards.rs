//! The card lifecycle: create, read, patch, delete, list, with their success and refusal codes.

mod support;

use chrono::DateTime;
use serde_json::json;
use support::{Harness, new_card};
use uuid::Uuid;

fn assert_rfc3339(v: &serde_json::Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s} is not RFC 3339: {e}"));
}

#[tokio::test]
async fn create_then_get() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    let body = json!({
        "id": id, "title": "Read this", "body": "notes", "url": "https://example.com/a?b=1",
        "tags": ["x", "y"], "lane": "later", "position": 2.5, "pinned": true
    });
    let r = ann.create(&body).await;
    let card = r.card(201);
    assert_eq!(r.json["deleted"], false);
    assert_rfc3339(&r.json["created_at"]);
    assert_rfc3339(&r.json["updated_at"]);
    assert_eq!((card.id, card.title.as_str(), card.body.as_str()), (id, "Read this", "notes"));
    assert_eq!(card.url.as_deref(), Some("https://example.com/a?b=1"));
    assert_eq!(card.tags, ["x", "y"]);
    assert_eq!((card.lane.as_str(), card.position, card.pinned), ("later", 2.5, true));
    assert_eq!(card.version, 1);
    assert_eq!(card.created_at, card.updated_at);

    let got = ann.get_card(id).await;
    assert_eq!(got.header("etag"), Some("\"1\""));
    assert_eq!(got.card(200), card);
}

#[tokio::test]
async fn create_fills_defaults() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let r = ann.create(&new_card(Uuid::now_v7(), "bare")).await;
    let card = r.card(201);
    assert_eq!((card.body.as_str(), card.lane.as_str(), card.position, card.pinned), ("", "inbox", 0.0, false));
    assert!(card.tags.is_empty());
    assert_eq!(r.json["url"], serde_json::Value::Null);
}

#[tokio::test]
async fn create_with_an_existing_id_is_409_with_current() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("first").await;
    let p = ann.create(&new_card(card.id, "second")).await.problem(409, "already_exists");
    assert_eq!(p.current.as_ref(), Some(&card));
    assert_eq!(ann.get_card(card.id).await.card(200), card);
}

#[tokio::test]
async fn patch_bumps_version_and_keeps_other_fields() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    let created = ann
        .create(&json!({"id": id, "title": "t", "url": "http://a.example/", "tags": ["k"], "pinned": true}))
        .await
        .card(201);
    let r = ann.patch(id, 1, json!({"title": "t2", "url": null})).await;
    assert_eq!(r.header("etag"), Some("\"2\""));
    let v2 = r.card(200);
    assert_eq!((v2.version, v2.title.as_str(), v2.url.as_deref()), (2, "t2", None));
    assert_eq!((v2.tags.clone(), v2.pinned, v2.created_at), (created.tags.clone(), true, created.created_at));
    assert!(v2.updated_at >= created.updated_at);
    let v3 = ann.patch(id, 2, json!({"lane": "done", "position": -1.25, "pinned": false})).await.card(200);
    assert_eq!((v3.version, v3.lane.as_str(), v3.position, v3.pinned, v3.title.as_str()), (3, "done", -1.25, false, "t2"));
    assert_eq!(ann.get_card(id).await.card(200), v3);
}

#[tokio::test]
async fn stale_patch_is_409_with_current_and_changes_nothing() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    let v2 = ann.patch(card.id, 1, json!({"title": "mine"})).await.card(200);
    for stale in [1, 0, 3, 99] {
        let p = ann.patch(card.id, stale, json!({"title": "theirs"})).await.problem(409, "version_conflict");
        assert_eq!(p.current.as_ref(), Some(&v2), "base_version {stale}");
    }
    assert_eq!(ann.get_card(card.id).await.card(200), v2);
}

#[tokio::test]
async fn absent_cards_are_404() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let id = Uuid::now_v7();
    ann.get_card(id).await.problem(404, "not_found");
    ann.patch(id, 1, json!({"title": "x"})).await.problem(404, "not_found");
    ann.delete(id, 1).await.problem(404, "not_found");
    ann.get("/v1/cards/not-a-uuid").await.problem(404, "not_found");
}

#[tokio::test]
async fn delete_makes_a_tombstone_and_then_410() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("doomed").await;
    let p = ann.delete(card.id, 2).await.problem(409, "version_conflict");
    assert_eq!(p.current.as_ref(), Some(&card));

    let tomb = ann.delete(card.id, 1).await.card(200);
    assert!(tomb.deleted);
    assert_eq!(tomb.version, 2);
    assert_eq!(tomb.title, "doomed");
    assert_eq!(tomb.created_at, card.created_at);

    let again = ann.delete(card.id, 2).await.problem(410, "gone");
    assert_eq!(again.current.as_ref(), Some(&tomb));
    let got = ann.get_card(card.id).await.problem(410, "gone");
    assert_eq!(got.current.as_ref(), Some(&tomb));
    let patched = ann.patch(card.id, 2, json!({"title": "zombie"})).await.problem(410, "gone");
    assert_eq!(patched.current.as_ref(), Some(&tomb));
    let recreated = ann.create(&new_card(card.id, "again")).await.problem(409, "already_exists");
    assert_eq!(recreated.current.as_ref(), Some(&tomb));
}

#[tokio::test]
async fn delete_needs_an_integer_base_version() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let card = ann.new_card("t").await;
    for path in [format!("/v1/cards/{}", card.id), format!("/v1/cards/{}?base_version=one", card.id)] {
        let r = support::Client::send(ann.req(reqwest::Method::DELETE, &path).header("idempotency-key", support::key())).await;
        let p = r.problem(422, "validation_failed");
        assert_eq!(p.errors.unwrap()[0].field, "base_version");
    }
    assert_eq!(ann.get_card(card.id).await.card(200), card);
}

#[tokio::test]
async fn list_pages_live_cards_in_a_stable_order() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    let mut live = Vec::new();
    for i in 0..7 {
        live.push(ann.new_card(&format!("c{i}")).await);
    }
    let gone = live.remove(3);
    ann.delete(gone.id, 1).await.card(200);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/v1/cards?limit=2".to_string(),
            Some(c) => format!("/v1/cards?limit=2&cursor={c}"),
        };
        let page = ann.get(&path).await.page();
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        pages += 1;
        assert!(pages < 10, "pagination does not end");
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut ids: Vec<Uuid> = seen.iter().map(|c| c.id).collect();
    assert!(!ids.contains(&gone.id), "tombstone listed");
    assert!(seen.iter().all(|c| !c.deleted));
    let first_order = ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "every live card exactly once");
    // One page with everything gives the same order.
    let all = ann.get("/v1/cards?limit=100").await.page();
    assert_eq!(all.items.iter().map(|c| c.id).collect::<Vec<_>>(), first_order);
    assert_eq!(all.next_cursor, None);
}

#[tokio::test]
async fn list_refuses_bad_limit_and_cursor() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    for q in ["limit=0", "limit=1001", "limit=x", "cursor=garbage"] {
        let p = ann.get(&format!("/v1/cards?{q}")).await.problem(422, "validation_failed");
        assert!(!p.errors.unwrap_or_default().is_empty(), "{q}: no errors");
    }
}
