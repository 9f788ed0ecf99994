//! Crash tests of the local store: a child process (this test binary re-executed in child mode)
//! writes or drains, and is killed with SIGKILL at a random (seeded) instant. After each kill the
//! database must open, pass `PRAGMA integrity_check`, and its outbox and visible cards must agree;
//! a sequential writer's cards must be exactly a prefix (each write all-or-nothing, and every write
//! the child reported as done must be there); after a drain kill, a restart syncs to a state with
//! no loss and no duplicate on the server. See docs/reliability.md, "Local durability".
//!
//! Seeds: `DECKHAND_CRASH_SEED` (default fixed); every run prints its seed and kill point.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deckhand_core::model::{BulkAction, CardFields, NewCardInput};
use deckhand_core::store::{Store, cards, outbox, remote};
use deckhand_core::{Engine, ServerSettings};
use deckhand_protocol::CardChanges;
use deckhand_server::testing::TestServer;
use rand::{Rng, SeedableRng};
use support::{DEADLINE, server_titles, test_config};
use uuid::Uuid;

const CHILD_MODE: &str = "DECKHAND_CRASH_CHILD";
const CHILD_DIR: &str = "DECKHAND_CRASH_DIR";
const CHILD_URL: &str = "DECKHAND_CRASH_URL";
const CHILD_TOKEN: &str = "DECKHAND_CRASH_TOKEN";

const WRITER_RUNS: u64 = 25;
const DRAIN_RUNS: u64 = 10;
/// The writer stops after this many cards (a kill always comes earlier or just after).
const WRITER_MAX: usize = 400;
/// After every BATCH creates the writer tags those BATCH cards in one bulk transaction.
const BATCH: usize = 25;

fn seed() -> u64 {
    std::env::var("DECKHAND_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x00DE_C4A7)
}

fn title(i: usize) -> String {
    format!("w{i:05}")
}

// ---------------------------------------------------------------- child side

/// Child mode: does the work when re-executed by a parent test, else returns at once.
#[test]
fn crash_child() {
    let Ok(mode) = std::env::var(CHILD_MODE) else { return };
    let dir = std::env::var(CHILD_DIR).expect("child dir");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        match mode.as_str() {
            "writer" => child_writer(Path::new(&dir)).await,
            "drain" => child_drain(Path::new(&dir)).await,
            m => panic!("unknown child mode {m}"),
        }
    });
}

/// One line per finished write, `@<n>`: n writes are committed.
fn report(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "@{line}").unwrap();
    out.flush().unwrap();
}

/// Wait for the parent's go-ahead (one stdin line) before the next write, so the parent can
/// place its kill at a chosen offset from the start of a chosen write.
fn await_go(next: &str) {
    report(&format!("next {next}"));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

/// Sequential writer of distinct cards; after every BATCH creates, one bulk AddTag `b<k>` over
/// ALL cards so far (one transaction of up to WRITER_MAX card updates).
async fn child_writer(dir: &Path) {
    let engine = Engine::open(test_config(dir, None)).await.unwrap();
    let mut all = Vec::new();
    for i in 0..WRITER_MAX {
        await_go(&format!("card {i}"));
        let c = engine.create(NewCardInput { title: title(i), ..Default::default() }).await.unwrap();
        all.push(c.id);
        if all.len().is_multiple_of(BATCH) {
            await_go(&format!("bulk {}", i / BATCH));
            let tag = format!("b{}", i / BATCH);
            let t = Instant::now();
            engine.bulk(all.clone(), BulkAction::AddTag { tag }, None).await.unwrap();
            report(&format!("bulk took {} us", t.elapsed().as_micros()));
        }
    }
    report("done");
}

/// Drain the data dir's outbox to the server; one line per engine event.
async fn child_drain(dir: &Path) {
    let server = ServerSettings { url: std::env::var(CHILD_URL).unwrap(), token: std::env::var(CHILD_TOKEN).unwrap() };
    let mut cfg = test_config(dir, Some(server));
    cfg.realtime = false;
    cfg.drain_window = 4;
    let engine = Engine::open(cfg).await.unwrap();
    let mut rx = engine.subscribe();
    report("open");
    let idle = engine.wait_idle(DEADLINE);
    tokio::pin!(idle);
    let mut n = 0;
    loop {
        tokio::select! {
            r = &mut idle => {
                r.unwrap();
                report("idle");
                return;
            }
            ev = rx.recv() => {
                if ev.is_ok() {
                    n += 1;
                    report(&format!("event {n}"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------- parent side

struct Killed {
    /// `@` lines the child printed before the kill.
    lines: Vec<String>,
    /// The child finished by itself before the kill point.
    finished: bool,
}

/// Start the child and read its `@` lines. A writer child announces each write (`next ...`) and
/// waits for a go-ahead: the parent answers at once, except for write number `kill_at`, where it
/// answers, spins `spin_us` microseconds (the kill lands at that offset into the write, or after
/// it when the write was quicker, since the child then waits for the next go-ahead) and sends
/// SIGKILL. A drain child is killed `spin_us` after its `kill_at`-th line.
fn run_and_kill(mode: &str, dir: &Path, env: &[(&str, String)], kill_at: usize, spin_us: u64) -> Killed {
    use std::io::Write;
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child: Child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut finished = false;
    let mut writes = 0;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        // (The harness prints "test crash_child ... " without a newline before the first one.)
        let Some((_, l)) = line.split_once('@') else { continue };
        lines.push(l.to_string());
        if l == "done" || l == "idle" {
            finished = true;
            break;
        }
        if l.starts_with("next ") {
            writes += 1;
            stdin.write_all(b"go\n").unwrap();
            stdin.flush().unwrap();
            if writes == kill_at {
                break;
            }
        } else if mode == "drain" && lines.len() >= kill_at {
            break;
        }
    }
    let until = Instant::now() + Duration::from_micros(spin_us);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(finished || !status.success(), "the child was killed");
    Killed { lines, finished }
}

/// Open after the kill; integrity_check; outbox and visible cards agree. Returns the local cards.
fn check_store(path: &Path) -> BTreeMap<Uuid, CardFields> {
    let (store, recovered) = Store::open_with(path, Default::default()).expect("opens after kill -9");
    assert!(recovered.is_none(), "a kill must never leave a database the open checks call corrupt: {recovered:?}");
    store
        .read(|c| {
            let ic: Vec<String> =
                c.prepare("PRAGMA integrity_check")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            assert_eq!(ic, vec!["ok".to_string()], "integrity_check");
            let ids = cards::all_ids(c)?;
            let mut local = BTreeMap::new();
            for id in &ids {
                local.insert(*id, cards::get_local(c, *id)?.unwrap().fields);
            }
            // Every card that has ops or a confirmed copy: replaying its ops on the confirmed copy
            // gives exactly what is visible (a visible card never confirmed has its create queued).
            let with_ops: BTreeSet<Uuid> = {
                let mut st = c.prepare("SELECT DISTINCT card_id FROM outbox")?;
                st.query_map([], |r| r.get::<_, String>(0))?
                    .map(|s| s.map(|s| s.parse::<Uuid>().unwrap()))
                    .collect::<Result<_, _>>()?
            };
            for id in ids.iter().chain(with_ops.iter()) {
                let conf = remote::confirmed(c, *id)?;
                let ops = outbox::for_card(c, *id)?;
                if conf.is_none() && local.contains_key(id) {
                    assert!(
                        matches!(ops.first().map(|o| &o.payload), Some(outbox::OpPayload::Create(_))),
                        "visible unconfirmed card {id} has its create queued: {ops:?}"
                    );
                }
                assert_eq!(remote::replayed_fields(conf.as_ref(), &ops).as_ref(), local.get(id), "card {id}: ops and view agree");
            }
            Ok(local)
        })
        .unwrap()
}

#[test]
fn kill_during_bulk_writes_leaves_a_prefix() {
    let base = seed();
    let started = Instant::now();
    let (mut lost_in_flight, mut killed_mid_bulk, mut last_bulk_took) = (0, 0, Vec::new());
    for run in 0..WRITER_RUNS {
        let s = base.wrapping_add(run);
        let mut rng = rand::rngs::StdRng::seed_from_u64(s);
        // Writes: card 0..BATCH-1, bulk 0, card BATCH.. (WRITER_MAX + WRITER_MAX/BATCH in all).
        // Half the runs kill inside a bulk, the others inside a create; the offset into the write
        // is random and sometimes past its end.
        let per = BATCH + 1;
        let (kill_at, spin) = if rng.random_bool(0.5) {
            let b = rng.random_range(0..WRITER_MAX / BATCH);
            ((b + 1) * per, rng.random_range(0..(b as u64 + 1) * 4000))
        } else {
            let w = rng.random_range(1..=WRITER_MAX + WRITER_MAX / BATCH);
            (if w % per == 0 { w - 1 } else { w }, rng.random_range(0..3000))
        };
        let dir = tempfile::tempdir().unwrap();
        let k = run_and_kill("writer", dir.path(), &[], kill_at, spin);
        let local = check_store(&dir.path().join("deckhand.db"));
        let bulk_took: Vec<&String> = k.lines.iter().filter(|l| l.starts_with("bulk took")).collect();
        if let Some(t) = bulk_took.last() {
            last_bulk_took.push(t.to_string());
        }

        let titles: Vec<String> = local.values().map(|f| f.title.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let n = titles.len();
        assert_eq!(n, local.len(), "titles are distinct");
        let want: Vec<String> = (0..n).map(title).collect();
        assert_eq!(titles, want, "seed {s}: the cards are exactly a prefix w00000..");
        // Bulk k tags cards 0..(k+1)*BATCH: all of them or none, in order, before the next create.
        let by_title: BTreeMap<&str, &CardFields> = local.values().map(|f| (f.title.as_str(), f)).collect();
        let mut bulks = 0;
        for b in 0..n / BATCH {
            let tag = format!("b{b}");
            let members: Vec<bool> = (0..(b + 1) * BATCH).map(|i| by_title[title(i).as_str()].tags.contains(&tag)).collect();
            let tagged = members.iter().filter(|t| **t).count();
            assert!(tagged == 0 || tagged == members.len(), "seed {s}: bulk {b} half applied ({tagged} of {})", members.len());
            if tagged > 0 {
                assert_eq!(b, bulks, "seed {s}: bulks in order");
                bulks += 1;
            } else {
                assert_eq!(n, (b + 1) * BATCH, "seed {s}: a card after the missing bulk {b}");
            }
        }
        // Durability: every write before the one killed is there; the killed one all or nothing.
        let done = n + bulks;
        if !k.finished {
            assert!(done == kill_at - 1 || done == kill_at, "seed {s}: killed in write {kill_at}, {done} writes in the database");
            if done == kill_at - 1 {
                lost_in_flight += 1;
            }
        }
        let in_bulk = kill_at % per == 0;
        eprintln!(
            "writer seed {s}: kill {spin} us into write {kill_at} ({}): {n} cards, {bulks} bulks: the write {}",
            if in_bulk { "bulk" } else { "create" },
            if k.finished { "finished first".to_string() } else if done == kill_at { "committed".into() } else { "rolled back".into() }
        );
        if in_bulk && done + 1 == kill_at {
            killed_mid_bulk += 1;
        }
    }
    eprintln!(
        "{WRITER_RUNS} writer runs in {:?}: {lost_in_flight} writes rolled back by the kill ({killed_mid_bulk} bulks); bulk timings {last_bulk_took:?}",
        started.elapsed()
    );
    assert!(killed_mid_bulk >= 3, "the seeds should put some kills inside a bulk");
}

/// Cards confirmed (20), then offline: 30 creates, 10 edits and 5 deletes of confirmed cards.
async fn drain_setup(server: &TestServer, dir: &Path, user: &str) -> (ServerSettings, BTreeMap<Uuid, String>) {
    let token = server.add_user(user);
    let settings = ServerSettings { url: server.url(), token };
    let mut cfg = test_config(dir, Some(settings.clone()));
    cfg.realtime = false;
    let engine = Engine::open(cfg).await.unwrap();
    let mut want = BTreeMap::new();
    let mut confirmed = Vec::new();
    for i in 0..20 {
        let c = engine.create(NewCardInput { title: format!("c{i}"), ..Default::default() }).await.unwrap();
        confirmed.push(c.id);
        want.insert(c.id, format!("c{i}"));
    }
    engine.wait_idle(DEADLINE).await.unwrap();
    engine.set_server(None).await;
    for i in 0..30 {
        let c = engine.create(NewCardInput { title: format!("n{i}"), ..Default::default() }).await.unwrap();
        want.insert(c.id, format!("n{i}"));
    }
    for (i, id) in confirmed.iter().take(10).enumerate() {
        engine.update(*id, CardChanges { title: Some(format!("u{i}")), ..Default::default() }).await.unwrap();
        want.insert(*id, format!("u{i}"));
    }
    for id in confirmed.iter().skip(15) {
        engine.delete(*id).await.unwrap();
        want.remove(id);
    }
    assert_eq!(engine.outbox().await.unwrap().len(), 45);
    engine.shutdown().await;
    (settings, want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_drain_loses_and_duplicates_nothing() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&server_dir.path().join("server.db")).await;
    let base = seed() ^ 0xD4A1;
    let started = Instant::now();
    for run in 0..DRAIN_RUNS {
        let s = base.wrapping_add(run);
        let mut rng = rand::rngs::StdRng::seed_from_u64(s);
        let kill_after = rng.random_range(1..=40);
        let spin = rng.random_range(0..3000);
        let dir = tempfile::tempdir().unwrap();
        let (settings, want) = drain_setup(&server, dir.path(), &format!("user{run}")).await;
        let env = [(CHILD_URL, settings.url.clone()), (CHILD_TOKEN, settings.token.clone())];
        let path = dir.path().to_path_buf();
        let k = tokio::task::spawn_blocking(move || run_and_kill("drain", &path, &env, kill_after, spin)).await.unwrap();
        let local = check_store(&dir.path().join("deckhand.db"));
        let queued = Store::open(&dir.path().join("deckhand.db")).unwrap().read(|c| outbox::entries(c, 1000)).unwrap().len();
        let local_titles: BTreeMap<Uuid, String> = local.iter().map(|(id, f)| (*id, f.title.clone())).collect();
        assert_eq!(local_titles, want, "seed {s}: the local view shows every write right after the kill");

        // Restart, sync until idle: the server has every card exactly once, with the last edit.
        let mut cfg = test_config(dir.path(), Some(settings.clone()));
        cfg.realtime = false;
        let engine = Engine::open(cfg).await.unwrap();
        engine.wait_idle(DEADLINE).await.unwrap_or_else(|e| panic!("seed {s}: not idle after restart: {e}"));
        let on_server = server_titles(&settings).await;
        let ids: BTreeSet<Uuid> = on_server.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids.len(), on_server.len(), "seed {s}: ids unique on the server");
        let titles: BTreeSet<&String> = on_server.iter().map(|(_, t)| t).collect();
        assert_eq!(titles.len(), on_server.len(), "seed {s}: no card created twice");
        let got: BTreeMap<Uuid, String> = on_server.into_iter().collect();
        assert_eq!(got, want, "seed {s}: no loss, no duplicate, last edit wins");
        let page = engine.list(Default::default()).await.unwrap();
        assert_eq!(page.items.iter().map(|c| (c.id, c.title.clone())).collect::<BTreeMap<_, _>>(), want);
        assert_eq!(engine.metric("ops_failed").await.unwrap(), 0, "seed {s}");
        engine.shutdown().await;
        eprintln!(
            "drain seed {s}: kill after {kill_after} events + {spin} us ({} lines{}): {queued} of 45 ops still queued",
            k.lines.len(),
            if k.finished { ", finished first" } else { "" }
        );
    }
    eprintln!("{DRAIN_RUNS} drain runs in {:?}", started.elapsed());
}
