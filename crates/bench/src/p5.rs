//! P5: server fan-out. The server runs in its own child process (so its CPU and RSS are its own);
//! 1,000 raw SSE readers (reqwest, loopback) follow one user's stream while one writer POSTs 100
//! cards/s. Delivery = time from the write's 2xx (as the writer saw it) to each reader seeing the
//! event. Both sides share this machine's 2 cores.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use deckhand_server::testing::TestServer;
use futures::StreamExt;

use crate::Ctx;
use crate::data::{cpu_secs, hwm_kb, rss_kb};
use crate::stats::*;

/// Child: serve until stdin closes. Prints "URL TOKEN".
pub async fn child_server(db: &str) -> Result<()> {
    let server = TestServer::start_with(crate::p2::server_config(std::path::Path::new(db))).await;
    let token = server.add_user("bench");
    println!("{} {}", server.url(), token);
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        let _ = std::io::stdin().read_to_string(&mut s);
    })
    .await?;
    server.stop().await;
    Ok(())
}

struct Result1 {
    deliveries: Vec<f64>,
    missing: usize,
    cpu_pct: f64,
    /// Server CPU (user + system) over the write phase divided by the events delivered.
    cpu_per_delivery_us: f64,
    /// PostgreSQL's CPU over the same phase per delivered event (0 on SQLite).
    pg_per_delivery_us: f64,
    rss_idle_kb: u64,
    rss_end_kb: u64,
    hwm_kb: u64,
    achieved_rate: f64,
}

async fn one_run(ctx: &Ctx, subs: usize, writes: usize, rate: f64) -> Result<Result1> {
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    let exe = std::env::current_exe()?;
    // DECKHAND_BENCH_SERVER_WRAP="valgrind --tool=callgrind ..." runs the server under a profiler
    // (crates/bench/callgrind.sh); the figures of such a run are not wall-clock comparable.
    let wrap: Vec<String> = std::env::var("DECKHAND_BENCH_SERVER_WRAP").unwrap_or_default().split_whitespace().map(str::to_string).collect();
    let mut cmd = match wrap.split_first() {
        Some((prog, args)) => {
            let mut c = Command::new(prog);
            c.args(args).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let mut child = cmd
        .args(["--child", "server", d.path().join("server.db").to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("spawning the server")?;
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (url, token) = (parts.next().ok_or_else(|| anyhow!("no url"))?.to_string(), parts.next().ok_or_else(|| anyhow!("no token"))?.to_string());
    let r = measure(&[url], &token, &[pid], None, subs, writes, rate).await;
    drop(child.stdin.take());
    let _ = child.wait();
    r
}

/// 1,000 streams spread round-robin over `n` real `serve` processes on one PostgreSQL database;
/// the writes go round-robin over them too (as a load balancer would send them).
async fn one_run_pg(ctx: &Ctx, cluster: &deckhand_testkit::pg::Cluster, n: usize, subs: usize, writes: usize, rate: f64) -> Result<Result1> {
    let (db, tokens, _, dir) = crate::p7::prepare(ctx, Some(cluster), 1).await?;
    let mut instances = Vec::with_capacity(n);
    for i in 0..n {
        let (db, log) = (db.clone(), dir.path().join(format!("server{i}.log")));
        instances.push(tokio::task::spawn_blocking(move || crate::rig::Instance::start(&db, &[], &log)).await??);
    }
    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
    let pids: Vec<u32> = instances.iter().map(|i| i.pid).collect();
    let r = measure(&urls, &tokens[0], &pids, Some(cluster.pid), subs, writes, rate).await;
    tokio::task::block_in_place(|| drop(instances));
    r
}

async fn measure(urls: &[String], token: &str, pids: &[u32], pg: Option<u32>, subs: usize, writes: usize, rate: f64) -> Result<Result1> {
    let server_cpu = || pids.iter().map(|p| cpu_secs(*p)).sum::<f64>();
    let pg_cpu = || pg.map(crate::rig::postgres_cpu_secs).unwrap_or(0.0);
    let epoch = Instant::now();
    let ns = move || epoch.elapsed().as_nanos() as i64;
    let connected = Arc::new(AtomicUsize::new(0));
    let ok_at: Arc<Vec<AtomicI64>> = Arc::new((0..writes).map(|_| AtomicI64::new(-1)).collect());
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let mut readers = Vec::with_capacity(subs);
    let stop_at = Arc::new(AtomicI64::new(i64::MAX));
    for i in 0..subs {
        let (http, url, token, connected, stop_at) = (http.clone(), urls[i % urls.len()].clone(), token.to_string(), connected.clone(), stop_at.clone());
        readers.push(tokio::spawn(async move {
            let mut got: Vec<(usize, i64)> = Vec::with_capacity(writes);
            let resp = match http.get(format!("{url}/v1/events")).bearer_auth(&token).send().await {
                Ok(r) if r.status().is_success() => r,
                _ => return got,
            };
            let mut stream = resp.bytes_stream();
            let mut buf: Vec<u8> = Vec::with_capacity(4096);
            let mut seen_connected = false;
            loop {
                if got.len() >= writes || ns() > stop_at.load(Ordering::Relaxed) {
                    return got;
                }
                let chunk = match tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
                    Ok(Some(Ok(c))) => c,
                    Ok(_) => return got,
                    Err(_) => continue,
                };
                let now = ns();
                buf.extend_from_slice(&chunk);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let l = &buf[..pos];
                    // The stream opens with `event: connected` (its hello: epoch, heartbeat);
                    // older servers sent a `: connected` comment.
                    let hello = l.starts_with(b": connected") || l.strip_prefix(b"event:").is_some_and(|e| e.trim_ascii() == deckhand_protocol::CONNECTED_EVENT.as_bytes());
                    if !seen_connected && hello {
                        seen_connected = true;
                        connected.fetch_add(1, Ordering::Relaxed);
                    } else if l.starts_with(b"data:") {
                        // Title "fanout N": find it without parsing the whole card.
                        if let Some(i) = find(l, b"\"title\":\"fanout ") {
                            let digits = &l[i + 16..];
                            let end = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
                            if let Ok(k) = std::str::from_utf8(&digits[..end]).unwrap_or("x").parse::<usize>() {
                                got.push((k, now));
                            }
                        }
                    }
                    buf.drain(..=pos);
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while connected.load(Ordering::Relaxed) < subs {
        if Instant::now() > deadline {
            return Err(anyhow!("only {} of {subs} SSE readers connected", connected.load(Ordering::Relaxed)));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle: u64 = pids.iter().map(|p| rss_kb(*p)).sum();

    // Writer: one POST started every 1/rate s on its own task, so a slow answer does not lower the
    // rate (an open-loop load, as 100 independent users would produce).
    let writer_http = reqwest::Client::new();
    let (cpu0, pg0) = (server_cpu(), pg_cpu());
    let t0 = Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut posts = Vec::with_capacity(writes);
    for k in 0..writes {
        let due = t0 + period * k as u32;
        tokio::time::sleep_until(due.into()).await;
        let body = serde_json::json!({ "id": uuid::Uuid::now_v7(), "title": format!("fanout {k}") }).to_string();
        let req = writer_http
            .post(format!("{}/v1/cards", urls[k % urls.len()]))
            .bearer_auth(token)
            .header(deckhand_protocol::headers::IDEMPOTENCY_KEY, uuid::Uuid::now_v7().to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let ok_at = ok_at.clone();
        posts.push(tokio::spawn(async move {
            let resp = req.send().await?;
            let status = resp.status();
            ok_at[k].store(ns(), Ordering::Relaxed);
            if status.as_u16() != 201 {
                return Err(anyhow!("write {k}: {status}"));
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for p in posts {
        p.await??;
    }
    let write_secs = t0.elapsed().as_secs_f64();
    stop_at.store(ns() + 5_000_000_000, Ordering::Relaxed);
    let mut deliveries = Vec::with_capacity(subs * writes);
    let mut missing = 0;
    for r in readers {
        let got = r.await?;
        missing += writes.saturating_sub(got.len());
        for (k, at) in got {
            let ok = ok_at.get(k).map(|a| a.load(Ordering::Relaxed)).unwrap_or(-1);
            if ok >= 0 {
                // An event can beat the 2xx to a reader (the hub publishes before the response
                // is written): that counts as 0.
                deliveries.push(((at - ok).max(0)) as f64 / 1000.0);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu_used = server_cpu() - cpu0;
    let pg_used = pg_cpu() - pg0;
    let cpu_pct = 100.0 * cpu_used / wall;
    let (rss_end, hwm) = (pids.iter().map(|p| rss_kb(*p)).sum(), pids.iter().map(|p| hwm_kb(*p)).sum());
    let cpu_per_delivery_us = 1e6 * cpu_used / deliveries.len().max(1) as f64;
    let pg_per_delivery_us = 1e6 * pg_used / deliveries.len().max(1) as f64;
    Ok(Result1 { deliveries, missing, cpu_pct, cpu_per_delivery_us, pg_per_delivery_us, rss_idle_kb: rss_idle, rss_end_kb: rss_end, hwm_kb: hwm, achieved_rate: writes as f64 / write_secs })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let limit = crate::data::raise_fd_limit();
    let mut subs = if ctx.quick { 100 } else { 1_000 };
    let mut writes = if ctx.quick { 200 } else { 500 };
    let mut rate = 100.0;
    // DECKHAND_BENCH_P5="subs,writes,rate" (profiling only, e.g. under callgrind at a slower rate).
    if let Ok(v) = std::env::var("DECKHAND_BENCH_P5") {
        let f: Vec<f64> = v.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        if let [s, w, r] = f[..] {
            (subs, writes, rate) = (s as usize, w as usize, r);
        }
    }
    if (limit as usize) < subs * 2 + 64 {
        return Err(anyhow!("fd limit {limit} too low for {subs} streams; run with `ulimit -n 8192`"));
    }
    let mut single = Vec::new();
    for run in 0..ctx.runs {
        eprintln!("  P5 run {}/{} ({subs} subscribers, {writes} writes at {rate}/s)", run + 1, ctx.runs);
        single.push(one_run(ctx, subs, writes, rate).await?);
    }
    let mut rows = vec![row(ctx, format!("SSE fan-out: {} subscribers, {rate} writes/s", thousands(subs as f64)), &single, subs, writes, rate, false)];
    // The same load on 3 instances on PostgreSQL: a third of the streams on each, writes spread.
    let cluster = tokio::task::spawn_blocking(deckhand_testkit::pg::Cluster::start).await?;
    let mut spread = Vec::new();
    for run in 0..ctx.runs {
        eprintln!("  P5 run {}/{} on 3 instances on PostgreSQL", run + 1, ctx.runs);
        spread.push(one_run_pg(ctx, &cluster, 3, subs, writes, rate).await?);
    }
    rows.push(row(ctx, format!("SSE fan-out: {} subscribers over 3 instances on PostgreSQL, {rate} writes/s", thousands(subs as f64)), &spread, subs, writes, rate, true));
    Ok(rows)
}

fn row(ctx: &Ctx, what: String, results: &[Result1], subs: usize, writes: usize, rate: f64, pg: bool) -> Row {
    let mut runs = Runs::default();
    for r in results {
        runs.push(RunStat::of(&r.deliveries));
    }
    let f = |g: fn(&Result1) -> f64| results.iter().map(g).collect::<Vec<f64>>();
    let (cpu, cpu_per, pg_per) = (f(|r| r.cpu_pct), f(|r| r.cpu_per_delivery_us), f(|r| r.pg_per_delivery_us));
    let (rss_idle, rss_end, hwm, rates) = (f(|r| r.rss_idle_kb as f64), f(|r| r.rss_end_kb as f64), f(|r| r.hwm_kb as f64), f(|r| r.achieved_rate));
    let missing: usize = results.iter().map(|r| r.missing).sum();
    let mut row = Row::new("P5", what);
    row.p50 = t(runs.p50());
    row.p99 = t(runs.p99());
    row.samples = format!("{} × {} writes × {} subs", ctx.runs, writes, thousands(subs as f64));
    row.spread = format!("p50 {}; p99 {}", trange(runs.p50_range()), trange(runs.p99_range()));
    row.target = "p99 delivery < 100 ms".into();
    row.verdict = Verdict::of(runs.p99() < 100_000.0 && missing == 0);
    let servers = if pg { "servers (3 together)" } else { "server" };
    row.extra = format!(
        "{servers} CPU {:.0}% of one core ({:.0}–{:.0}), {:.1} µs per delivered event ({:.1}–{:.1}){}; RSS {:.1} MiB idle with streams, {:.1} MiB after, peak {:.1} MiB; missing deliveries {missing}; write rate {:.1}/s (target {rate})",
        median(&cpu),
        range(&cpu).0,
        range(&cpu).1,
        median(&cpu_per),
        range(&cpu_per).0,
        range(&cpu_per).1,
        if pg { format!(", PostgreSQL {:.1} µs per delivered event ({:.1}–{:.1})", median(&pg_per), range(&pg_per).0, range(&pg_per).1) } else { String::new() },
        median(&rss_idle) / 1024.0,
        median(&rss_end) / 1024.0,
        median(&hwm) / 1024.0,
        median(&rates)
    );
    row
}
