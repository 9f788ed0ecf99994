//! Bearer auth on every /v1 route; what needs no auth; unknown routes.

mod support;

use reqwest::Method;
use support::{Client, Harness, Resp};
use uuid::Uuid;

fn v1_routes() -> Vec<(Method, String)> {
    let id = Uuid::now_v7();
    vec![
        (Method::GET, "/v1/cards".into()),
        (Method::POST, "/v1/cards".into()),
        (Method::GET, format!("/v1/cards/{id}")),
        (Method::PATCH, format!("/v1/cards/{id}")),
        (Method::DELETE, format!("/v1/cards/{id}?base_version=1")),
        (Method::POST, "/v1/batch".into()),
        (Method::GET, "/v1/changes".into()),
        (Method::GET, "/v1/events".into()),
        (Method::GET, "/v1/openapi.json".into()),
    ]
}

async fn assert_401(h: &Harness, auth: Option<&str>) {
    for (method, path) in v1_routes() {
        let mut rb = h.http.request(method.clone(), format!("{}{path}", h.url())).header("idempotency-key", "k");
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        let r = Client::send(rb).await;
        r.problem(401, "unauthorized");
        let www = r.header("www-authenticate").unwrap_or_else(|| panic!("{method} {path}: no WWW-Authenticate"));
        assert!(www.starts_with("Bearer"), "{method} {path}: WWW-Authenticate {www}");
    }
}

#[tokio::test]
async fn every_v1_route_needs_a_bearer_token() {
    let h = Harness::start().await;
    assert_401(&h, None).await;
    assert_401(&h, Some("Bearer dh_not_a_real_token")).await;
    assert_401(&h, Some("Bearer ")).await;
    let token = h.server.add_user("ann");
    assert_401(&h, Some(&format!("Basic {token}"))).await;
    // The same token in the right scheme works.
    let r = h.client(&token).get("/v1/cards").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn revoked_token_is_refused() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    assert_eq!(ann.get("/v1/cards").await.status, 200);
    assert_eq!(h.server.revoke("ann"), 1);
    ann.get("/v1/cards").await.problem(401, "unauthorized");
}

#[tokio::test]
async fn healthz_needs_no_auth() {
    let h = Harness::start().await;
    let r = Resp::read(h.http.get(format!("{}/healthz", h.url())).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["status"], "ok");
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    ann.get("/v1/nothing-here").await.problem(404, "not_found");
    ann.get("/nope").await.problem(404, "not_found");
    ann.get(&format!("/v1/cards/{}/extra", Uuid::now_v7())).await.problem(404, "not_found");
}

#[tokio::test]
async fn wrong_method_is_a_405_problem() {
    let h = Harness::start().await;
    let ann = h.user("ann");
    Client::send(ann.req(Method::PUT, "/v1/cards")).await.problem(405, "method_not_allowed");
}

/// The write routes trust a token this instance has already seen live and leave the liveness
/// check to the write's own transaction (`auth::require_writer`): after a revoke no write of any
/// kind goes through — not even the replay of one made before — and nothing is written.
#[tokio::test]
async fn a_token_revoked_after_writing_can_write_nothing_more() {
    let h = Harness::start().await;
    let token = h.server.add_user("ann");
    let user = h.server.storage().user_for_token(&deckhand_server::auth::hash_token(&token)).unwrap().expect("ann");
    let ann = h.client(&token);
    let key = support::key();
    let body = support::new_card(Uuid::now_v7(), "before the revoke");
    let card = ann.create_with_key(&key, &body).await.card(201);
    // The instance now knows the token; the next writes take the path without a lookup.
    assert_eq!(h.server.revoke("ann"), 1);
    ann.create(&support::new_card(Uuid::now_v7(), "after the revoke")).await.problem(401, "unauthorized");
    ann.create_with_key(&key, &body).await.problem(401, "unauthorized");
    ann.patch(card.id, card.version, serde_json::json!({"title": "after the revoke"})).await.problem(401, "unauthorized");
    ann.delete(card.id, card.version).await.problem(401, "unauthorized");
    ann.restore(card.id, card.version).await.problem(401, "unauthorized");
    let lane = serde_json::json!({"id": Uuid::now_v7(), "name": "After"});
    Client::send(ann.req(Method::POST, "/v1/lanes").header("idempotency-key", support::key()).json(&lane))
        .await
        .problem(401, "unauthorized");
    assert_eq!(h.server.storage().last_seq(user).unwrap(), 1, "a write went through after the revoke");
}
