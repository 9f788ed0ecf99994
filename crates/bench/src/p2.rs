//! P2: drain 10,000 queued creates to a local server vs a bare reqwest client sending the same
//! POSTs with the same concurrency. Both talk to a fresh in-process TestServer per run with the
//! rate limit raised out of the way.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use deckhand_core::{Engine, EngineConfig, ServerSettings};
use deckhand_protocol::{BatchRequest, BatchResponse, BatchWrite};
use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use futures::StreamExt;

use crate::Ctx;
use crate::data;
use crate::stats::*;

pub fn server_config(db: &Path) -> ServerConfig {
    let mut c = ServerConfig::new(db);
    c.rate_limit_per_sec = 10_000_000;
    c.rate_limit_burst = 10_000_000;
    // P5 subscribes 1,000 streams of one user; the production cap is 100 per user.
    c.max_sse_streams_per_user = 2_000;
    c
}

/// Open the engine on a copy of the queued database and wait until the outbox is empty.
pub(crate) async fn engine_drain(ctx: &Ctx, src: &Path, window: usize, n: usize) -> Result<f64> {
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    data::fresh_copy(src, &d.path().join("client"))?;
    let server = TestServer::start_with(server_config(&d.path().join("server.db"))).await;
    let token = server.add_user("bench");
    let mut cfg = EngineConfig::new(d.path().join("client"));
    cfg.server = Some(ServerSettings { url: server.url(), token });
    cfg.drain_window = window;
    let t0 = Instant::now();
    let engine = Engine::open(cfg).await?;
    engine.wait_idle(Duration::from_secs(600)).await.map_err(|e| anyhow!("wait_idle: {e:?}"))?;
    let secs = t0.elapsed().as_secs_f64();
    let ok = engine.metric("ops_succeeded").await?;
    if ok as usize != n {
        return Err(anyhow!("engine confirmed {ok} ops, expected {n}"));
    }
    engine.shutdown().await;
    server.stop().await;
    Ok(secs)
}

/// The same POSTs (bodies from the same outbox) with `window` requests in flight.
async fn baseline(ctx: &Ctx, bodies: &[String], window: usize) -> Result<f64> {
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    let server = TestServer::start_with(server_config(&d.path().join("server.db"))).await;
    let token = server.add_user("bench");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let url = format!("{}/v1/cards", server.url());
    let t0 = Instant::now();
    let results: Vec<Result<()>> = futures::stream::iter(bodies.iter().cloned())
        .map(|body| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header(deckhand_protocol::headers::IDEMPOTENCY_KEY, uuid::Uuid::now_v7().to_string())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let _ = resp.bytes().await?;
                if status.as_u16() != 201 {
                    return Err(anyhow!("POST answered {status}"));
                }
                Ok(())
            }
        })
        .buffer_unordered(window)
        .collect()
        .await;
    let secs = t0.elapsed().as_secs_f64();
    for r in results {
        r?;
    }
    server.stop().await;
    Ok(secs)
}

/// The second baseline: the same creates as `POST /v1/batch` requests of `batch` writes each
/// (the engine's `batch_max`), `window` requests in flight: the transport the engine uses, with
/// none of its store work, so the ratio isolates the engine's own cost.
async fn baseline_batch(ctx: &Ctx, bodies: &[String], window: usize, batch: usize) -> Result<f64> {
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    let server = TestServer::start_with(server_config(&d.path().join("server.db"))).await;
    let token = server.add_user("bench");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let url = format!("{}/v1/batch", server.url());
    // Request bodies are built before the clock starts, as the engine's are read from its outbox.
    let requests: Vec<String> = bodies
        .chunks(batch)
        .map(|chunk| {
            let writes: Vec<BatchWrite> = chunk
                .iter()
                .map(|b| BatchWrite { method: "POST".into(), path: "/v1/cards".into(), idempotency_key: uuid::Uuid::now_v7().to_string(), body: Some(b.clone()) })
                .collect();
            serde_json::to_string(&BatchRequest { writes })
        })
        .collect::<Result<_, _>>()?;
    let t0 = Instant::now();
    let results: Vec<Result<()>> = futures::stream::iter(requests)
        .map(|body| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let resp = http.post(&url).bearer_auth(&token).header(reqwest::header::CONTENT_TYPE, "application/json").body(body).send().await?;
                let status = resp.status();
                let answer: BatchResponse = resp.json().await?;
                if !status.is_success() {
                    return Err(anyhow!("POST /v1/batch answered {status}"));
                }
                if let Some(bad) = answer.results.iter().find(|r| r.status != 201) {
                    return Err(anyhow!("a batched create answered {}", bad.status));
                }
                Ok(())
            }
        })
        .buffer_unordered(window)
        .collect()
        .await;
    let secs = t0.elapsed().as_secs_f64();
    for r in results {
        r?;
    }
    server.stop().await;
    Ok(secs)
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = if ctx.quick { 1_000 } else { 10_000 };
    let n1 = if ctx.quick { 500 } else { 2_000 };
    let src = data::cached_db(&ctx.data_dir, &format!("p2-{n}-queued"), n, n)?;
    let src1 = data::cached_db(&ctx.data_dir, &format!("p2-{n1}-queued"), n1, n1)?;
    let bodies = data::queued_creates(&src)?;
    let bodies1 = data::queued_creates(&src1)?;
    let mut rows = Vec::new();
    for (window, n, src, bodies) in [(8usize, n, &src, &bodies), (1, n1, &src1, &bodies1)] {
        let (mut eng, mut base, mut base_b) = (Vec::new(), Vec::new(), Vec::new());
        let batch = deckhand_core::EngineConfig::new(&ctx.tmp).batch_max;
        for run in 0..ctx.runs {
            eprintln!("  P2 window {window} run {}/{}", run + 1, ctx.runs);
            base.push(n as f64 / baseline(ctx, bodies, window).await?);
            base_b.push(n as f64 / baseline_batch(ctx, bodies, window, batch).await?);
            eng.push(n as f64 / engine_drain(ctx, src, window, n).await?);
        }
        let ratios: Vec<f64> = eng.iter().zip(&base).map(|(e, b)| e / b).collect();
        let ratio = median(&ratios);
        let rr = range(&ratios);
        let mut row = Row::new("P2", format!("drain {} queued creates, window {window}{}", thousands(n as f64), if window == 8 { " (default)" } else { "" }));
        row.p50 = format!("{} ops/s", thousands(median(&eng)));
        row.p99 = "—".into();
        row.extra = format!("{:.0} µs per op per slot", 1e6 * window as f64 / median(&eng));
        row.baseline = format!("{} ops/s (reqwest, {window} in flight)", thousands(median(&base)));
        row.ratio = format!("{ratio:.2} of baseline ({:.2}–{:.2})", rr.0, rr.1);
        row.samples = format!("{} × {}", ctx.runs, thousands(n as f64));
        let er = range(&eng);
        let br = range(&base);
        row.spread = format!("{}–{} ops/s (base {}–{})", thousands(er.0), thousands(er.1), thousands(br.0), thousands(br.1));
        if window == 8 {
            row.target = "≥ 0.8 of baseline throughput".into();
            row.verdict = Verdict::of(ratio >= 0.8);
        } else {
            row.target = "report".into();
        }
        rows.push(row);
        // Same engine runs against the bare /v1/batch client.
        let ratios: Vec<f64> = eng.iter().zip(&base_b).map(|(e, b)| e / b).collect();
        let (ratio, rr, br) = (median(&ratios), range(&ratios), range(&base_b));
        let mut row = Row::new("P2", format!("drain {}, window {window}, vs bare /v1/batch client", thousands(n as f64)));
        row.p50 = format!("{} ops/s", thousands(median(&eng)));
        row.baseline = format!("{} ops/s (reqwest, /v1/batch × {batch}, {window} in flight)", thousands(median(&base_b)));
        row.ratio = format!("{ratio:.2} of baseline ({:.2}–{:.2})", rr.0, rr.1);
        row.samples = format!("{} × {}", ctx.runs, thousands(n as f64));
        row.spread = format!("base {}–{} ops/s", thousands(br.0), thousands(br.1));
        row.target = "≥ 0.8 of baseline throughput".into();
        row.verdict = Verdict::of(ratio >= 0.8);
        row.extra = "same engine runs as the row above; isolates the engine's own cost from batching".into();
        rows.push(row);
    }
    Ok(rows)
}
