//! P1: optimistic writes through the engine API vs one raw rusqlite transaction writing the same
//! card row and outbox row (same schema, same pragmas).

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, anyhow};
use deckhand_core::model::{EngineEvent, NewCardInput};
use deckhand_core::store::{Store, writes};
use deckhand_core::{Engine, EngineConfig};
use deckhand_protocol::CardChanges;
use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::Ctx;
use crate::data::{self, ts_now};
use crate::stats::*;

pub(crate) fn input(i: usize, vocab: &[String]) -> NewCardInput {
    let c = data::card_fields(i, vocab);
    NewCardInput { title: c.title, body: Some(c.body), url: c.url, tags: Some(c.tags), lane: Some(c.lane), position: None, pinned: None }
}

/// The engine's pragmas (crates/core/src/store/mod.rs), with `synchronous` chosen.
fn raw_conn(path: &Path, sync: &str) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The engine's writer threshold; the engine also checkpoints on a background thread, which
    // a raw connection does not have (it checkpoints inline every 8192 pages).
    conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn raw_create(conn: &mut Connection, i: usize, vocab: &[String]) -> Result<()> {
    let c = data::card_fields(i, vocab);
    let now = ts_now();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "INSERT INTO cards(id, title, body, url, tags, lane, position, pinned, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![c.id.to_string(), c.title, c.body, c.url, serde_json::to_string(&c.tags)?, c.lane, i as f64, c.pinned, now])?;
    tx.prepare_cached(
        "INSERT INTO outbox(card_id, kind, payload, base_version, base, idempotency_key, priority, created_at)
         VALUES (?1, 'create', ?2, NULL, NULL, ?3, 1, ?4)",
    )?
    .execute(params![c.id.to_string(), serde_json::to_string(&c)?, Uuid::now_v7().to_string(), now])?;
    tx.commit()?;
    Ok(())
}

fn raw_update(conn: &mut Connection, id: &str, base: &str, title: &str) -> Result<()> {
    let now = ts_now();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.prepare_cached("UPDATE cards SET title = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![id, title, now])?;
    let payload = serde_json::to_string(&CardChanges { title: Some(title.to_string()), ..Default::default() })?;
    tx.prepare_cached(
        "INSERT INTO outbox(card_id, kind, payload, base_version, base, idempotency_key, priority, created_at)
         VALUES (?1, 'update', ?2, 1, ?3, ?4, 1, ?5)",
    )?
    .execute(params![id, payload, base, Uuid::now_v7().to_string(), now])?;
    tx.commit()?;
    Ok(())
}

/// Ids and confirmed JSON of a database's cards.
fn confirmed_rows(path: &Path) -> Result<Vec<(String, String)>> {
    let conn = Connection::open(path)?;
    let mut st = conn.prepare("SELECT id, card FROM confirmed ORDER BY id")?;
    let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

pub(crate) async fn engine_creates(dir: &Path, n: usize, vocab: &[String]) -> Result<(Vec<f64>, f64)> {
    let engine = Engine::open(EngineConfig::new(dir)).await?;
    let mut rx = engine.subscribe();
    let mut lat = Vec::with_capacity(n);
    let t_all = Instant::now();
    for i in 0..n {
        let inp = input(i, vocab);
        let t0 = Instant::now();
        let view = engine.create(inp).await?;
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        if !saw_cards_changed(&mut rx, view.id) {
            return Err(anyhow!("create {i}: no CardsChanged event for the card"));
        }
    }
    let total = t_all.elapsed().as_secs_f64();
    engine.shutdown().await;
    Ok((lat, total))
}

async fn engine_updates(dir: &Path, rows: &[(String, String)]) -> Result<(Vec<f64>, f64)> {
    let engine = Engine::open(EngineConfig::new(dir)).await?;
    let mut rx = engine.subscribe();
    let mut lat = Vec::with_capacity(rows.len());
    let t_all = Instant::now();
    for (i, (id, _)) in rows.iter().enumerate() {
        let id = Uuid::parse_str(id)?;
        let ch = CardChanges { title: Some(format!("edited title {i}")), ..Default::default() };
        let t0 = Instant::now();
        engine.update(id, ch).await?;
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        if !saw_cards_changed(&mut rx, id) {
            return Err(anyhow!("update {i}: no CardsChanged event for the card"));
        }
    }
    let total = t_all.elapsed().as_secs_f64();
    engine.shutdown().await;
    Ok((lat, total))
}

pub(crate) fn raw_creates(dir: &Path, n: usize, vocab: &[String], sync: &str) -> Result<(Vec<f64>, f64)> {
    let path = dir.join("deckhand.db");
    drop(Store::open(&path).map_err(|e| anyhow!("{e}"))?);
    let mut conn = raw_conn(&path, sync)?;
    let mut lat = Vec::with_capacity(n);
    let t_all = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        raw_create(&mut conn, i, vocab)?;
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    Ok((lat, t_all.elapsed().as_secs_f64()))
}

fn raw_updates(dir: &Path, rows: &[(String, String)]) -> Result<(Vec<f64>, f64)> {
    let mut conn = raw_conn(&dir.join("deckhand.db"), "NORMAL")?;
    let mut lat = Vec::with_capacity(rows.len());
    let t_all = Instant::now();
    for (i, (id, base)) in rows.iter().enumerate() {
        let t0 = Instant::now();
        raw_update(&mut conn, id, base, &format!("edited title {i}"))?;
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    Ok((lat, t_all.elapsed().as_secs_f64()))
}

/// For crates/bench/callgrind.sh: the first `n` updates of P1 (engine or raw) on the copy of
/// P1's confirmed database in `dir`, nothing else timed.
pub(crate) async fn child_updates(dir: &Path, n: usize, engine: bool) -> Result<()> {
    let rows = confirmed_rows(&dir.join("deckhand.db"))?;
    let rows = &rows[..n.min(rows.len())];
    if engine { engine_updates(dir, rows).await } else { raw_updates(dir, rows) }.map(|_| ())
}

/// The engine's store path (validation, position, outbox enqueue, view built) without the async
/// hop, with `synchronous` chosen: the engine hard-codes NORMAL, so FULL is measured here.
pub(crate) fn store_creates(dir: &Path, n: usize, vocab: &[String], sync: &str) -> Result<(Vec<f64>, f64)> {
    let store = Store::open(&dir.join("deckhand.db")).map_err(|e| anyhow!("{e}"))?;
    store.lock().pragma_update(None, "synchronous", sync)?;
    let mut lat = Vec::with_capacity(n);
    let t_all = Instant::now();
    for i in 0..n {
        let inp = input(i, vocab);
        let t0 = Instant::now();
        store.write(|tx| writes::create_view(tx, &inp)).map_err(|e| anyhow!("{e}"))?;
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    Ok((lat, t_all.elapsed().as_secs_f64()))
}

struct Pair {
    eng: Runs,
    raw: Runs,
    eng_total: Vec<f64>,
    raw_total: Vec<f64>,
}

impl Pair {
    fn new() -> Pair {
        Pair { eng: Runs::default(), raw: Runs::default(), eng_total: vec![], raw_total: vec![] }
    }
    fn ratios(&self) -> Vec<f64> {
        self.eng_total.iter().zip(&self.raw_total).map(|(e, r)| e / r).collect()
    }
    fn row(&self, id: &str, what: &str, n: usize, p99_target_us: Option<f64>) -> Row {
        let mut row = Row::new(id, what);
        row.p50 = t(self.eng.p50());
        row.p99 = t(self.eng.p99());
        let ops: Vec<f64> = self.eng_total.iter().map(|s| n as f64 / s).collect();
        let raw_ops: Vec<f64> = self.raw_total.iter().map(|s| n as f64 / s).collect();
        row.extra = format!("{} ops/s (raw {} ops/s)", thousands(median(&ops)), thousands(median(&raw_ops)));
        row.baseline = format!("p50 {} / p99 {}", t(self.raw.p50()), t(self.raw.p99()));
        let r = self.ratios();
        let ratio = median(&r);
        let rr = range(&r);
        row.ratio = format!("{ratio:.2}× ({:.2}–{:.2})", rr.0, rr.1);
        row.samples = self.eng.samples();
        row.spread = format!("p50 {}; p99 {}", trange(self.eng.p50_range()), trange(self.eng.p99_range()));
        match p99_target_us {
            Some(p99) => {
                // Issue 13's goal (round 1 asked for 1.5×).
                row.target = format!("ratio ≤ {P1_RATIO_GOAL}, p99 < {}", t(p99));
                row.verdict = Verdict::of(ratio <= P1_RATIO_GOAL && self.eng.p99() < p99);
            }
            None => {
                row.target = "report".into();
            }
        }
        row
    }
}

/// The engine's write may cost at most this much more than the raw transaction.
const P1_RATIO_GOAL: f64 = 1.25;

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = if ctx.quick { 1_000 } else { 10_000 };
    let n_full = if ctx.quick { 200 } else { 2_000 };
    let vocab = data::vocabulary();
    let upd_db = data::cached_db(&ctx.data_dir, "p1-10k-confirmed", 10_000, 0)?;
    let rows_all = confirmed_rows(&upd_db.join("deckhand.db"))?;
    let rows_upd = &rows_all[..n.min(rows_all.len())];

    let mut create = Pair::new();
    let mut update = Pair::new();
    let mut full = Pair::new();
    for run in 0..ctx.runs {
        eprintln!("  P1 run {}/{}", run + 1, ctx.runs);
        // Interleave engine and baseline so drift hits both.
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let (lat, tot) = raw_creates(d.path(), n, &vocab, "NORMAL")?;
        create.raw.push(RunStat::of(&lat));
        create.raw_total.push(tot);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let (lat, tot) = engine_creates(d.path(), n, &vocab).await?;
        create.eng.push(RunStat::of(&lat));
        create.eng_total.push(tot);

        let d = tempfile::tempdir_in(&ctx.tmp)?;
        data::fresh_copy(&upd_db, d.path())?;
        let (lat, tot) = raw_updates(d.path(), rows_upd)?;
        update.raw.push(RunStat::of(&lat));
        update.raw_total.push(tot);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        data::fresh_copy(&upd_db, d.path())?;
        let (lat, tot) = engine_updates(d.path(), rows_upd).await?;
        update.eng.push(RunStat::of(&lat));
        update.eng_total.push(tot);

        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let (lat, tot) = raw_creates(d.path(), n_full, &vocab, "FULL")?;
        full.raw.push(RunStat::of(&lat));
        full.raw_total.push(tot);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let (lat, tot) = store_creates(d.path(), n_full, &vocab, "FULL")?;
        full.eng.push(RunStat::of(&lat));
        full.eng_total.push(tot);
    }
    Ok(vec![
        create.row("P1", "create via Engine::create (WAL, synchronous=NORMAL)", n, Some(1000.0)),
        update.row("P1", "update via Engine::update (WAL, synchronous=NORMAL)", n, Some(1000.0)),
        full.row("P1", "create, store path, synchronous=FULL (fsync per commit)", n_full, None),
    ])
}

/// The write's `CardsChanged` was emitted before the call returned (other events, e.g. a
/// throttled `StatusChanged`, may come first and are skipped).
fn saw_cards_changed(rx: &mut tokio::sync::broadcast::Receiver<EngineEvent>, id: uuid::Uuid) -> bool {
    while let Ok(ev) = rx.try_recv() {
        if let EngineEvent::CardsChanged { ids } = ev {
            if ids.contains(&id) {
                return true;
            }
        }
    }
    false
}
