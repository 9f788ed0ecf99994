//! P8: cross-instance propagation. Two `serve` processes (A, B) on one PostgreSQL database; a
//! raw SSE reader holds `/v1/events` on B; a writer creates cards on A one at a time. Clock: from
//! sending the POST to A until B's stream carries the card (so it includes the write itself; the
//! write's own 2xx time is reported beside it). Then the same with the listener connections
//! killed (`pg_terminate_backend` on every `deckhand-listener` backend) just before each write:
//! delivery then depends on the listener reconnecting (its "poke every local user" resync) or,
//! failing that, on the reconcile period.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use deckhand_testkit::pg::Cluster;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::NoTls;

use crate::Ctx;
use crate::rig::Instance;
use crate::stats::*;

const RECONCILE_SECS: u64 = 10;

/// Follows `/v1/events` at `url`; sends (k, receive time) for every card titled "p8 k". Sends
/// `usize::MAX` once connected.
fn sse_reader(url: String, token: String, tx: mpsc::UnboundedSender<(usize, Instant)>) -> tokio::task::JoinHandle<Result<()>> {
    tokio::spawn(async move {
        let resp = reqwest::Client::new().get(format!("{url}/v1/events")).bearer_auth(&token).send().await?;
        if !resp.status().is_success() {
            return Err(anyhow!("stream answered {}", resp.status()));
        }
        let mut stream = resp.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let now = Instant::now();
            buf.extend_from_slice(&chunk?);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let l = &buf[..pos];
                if l.strip_prefix(b"event:").is_some_and(|e| e.trim_ascii() == deckhand_protocol::CONNECTED_EVENT.as_bytes()) {
                    let _ = tx.send((usize::MAX, now));
                } else if l.starts_with(b"data:") {
                    let needle = b"\"title\":\"p8 ";
                    if let Some(i) = l.windows(needle.len()).position(|w| w == needle) {
                        let digits = &l[i + needle.len()..];
                        let end = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
                        if let Ok(k) = std::str::from_utf8(&digits[..end]).unwrap_or("x").parse::<usize>() {
                            let _ = tx.send((k, now));
                        }
                    }
                }
                buf.drain(..=pos);
            }
        }
        Ok(())
    })
}

async fn create(http: &reqwest::Client, url: &str, token: &str, k: usize) -> Result<()> {
    let body = serde_json::json!({ "id": uuid::Uuid::now_v7(), "title": format!("p8 {k}") }).to_string();
    let url: reqwest::Url = format!("{url}/v1/cards").parse()?;
    crate::p7::create(http, &url, token, body).await.map_err(|e| anyhow!("write {k}: {e}"))
}

/// Waits for event `k` (earlier ones may still arrive: skipped, counted as late duplicates of nothing).
async fn wait_for(rx: &mut mpsc::UnboundedReceiver<(usize, Instant)>, k: usize, within: Duration) -> Result<Instant> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((got, at))) if got == k => return Ok(at),
            Ok(Some(_)) => continue,
            Ok(None) => return Err(anyhow!("B's stream ended before write {k} arrived")),
            Err(_) => return Err(anyhow!("write {k} did not reach B's stream within {within:?}")),
        }
    }
}

struct One {
    live: Vec<f64>,
    live_ack: Vec<f64>,
    killed: Vec<f64>,
}

async fn one_run(ctx: &Ctx, cluster: &Cluster, writes: usize, kills: usize) -> Result<One> {
    let (db, tokens, _, dir) = crate::p7::prepare(ctx, Some(cluster), 1).await?;
    let token = tokens[0].clone();
    let extra = vec!["--reconcile-secs".to_string(), RECONCILE_SECS.to_string()];
    let (db_a, db_b, log_a, log_b) = (db.clone(), db.clone(), dir.path().join("a.log"), dir.path().join("b.log"));
    let extra_b = extra.clone();
    let a = tokio::task::spawn_blocking(move || Instance::start(&db_a, &extra, &log_a)).await??;
    let b = tokio::task::spawn_blocking(move || Instance::start(&db_b, &extra_b, &log_b)).await??;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reader = sse_reader(b.url.clone(), token.clone(), tx);
    wait_for(&mut rx, usize::MAX, Duration::from_secs(30)).await?;
    let (admin, conn) = tokio_postgres::connect(&db, NoTls).await?;
    tokio::spawn(conn);
    let listeners = || async {
        let row = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'deckhand-listener' AND datname = current_database()", &[])
            .await?;
        Ok::<i64, anyhow::Error>(row.get(0))
    };
    // Both instances listening before the clock: the first write must not race A's or B's start.
    let deadline = Instant::now() + Duration::from_secs(30);
    while listeners().await? < 2 {
        if Instant::now() > deadline {
            return Err(anyhow!("the instances' listeners did not connect"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let http = reqwest::Client::new();
    // Warm-up: connections, prepared statements.
    create(&http, &a.url, &token, 0).await?;
    wait_for(&mut rx, 0, Duration::from_secs(30)).await?;
    let mut out = One { live: vec![], live_ack: vec![], killed: vec![] };
    for k in 1..=writes {
        let t0 = Instant::now();
        create(&http, &a.url, &token, k).await?;
        out.live_ack.push(t0.elapsed().as_secs_f64() * 1e6);
        let at = wait_for(&mut rx, k, Duration::from_secs(3 * RECONCILE_SECS)).await?;
        out.live.push(at.saturating_duration_since(t0).as_secs_f64() * 1e6);
    }
    for j in 0..kills {
        let k = writes + 1 + j;
        let deadline = Instant::now() + Duration::from_secs(30);
        while listeners().await? < 2 {
            if Instant::now() > deadline {
                return Err(anyhow!("a listener did not reconnect within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'deckhand-listener' AND datname = current_database()",
                &[],
            )
            .await?;
        let t0 = Instant::now();
        create(&http, &a.url, &token, k).await?;
        let at = wait_for(&mut rx, k, Duration::from_secs(3 * RECONCILE_SECS)).await?;
        out.killed.push(at.saturating_duration_since(t0).as_secs_f64() * 1e6);
    }
    reader.abort();
    tokio::task::block_in_place(|| drop((a, b)));
    Ok(out)
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let (writes, kills) = if ctx.quick { (200, 5) } else { (1_000, 20) };
    let cluster = tokio::task::spawn_blocking(Cluster::start).await?;
    let (mut live, mut ack, mut killed) = (Runs::default(), Runs::default(), Runs::default());
    let mut killed_max = vec![];
    for run in 0..ctx.runs {
        eprintln!("  P8 run {}/{} ({writes} writes on A read on B, then {kills} with the listeners killed)", run + 1, ctx.runs);
        let o = one_run(ctx, &cluster, writes, kills).await?;
        live.push(RunStat::of(&o.live));
        ack.push(RunStat::of(&o.live_ack));
        killed.push(RunStat::of(&o.killed));
        killed_max.push(o.killed.iter().cloned().fold(0.0, f64::max));
    }
    let mut row = Row::new("P8", "cross-instance propagation: write on A → event on B's stream (PostgreSQL, loopback)");
    row.p50 = t(live.p50());
    row.p99 = t(live.p99());
    row.baseline = format!("the write's own 2xx on A: p50 {} / p99 {}", t(ack.p50()), t(ack.p99()));
    row.samples = live.samples();
    row.spread = format!("p50 {}; p99 {}", trange(live.p50_range()), trange(live.p99_range()));
    row.target = "p99 < 50 ms".into();
    row.verdict = Verdict::of(live.p99() < 50_000.0);
    row.extra = "from sending the POST to A (the write included) to the event on B".into();
    let mut row2 = Row::new("P8", "the same with the listener connections killed (pg_terminate_backend) before each write");
    row2.p50 = t(killed.p50());
    row2.p99 = format!("max {}", t(killed_max.iter().cloned().fold(0.0, f64::max)));
    row2.samples = killed.samples();
    row2.spread = format!("p50 {}; max {}", trange(killed.p50_range()), trange(range(&killed_max)));
    row2.target = format!("bounded by the reconcile period ({RECONCILE_SECS} s)");
    row2.verdict = Verdict::of(killed_max.iter().all(|m| *m < RECONCILE_SECS as f64 * 1e6 * 1.5));
    row2.extra = "each write right after the kill: delivered when the listener reconnects (it re-reads every local stream) or by the reconcile loop".into();
    Ok(vec![row, row2])
}
