//! Test data: a deterministic corpus, fast bulk-built client databases (the engine's own schema via
//! its migrations, one transaction), and a few /proc helpers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{SecondsFormat, Utc};
use deckhand_protocol::{Card, NewCard};
use rusqlite::{Connection, params};
use uuid::Uuid;

/// Bump when the generated content changes so cached databases are rebuilt.
const DATA_VERSION: u32 = 1;

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// 5,000 pronounceable pseudo-words ("kalomi", "torvesa", ...), the same on every run.
pub fn vocabulary() -> Vec<String> {
    const C: &[&str] = &["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "st", "tr"];
    const V: &[&str] = &["a", "e", "i", "o", "u", "ai", "ou"];
    let mut rng = Rng::new(7);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(5000);
    while out.len() < 5000 {
        let syl = 2 + rng.below(2);
        let mut w = String::new();
        for _ in 0..syl {
            w.push_str(C[rng.below(C.len())]);
            w.push_str(V[rng.below(V.len())]);
        }
        if seen.insert(w.clone()) {
            out.push(w);
        }
    }
    out
}

pub const LANES: &[&str] = &["inbox", "today", "week", "later", "done"];
pub const TAGS: &[&str] = &["work", "home", "read", "idea", "bug", "urgent", "later", "music", "travel", "money"];

/// Card `i` of the corpus: a 5-word title, a 30-word body, 0-3 tags, one of 5 lanes.
pub fn card_fields(i: usize, vocab: &[String]) -> NewCard {
    let mut rng = Rng::new(i as u64 + 1000);
    let words = |rng: &mut Rng, n: usize| (0..n).map(|_| vocab[rng.below(vocab.len())].as_str()).collect::<Vec<_>>().join(" ");
    let title = words(&mut rng, 5);
    let body = words(&mut rng, 30);
    let ntags = rng.below(4);
    let mut tags: Vec<String> = Vec::new();
    for _ in 0..ntags {
        let t = TAGS[rng.below(TAGS.len())].to_string();
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let url = (rng.below(4) == 0).then(|| format!("https://example.com/{}/{i}", vocab[rng.below(vocab.len())]));
    NewCard {
        id: Uuid::now_v7(),
        title,
        body,
        url,
        tags,
        lane: LANES[i % LANES.len()].to_string(),
        position: (i / LANES.len()) as f64 + 1.0,
        pinned: rng.below(20) == 0,
        link_meta: None,
    }
}

pub fn ts_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Build `dir/deckhand.db`: `cards` cards in the local view, the first `cards - pending` of them
/// confirmed (version 1), the last `pending` queued as create ops. The schema comes from the
/// engine's own migrations (`Store::open`); rows go in with one transaction.
pub fn build_db(dir: &Path, cards: usize, pending: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("deckhand.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    drop(deckhand_core::store::Store::open(&path).map_err(|e| anyhow::anyhow!("{e}"))?);
    let vocab = vocabulary();
    let mut conn = Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -262_144)?;
    let tx = conn.transaction()?;
    {
        let mut ins_card = tx.prepare(
            "INSERT INTO cards(id, title, body, url, tags, lane, position, pinned, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        )?;
        let mut ins_conf = tx.prepare("INSERT INTO confirmed(id, version, deleted, card) VALUES (?1, 1, 0, ?2)")?;
        let mut ins_op = tx.prepare(
            "INSERT INTO outbox(card_id, kind, payload, base_version, base, idempotency_key, priority, created_at)
             VALUES (?1, 'create', ?2, NULL, NULL, ?3, 1, ?4)",
        )?;
        let now = Utc::now();
        let now_s = ts_now();
        for i in 0..cards {
            let c = card_fields(i, &vocab);
            ins_card.execute(params![
                c.id.to_string(),
                c.title,
                c.body,
                c.url,
                serde_json::to_string(&c.tags)?,
                c.lane,
                c.position,
                c.pinned,
                now_s
            ])?;
            if i < cards - pending {
                let card = Card {
                    id: c.id,
                    title: c.title.clone(),
                    body: c.body.clone(),
                    url: c.url.clone(),
                    tags: c.tags.clone(),
                    lane: c.lane.clone(),
                    position: c.position,
                    pinned: c.pinned,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                    deleted: false,
                    link_meta: None,
                };
                ins_conf.execute(params![c.id.to_string(), serde_json::to_string(&card)?])?;
            } else {
                ins_op.execute(params![c.id.to_string(), serde_json::to_string(&c)?, Uuid::now_v7().to_string(), now_s])?;
            }
        }
    }
    // The derived indexes (word, substring, tags) are built from the queue the inserts left, in
    // the same transaction: the cached database is fully indexed, as a store that has idled is.
    deckhand_core::store::index::catch_up(&tx).map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    drop(conn);
    Ok(())
}

/// A cached database under `root/name` (rebuilt when missing or out of date).
pub fn cached_db(root: &Path, name: &str, cards: usize, pending: usize) -> Result<PathBuf> {
    // The schema is part of the key: a cache built before a migration would make every copy
    // migrate at open and P4 would time the migration.
    let schema = deckhand_core::store::migrate::MIGRATIONS.len();
    let dir = root.join(format!("{name}-v{DATA_VERSION}-s{schema}"));
    let marker = dir.join("complete");
    if !marker.exists() {
        let t0 = std::time::Instant::now();
        eprintln!("  building {} ({cards} cards, {pending} pending ops)...", dir.display());
        build_db(&dir, cards, pending).with_context(|| format!("building {}", dir.display()))?;
        std::fs::write(&marker, b"ok")?;
        eprintln!("  built in {:.1} s", t0.elapsed().as_secs_f64());
    }
    Ok(dir)
}

/// Copy a cached database into a fresh directory (the engine then owns it).
pub fn fresh_copy(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst)?;
    std::fs::copy(src.join("deckhand.db"), dst.join("deckhand.db")).context("copying the cached database")?;
    Ok(())
}

/// Every queued create payload of a database, in op order.
pub fn queued_creates(dir: &Path) -> Result<Vec<String>> {
    let conn = Connection::open(dir.join("deckhand.db"))?;
    let mut st = conn.prepare("SELECT payload FROM outbox WHERE kind = 'create' ORDER BY op_id")?;
    let v = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

// ---- /proc helpers ----

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

pub fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:").unwrap_or(0)
}

pub fn hwm_kb(pid: u32) -> u64 {
    status_kb(pid, "VmHWM:").unwrap_or(0)
}

/// utime + stime of a process, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
    let rest = &s[s.rfind(')').map(|i| i + 2).unwrap_or(0)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0) + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / if hz > 0.0 { hz } else { 100.0 }
}

/// Raise RLIMIT_NOFILE to the hard limit (1,000 SSE streams need > 1,024 descriptors).
pub fn raise_fd_limit() -> u64 {
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
            return r.rlim_cur;
        }
    }
    0
}
