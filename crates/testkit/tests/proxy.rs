//! The proxy in front of a real server does what each fault says.

use deckhand_server::testing::TestServer;
use deckhand_testkit::{Fault, FaultProxy, Plan};
use futures::StreamExt;
use serde_json::json;

async fn setup() -> (tempfile::TempDir, TestServer, String, FaultProxy) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("s.db")).await;
    let token = server.add_user("u");
    let proxy = FaultProxy::start(server.url()).await;
    (dir, server, token, proxy)
}

fn post(client: &reqwest::Client, base: &str, token: &str, key: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/v1/cards"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({ "id": uuid::Uuid::now_v7(), "title": "t" }))
}

#[tokio::test]
async fn scripted_faults_then_pass() {
    let (_dir, server, token, proxy) = setup().await;
    let client = reqwest::Client::new();
    proxy.script([Fault::Unavailable { retry_after: 3 }, Fault::RateLimited { retry_after: 2 }, Fault::ServerError]);
    let r = post(&client, &proxy.url(), &token, "a").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "3");
    let r = post(&client, &proxy.url(), &token, "b").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let r = post(&client, &proxy.url(), &token, "c").send().await.unwrap();
    assert_eq!(r.status(), 500);
    let r = post(&client, &proxy.url(), &token, "d").send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(proxy.injected_total(), 3);
    assert_eq!(proxy.requests_to("POST /v1/cards"), 4);
    // Only the passed request reached the server.
    assert_eq!(server.storage().changes_since(1, 0, 100).unwrap().len(), 1);
}

#[tokio::test]
async fn dropped_response_still_commits_on_the_server() {
    let (_dir, server, token, proxy) = setup().await;
    let client = reqwest::Client::new();
    proxy.script([Fault::DropResponse, Fault::DropRequest]);
    assert!(post(&client, &proxy.url(), &token, "a").send().await.is_err());
    assert_eq!(server.storage().changes_since(1, 0, 100).unwrap().len(), 1, "server committed");
    assert!(post(&client, &proxy.url(), &token, "b").send().await.is_err());
    assert_eq!(server.storage().changes_since(1, 0, 100).unwrap().len(), 1, "dropped request never arrived");
    proxy.set_plan(Plan::Offline);
    assert!(post(&client, &proxy.url(), &token, "c").send().await.is_err());
}

#[tokio::test]
async fn sse_stream_is_cut_mid_event() {
    let (_dir, _server, token, proxy) = setup().await;
    let client = reqwest::Client::new();
    for key in ["a", "b", "c"] {
        assert_eq!(post(&client, &proxy.url(), &token, key).send().await.unwrap().status(), 201);
    }
    proxy.script([Fault::CutStream { after_bytes: 100 }]);
    let resp = client.get(format!("{}/v1/events?since=0", proxy.url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut got = Vec::new();
    let mut errored = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => got.extend_from_slice(&c),
            Err(_) => {
                errored = true;
                break;
            }
        }
    }
    assert!(errored, "stream must end with an error, not cleanly");
    assert_eq!(got.len(), 100, "exactly the bytes before the cut");
}
