//! Q5: concurrent edits. Two devices of one user hold the same N cards; both go offline (paused)
//! and edit every card: A the title; B the body of even cards (different field: mergeable) and the
//! title of odd ones (same field: a real conflict). Both reconnect at once; the clock runs until
//! both devices have no op left but conflicts, agree on every card's confirmed server version, and
//! hold the same fields for every card without a conflict. Then: how many were auto-merged and how
//! many wait for a person.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use deckhand_core::model::{CardView, ListQuery, OpState};
use deckhand_core::{Engine, EngineConfig, ServerSettings};
use deckhand_protocol::CardChanges;
use deckhand_server::testing::TestServer;
use uuid::Uuid;

use crate::Ctx;
use crate::stats::*;
use crate::{data, p1, p2, peer};

const A_MARK: &str = " (edited on A)";
const B_MARK: &str = " (edited on B)";

/// Only conflicts left in the outbox (nothing pending, in flight or failed).
async fn settled(e: &Engine) -> Result<bool> {
    Ok(e.outbox().await?.iter().all(|o| o.state == OpState::Conflict))
}

async fn views(e: &Engine, ids: &[Uuid]) -> Result<Vec<CardView>> {
    let mut v = Vec::with_capacity(ids.len());
    for id in ids {
        v.push(e.get(*id).await?.ok_or_else(|| anyhow!("card {id} missing"))?);
    }
    Ok(v)
}

struct Outcome {
    secs: f64,
    merged: usize,
    conflicted: usize,
}

async fn one_run(ctx: &Ctx, n: usize) -> Result<Outcome> {
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    let server = TestServer::start_with(p2::server_config(&d.path().join("server.db"))).await;
    let settings = ServerSettings { url: server.url(), token: server.add_user("bench") };
    let open = |name: &str| {
        let mut c = EngineConfig::new(d.path().join(name));
        c.server = Some(settings.clone());
        Engine::open(c)
    };
    let (a, b) = (open("a").await?, open("b").await?);
    let vocab = data::vocabulary();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(a.create(p1::input(i, &vocab)).await?.id);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = a.wait_idle(Duration::from_millis(50)).await.is_ok() && b.wait_idle(Duration::from_millis(50)).await.is_ok();
        // A drains 8 creates at a time, so the server's order is not A's: B must hold all of them.
        if ok && b.list(ListQuery { limit: Some(1), ..Default::default() }).await?.total as usize == n {
            break;
        }
        if Instant::now() > deadline {
            return Err(anyhow!("B never received A's {n} cards"));
        }
    }
    a.pause().await;
    b.pause().await;
    let before = views(&a, &ids).await?;
    for (i, v) in before.iter().enumerate() {
        a.update(v.id, CardChanges { title: Some(format!("{}{A_MARK}", v.title)), ..Default::default() }).await?;
        let ch = if i % 2 == 0 {
            CardChanges { body: Some(format!("{}{B_MARK}", v.body)), ..Default::default() }
        } else {
            CardChanges { title: Some(format!("{}{B_MARK}", v.title)), ..Default::default() }
        };
        b.update(v.id, ch).await?;
    }
    let t0 = Instant::now();
    a.resume().await;
    b.resume().await;
    let deadline = Instant::now() + Duration::from_secs(300);
    let (va, vb) = loop {
        if Instant::now() > deadline {
            return Err(anyhow!("A, B and the server never agreed"));
        }
        if settled(&a).await? && settled(&b).await? {
            let (va, vb) = (views(&a, &ids).await?, views(&b, &ids).await?);
            let agree = va.iter().zip(&vb).all(|(x, y)| {
                x.confirmed_version.is_some()
                    && x.confirmed_version == y.confirmed_version
                    && (x.sync_state == deckhand_core::model::SyncState::Conflict
                        || y.sync_state == deckhand_core::model::SyncState::Conflict
                        || (x.title == y.title && x.body == y.body))
            });
            if agree {
                break (va, vb);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let secs = t0.elapsed().as_secs_f64();
    let conflicted: HashSet<Uuid> = a.conflicts().await?.iter().chain(b.conflicts().await?.iter()).map(|c| c.card_id).collect();
    // Auto-merged: both edits are in the card on both devices (the server's merged copy).
    let merged = va.iter().zip(&vb).filter(|(x, y)| !conflicted.contains(&x.id) && x.title.ends_with(A_MARK) && x.body.ends_with(B_MARK) && x.title == y.title && x.body == y.body).count();
    // Every even card (edits to different fields) must merge without a person.
    for (i, x) in va.iter().enumerate() {
        if i % 2 == 0 && conflicted.contains(&x.id) {
            return Err(anyhow!("card {i}: title vs body edits were left as a conflict"));
        }
    }
    a.shutdown().await;
    b.shutdown().await;
    server.stop().await;
    Ok(Outcome { secs, merged, conflicted: conflicted.len() })
}

pub async fn q5(ctx: &Ctx) -> Result<Vec<Row>> {
    peer::ensure_installed()?;
    let n = if ctx.quick { 200 } else { 1_000 };
    let cards = peer::corpus(&ctx.data_dir, n)?;
    let (mut eng, mut pouch, mut last, mut plast) = (vec![], vec![], None, None);
    for run in 0..ctx.runs {
        eprintln!("  Q5 run {}/{}", run + 1, ctx.runs);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let v = peer::run("q5", &[("dir", d.path().display().to_string()), ("cards", cards.display().to_string()), ("n", n.to_string())])?;
        pouch.push(peer::num(&v, "secs")? * 1e6);
        plast = Some((peer::num(&v, "conflicted")? as usize, peer::num(&v, "rounds")? as usize));
        let o = one_run(ctx, n).await?;
        eng.push(o.secs * 1e6);
        last = Some((o.merged, o.conflicted));
    }
    let (merged, conflicted) = last.unwrap_or_default();
    let (pconf, rounds) = plast.unwrap_or_default();
    let mut row = Row::new("Q5", format!("concurrent offline edits of {} cards on 2 devices → all agree", thousands(n as f64)));
    row.p50 = t(median(&eng));
    row.baseline = format!("PouchDB {}", t(median(&pouch)));
    row.ratio = format!("{:.2}× its time", median(&eng) / median(&pouch));
    row.samples = format!("{} × {}", ctx.runs, thousands(n as f64));
    row.spread = format!("{} (PouchDB {})", trange(range(&eng)), trange(range(&pouch)));
    row.target = "report".into();
    row.extra = format!(
        "Deckhand: {merged} auto-merged, {conflicted} need a person (same field edited on both); PouchDB: {pconf} docs with conflicting revisions left for the app (0 merged; winner picked by revision), {rounds} sync rounds"
    );
    Ok(vec![row])
}
