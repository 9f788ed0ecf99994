//! Floods: thousands of concurrent requests with bad tokens (which bypass the per-token rate limit)
//! or bad bodies. Each gets its 4xx problem; a legitimate client is still served meanwhile.

mod hostile_support;

use std::time::{Duration, Instant};

use hostile_support::*;
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_flood_is_refused_and_legit_requests_still_served() {
    let srv = start().await;
    let token = srv.server.add_user("legit");
    let rss_before = rss_kib();
    let flooder = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let url = srv.url("/v1/cards");
    let start = Instant::now();
    let flood = tokio::spawn(async move {
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for wave in 0..4 {
            let results = futures::future::join_all((0..500).map(|i| {
                flooder.get(&url).bearer_auth(format!("dh_{wave}_{i}_{}", "f".repeat(60))).send()
            }))
            .await;
            for r in results {
                let status = match r {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                *statuses.entry(status).or_default() += 1;
            }
        }
        statuses
    });
    // While it runs, the legitimate user keeps working.
    let mut worst = Duration::ZERO;
    let mut served = 0;
    while !flood.is_finished() && served < 200 {
        let t = Instant::now();
        let card = srv.create(&token, "during flood").await;
        assert_eq!(card["version"], 1);
        worst = worst.max(t.elapsed());
        served += 1;
    }
    let statuses = flood.await.unwrap();
    let took = start.elapsed();
    eprintln!(
        "flood: 2,000 bad-token requests in {took:?}, statuses {statuses:?}; {served} legit writes meanwhile, worst {worst:?}; RSS {rss_before} -> {} KiB",
        rss_kib()
    );
    assert_eq!(statuses.get(&401).copied().unwrap_or(0), 2_000, "every bad token got 401: {statuses:?}");
    assert!(served > 0);
    assert!(worst < Duration::from_secs(5), "a legit write took {worst:?} during the flood");
    let r = srv.req(Method::GET, "/v1/cards", &token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
