//! `deckhand-bench`: Deckhand's performance figures (P1–P6, and Q1–Q6 side by side with a PouchDB + express-pouchdb peer), each measured against a baseline in the
//! same run on the same machine, each run at least 3 times. Writes docs/benchmarks.md.
//!
//! ```text
//! cargo run --release --locked -p deckhand-bench -- [--quick] [--out docs/benchmarks.md] [--only P1,P3]
//!                                                    [--runs N] [--data-dir DIR]
//! ```
//! This is a benchmark, not a test: nothing here asserts on time.

mod merge;
mod data;
mod p1;
mod p2;
mod p3;
mod p4;
mod p5;
mod p6;
mod p7;
mod p8;
mod p9;
mod peer;
mod q5;
mod q_local;
mod q_sync;
mod rig;
mod stats;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, anyhow};
use stats::Row;

pub struct Ctx {
    pub quick: bool,
    pub runs: usize,
    pub data_dir: PathBuf,
    pub tmp: PathBuf,
}

struct Args {
    quick: bool,
    out: Option<PathBuf>,
    only: Option<Vec<String>>,
    runs: Option<usize>,
    data_dir: Option<PathBuf>,
    notes: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: deckhand-bench [--quick] [--out FILE] [--only P1,P2,...] [--runs N] [--data-dir DIR] [--notes FILE]\n\
         \n  --quick     smoke run: smaller counts (figures are not comparable with a full run)\
         \n  --out       write the markdown report there (default: print only)\
         \n  --only      run only these figures (with --out: the other rows of the report there are kept, marked with their run)\
         \n  --runs      runs per figure (default 3, minimum 3)\
         \n  --data-dir  where generated databases are cached (default $CARGO_TARGET_DIR/bench-data or target/bench-data)\
         \n  --notes     markdown appended to the report (default: benchmarks-notes.md beside --out)"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args { quick: false, out: None, only: None, runs: None, data_dir: None, notes: None };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--quick" => a.quick = true,
            "--out" => a.out = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--only" => a.only = Some(it.next().unwrap_or_else(|| usage()).split(',').map(|s| s.trim().to_uppercase()).collect()),
            "--runs" => a.runs = it.next().and_then(|s| s.parse().ok()).or_else(|| usage()),
            "--data-dir" => a.data_dir = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--notes" => a.notes = Some(it.next().unwrap_or_else(|| usage()).into()),
            _ => usage(),
        }
    }
    a
}

fn child(args: &[String]) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    match args.first().map(String::as_str) {
        Some("p4-engine") => rt.block_on(p4::child_engine(&args[1], &args[2], &args[3])),
        Some("p4-raw") => p4::child_raw(&args[1]),
        Some("server") => rt.block_on(p5::child_server(&args[1])),
        Some("q6-engine") => rt.block_on(q_local::child_engine(&args[1])),
        // For crates/bench/callgrind.sh: N creates alone (engine or raw), nothing else timed.
        Some("p1-engine") => rt.block_on(p1::engine_creates(std::path::Path::new(&args[1]), args[2].parse()?, &data::vocabulary())).map(|_| ()),
        Some("p1-raw") => p1::raw_creates(std::path::Path::new(&args[1]), args[2].parse()?, &data::vocabulary(), "NORMAL").map(|_| ()),
        // The same for updates, on a copy of P1's 10,000 confirmed cards in the given directory.
        Some("p1-engine-update") => rt.block_on(p1::child_updates(std::path::Path::new(&args[1]), args[2].parse()?, true)),
        Some("p1-raw-update") => rt.block_on(p1::child_updates(std::path::Path::new(&args[1]), args[2].parse()?, false)),
        other => Err(anyhow!("unknown child {other:?}")),
    }
}

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--child") {
        return child(&argv[2..]);
    }
    let args = parse_args();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    let data_dir = args.data_dir.clone().unwrap_or_else(|| target.join("bench-data"));
    let tmp = data_dir.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let ctx = Ctx { quick: args.quick, runs: args.runs.unwrap_or(3).max(3), data_dir, tmp };
    data::raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let started = Instant::now();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let want = |id: &str| args.only.as_ref().is_none_or(|o| o.iter().any(|x| x == id));
    let mut rows: Vec<Row> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    type Bench = for<'a> fn(&'a Ctx) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Row>>> + 'a>>;
    let benches: [(&str, Bench); 15] = [
        ("P1", |c| Box::pin(p1::run(c))),
        ("P2", |c| Box::pin(p2::run(c))),
        ("P3", |c| Box::pin(p3::run(c))),
        ("P4", |c| Box::pin(p4::run(c))),
        ("P5", |c| Box::pin(p5::run(c))),
        ("P6", |c| Box::pin(p6::run(c))),
        // Scale-out on PostgreSQL (issue 10): real `serve` processes on a throw-away cluster.
        ("P7", |c| Box::pin(p7::run(c))),
        ("P8", |c| Box::pin(p8::run(c))),
        // The real desktop app under Xvfb (P9 start-up and memory, P10 smoothness; issue 13).
        ("P9", |c| Box::pin(p9::run(c))),
        // Side by side with the PouchDB + express-pouchdb peer (crates/bench/peer, issue 13).
        ("Q1", |c| Box::pin(q_local::q1(c))),
        ("Q2", |c| Box::pin(q_sync::q2(c))),
        ("Q3", |c| Box::pin(q_sync::q3(c))),
        ("Q4", |c| Box::pin(q_sync::q4(c))),
        ("Q5", |c| Box::pin(q5::q5(c))),
        ("Q6", |c| Box::pin(q_local::q6(c))),
    ];
    for (id, f) in benches {
        if !want(id) {
            continue;
        }
        let t0 = Instant::now();
        eprintln!("{id}...");
        match rt.block_on(f(&ctx)) {
            Ok(rs) => {
                for r in &rs {
                    r.print();
                }
                rows.extend(rs);
            }
            Err(e) => {
                eprintln!("{id} FAILED: {e:#}");
                failures.push(format!("{id}: {e:#}"));
            }
        }
        eprintln!("{id} took {:.1} s", t0.elapsed().as_secs_f64());
    }
    drop(rt);
    let _ = std::fs::remove_dir_all(&ctx.tmp);
    let total = started.elapsed().as_secs_f64();
    if let Some(out) = &args.out {
        // Profiling notes and before/after figures live beside the report and are appended to it.
        let notes_path = args.notes.clone().unwrap_or_else(|| out.with_file_name("benchmarks-notes.md"));
        let notes = std::fs::read_to_string(&notes_path).ok();
        // A partial run keeps the other rows of the report already there (marked with their run).
        let kept = match (&args.only, std::fs::read_to_string(out)) {
            // A figure's run may write rows of other ids too (P9 writes the P10 rows).
            (Some(only), Ok(old)) => merge::kept_rows(&old, &only.iter().cloned().chain(rows.iter().map(|r| r.id.to_string())).collect::<Vec<_>>()),
            _ => Vec::new(),
        };
        let order: Vec<&str> = benches.iter().map(|(id, _)| *id).collect();
        let run = Run { date: &date, total, only: args.only.as_deref(), kept: &kept, order: &order };
        std::fs::write(out, report(&ctx, &rows, &failures, &run, notes.as_deref()))?;
        eprintln!("wrote {}", out.display());
    }
    if !failures.is_empty() {
        return Err(anyhow!("{} figure(s) failed", failures.len()));
    }
    Ok(())
}

fn cmd(c: &str, args: &[&str]) -> String {
    std::process::Command::new(c)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    vec![
        ("nproc".into(), cmd("nproc", &[])),
        ("CPU".into(), model),
        ("memory".into(), format!("{:.1} GiB", mem_kb / 1024.0 / 1024.0)),
        ("rustc".into(), cmd("rustc", &["--version"])),
        ("kernel".into(), cmd("uname", &["-sr"])),
        ("git".into(), cmd("git", &["rev-parse", "--short", "HEAD"])),
    ]
}

/// What the report says about the run that wrote it.
struct Run<'a> {
    date: &'a str,
    total: f64,
    /// `--only`: the figures this run measured (the others are `kept` from the report before).
    only: Option<&'a [String]>,
    kept: &'a [String],
    order: &'a [&'a str],
}

fn report(ctx: &Ctx, rows: &[Row], failures: &[String], run: &Run, notes: Option<&str>) -> String {
    let (date, total) = (run.date, run.total);
    let mut s = String::new();
    s.push_str("# Deckhand benchmarks\n\n");
    s.push_str("Generated by `deckhand-bench` (crates/bench). Every figure runs at least 3 times; each row gives the\n");
    s.push_str("median over runs of the per-run p50 and p99, the same-run baseline, the ratio, the sample count and\n");
    s.push_str("the spread across runs (min–max). Times are wall-clock on a shared machine: compare ratios, not\n");
    s.push_str("absolute numbers, across machines. This is a benchmark, not a test: nothing asserts on time.\n\n");
    if ctx.quick {
        s.push_str("**`--quick` smoke run: reduced counts, not comparable with a full run.**\n\n");
    }
    s.push_str(&format!(
        "Command: `cargo run --release --locked -p deckhand-bench -- --out docs/benchmarks.md{}` (the binary raises its own open-file limit to the hard limit for P5's 1,000 streams; if the hard limit is below ~2,100, run under `ulimit -n 8192`)  \n",
        if ctx.quick { " --quick" } else { "" }
    ));
    match run.only {
        Some(only) if !run.kept.is_empty() => s.push_str(&format!(
            "Date: {date}; this run measured {} in {total:.0} s. The other rows come from earlier runs, each marked with its date.\n\n",
            only.join(", ")
        )),
        _ => s.push_str(&format!("Date: {date}; full run took {total:.0} s.\n\n")),
    }
    s.push_str("| machine | |\n|---|---|\n");
    for (k, v) in machine() {
        s.push_str(&format!("| {k} | {v} |\n"));
    }
    s.push_str("\n## Results\n\n");
    s.push_str("| # | what | p50 / value | p99 | baseline (same run) | ratio | samples | spread (min–max over runs) | target | result | notes |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut lines: Vec<String> = run.kept.to_vec();
    for r in rows {
        lines.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.id,
            r.what,
            r.p50,
            r.p99,
            r.baseline,
            r.ratio,
            r.samples,
            r.spread,
            r.target,
            r.verdict.label(),
            r.extra
        ));
    }
    for l in merge::ordered(lines, run.order) {
        s.push_str(&l);
        s.push('\n');
    }
    if !failures.is_empty() {
        s.push_str("\n**Failed figures:**\n\n");
        for f in failures {
            s.push_str(&format!("- {f}\n"));
        }
    }
    s.push_str(METHOD);
    if let Some(n) = notes {
        s.push('\n');
        s.push_str(n);
    }
    s
}

const METHOD: &str = r#"
## How each figure is measured

- **P1 optimistic write.** `Engine::create` / `Engine::update` on an offline engine (no server), one
  awaited call at a time; each call is one IMMEDIATE transaction writing the card row (its trigger
  queues the rowid in `index_queue`; the full-text and tag indexes are built outside the write,
  migration 0010) and the outbox op, and answers with the card's view (create builds it from the
  row just written; update reads it inside the same transaction); the `CardsChanged` event is
  checked after every call. Baseline: raw rusqlite on the same schema (created by the engine's
  migrations) and pragmas, one IMMEDIATE transaction inserting the same card row and outbox row
  (update: `UPDATE cards` + outbox insert). Ratio = engine total time / baseline total time for the
  same number of writes. Updates run on a database of 10,000 confirmed cards, one edit per card (so
  each appends an op rather than coalescing). Default pragmas (crates/core/src/store/mod.rs):
  `journal_mode=WAL`, `synchronous=NORMAL`, `foreign_keys=ON`, `busy_timeout=5s`,
  `wal_autocheckpoint=8192` (the engine checkpoints on a background thread every 250 ms; the raw
  baseline has the same pragma but no such thread). In WAL mode
  NORMAL syncs the WAL only at checkpoints: a committed write survives an application crash, and a
  power loss can lose at most the last few commits, never corrupt the database; that is the right
  trade for a local-first client whose outbox is replayable and whose server holds the truth.
  `synchronous=FULL` (fsync on every commit) is reported separately through the engine's store path
  (`Store::write` + `writes::create_view`, i.e. the engine minus its async hop, since the
  engine does not expose the pragma) against raw rusqlite with FULL.
- **P2 drain.** A client database with N queued creates (bulk-built) is copied to a fresh
  directory; a fresh in-process `TestServer` (rate limit raised to 10M/s for everyone) gets a new
  user. Time from `Engine::open` (background sync starts, catches up, drains) until
  `wait_idle` returns (outbox empty, change feed caught up); `ops_succeeded` is checked. Baseline:
  a bare reqwest client POSTing the same JSON bodies to its own fresh server with the same number of
  requests in flight (`buffer_unordered`). Ratio = engine throughput / baseline throughput.
  The engine runs with its defaults (realtime stream on).
- **P3 propagation.** Two engines on one user, realtime on, both caught up. Sequential
  `A.create()`; the clock stops when B emits `CardsChanged` containing the id; B's database is then
  checked to hold the card.
- **P4 cold start.** A 100,000-card database (90,000 confirmed, 10,000 pending creates; full-text
  and tag indexes built from the queue when the cached database is made) is copied, then a fresh child process opens the engine with a server
  set, lists the first page (100 cards + total), waits for the first confirmed op and samples its own
  RSS. Baseline: another fresh child that opens the file with rusqlite and runs the identical
  count + page SQL. Page cache warm for both.
- **P5 fan-out.** The server runs as a child process (`deckhand-bench --child server`, the same
  `serve` code path as the binary); 1,000 reqwest readers hold `/v1/events` for one user; one writer
  POSTs at 100/s. Delivery = reader receive time − the write's 2xx time (clamped at 0: the hub
  publishes before the response is written). Server CPU from `/proc/PID/stat` (utime+stime) over
  the write phase; RSS/peak from `/proc/PID/status`. Readers and server share the 2 cores.
- **P6 search.** `Engine::list { text }` (the app's search box: every word matches the start of a
  word or, from 4 letters (CJK: any length), anywhere inside a word: the words of the vocabulary
  (`search_terms`, migration 0011) containing it are looked up in the word index; first page of
  100 ordered by lane/position, plus the total) on the 100,000-card database. Corpus: titles of 5
  and bodies of 30 words drawn uniformly from 5,000 pseudo-words. 20 warm-up queries first.
  Word-search row: 1 word, 2 words, a 3-letter prefix, a word + a tag word. Substring row: 4
  letters from inside a word, and 2-character CJK terms (the corpus has none: they match nothing,
  and cost a scan of the ~30,000-word vocabulary).
- **P5 over 3 instances.** The same readers and writer, but the server is 3 real
  `deckhand-server serve` processes on one PostgreSQL database (the testkit's throw-away cluster,
  fsync off): reader i holds its stream on instance i mod 3, write k goes to instance k mod 3. A
  stream on another instance than the write's gets the change through NOTIFY (a `user:seq` poke)
  and a read from the database. CPU is the sum of the 3 server processes; PostgreSQL's CPU
  (postmaster and all its children, from /proc) per delivered event beside it.
- **P7 write throughput.** 32 users, 2 clients each (64 clients), each client a closed loop of
  200 `POST /v1/cards` (one in flight, a new Idempotency-Key each, the P1 corpus's card fields)
  after one untimed warm-up create: 12,800 creates per run through 1, 2 or 3 `serve` processes
  on one fresh PostgreSQL database (client c talks to instance c mod n; each instance has its
  default pool of 16 connections), and through 1 `serve` on a SQLite file. Baseline in the same
  run: the best of 16, 32 and 64 client tasks (each after one untimed create) issuing the
  server's write transaction directly with tokio-postgres through a deadpool of 16 connections
  (the server's default pool) on a fresh database of the same schema: advisory lock on (user,
  key) and the token's liveness in one statement, idempotency lookup, `UPDATE users ...
  RETURNING last_seq`, card read, card upsert, version insert, idempotency insert, commit, then
  the post-commit poke through the server's own coalescing NOTIFY sender (`Pokes`, not awaited,
  as the server does). That is the database's limit on this machine for this workload; the
  server adds HTTP, JSON, the first lookup of each token, its per-user write queue and the SSE
  hub. Each target's database is dropped after it. Order in each run: baseline, 1, 2, 3
  instances, SQLite; ratio = throughput / the same run's baseline. CPU per create from /proc: the server
  processes, PostgreSQL (postmaster and all children) and this load generator. Everything,
  PostgreSQL included, shares the 2 cores.
- **P8 cross-instance propagation.** Two `serve` processes A and B on one PostgreSQL database,
  a raw SSE reader on B, sequential creates on A: the clock runs from sending the POST to A
  until B's stream carries the card (the write included; the write's own 2xx time is the
  baseline column). Then 20 writes, each right after every `deckhand-listener` backend was
  killed with `pg_terminate_backend` (waiting before each kill until both listeners are back):
  such a write's NOTIFY reaches nobody, so B delivers it when its listener reconnects (it then
  pokes every local stream) or at the latest at the next reconcile tick (`--reconcile-secs 10`).
- **P2, second baseline.** The same creates sent by a bare reqwest client as `POST /v1/batch`
  requests of `batch_max` (50) writes each, 8 (or 1) requests in flight, to its own fresh server;
  request bodies are built before the clock starts. The engine row's runs are reused, so this
  ratio isolates the engine's own cost (outbox claims, confirmations, catch-up) from batching.
- **P9 the real app starting.** The release Tauri binary (`make bench-app` builds it with the UI
  embedded), started under Xvfb by tauri-driver + WebKitWebDriver through the e2e harness
  (`crates/bench/app/app-bench.mjs` imports `tests/e2e/harness.mjs`), one fresh app, data dir and
  release `deckhand-server serve` per run, on a copy of P4's database (100,000 cards, 10,000
  queued creates the server does not have yet). The UI (`ui/src/perfmarks.ts`, always on) records
  `performance.now()` and `Date.now()` when the first frame with cards has been painted (a task
  queued from the `requestAnimationFrame` after the render) and when the status first shows
  nothing pending or in flight while online ("synced"); the harness reads them over WebDriver and
  subtracts the app process's start (its `/proc/PID/stat` start time against `/proc/uptime`,
  10 ms resolution). The app releases background sync when that first frame is painted
  (`ui_ready`; at most 3 s after start), so the drain does not compete with the first paint.
- **P10 smoothness while draining.** Right after the first paint, with the 10,000 ops draining:
  the list view, 120 animation frames scrolled at 120 px a frame, then 60 jumps down the whole
  100,000-card list one frame apart, then a search word typed key by key over WebDriver (real
  input events, the 120 ms debounce) until the list holds only the matches. WebKitGTK 2.50 does
  not support the Long Tasks API (`PerformanceObserver.supportedEntryTypes` has no `longtask`;
  perfmarks.ts checks at run time and uses it where present). The main thread's blocks are
  measured instead with a 20 ms interval timer: how late it fires beyond its period (a task,
  style, layout or a main-thread paint held it). Frame gaps from `requestAnimationFrame` are
  reported beside it: under Xvfb WebKit composites and rasterises in software, so frame times
  mostly measure the machine, not the app.
- **Whole-app memory.** After P10, once synced: the app process and every process below it
  (WebKitWebProcess, WebKitNetworkProcess), VmRSS summed (shared pages counted in each) and
  `smaps_rollup` Pss summed (shared pages split: the fair total).

## Side by side with a real peer: PouchDB + express-pouchdb (Q1–Q6)

The peer is PouchDB 9.0.0 on Node with its default LevelDB adapter (leveldown) as the client and
express-pouchdb 4.2.0 (backed by the same PouchDB/LevelDB, mode `minimumForPouchDB`) as the
CouchDB-protocol server, pinned in `crates/bench/peer/package-lock.json` and installed by
`npm ci` from scripts/setup.sh. `crates/bench/peer/peer.js` runs the peer side of each scenario
in a fresh Node process and prints one JSON line; the harness (`crates/bench/src/q_*.rs`, `q5.rs`)
runs the Deckhand side in the same run, interleaved run by run, on the same card corpus (the
fields of `data::card_fields`, written to a JSON-lines file for Node). Each side gets its own
fresh server on 127.0.0.1; setup (filling databases, starting servers) is outside the clock.

What each peer does differently:

- **Durability.** Deckhand commits each write in SQLite WAL mode with `synchronous=NORMAL` (crash
  safe; a power loss may lose the last commits, never corrupt). PouchDB's LevelDB writes go to
  its log without an fsync per write (leveldown's default `sync: false`): crash safe for the
  process, not for a power loss. That is the comparable pair; Q1 also reports Deckhand with
  `synchronous=FULL` (fsync per commit), which PouchDB has no setting for.
- **Revisions.** PouchDB keeps a revision tree per document (every `put` adds a revision, old
  ones are kept until compaction) and replicates revisions with `_revs_diff` + `_bulk_docs` +
  checkpoints. Deckhand keeps the card row plus an outbox op (and an FTS/tag index the peer does
  not have), and the server keeps one version per card.
- **Batching.** `replicate.to` sends `_bulk_docs` of `batch_size` 100 docs, one request at a time
  (PouchDB's defaults). Deckhand drains with up to 8 requests in flight, each a `/v1/batch` of up
  to 50 ops (ramping up from a few). `replicate.from` reads `_changes` in batches (100 here) and
  `_bulk_get`s the docs; Deckhand's catch-up pages the server's change feed.
- **Conflicts.** PouchDB never merges: concurrent edits of a document leave conflicting
  revisions (`_conflicts`), a deterministic winner is shown and the app must resolve. Deckhand
  merges field by field (three-way) and leaves only same-field edits for a person.

- **Q1 local writes.** N creates, one awaited call at a time, same card fields: `Engine::create`
  on an offline engine (NORMAL) vs `db.put` on an opened LevelDB database. Throughput = N / total
  time; p50/p99 per call. Ratio = Deckhand throughput / PouchDB throughput, per run. FULL beside
  it through the engine's store path (as P1's FULL row).
- **Q2 upload.** N cards written offline (Deckhand: a bulk-built queued outbox; PouchDB:
  `bulkDocs`, untimed), then from `Engine::open` with a server to `wait_idle` (every op confirmed,
  `ops_succeeded` = N) vs `replicate.to` until it resolves and the server's `doc_count` = N.
- **Q3 propagation.** Device A writes, device B (live) has it in its local store: Deckhand's
  stream (P3's method, B's `CardsChanged` then B's `get`) vs PouchDB with A and B each in live
  `sync` with the server, clock stopped by B's live `changes` feed, then B's `get`. One warm-up
  write first on the peer. Ratio = Deckhand p99 / PouchDB p99.
- **Q4 catch-up.** The server holds N cards (Deckhand: filled once by draining through the engine;
  PouchDB: filled once with `bulkDocs` on the server's database; both cached and copied per run).
  A new device with an empty store: from `Engine::open` to `wait_idle` + the first page (100
  cards, total = N) vs `replicate.from` + `allDocs({limit: 100, include_docs})` (PouchDB's first
  page is by `_id`: it has no lane/position index).
- **Q5 concurrent edits.** Two devices hold the same N cards; both go offline (Deckhand `pause`;
  PouchDB: no sync running) and edit every card: A the title, B the body of even cards and the
  title of odd ones. The clock starts when both reconnect (Deckhand `resume` on both; PouchDB a
  one-shot `sync` of each in parallel, repeated until agreement) and stops when both devices and
  the server agree: Deckhand — no op left but conflicts, the same confirmed server version of every
  card on both, the same fields for every card without a conflict; PouchDB — the same winning
  revision and the same conflict set for every doc on A, B and the server. Reported: how many
  were auto-merged (both edits in the card, checked) and how many wait for a person.
- **Q6 memory.** A fresh process opens a local store of 100,000 cards and lists its first page
  (Deckhand: an offline engine, `--child q6-engine`; PouchDB: a Node process, `allDocs` page +
  `info`), then reads its RSS (`/proc/self/status`, Node's `process.memoryUsage().rss`). The RSS
  before opening is reported too: a bare Node process is ~40 MiB of V8 before any data.
"#;
