//! Q1 and Q6 against the peer: local durable writes (`Engine::create` vs PouchDB `put`, one
//! awaited call at a time, same card fields) and the resident memory of a fresh client process
//! holding 100,000 cards (open + first page).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, anyhow};
use deckhand_core::model::ListQuery;
use deckhand_core::{Engine, EngineConfig};
use serde_json::{Value, json};

use crate::Ctx;
use crate::data::{self, rss_kb};
use crate::stats::*;
use crate::{p1, peer};

pub async fn q1(ctx: &Ctx) -> Result<Vec<Row>> {
    peer::ensure_installed()?;
    let n = if ctx.quick { 1_000 } else { 10_000 };
    let vocab = data::vocabulary();
    let cards = peer::corpus(&ctx.data_dir, n)?;
    let (mut eng, mut pouch, mut full) = (Runs::default(), Runs::default(), Runs::default());
    let (mut eng_ops, mut pouch_ops, mut full_ops) = (vec![], vec![], vec![]);
    for run in 0..ctx.runs {
        eprintln!("  Q1 run {}/{}", run + 1, ctx.runs);
        // Interleaved so machine drift hits both peers.
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let v = peer::run("q1", &[("dir", d.path().display().to_string()), ("cards", cards.display().to_string()), ("n", n.to_string())])?;
        pouch.push(RunStat::of(&peer::floats(&v, "lat_us")?));
        pouch_ops.push(n as f64 / peer::num(&v, "secs")?);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let (lat, secs) = p1::engine_creates(d.path(), n, &vocab).await?;
        eng.push(RunStat::of(&lat));
        eng_ops.push(n as f64 / secs);
        // FULL beside it: the engine's store path with an fsync per commit (the engine does not
        // expose the pragma; this is the engine minus its async hop, as P1's FULL row).
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let (lat, secs) = p1::store_creates(d.path(), n, &vocab, "FULL")?;
        full.push(RunStat::of(&lat));
        full_ops.push(n as f64 / secs);
    }
    let ratios: Vec<f64> = eng_ops.iter().zip(&pouch_ops).map(|(e, p)| e / p).collect();
    let ratio = median(&ratios);
    let rr = range(&ratios);
    let mut row = Row::new("Q1", "local durable writes: Engine::create (NORMAL) vs PouchDB put");
    row.p50 = format!("{} ({} ops/s)", t(eng.p50()), thousands(median(&eng_ops)));
    row.p99 = t(eng.p99());
    row.baseline = format!("PouchDB {} ops/s, p50 {} / p99 {}", thousands(median(&pouch_ops)), t(pouch.p50()), t(pouch.p99()));
    row.ratio = format!("{ratio:.2}× throughput ({:.2}–{:.2})", rr.0, rr.1);
    row.samples = eng.samples();
    let (er, pr) = (range(&eng_ops), range(&pouch_ops));
    row.spread = format!("{}–{} ops/s (PouchDB {}–{})", thousands(er.0), thousands(er.1), thousands(pr.0), thousands(pr.1));
    row.target = "≥ 1.5× PouchDB".into();
    row.verdict = Verdict::of(ratio >= 1.5);
    let fr = range(&full_ops);
    row.extra = format!(
        "synchronous=FULL (fsync per commit, store path): {} ops/s ({}–{}), p50 {} / p99 {}, {:.2}× PouchDB",
        thousands(median(&full_ops)),
        thousands(fr.0),
        thousands(fr.1),
        t(full.p50()),
        t(full.p99()),
        median(&full_ops) / median(&pouch_ops)
    );
    Ok(vec![row])
}

/// Child: an offline engine opens the 100,000-card database and lists its first page; prints RSS.
pub async fn child_engine(dir: &str) -> Result<()> {
    let pid = std::process::id();
    let before = rss_kb(pid);
    let engine = Engine::open(EngineConfig::new(dir)).await?;
    let page = engine.list(ListQuery::default()).await?;
    if page.items.len() != 100 || page.total != 100_000 {
        return Err(anyhow!("unexpected first page: {} items of {}", page.items.len(), page.total));
    }
    println!("{}", json!({ "rss_before": before * 1024, "rss_after": rss_kb(pid) * 1024 }));
    engine.shutdown().await;
    Ok(())
}

fn engine_child(dir: &Path) -> Result<Value> {
    let out = Command::new(std::env::current_exe()?).args(["--child", "q6-engine"]).arg(dir).output().context("spawning the Q6 child")?;
    if !out.status.success() {
        return Err(anyhow!("Q6 child failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or(""))?)
}

pub async fn q6(ctx: &Ctx) -> Result<Vec<Row>> {
    peer::ensure_installed()?;
    let n = 100_000;
    let src = data::cached_db(&ctx.data_dir, "q6-100k-confirmed", n, 0)?;
    let cards = peer::corpus(&ctx.data_dir, n)?;
    let built = peer::run("q6-build", &[("dir", ctx.tmp.display().to_string()), ("cards", cards.display().to_string()), ("n", n.to_string()), ("cache", ctx.data_dir.display().to_string())])?;
    let pouch_db = built["dir"].as_str().ok_or_else(|| anyhow!("q6-build gave no dir"))?.to_string();
    let mib = |b: f64| b / 1024.0 / 1024.0;
    let (mut eng, mut eng0, mut pouch, mut pouch0) = (vec![], vec![], vec![], vec![]);
    for run in 0..ctx.runs {
        eprintln!("  Q6 run {}/{}", run + 1, ctx.runs);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        data::fresh_copy(&src, d.path())?;
        let v = engine_child(d.path())?;
        eng.push(mib(peer::num(&v, "rss_after")?));
        eng0.push(mib(peer::num(&v, "rss_before")?));
        let v = peer::run("q6", &[("dir", ctx.tmp.display().to_string()), ("db", pouch_db.clone()), ("n", n.to_string())])?;
        pouch.push(mib(peer::num(&v, "rss_after")?));
        pouch0.push(mib(peer::num(&v, "rss_before")?));
    }
    let mut row = Row::new("Q6", "client RSS holding 100,000 cards (fresh process: open + first page)");
    row.p50 = format!("{:.1} MiB", median(&eng));
    row.baseline = format!("PouchDB (Node) {:.1} MiB", median(&pouch));
    row.ratio = format!("{:.2}×", median(&eng) / median(&pouch));
    row.samples = format!("{} processes each", ctx.runs);
    let (er, pr) = (range(&eng), range(&pouch));
    row.spread = format!("{:.1}–{:.1} MiB (PouchDB {:.1}–{:.1})", er.0, er.1, pr.0, pr.1);
    row.target = "report".into();
    row.extra = format!("before opening the store: Deckhand process {:.1} MiB, Node process {:.1} MiB", median(&eng0), median(&pouch0));
    Ok(vec![row])
}
