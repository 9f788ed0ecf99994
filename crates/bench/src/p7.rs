//! P7: write throughput on PostgreSQL. Many users, two clients each, each client a closed loop of
//! `POST /v1/cards` (one in flight per client), through 1, 2 and 3 `deckhand-server serve`
//! processes on one database (clients spread round-robin over the instances), and through one
//! instance on SQLite. Baseline, same run: the same transactions issued directly with
//! tokio-postgres (a deadpool of the server's default size) by the same number of client tasks
//! on a database of the same shape: what the server could reach on this machine if it added
//! nothing. Where the time goes: CPU seconds of the server processes, of PostgreSQL (postmaster
//! and every backend) and of this load generator, per create.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, anyhow};
use chrono::Utc;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use deckhand_protocol::NewCard;
use deckhand_server::domain::{self, WriteOp};
use deckhand_server::storage::postgres::Pokes;
use deckhand_testkit::pg::Cluster;
use tokio_postgres::NoTls;

use crate::Ctx;
use crate::data;
use crate::rig::{Instance, postgres_cpu_secs, self_cpu_secs};
use crate::stats::*;

/// Card numbers of the untimed warm-up creates (far from the timed ones').
const WARM_UP: usize = 10_000_000;

/// The server's default `--pg-pool-size`; the direct baseline gets the same number of connections.
const POOL: usize = 16;

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Direct,
    Pg(usize),
    Sqlite,
}

impl Target {
    fn label(self) -> String {
        match self {
            Target::Direct => "direct tokio-postgres (the limit)".into(),
            Target::Pg(n) => format!("{n} instance{} on PostgreSQL", if n == 1 { "" } else { "s" }),
            Target::Sqlite => "1 instance on SQLite".into(),
        }
    }
}

struct Shape {
    users: usize,
    clients_per_user: usize,
    creates_per_client: usize,
}

impl Shape {
    fn clients(&self) -> usize {
        self.users * self.clients_per_user
    }
    fn total(&self) -> usize {
        self.clients() * self.creates_per_client
    }
}

struct Outcome {
    per_sec: f64,
    latencies: Vec<f64>,
    server_cpu: f64,
    pg_cpu: f64,
    load_cpu: f64,
}

/// A new database with `users` users; returns (db for `--db`, tokens, user ids).
pub(crate) async fn prepare(ctx: &Ctx, cluster: Option<&Cluster>, users: usize) -> Result<(String, Vec<String>, Vec<i64>, tempfile::TempDir)> {
    let dir = tempfile::tempdir_in(&ctx.tmp)?;
    let db = match cluster {
        Some(c) => tokio::task::block_in_place(|| c.fresh_database()),
        None => dir.path().join("server.db").display().to_string(),
    };
    let db2 = db.clone();
    let (tokens, ids) = tokio::task::spawn_blocking(move || -> Result<(Vec<String>, Vec<i64>)> {
        let config = deckhand_server::ServerConfig::for_location(&deckhand_server::storage::Location::parse(&db2));
        let storage = deckhand_server::open_storage(&config)?;
        let mut tokens = Vec::with_capacity(users);
        let mut ids = Vec::with_capacity(users);
        for u in 0..users {
            let token = deckhand_server::auth::new_token();
            ids.push(storage.add_user(&format!("p7-{u}"), deckhand_server::auth::hash_token(&token))?);
            tokens.push(token);
        }
        Ok((tokens, ids))
    })
    .await??;
    Ok((db, tokens, ids, dir))
}

/// One `POST /v1/cards` with a new Idempotency-Key; anything but 201 is an error.
pub(crate) async fn create(http: &reqwest::Client, url: &reqwest::Url, token: &str, body: String) -> Result<()> {
    let resp = http
        .post(url.clone())
        .bearer_auth(token)
        .header(deckhand_protocol::headers::IDEMPOTENCY_KEY, uuid::Uuid::now_v7().to_string())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    if resp.status().as_u16() != 201 {
        return Err(anyhow!("create answered {}: {}", resp.status(), resp.text().await.unwrap_or_default()));
    }
    resp.bytes().await?;
    Ok(())
}

/// Each client's cards, built before the clock starts.
fn bodies(shape: &Shape, vocab: &[String]) -> Vec<Vec<NewCard>> {
    (0..shape.clients())
        .map(|c| (0..shape.creates_per_client).map(|k| data::card_fields(c * shape.creates_per_client + k, vocab)).collect())
        .collect()
}

async fn through_servers(ctx: &Ctx, cluster: Option<&Cluster>, n: usize, shape: &Shape, vocab: &[String]) -> Result<Outcome> {
    let (db, tokens, _, dir) = prepare(ctx, cluster, shape.users).await?;
    let mut instances = Vec::with_capacity(n);
    for i in 0..n {
        let log = dir.path().join(format!("server{i}.log"));
        let db = db.clone();
        instances.push(tokio::task::spawn_blocking(move || Instance::start(&db, &[], &log)).await??);
    }
    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
    let work: Vec<Vec<String>> = bodies(shape, vocab).into_iter().map(|cs| cs.iter().map(|c| serde_json::to_string(c).unwrap()).collect()).collect();
    let http = reqwest::Client::builder().pool_max_idle_per_host(shape.clients()).build()?;
    let pids: Vec<u32> = instances.iter().map(|i| i.pid).collect();
    let server_cpu = || pids.iter().map(|p| data::cpu_secs(*p)).sum::<f64>();
    let pg_pid = cluster.map(|c| c.pid);
    let pg_cpu = || pg_pid.map(postgres_cpu_secs).unwrap_or(0.0);
    // One untimed create per client first, as the baseline's tasks do: the instances open their
    // pooled connections and prepare their statements, the clients their HTTP connections.
    let warm = (0..work.len()).map(|c| {
        let (http, token) = (http.clone(), tokens[c / shape.clients_per_user].clone());
        let url = format!("{}/v1/cards", urls[c % urls.len()]).parse::<reqwest::Url>();
        let body = serde_json::to_string(&data::card_fields(WARM_UP + c, vocab)).expect("card json");
        async move { create(&http, &url?, &token, body).await }
    });
    futures::future::try_join_all(warm).await?;
    let (s0, p0, l0) = (server_cpu(), pg_cpu(), self_cpu_secs());
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(work.len());
    for (c, cards) in work.into_iter().enumerate() {
        // Parsed once: the load generator's CPU is taken from the server's cores.
        let url: reqwest::Url = format!("{}/v1/cards", urls[c % urls.len()]).parse()?;
        let (http, token) = (http.clone(), tokens[c / shape.clients_per_user].clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(cards.len());
            for body in cards {
                let t = Instant::now();
                create(&http, &url, &token, body).await?;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            Ok::<Vec<f64>, anyhow::Error>(lat)
        }));
    }
    let mut latencies = Vec::with_capacity(shape.total());
    for t in tasks {
        latencies.extend(t.await??);
    }
    let wall = t0.elapsed().as_secs_f64();
    let out = Outcome { per_sec: shape.total() as f64 / wall, latencies, server_cpu: server_cpu() - s0, pg_cpu: pg_cpu() - p0, load_cpu: self_cpu_secs() - l0 };
    // Stopping waits for each process (bounded): not on a runtime worker's async path.
    tokio::task::block_in_place(|| {
        drop(instances);
        // A database left behind would keep autovacuum busy during the next target's clock.
        if let Some(c) = cluster {
            c.drop_database(&db);
        }
    });
    Ok(out)
}

/// The server's write transaction (storage/postgres `write_once`), statement for statement, then
/// the poke the server queues after commit (the server's own coalescing NOTIFY sender, not
/// awaited by the request).
async fn direct_create(pool: &Pool, pokes: &Pokes, user: i64, token: &[u8; 32], card: &NewCard, key: &str) -> Result<()> {
    let now = Utc::now();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let st = tx
        .prepare_cached(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1::bigint::text || ':' || $2::text, 0)),
                    $3::bytea IS NULL OR EXISTS (SELECT 1 FROM tokens WHERE hash = $3 AND user_id = $1 AND revoked_at IS NULL)",
        )
        .await?;
    let row = tx.query_one(&st, &[&user, &key, &Some(&token[..])]).await?;
    let (locked, live): (bool, bool) = (row.get(0), row.get(1));
    if !locked || !live {
        return Err(anyhow!("advisory lock held or token revoked"));
    }
    let st = tx.prepare_cached("SELECT fingerprint, status, body FROM idempotency WHERE user_id = $1 AND key = $2").await?;
    if tx.query_opt(&st, &[&user, &key]).await?.is_some() {
        return Err(anyhow!("idempotency key reused"));
    }
    let st = tx.prepare_cached("UPDATE users SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq").await?;
    let seq: i64 = tx.query_one(&st, &[&user]).await?.get(0);
    let st = tx.prepare_cached("SELECT data FROM cards WHERE user_id = $1 AND id = $2").await?;
    let current = tx.query_opt(&st, &[&user, &card.id]).await?;
    if current.is_some() {
        return Err(anyhow!("card exists"));
    }
    let card = domain::apply(&WriteOp::Create(card.clone()), None, now).map_err(|p| anyhow!("rejected: {p:?}"))?;
    let data = serde_json::to_string(&card)?;
    let st = tx
        .prepare_cached(
            "INSERT INTO cards (user_id, id, seq, version, deleted, data) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,
             deleted = excluded.deleted, data = excluded.data",
        )
        .await?;
    tx.execute(&st, &[&user, &card.id, &seq, &card.version, &card.deleted, &data]).await?;
    let st = tx
        .prepare_cached(
            "INSERT INTO card_versions (user_id, card_id, version, data, writer, at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id, card_id, version) DO UPDATE SET data = excluded.data, writer = excluded.writer, at = excluded.at",
        )
        .await?;
    tx.execute(&st, &[&user, &card.id, &card.version, &data, &Some("bench".to_string()), &now.timestamp_millis()]).await?;
    let st = tx
        .prepare_cached(
            "INSERT INTO idempotency (user_id, key, fingerprint, status, body, card_id, version, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    let fingerprint = [7u8; 32];
    tx.execute(&st, &[&user, &key, &&fingerprint[..], &201i32, &data, &card.id, &card.version, &now.timestamp_millis()]).await?;
    tx.commit().await?;
    drop(client);
    pokes.send(user, seq);
    Ok(())
}

/// The direct transactions at 16, 32 and 64 client tasks (the same creates, split among them):
/// the best of the three is the run's baseline. Measured so because more tasks than pool
/// connections do not make the direct path faster (P7 notes): the limit is its best shape.
async fn direct_best(ctx: &Ctx, cluster: &Cluster, shape: &Shape, vocab: &[String]) -> Result<(Outcome, usize)> {
    let mut best: Option<(Outcome, usize)> = None;
    for tasks in [POOL, 2 * POOL, 4 * POOL] {
        let o = direct(ctx, cluster, shape, tasks, vocab).await?;
        eprintln!("      direct with {tasks} client tasks: {:.0} creates/s", o.per_sec);
        if best.as_ref().is_none_or(|(b, _)| o.per_sec > b.per_sec) {
            best = Some((o, tasks));
        }
    }
    Ok(best.expect("three shapes"))
}

/// The shape's creates split among `tasks` client tasks; task c writes as user c × users / tasks,
/// so at 64 tasks of 32 users two tasks share a user, as the HTTP clients do.
async fn direct(ctx: &Ctx, cluster: &Cluster, shape: &Shape, tasks: usize, vocab: &[String]) -> Result<Outcome> {
    let (db, tokens, ids, _dir) = prepare(ctx, Some(cluster), shape.users).await?;
    let hashes: Vec<[u8; 32]> = tokens.iter().map(|t| deckhand_server::auth::hash_token(t)).collect();
    let config: tokio_postgres::Config = db.parse()?;
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager).max_size(POOL).build()?;
    // Open every connection before the clock starts (the servers' pools are opened by their
    // clients' warm-up creates).
    let warm: Vec<_> = futures::future::join_all((0..POOL).map(|_| pool.get())).await.into_iter().collect::<Result<_, _>>()?;
    drop(warm);
    let pokes = Arc::new(Pokes::start(&tokio::runtime::Handle::current(), pool.clone()));
    let all: Vec<NewCard> = bodies(shape, vocab).into_iter().flatten().collect();
    let per = all.len() / tasks;
    let work: Vec<Vec<NewCard>> = all.chunks(per).take(tasks).map(|c| c.to_vec()).collect();
    // One untimed create per task first, as the servers' clients do (statements prepared on the
    // connections, the first writes of each user made).
    let warm = (0..tasks).map(|c| {
        let u = c * ids.len() / tasks;
        let (pool, pokes, card) = (&pool, &pokes, data::card_fields(WARM_UP + c, vocab));
        let (user, token) = (ids[u], hashes[u]);
        async move { direct_create(pool, pokes, user, &token, &card, &uuid::Uuid::now_v7().to_string()).await }
    });
    futures::future::try_join_all(warm).await?;
    let (p0, l0) = (postgres_cpu_secs(cluster.pid), self_cpu_secs());
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(work.len());
    for (c, cards) in work.into_iter().enumerate() {
        let u = c * ids.len() / tasks;
        let (pool, pokes, user, token) = (pool.clone(), pokes.clone(), ids[u], hashes[u]);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(cards.len());
            for card in cards {
                let t = Instant::now();
                direct_create(&pool, &pokes, user, &token, &card, &uuid::Uuid::now_v7().to_string()).await?;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            Ok::<Vec<f64>, anyhow::Error>(lat)
        }));
    }
    let mut latencies = Vec::with_capacity(shape.total());
    for t in handles {
        latencies.extend(t.await??);
    }
    let wall = t0.elapsed().as_secs_f64();
    let out = Outcome { per_sec: (per * tasks) as f64 / wall, latencies, server_cpu: 0.0, pg_cpu: postgres_cpu_secs(cluster.pid) - p0, load_cpu: self_cpu_secs() - l0 };
    drop((pokes, pool));
    tokio::task::block_in_place(|| cluster.drop_database(&db));
    Ok(out)
}

#[derive(Default)]
struct Series {
    per_sec: Vec<f64>,
    ratio: Vec<f64>,
    runs: Runs,
    server_us: Vec<f64>,
    pg_us: Vec<f64>,
    load_us: Vec<f64>,
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let shape = if ctx.quick {
        Shape { users: 16, clients_per_user: 2, creates_per_client: 25 }
    } else {
        // 12,800 creates a run (~3 s a target): shorter runs left the ratio at the mercy of a
        // second of someone else's load.
        Shape { users: 32, clients_per_user: 2, creates_per_client: 200 }
    };
    let vocab = data::vocabulary();
    let cluster = tokio::task::spawn_blocking(Cluster::start).await?;
    let mut targets = vec![Target::Direct, Target::Pg(1), Target::Pg(2), Target::Pg(3), Target::Sqlite];
    // DECKHAND_BENCH_P7="pg1,sqlite" (profiling only): the baseline and only these targets.
    if let Ok(v) = std::env::var("DECKHAND_BENCH_P7") {
        let keep: Vec<&str> = v.split(',').map(str::trim).collect();
        targets.retain(|t| match t {
            Target::Direct => true,
            Target::Pg(n) => keep.contains(&format!("pg{n}").as_str()),
            Target::Sqlite => keep.contains(&"sqlite"),
        });
    }
    let mut series: Vec<Series> = targets.iter().map(|_| Series::default()).collect();
    let mut best_tasks: Vec<f64> = Vec::new();
    for run in 0..ctx.runs {
        eprintln!("  P7 run {}/{} ({} clients of {} users, {} creates each)", run + 1, ctx.runs, shape.clients(), shape.users, shape.creates_per_client);
        let mut base = f64::NAN;
        // Interleaved, the baseline first: each ratio is against the baseline of its own run.
        for (i, target) in targets.iter().enumerate() {
            let o = match *target {
                Target::Direct => {
                    let (o, tasks) = direct_best(ctx, &cluster, &shape, &vocab).await?;
                    best_tasks.push(tasks as f64);
                    o
                }
                Target::Pg(n) => through_servers(ctx, Some(&cluster), n, &shape, &vocab).await?,
                Target::Sqlite => through_servers(ctx, None, 1, &shape, &vocab).await?,
            };
            if *target == Target::Direct {
                base = o.per_sec;
            }
            eprintln!("    {}: {:.0} creates/s", target.label(), o.per_sec);
            let s = &mut series[i];
            let n = shape.total() as f64;
            s.per_sec.push(o.per_sec);
            s.ratio.push(o.per_sec / base);
            s.runs.push(RunStat::of(&o.latencies));
            s.server_us.push(1e6 * o.server_cpu / n);
            s.pg_us.push(1e6 * o.pg_cpu / n);
            s.load_us.push(1e6 * o.load_cpu / n);
        }
    }
    let base = &series[0];
    let base_text = format!("{} creates/s ({}–{})", thousands(median(&base.per_sec)), thousands(range(&base.per_sec).0), thousands(range(&base.per_sec).1));
    let mut rows = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let s = &series[i];
        let mut row = Row::new("P7", format!("write throughput: {}, {} clients of {} users", target.label(), shape.clients(), shape.users));
        row.p50 = format!("{} creates/s (latency p50 {})", thousands(median(&s.per_sec)), t(s.runs.p50()));
        row.p99 = t(s.runs.p99());
        row.samples = format!("{} × {}", ctx.runs, thousands(shape.total() as f64));
        row.spread = format!("{}–{} creates/s; p99 {}", thousands(range(&s.per_sec).0), thousands(range(&s.per_sec).1), trange(s.runs.p99_range()));
        let cpu = |v: &[f64]| format!("{:.0} µs ({:.0}–{:.0})", median(v), range(v).0, range(v).1);
        row.extra = match target {
            Target::Direct => format!(
                "best of 16, 32 and 64 client tasks on a pool of 16 (best: {} tasks); CPU per create: PostgreSQL {}, the client tasks {}",
                best_tasks.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
                cpu(&s.pg_us),
                cpu(&s.load_us)
            ),
            Target::Sqlite => format!("CPU per create: server {}, load generator {}", cpu(&s.server_us), cpu(&s.load_us)),
            Target::Pg(_) => format!("CPU per create: servers {}, PostgreSQL {}, load generator {}", cpu(&s.server_us), cpu(&s.pg_us), cpu(&s.load_us)),
        };
        if *target != Target::Direct {
            row.baseline = base_text.clone();
            row.ratio = format!("{:.2} of baseline ({:.2}–{:.2})", median(&s.ratio), range(&s.ratio).0, range(&s.ratio).1);
        }
        if *target == Target::Pg(1) {
            row.target = "≥ 0.7 of the direct baseline".into();
            row.verdict = Verdict::of(median(&s.ratio) >= 0.7);
        } else {
            row.target = "report".into();
        }
        rows.push(row);
    }
    Ok(rows)
}
