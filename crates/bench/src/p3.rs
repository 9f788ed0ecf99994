//! P3: propagation. `Engine::create` on client A until client B (same user, realtime on) has the
//! card in its database and has emitted `CardsChanged` for it. Sequential writes.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use deckhand_core::model::{EngineEvent, NewCardInput, StreamState};
use deckhand_core::{Engine, EngineConfig, ServerSettings};
use deckhand_server::testing::TestServer;

use crate::Ctx;
use crate::stats::*;

pub(crate) async fn one_run(ctx: &Ctx, n: usize) -> Result<Vec<f64>> {
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    let server = TestServer::start_with(crate::p2::server_config(&d.path().join("server.db"))).await;
    let token = server.add_user("bench");
    let settings = ServerSettings { url: server.url(), token };
    let mut ca = EngineConfig::new(d.path().join("a"));
    ca.server = Some(settings.clone());
    let mut cb = EngineConfig::new(d.path().join("b"));
    cb.server = Some(settings);
    let a = Engine::open(ca).await?;
    let b = Engine::open(cb).await?;
    // Both online, caught up and B's stream connected.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok_a = a.wait_idle(Duration::from_millis(1)).await.is_ok();
        let ok_b = b.wait_idle(Duration::from_millis(1)).await.is_ok();
        let st = b.status().await.expect("status");
        if ok_a && ok_b && st.stream.state == StreamState::Connected {
            break;
        }
        if Instant::now() > deadline {
            return Err(anyhow!("clients never became idle and connected"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut rx = b.subscribe();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        let view = a.create(NewCardInput { title: format!("propagate {i}"), ..Default::default() }).await?;
        let id = view.id;
        let wait = async {
            loop {
                match rx.recv().await {
                    Ok(EngineEvent::CardsChanged { ids }) if ids.contains(&id) => return Ok(()),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => return Err(anyhow!("B's events: {e}")),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await.map_err(|_| anyhow!("write {i} never reached B"))??;
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        if b.get(id).await?.is_none() {
            return Err(anyhow!("B fired the event but has no card {id}"));
        }
    }
    a.shutdown().await;
    b.shutdown().await;
    server.stop().await;
    Ok(lat)
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = if ctx.quick { 200 } else { 1_000 };
    let mut runs = Runs::default();
    for run in 0..ctx.runs {
        eprintln!("  P3 run {}/{}", run + 1, ctx.runs);
        runs.push(RunStat::of(&one_run(ctx, n).await?));
    }
    let mut row = Row::new("P3", "propagation A write → B db + event (loopback)");
    row.p50 = t(runs.p50());
    row.p99 = t(runs.p99());
    row.samples = runs.samples();
    row.spread = format!("p50 {}; p99 {}", trange(runs.p50_range()), trange(runs.p99_range()));
    row.target = "p99 < 20 ms".into();
    row.verdict = Verdict::of(runs.p99() < 20_000.0);
    Ok(vec![row])
}
