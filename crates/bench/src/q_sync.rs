//! Q2-Q4 against the peer: upload (Deckhand's drain vs PouchDB `replicate.to`), propagation
//! (Deckhand's stream vs PouchDB live `sync`) and catch-up of a new device (Deckhand's catch-up vs
//! PouchDB `replicate.from`). Each side talks to its own server on 127.0.0.1, fresh per sample.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use deckhand_core::model::ListQuery;
use deckhand_core::{Engine, EngineConfig, ServerSettings};
use deckhand_server::testing::TestServer;

use crate::Ctx;
use crate::stats::*;
use crate::{data, p2, p3, peer};

fn s(p: &Path) -> String {
    p.display().to_string()
}

pub async fn q2(ctx: &Ctx) -> Result<Vec<Row>> {
    peer::ensure_installed()?;
    let n = if ctx.quick { 1_000 } else { 10_000 };
    let src = data::cached_db(&ctx.data_dir, &format!("p2-{n}-queued"), n, n)?;
    let cards = peer::corpus(&ctx.data_dir, n)?;
    let (mut eng, mut pouch) = (vec![], vec![]);
    for run in 0..ctx.runs {
        eprintln!("  Q2 run {}/{}", run + 1, ctx.runs);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let v = peer::run("q2", &[("dir", s(d.path())), ("cards", s(&cards)), ("n", n.to_string())])?;
        pouch.push(n as f64 / peer::num(&v, "secs")?);
        eng.push(n as f64 / p2::engine_drain(ctx, &src, 8, n).await?);
    }
    let ratios: Vec<f64> = eng.iter().zip(&pouch).map(|(e, p)| e / p).collect();
    let (ratio, rr) = (median(&ratios), range(&ratios));
    let mut row = Row::new("Q2", format!("upload {} offline-written cards: drain (window 8) vs PouchDB replicate.to", thousands(n as f64)));
    row.p50 = format!("{} cards/s", thousands(median(&eng)));
    row.baseline = format!("PouchDB {} docs/s", thousands(median(&pouch)));
    row.ratio = format!("{ratio:.2}× ({:.2}–{:.2})", rr.0, rr.1);
    row.samples = format!("{} × {}", ctx.runs, thousands(n as f64));
    let (er, pr) = (range(&eng), range(&pouch));
    row.spread = format!("{}–{} cards/s (PouchDB {}–{})", thousands(er.0), thousands(er.1), thousands(pr.0), thousands(pr.1));
    row.target = "≥ 3× PouchDB".into();
    row.verdict = Verdict::of(ratio >= 3.0);
    row.extra = "until the server holds them all (both sides check the server's count)".into();
    Ok(vec![row])
}

pub async fn q3(ctx: &Ctx) -> Result<Vec<Row>> {
    peer::ensure_installed()?;
    let n = if ctx.quick { 200 } else { 1_000 };
    let cards = peer::corpus(&ctx.data_dir, n)?;
    let (mut eng, mut pouch) = (Runs::default(), Runs::default());
    for run in 0..ctx.runs {
        eprintln!("  Q3 run {}/{}", run + 1, ctx.runs);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let v = peer::run("q3", &[("dir", s(d.path())), ("cards", s(&cards)), ("n", n.to_string())])?;
        pouch.push(RunStat::of(&peer::floats(&v, "lat_us")?));
        eng.push(RunStat::of(&p3::one_run(ctx, n).await?));
    }
    let ratios: Vec<f64> = eng.0.iter().zip(&pouch.0).map(|(e, p)| e.p99 / p.p99).collect();
    let (ratio, rr) = (median(&ratios), range(&ratios));
    let mut row = Row::new("Q3", "propagation A write → B local store: stream vs PouchDB live sync");
    row.p50 = t(eng.p50());
    row.p99 = t(eng.p99());
    row.baseline = format!("PouchDB p50 {} / p99 {}", t(pouch.p50()), t(pouch.p99()));
    row.ratio = format!("{ratio:.3}× of its p99 ({:.3}–{:.3})", rr.0, rr.1);
    row.samples = eng.samples();
    row.spread = format!("p99 {} (PouchDB {})", trange(eng.p99_range()), trange(pouch.p99_range()));
    row.target = "p99 ≤ 0.5× PouchDB's".into();
    row.verdict = Verdict::of(ratio <= 0.5);
    Ok(vec![row])
}

/// A server database holding `n` cards of one user, built once by draining a queued client
/// database through the engine, cached with the user's token.
async fn q4_server(ctx: &Ctx, n: usize) -> Result<(PathBuf, String)> {
    let dir = ctx.data_dir.join(format!("q4-server-{n}-s{}", deckhand_core::store::migrate::MIGRATIONS.len()));
    let token_file = dir.join("token");
    if !token_file.exists() {
        eprintln!("  building {} (draining {n} cards once)...", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let src = data::cached_db(&ctx.data_dir, &format!("q4-{n}-queued"), n, n)?;
        let client = tempfile::tempdir_in(&ctx.tmp)?;
        data::fresh_copy(&src, client.path())?;
        let server = TestServer::start_with(p2::server_config(&dir.join("server.db"))).await;
        let token = server.add_user("bench");
        let mut cfg = EngineConfig::new(client.path());
        cfg.server = Some(ServerSettings { url: server.url(), token: token.clone() });
        let engine = Engine::open(cfg).await?;
        engine.wait_idle(Duration::from_secs(1200)).await.map_err(|e| anyhow!("filling the Q4 server: {e:?}"))?;
        engine.shutdown().await;
        server.stop().await;
        std::fs::write(&token_file, &token)?;
    }
    Ok((dir, std::fs::read_to_string(&token_file)?))
}

/// A new device: open with the server set, catch up until idle, list the first page.
async fn q4_engine(ctx: &Ctx, server_dir: &Path, token: &str, n: usize) -> Result<f64> {
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    for e in std::fs::read_dir(server_dir)? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with("server.db") {
            std::fs::copy(e.path(), d.path().join(e.file_name()))?;
        }
    }
    let server = TestServer::start_with(p2::server_config(&d.path().join("server.db"))).await;
    let mut cfg = EngineConfig::new(d.path().join("client"));
    cfg.server = Some(ServerSettings { url: server.url(), token: token.into() });
    let t0 = Instant::now();
    let engine = Engine::open(cfg).await?;
    engine.wait_idle(Duration::from_secs(600)).await.map_err(|e| anyhow!("catch-up: {e:?}"))?;
    let page = engine.list(ListQuery::default()).await?;
    let secs = t0.elapsed().as_secs_f64();
    if page.items.len() != 100 || page.total as usize != n {
        return Err(anyhow!("after catch-up: {} items of {}, expected 100 of {n}", page.items.len(), page.total));
    }
    engine.shutdown().await;
    server.stop().await;
    Ok(secs)
}

pub async fn q4(ctx: &Ctx) -> Result<Vec<Row>> {
    peer::ensure_installed()?;
    let n = if ctx.quick { 10_000 } else { 100_000 };
    let cards = peer::corpus(&ctx.data_dir, n)?;
    let (server_dir, token) = q4_server(ctx, n).await?;
    let (mut eng, mut pouch) = (vec![], vec![]);
    for run in 0..ctx.runs {
        eprintln!("  Q4 run {}/{}", run + 1, ctx.runs);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let v = peer::run("q4", &[("dir", s(d.path())), ("cards", s(&cards)), ("n", n.to_string()), ("cache", s(&ctx.data_dir))])?;
        pouch.push(n as f64 / peer::num(&v, "secs")?);
        eng.push(n as f64 / q4_engine(ctx, &server_dir, &token, n).await?);
    }
    let ratios: Vec<f64> = eng.iter().zip(&pouch).map(|(e, p)| e / p).collect();
    let (ratio, rr) = (median(&ratios), range(&ratios));
    let mut row = Row::new("Q4", format!("catch-up: new device pulls {} cards + first page vs PouchDB replicate.from", thousands(n as f64)));
    row.p50 = format!("{} cards/s ({})", thousands(median(&eng)), t(n as f64 / median(&eng) * 1e6));
    row.baseline = format!("PouchDB {} docs/s ({})", thousands(median(&pouch)), t(n as f64 / median(&pouch) * 1e6));
    row.ratio = format!("{ratio:.2}× ({:.2}–{:.2})", rr.0, rr.1);
    row.samples = format!("{} × {}", ctx.runs, thousands(n as f64));
    let (er, pr) = (range(&eng), range(&pouch));
    row.spread = format!("{}–{} cards/s (PouchDB {}–{})", thousands(er.0), thousands(er.1), thousands(pr.0), thousands(pr.1));
    row.target = "≥ 3× PouchDB".into();
    row.verdict = Verdict::of(ratio >= 3.0);
    Ok(vec![row])
}
