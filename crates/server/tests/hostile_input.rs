//! Hostile request input over real HTTP: every answer is a 4xx problem+json, never a crash or 5xx.

mod hostile_support;

use std::time::Duration;

use bytes_stream::chunked;
use hostile_support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

mod bytes_stream {
    /// A request body sent with `Transfer-Encoding: chunked` (no Content-Length): `n` chunks of `size`.
    pub fn chunked(n: usize, size: usize) -> reqwest::Body {
        let chunks = (0..n).map(move |_| Ok::<_, std::io::Error>(vec![b'a'; size]));
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_with_or_without_content_length() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    // Declared too large.
    let big = vec![b' '; 300 * 1024];
    let r = srv.write(Method::POST, "/v1/cards", &token).header("content-type", "application/json").body(big).send().await.unwrap();
    assert_problem(r, 413, "payload_too_large").await;
    // Chunked, no Content-Length: 1 MiB in 64 KiB chunks; the limit is enforced while reading.
    let r = srv
        .write(Method::POST, "/v1/cards", &token)
        .header("content-type", "application/json")
        .body(chunked(16, 64 * 1024))
        .send()
        .await;
    match r {
        Ok(r) => {
            assert_problem(r, 413, "payload_too_large").await;
        }
        // The server may answer and close before the client finished sending; then the client
        // sees a broken pipe. Either way the server must still be healthy.
        Err(e) => assert!(e.is_request() || e.is_body(), "unexpected error {e}"),
    }
    // PATCH is limited the same way.
    let card = srv.create(&token, "x").await;
    let path = format!("/v1/cards/{}", card["id"].as_str().unwrap());
    let r = srv
        .write(Method::PATCH, &path, &token)
        .header("content-type", "application/json")
        .body(chunked(5, 64 * 1024))
        .send()
        .await;
    if let Ok(r) = r {
        assert_problem(r, 413, "payload_too_large").await;
    }
    // A Content-Length of 1 GB with 2 bytes behind it: 413 at once, without waiting for the rest.
    let out = raw_exchange(
        srv.server.addr(),
        format!("PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: lie\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{{}}").as_bytes(),
        Duration::from_secs(3),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 413"), "{}", truncate(&out));
    assert!(out.contains("payload_too_large"));
    // Chunked over raw TCP: 1 MiB announced chunk by chunk; the answer is a 413 problem.
    let mut s = tokio::net::TcpStream::connect(srv.server.addr()).await.unwrap();
    let head = format!("POST /v1/cards HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: chunky\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
        for _ in 0..16 {
            if wr.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = wr.write_all(b"0\r\n\r\n").await;
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while !out.windows(17).any(|w| w == b"payload_too_large") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 413"), "{}", truncate(&out));
    assert!(out.to_ascii_lowercase().contains("content-type: application/problem+json"));
    writer.abort();
    srv.assert_responsive(&token, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn huge_fields_are_refused_not_crashed_on() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    // 10,000 tags (about 90 KiB): under the body limit, over the tag limit → 422 naming `tags`.
    let tags: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
    let r = srv.write(Method::POST, "/v1/cards", &token).json(&json!({ "id": Uuid::now_v7(), "title": "t", "tags": tags })).send().await.unwrap();
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "tags");
    // A megabyte title is over the body limit: 413.
    let r = srv.write(Method::POST, "/v1/cards", &token).json(&json!({ "id": Uuid::now_v7(), "title": "x".repeat(1 << 20) })).send().await.unwrap();
    assert_problem(r, 413, "payload_too_large").await;
    // 200 KiB title fits the body but not the field: 422.
    let r = srv.write(Method::POST, "/v1/cards", &token).json(&json!({ "id": Uuid::now_v7(), "title": "é".repeat(100_000) })).send().await.unwrap();
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "title");
    // The same through PATCH.
    let card = srv.create(&token, "x").await;
    let path = format!("/v1/cards/{}", card["id"].as_str().unwrap());
    let tags: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
    let r = srv.write(Method::PATCH, &path, &token).json(&json!({ "base_version": 1, "changes": { "tags": tags } })).send().await.unwrap();
    assert_problem(r, 422, "validation_failed").await;
    // Nothing was written by any of it.
    let r = srv.req(Method::GET, &path, &token).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["version"], 1);
}

#[tokio::test]
async fn invalid_utf8_and_deep_nesting_are_400() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    let card = srv.create(&token, "x").await;
    let path = format!("/v1/cards/{}", card["id"].as_str().unwrap());
    let bad = |prefix: &[u8]| {
        let mut b = prefix.to_vec();
        b.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
        b.extend_from_slice(br#""}"#);
        b
    };
    let post_utf8 = bad(br#"{"id":"0190b1b0-0000-7000-8000-000000000000","title":""#);
    let patch_utf8 = bad(br#"{"base_version":1,"changes":{"title":""#);
    let nested_arrays = "[".repeat(100_000).into_bytes();
    let nested_objects = r#"{"a":"#.repeat(40_000).into_bytes();
    let mut post_nested = br#"{"id":"0190b1b0-0000-7000-8000-000000000000","title":"t","tags":"#.to_vec();
    post_nested.extend(std::iter::repeat_n(b'[', 100_000));
    let mut patch_nested = br#"{"base_version":1,"changes":{"tags":"#.to_vec();
    patch_nested.extend(std::iter::repeat_n(b'[', 100_000));
    let cases = [
        (Method::POST, "/v1/cards", post_utf8),
        (Method::PATCH, path.as_str(), patch_utf8),
        (Method::POST, "/v1/cards", nested_arrays.clone()),
        (Method::PATCH, path.as_str(), nested_arrays),
        (Method::POST, "/v1/cards", nested_objects.clone()),
        (Method::PATCH, path.as_str(), nested_objects),
        (Method::POST, "/v1/cards", post_nested),
        (Method::PATCH, path.as_str(), patch_nested),
    ];
    for (method, p, body) in cases {
        let r = srv.write(method.clone(), p, &token).header("content-type", "application/json").body(body).send().await.unwrap();
        let (status, problem) = assert_client_error_problem(r).await;
        assert_eq!(status, 400, "{method} {p}: {problem}");
        assert_eq!(problem["code"], "malformed_request");
    }
    // 100,000 `[` in a path or query string is just an unknown id / a bad number.
    let deep = "%5B".repeat(20_000);
    let r = srv.req(Method::GET, &format!("/v1/cards/{deep}"), &token).send().await.unwrap();
    assert_problem(r, 404, "not_found").await;
    srv.assert_responsive(&token, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn non_uuid_ids_and_bad_paths_are_404_problems() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    for id in ["nope", "1", "0190b1b0-0000-7000-8000", "%00", "..%2F..%2Fetc%2Fpasswd", "%E2%80%AE", &"z".repeat(5000)] {
        let path = format!("/v1/cards/{id}");
        assert_problem(srv.req(Method::GET, &path, &token).send().await.unwrap(), 404, "not_found").await;
        let r = srv.write(Method::PATCH, &path, &token).json(&json!({ "base_version": 1, "changes": { "title": "t" } })).send().await.unwrap();
        assert_problem(r, 404, "not_found").await;
        let r = srv.write(Method::DELETE, &format!("{path}?base_version=1"), &token).send().await.unwrap();
        assert_problem(r, 404, "not_found").await;
    }
    // A path segment that is not UTF-8 once decoded: axum's own rejection, rewritten as a problem.
    let r = srv.req(Method::GET, "/v1/cards/%FF%FE", &token).send().await.unwrap();
    assert_client_error_problem(r).await;
    // Extra segments and unknown routes.
    assert_problem(srv.req(Method::GET, "/v1/cards/a/b", &token).send().await.unwrap(), 404, "not_found").await;
    assert_problem(srv.req(Method::GET, "/v2/cards", &token).send().await.unwrap(), 404, "not_found").await;
}

#[tokio::test]
async fn negative_and_huge_query_params_are_422() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    let card = srv.create(&token, "x").await;
    let id = card["id"].as_str().unwrap();
    for q in ["limit=0", "limit=-1", "limit=1001", "limit=99999999999999999999999", "limit=1e3", "limit=", "limit=%00", "cursor=nope", "cursor=%FF"] {
        let r = srv.req(Method::GET, &format!("/v1/cards?{q}"), &token).send().await.unwrap();
        assert_problem(r, 422, "validation_failed").await;
    }
    for q in ["since=-1", "since=-9223372036854775808", "since=9223372036854775808", "since=abc", "limit=0", "limit=4294967296"] {
        let r = srv.req(Method::GET, &format!("/v1/changes?{q}"), &token).send().await.unwrap();
        assert_problem(r, 422, "validation_failed").await;
    }
    // 10,000 unknown parameters are ignored; a repeated `limit` is judged, never a 5xx.
    let many = "x=1&".repeat(10_000);
    let r = srv.req(Method::GET, &format!("/v1/cards?{many}limit=5"), &token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = srv.req(Method::GET, "/v1/cards?limit=1&limit=5000", &token).send().await.unwrap();
    assert!(r.status() == StatusCode::OK || r.status() == StatusCode::UNPROCESSABLE_ENTITY, "{}", r.status());
    if r.status() != StatusCode::OK {
        assert_problem(r, 422, "validation_failed").await;
    }
    // The largest valid values are fine.
    let r = srv.req(Method::GET, "/v1/changes?since=9223372036854775807&limit=1000", &token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page: serde_json::Value = r.json().await.unwrap();
    assert_eq!(page["changes"].as_array().unwrap().len(), 0);
    for q in ["", "base_version=", "base_version=-1x", "base_version=99999999999999999999", "base_version=1.0"] {
        let r = srv.write(Method::DELETE, &format!("/v1/cards/{id}?{q}"), &token).send().await.unwrap();
        assert_problem(r, 422, "validation_failed").await;
    }
    // A negative or huge base_version that parses is a plain conflict.
    for v in ["-1", "9223372036854775807"] {
        let r = srv.write(Method::DELETE, &format!("/v1/cards/{id}?base_version={v}"), &token).send().await.unwrap();
        assert_problem(r, 409, "version_conflict").await;
    }
    for v in ["-1", "1e400", "abc", "99999999999999999999"] {
        let r = srv.req(Method::GET, "/v1/events", &token).header("Last-Event-ID", v).send().await.unwrap();
        assert_problem(r, 422, "validation_failed").await;
        let r = srv.req(Method::GET, &format!("/v1/events?since={v}"), &token).send().await.unwrap();
        assert_problem(r, 422, "validation_failed").await;
    }
    // JSON numbers at the edges inside bodies.
    for v in [json!(-1), json!(i64::MAX), json!(1e300), json!(-0.0)] {
        let r = srv.write(Method::PATCH, &format!("/v1/cards/{id}"), &token).json(&json!({ "base_version": v, "changes": { "title": "t" } })).send().await.unwrap();
        assert_client_error_problem(r).await;
    }
    let r = srv.write(Method::PATCH, &format!("/v1/cards/{id}"), &token).header("content-type", "application/json").body(r#"{"base_version":1,"changes":{"position":1e999}}"#).send().await.unwrap();
    assert_client_error_problem(r).await;
}

#[tokio::test]
async fn weird_headers_are_refused_clearly() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    let body = || json!({ "id": Uuid::now_v7(), "title": "t" });
    // Non-ASCII Idempotency-Key (obs-text bytes, allowed on the wire by HTTP but not by us).
    let key = reqwest::header::HeaderValue::from_bytes("clé-ünïcödé".as_bytes()).unwrap();
    let r = srv.req(Method::POST, "/v1/cards", &token).header("Idempotency-Key", key).json(&body()).send().await.unwrap();
    assert_problem(r, 400, "idempotency_key_invalid").await;
    // 256 characters: one over the limit; 255 is accepted.
    let r = srv.req(Method::POST, "/v1/cards", &token).header("Idempotency-Key", "k".repeat(256)).json(&body()).send().await.unwrap();
    assert_problem(r, 400, "idempotency_key_invalid").await;
    let r = srv.req(Method::POST, "/v1/cards", &token).header("Idempotency-Key", "k".repeat(255)).json(&body()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // A 16 KiB key is refused the same way.
    let r = srv.req(Method::POST, "/v1/cards", &token).header("Idempotency-Key", "k".repeat(16 * 1024)).json(&body()).send().await.unwrap();
    assert_problem(r, 400, "idempotency_key_invalid").await;
    // Empty key.
    let r = srv.req(Method::POST, "/v1/cards", &token).header("Idempotency-Key", "").json(&body()).send().await.unwrap();
    assert_problem(r, 400, "idempotency_key_invalid").await;
    // Two Authorization headers are ambiguous: 401, even when one of them is valid.
    let other = srv.server.add_user("b");
    for (first, second) in [(token.as_str(), "garbage"), ("garbage", token.as_str()), (token.as_str(), other.as_str())] {
        let r = srv
            .client
            .get(srv.url("/v1/cards"))
            .header("authorization", format!("Bearer {first}"))
            .header("authorization", format!("Bearer {second}"))
            .send()
            .await
            .unwrap();
        let p = assert_problem(r, 401, "unauthorized").await;
        assert!(p.get("current").is_none());
    }
    // Other scheme, empty token, non-ASCII token, absurdly long token.
    let long = format!("Bearer {}", "x".repeat(60_000));
    let weird: [&[u8]; 5] = [b"Basic YTpi", b"Bearer ", b"Bearer", "Bearer tökén".as_bytes(), long.as_bytes()];
    for value in weird {
        let r = srv
            .client
            .get(srv.url("/v1/cards"))
            .header("authorization", reqwest::header::HeaderValue::from_bytes(value).unwrap())
            .send()
            .await
            .unwrap();
        assert_problem(r, 401, "unauthorized").await;
    }
    // Content types that are not JSON.
    for ct in ["text/plain", "application/x-www-form-urlencoded", "", "application/jsonx", "multipart/form-data; boundary=x"] {
        let r = srv.write(Method::POST, "/v1/cards", &token).header("content-type", ct).body(body().to_string()).send().await.unwrap();
        assert_problem(r, 415, "unsupported_media_type").await;
    }
    // A hostile X-Request-Id is not reflected into anything but its own header.
    let r = srv.req(Method::GET, "/v1/cards", &token).header("x-request-id", "x".repeat(4096)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_methods_do_not_grow_the_metrics() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    for i in 0..200 {
        let m = Method::from_bytes(format!("X{i}FOO").as_bytes()).unwrap();
        let r = srv.req(m, "/v1/cards", &token).send().await.unwrap();
        let (status, _) = assert_client_error_problem(r).await;
        assert_eq!(status, 405);
        let r = srv.req(Method::from_bytes(format!("Y{i}").as_bytes()).unwrap(), &format!("/nowhere/{i}"), &token).send().await.unwrap();
        assert_problem(r, 404, "not_found").await;
    }
    let text = srv.req(Method::GET, "/metrics", &token).send().await.unwrap().text().await.unwrap();
    let series = text.lines().filter(|l| l.starts_with("deckhand_http_requests_total{")).count();
    assert!(series < 10, "{series} request series after 400 odd requests:\n{text}");
    assert!(text.contains("method=\"OTHER\""));
    assert!(!text.contains("X1FOO"));
}

#[tokio::test]
async fn malformed_http_is_refused_by_the_protocol_layer() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    let addr = srv.server.addr();
    // Garbage instead of a request line.
    let out = raw_exchange(addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", Duration::from_secs(5)).await;
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out:?}");
    // 200 headers of 1 KiB each: over hyper's header limits → 431 or closed, never served.
    let mut req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        req.extend_from_slice(format!("X-H{i}: {}\r\n", "v".repeat(1024)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let out = raw_exchange(addr, &req, Duration::from_secs(5)).await;
    assert!(!out.starts_with("HTTP/1.1 200"), "{}", truncate(&out));
    // Conflicting Content-Length headers.
    let out = raw_exchange(
        addr,
        format!("POST /v1/cards HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: k\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{{}}").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{}", truncate(&out));
    // Content-Length plus chunked (request smuggling shape).
    let out = raw_exchange(
        addr,
        format!("POST /v1/cards HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: k2\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/cards HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(!out.contains(" 500 ") && !out.contains(" 201 "), "{}", truncate(&out));
    srv.assert_responsive(&token, Duration::from_secs(5)).await;
    // Nothing above created a card.
    let page: serde_json::Value = srv.req(Method::GET, "/v1/cards", &token).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn only_json_objects_are_cards() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    let id = Uuid::now_v7();
    // serde's derived structs would take the fields as a positional array; the contract does not.
    for body in [json!([id, "positional"]), json!("just a string"), json!(null), json!(42)] {
        let r = srv.write(Method::POST, "/v1/cards", &token).json(&body).send().await.unwrap();
        assert_problem(r, 422, "validation_failed").await;
    }
    let card = srv.create(&token, "x").await;
    let path = format!("/v1/cards/{}", card["id"].as_str().unwrap());
    for body in [json!([1, {"title": "t"}]), json!({"base_version": 1, "changes": ["t"]}), json!({"base_version": 1, "changes": null})] {
        let r = srv.write(Method::PATCH, &path, &token).json(&body).send().await.unwrap();
        assert_problem(r, 422, "validation_failed").await;
    }
    // Duplicate keys are refused, not last-wins.
    let r = srv
        .write(Method::PATCH, &path, &token)
        .header("content-type", "application/json")
        .body(r#"{"base_version":1,"changes":{"title":"a","title":"b"}}"#)
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, "validation_failed").await;
    let r = srv.req(Method::GET, &path, &token).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["version"], 1, "nothing was written");
}

#[tokio::test]
async fn openapi_documents_the_limits_the_server_enforces() {
    let srv = start().await;
    let token = srv.server.add_user("a");
    let doc: serde_json::Value = srv.req(Method::GET, "/v1/openapi.json", &token).send().await.unwrap().json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    let new = &schemas["NewCard"]["properties"];
    assert_eq!(new["title"]["maxLength"], 500);
    assert_eq!(new["title"]["minLength"], 1);
    assert_eq!(new["tags"]["maxItems"], 32);
    assert_eq!(new["tags"]["items"]["maxLength"], 64);
    assert_eq!(new["tags"]["uniqueItems"], true);
    assert_eq!(new["url"]["maxLength"], 2048);
    let changes = &schemas["CardChanges"];
    assert_eq!(changes["minProperties"], 1);
    assert!(changes.get("maxProperties").is_none(), "{changes}");
    assert_eq!(changes["properties"]["url"]["type"], json!(["string", "null"]));
    assert_eq!(changes["properties"]["title"]["type"], "string");
    let key = doc["paths"]["/v1/cards"]["post"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "Idempotency-Key").unwrap().clone();
    assert_eq!(key["schema"]["maxLength"], 255);
    let limit = doc["paths"]["/v1/changes"]["get"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap().clone();
    assert_eq!((limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()), (Some(1), Some(1000)));
}
