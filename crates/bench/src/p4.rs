//! P4: cold start on 100,000 cards with 10,000 pending ops, in a fresh child process per sample
//! (so its resident memory is the engine's alone): open, list the first page, resume draining to a
//! local server. Baseline: a fresh process opening the file with rusqlite and running the same
//! page query. The OS page cache is warm for both (the file was just copied).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use deckhand_core::model::{EngineEvent, ListQuery};
use deckhand_core::{Engine, EngineConfig, ServerSettings};
use deckhand_server::testing::TestServer;
use serde_json::{Value, json};

use crate::Ctx;
use crate::data::{self, hwm_kb, rss_kb};
use crate::stats::*;

/// The engine's first-page query (crates/core/src/store/cards.rs `list` with no filter).
const PAGE_SQL: &str = "SELECT c.id, c.title, c.body, c.url, c.tags, c.lane, c.position, c.pinned, c.created_at, c.updated_at,
    (SELECT version FROM confirmed WHERE id = c.id AND deleted = 0) AS confirmed_version,
    (SELECT CASE WHEN sum(state = 'conflict') > 0 THEN 'conflict'
                 WHEN sum(state = 'failed') > 0 THEN 'failed'
                 WHEN count(*) > 0 THEN 'pending' ELSE 'synced' END
       FROM outbox WHERE card_id = c.id) AS sync_state,
    (SELECT last_error FROM outbox WHERE card_id = c.id AND state = 'failed' ORDER BY op_id LIMIT 1) AS error
    FROM cards c ORDER BY c.lane, c.position, c.rid LIMIT 100 OFFSET 0";

/// Child: engine open + first page + first confirmed op; prints one JSON line.
pub async fn child_engine(dir: &str, url: &str, token: &str) -> Result<()> {
    let pid = std::process::id();
    let rss0 = rss_kb(pid);
    let mut cfg = EngineConfig::new(dir);
    cfg.server = Some(ServerSettings { url: url.into(), token: token.into() });
    let t0 = Instant::now();
    let engine = Engine::open(cfg).await?;
    let mut rx = engine.subscribe();
    let t_open = t0.elapsed();
    let page = engine.list(ListQuery::default()).await?;
    let t_page = t0.elapsed();
    if page.items.len() != 100 || page.total != 100_000 {
        return Err(anyhow!("unexpected first page: {} items of {}", page.items.len(), page.total));
    }
    let rss_page = rss_kb(pid);
    let first = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await {
                Ok(EngineEvent::CardsChanged { .. }) => return Ok(()),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => return Err(anyhow!("{e}")),
            }
        }
    })
    .await
    .map_err(|_| anyhow!("no op confirmed within 30 s"))??;
    let _ = first;
    let t_first = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let confirmed_2s = engine.metric("ops_succeeded").await?;
    let rss_drain = rss_kb(pid);
    println!(
        "{}",
        json!({
            "open_us": t_open.as_secs_f64() * 1e6,
            "page_us": t_page.as_secs_f64() * 1e6,
            "first_confirm_us": t_first.as_secs_f64() * 1e6,
            "confirmed_2s": confirmed_2s,
            "rss0_kb": rss0, "rss_page_kb": rss_page, "rss_drain_kb": rss_drain, "hwm_kb": hwm_kb(pid),
        })
    );
    engine.shutdown().await;
    Ok(())
}

/// Child: raw open + the same page query.
pub fn child_raw(dir: &str) -> Result<()> {
    let t0 = Instant::now();
    let conn = rusqlite::Connection::open(Path::new(dir).join("deckhand.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let total: i64 = conn.query_row("SELECT count(*) FROM cards c", [], |r| r.get(0))?;
    let mut st = conn.prepare(PAGE_SQL)?;
    let rows = st
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, String>(4)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let us = t0.elapsed().as_secs_f64() * 1e6;
    if rows.len() != 100 || total != 100_000 {
        return Err(anyhow!("unexpected raw page"));
    }
    println!("{}", json!({ "page_us": us, "rss_kb": rss_kb(std::process::id()) }));
    Ok(())
}

fn run_child(args: &[&str]) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe).arg("--child").args(args).output().context("spawning a child")?;
    if !out.status.success() {
        return Err(anyhow!("child {args:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let line = line.lines().last().unwrap_or("");
    Ok(serde_json::from_str(line).with_context(|| format!("child output {line:?}"))?)
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let src = data::cached_db(&ctx.data_dir, "cards-100k-10k-pending", 100_000, 10_000)?;
    let runs = ctx.runs.max(if ctx.quick { 3 } else { 5 });
    let (mut page, mut open, mut first, mut raw, mut rss_page, mut rss_drain, mut drained, mut raw_rss) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        eprintln!("  P4 run {}/{runs}", run + 1);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        data::fresh_copy(&src, &d.path().join("raw"))?;
        let r = run_child(&["p4-raw", d.path().join("raw").to_str().unwrap()])?;
        raw.push(r["page_us"].as_f64().unwrap_or(f64::NAN));
        raw_rss.push(r["rss_kb"].as_f64().unwrap_or(f64::NAN));

        data::fresh_copy(&src, &d.path().join("client"))?;
        let server = TestServer::start_with(crate::p2::server_config(&d.path().join("server.db"))).await;
        let token = server.add_user("bench");
        let (url, dir) = (server.url(), d.path().join("client").to_str().unwrap().to_string());
        let v = tokio::task::spawn_blocking(move || run_child(&["p4-engine", &dir, &url, &token])).await??;
        server.stop().await;
        page.push(v["page_us"].as_f64().unwrap_or(f64::NAN));
        open.push(v["open_us"].as_f64().unwrap_or(f64::NAN));
        first.push(v["first_confirm_us"].as_f64().unwrap_or(f64::NAN));
        rss_page.push(v["rss_page_kb"].as_f64().unwrap_or(f64::NAN) - v["rss0_kb"].as_f64().unwrap_or(0.0));
        rss_drain.push(v["rss_drain_kb"].as_f64().unwrap_or(f64::NAN));
        drained.push(v["confirmed_2s"].as_f64().unwrap_or(f64::NAN));
    }
    let ratios: Vec<f64> = page.iter().zip(&raw).map(|(e, r)| e / r).collect();
    let mut row = Row::new("P4", "cold start: Engine::open + first page (100k cards, 10k ops)");
    let p = RunStat::of(&page);
    row.p50 = t(p.p50);
    row.p99 = format!("max {}", t(range(&page).1));
    row.baseline = format!("{} (open + same SELECT)", t(median(&raw)));
    let rr = range(&ratios);
    row.ratio = format!("{:.1}× ({:.1}–{:.1})", median(&ratios), rr.0, rr.1);
    row.samples = format!("{runs} processes");
    row.spread = format!("{}; open alone {}", trange(range(&page)), trange(range(&open)));
    row.target = "first page < 150 ms".into();
    row.verdict = Verdict::of(range(&page).1 < 150_000.0);
    let mut rows = vec![row];

    let mut r2 = Row::new("P4", "resume draining: open → first op confirmed");
    r2.p50 = t(median(&first));
    r2.p99 = format!("max {}", t(range(&first).1));
    r2.samples = format!("{runs} processes");
    r2.spread = trange(range(&first));
    r2.extra = format!("{} ops confirmed in the 2 s after that", thousands(median(&drained)));
    r2.target = "report".into();
    rows.push(r2);

    let mut r3 = Row::new("P4", "engine resident memory (child process RSS)");
    r3.p50 = format!("{:.1} MiB", median(&rss_drain) / 1024.0);
    r3.extra = format!(
        "open + first page added {:.1} MiB; raw rusqlite process {:.1} MiB",
        median(&rss_page) / 1024.0,
        median(&raw_rss) / 1024.0
    );
    r3.samples = format!("{runs} processes");
    let rd = range(&rss_drain);
    r3.spread = format!("{:.1}–{:.1} MiB (while draining)", rd.0 / 1024.0, rd.1 / 1024.0);
    r3.target = "report".into();
    rows.push(r3);
    Ok(rows)
}
