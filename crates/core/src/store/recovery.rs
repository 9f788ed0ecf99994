//! Corrupt or unreadable local database: detect at open, move aside, salvage the outbox, rebuild.
//!
//! At open the file is checked cheaply: the header and schema, then `PRAGMA quick_check` (inline up
//! to 16 MiB; for larger files on a background thread right after open, see
//! `INLINE_PAGE_CHECK_MAX_BYTES`), then the schema/migrations. A database that
//! fails with SQLITE_CORRUPT / SQLITE_NOTADB, or whose `quick_check` is not `ok`, or that left a
//! marker because a corruption error was seen on a later access, is:
//! 1. renamed to `deckhand.db.corrupt-<timestamp>` (with its `-wal` / `-shm`; kept, never deleted),
//! 2. read back best effort, read-only, row by row: every outbox row that still parses becomes a
//!    `salvaged_ops` row of the new database,
//! 3. replaced by a fresh database (cursor 0: the engine's first pull rebuilds it from the server).

use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use uuid::Uuid;

use super::cards::{parse_ts, ts};
use super::outbox::OpPayload;
use super::{OpenOptions, Result, Store, cards, history, remote, sync_state, writes};
use crate::error::StoreError;
use crate::model::{OpKind, Priority, RecoveryReport, RequeueReport, SalvagedOp};

/// `sync_state` key of the last recovery report (JSON).
pub const LAST_RECOVERY: &str = "last_recovery";

/// Is this error SQLite telling us the file is damaged (not merely busy, full or read-only)?
pub fn is_corruption(e: &StoreError) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        StoreError::Sqlite(s) => matches!(s.sqlite_error_code(), Some(C::DatabaseCorrupt) | Some(C::NotADatabase)),
        StoreError::Damaged(_) => true,
        _ => false,
    }
}

/// `deckhand.db.needs-recovery`: written when a corruption error is seen after open.
pub fn marker_path(db: &Path) -> PathBuf {
    sibling(db, ".needs-recovery")
}

fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    db.with_file_name(name)
}

pub fn leave_marker(db: &Path, reason: &str) {
    let line = format!("a corruption error was seen while it was in use: {}\n", reason.replace('\n', " "));
    if let Err(e) = std::fs::write(marker_path(db), line) {
        tracing::error!(error = %e, "could not write the recovery marker");
    }
}

/// Databases up to this size are page-checked (`quick_check`) before open returns. Larger ones
/// are checked right after, on a background thread, so the first page stays fast (`quick_check`
/// reads every page: ~0.2-0.5 s at 100,000 cards); damage found there leaves the marker and the
/// next start recovers, like a corruption error met during use.
pub const INLINE_PAGE_CHECK_MAX_BYTES: u64 = 16 << 20;

/// Header and schema check, run on every open of a file database.
pub fn check_header(conn: &Connection) -> Result<()> {
    // Reads the header and the schema: NOTADB / CORRUPT for garbage or a truncated first page.
    let _: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    Ok(())
}

/// Every page's structure (`quick_check`, first 5 findings).
///
/// Run it on a fresh connection (the store's before its first use, or one of its own): SQLite's
/// FTS5 check reuses the index structure the connection cached earlier, so on a connection that
/// read the index before another one merged it, it reports segments that are gone as corruption.
pub fn check_pages(conn: &Connection) -> Result<()> {
    let mut st = conn.prepare("PRAGMA quick_check(5)")?;
    let found: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    if found.len() == 1 && found[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Damaged(format!("quick_check: {}", found.join("; "))))
}

/// Header and page check together (databases up to `INLINE_PAGE_CHECK_MAX_BYTES`).
pub fn check_header_and_pages(conn: &Connection) -> Result<()> {
    check_header(conn)?;
    check_pages(conn)
}

/// The page check of a large database, off the open path, on its own read-only connection.
pub fn spawn_background_page_check(path: PathBuf) {
    let spawned = std::thread::Builder::new().name("deckhand-page-check".into()).spawn(move || {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let result = Connection::open_with_flags(&path, flags).map_err(StoreError::from).and_then(|c| check_pages(&c));
        match result {
            Ok(()) => tracing::debug!(path = %path.display(), "background page check: ok"),
            Err(e) if is_corruption(&e) => {
                tracing::error!(error = %e, path = %path.display(), "background page check found damage; recovering at next start");
                leave_marker(&path, &e.to_string());
            }
            Err(e) => tracing::warn!(error = %e, "background page check could not run"),
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the background page check");
    }
}

pub(super) fn open_checked(path: &Path, opts: OpenOptions) -> Result<(Store, Option<RecoveryReport>)> {
    let marker = marker_path(path);
    // Marker: line 1 the reason; once the file was moved, line 2 `moved_to <path>` (so a recovery
    // interrupted by a crash resumes from the moved file instead of moving a half-made new one).
    let (reason, already_moved) = if marker.exists() {
        let text = std::fs::read_to_string(&marker).unwrap_or_default();
        let mut lines = text.lines();
        let why = lines.next().unwrap_or("").trim().to_string();
        let moved = lines.find_map(|l| l.strip_prefix("moved_to ")).map(PathBuf::from).filter(|p| p.exists());
        (why, moved)
    } else {
        match Store::open_plain(path, opts) {
            Ok(s) => return Ok((s, None)),
            Err(e) if is_corruption(&e) => (e.to_string(), None),
            Err(e) => return Err(e),
        }
    };
    if opts.read_only {
        return Err(StoreError::Damaged(format!("{reason} (read-only: not recovered)")));
    }
    tracing::error!(%reason, path = %path.display(), "local database is corrupt: moving it aside and rebuilding");
    let moved_to = match already_moved {
        Some(moved) => {
            // Interrupted earlier: whatever was started at `path` is set aside as well (kept).
            if path.exists() {
                move_aside(path)?;
            }
            moved
        }
        None => {
            std::fs::write(&marker, format!("{reason}\n"))?;
            let moved = move_aside(path)?;
            std::fs::write(&marker, format!("{reason}\nmoved_to {}\n", moved.display()))?;
            moved
        }
    };
    let (ops, unreadable) = salvage(&moved_to);
    let store = Store::open_plain(path, opts)?;
    let report = RecoveryReport {
        moved_to: moved_to.display().to_string(),
        reason,
        at: Utc::now(),
        salvaged: ops.len() as u32,
        unreadable,
    };
    store.write(|tx| {
        let now = ts(&Utc::now());
        for op in &ops {
            tx.execute(
                "INSERT INTO salvaged_ops(old_op_id, card_id, kind, payload, base_version, idempotency_key,
                     created_at, salvaged_at, source, base) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![op.old_op_id, op.card_id, op.kind, op.payload, op.base_version, op.key, op.created_at, now, report.moved_to, op.base],
            )?;
        }
        sync_state::set(tx, LAST_RECOVERY, &serde_json::to_string(&report)?)?;
        history::add(
            tx,
            "db.recovered",
            None,
            &format!("database was corrupt ({}); moved to {}; {} op(s) salvaged", report.reason, report.moved_to, report.salvaged),
        )?;
        Ok(())
    })?;
    let _ = std::fs::remove_file(&marker);
    Ok((store, Some(report)))
}

/// Rename the database and its -wal/-shm/-journal to `<name>.corrupt-<timestamp>[-wal...]`.
fn move_aside(path: &Path) -> Result<PathBuf> {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let mut dest = sibling(path, &format!(".corrupt-{stamp}"));
    let mut n = 1;
    while dest.exists() {
        dest = sibling(path, &format!(".corrupt-{stamp}-{n}"));
        n += 1;
    }
    if path.exists() {
        std::fs::rename(path, &dest)?;
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let from = sibling(path, suffix);
        if from.exists() {
            std::fs::rename(&from, sibling(&dest, suffix))?;
        }
    }
    Ok(dest)
}

struct RawOp {
    old_op_id: i64,
    card_id: String,
    kind: String,
    payload: String,
    base_version: Option<i64>,
    /// The fields the edit was made on (CardFields or Card JSON), when the old row had them.
    base: Option<String>,
    key: Option<String>,
    created_at: String,
}

/// Read what can be read of the old outbox, read-only, one row at a time. Never fails.
fn salvage(old: &Path) -> (Vec<RawOp>, u32) {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = match Connection::open_with_flags(old, flags) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "salvage: cannot open the old database");
            return (Vec::new(), 0);
        }
    };
    // Skip SQLite's schema sanity checks (a truncated file fails them as soon as any table's root
    // page lies past the end, even when the outbox pages are all there). Nothing is written:
    // the connection is read-only.
    let _ = conn.execute_batch("PRAGMA writable_schema = ON");
    // The ids first (stops at the first unreadable page of the outbox b-tree), then each row.
    let mut ids = Vec::new();
    if let Ok(mut st) = conn.prepare("SELECT op_id FROM outbox ORDER BY op_id")
        && let Ok(mut rows) = st.query([])
    {
        while ids.len() < 1_000_000 {
            match rows.next() {
                Ok(Some(r)) => match r.get::<_, i64>(0) {
                    Ok(id) => ids.push(id),
                    Err(_) => break,
                },
                Ok(None) | Err(_) => break,
            }
        }
    }
    let mut ops = Vec::new();
    let mut unreadable = 0u32;
    for id in ids {
        let row = conn
            .query_row(
                "SELECT card_id, kind, payload, base_version, idempotency_key, created_at, base FROM outbox WHERE op_id = ?1",
                [id],
                |r| {
                    Ok(RawOp {
                        old_op_id: id,
                        card_id: r.get(0)?,
                        kind: r.get(1)?,
                        payload: r.get(2)?,
                        base_version: r.get(3)?,
                        key: r.get(4)?,
                        created_at: r.get(5)?,
                        // Unreadable base: the op is still worth offering (it merges as unknown-base).
                        base: r.get(6).ok().flatten(),
                    })
                },
            )
            .optional();
        match row {
            Ok(Some(op)) if plausible(&op) => ops.push(op),
            _ => unreadable += 1,
        }
    }
    (ops, unreadable)
}

/// A row is only kept when every field parses as what it claims to be.
fn plausible(op: &RawOp) -> bool {
    Uuid::parse_str(&op.card_id).is_ok()
        && parse_ts(&op.created_at).is_ok()
        && match op.kind.as_str() {
            "create" => serde_json::from_str::<deckhand_protocol::NewCard>(&op.payload).is_ok(),
            "update" => serde_json::from_str::<deckhand_protocol::CardChanges>(&op.payload).is_ok(),
            "delete" => true,
            _ => false,
        }
}

fn kind_of(s: &str) -> Result<OpKind> {
    Ok(match s {
        "create" => OpKind::Create,
        "update" => OpKind::Update,
        "delete" => OpKind::Delete,
        k => return Err(StoreError::Corrupt(format!("unknown op kind {k:?}"))),
    })
}

pub fn last_report(conn: &Connection) -> Result<Option<RecoveryReport>> {
    Ok(sync_state::get(conn, LAST_RECOVERY)?.and_then(|s| serde_json::from_str(&s).ok()))
}

pub fn list(conn: &Connection) -> Result<Vec<SalvagedOp>> {
    let mut st = conn.prepare_cached("SELECT id, card_id, kind, payload, created_at FROM salvaged_ops ORDER BY id")?;
    let raws = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter()
        .map(|(id, card, kind, payload, created)| {
            Ok(SalvagedOp {
                id,
                card_id: cards::parse_uuid(&card)?,
                kind: kind_of(&kind)?,
                payload: serde_json::from_str(&payload)?,
                created_at: parse_ts(&created)?,
            })
        })
        .collect()
}

pub fn ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut st = conn.prepare_cached("SELECT id FROM salvaged_ops ORDER BY id")?;
    Ok(st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
}

pub fn discard(conn: &Connection, ids: &[i64]) -> Result<u32> {
    let mut n = 0;
    for id in ids {
        n += conn.execute("DELETE FROM salvaged_ops WHERE id = ?1", [id])?;
    }
    if n > 0 {
        history::add(conn, "salvage.discarded", None, &format!("{n} salvaged op(s) discarded"))?;
    }
    Ok(n as u32)
}

/// Queue salvaged ops again, oldest first, as new local edits on top of the rebuilt database
/// (call it once the rebuild pull is done). Each op is then removed from `salvaged_ops`.
/// Returns the affected card ids too.
pub fn requeue(conn: &Connection, ids: &[i64]) -> Result<(RequeueReport, Vec<Uuid>)> {
    let mut report = RequeueReport::default();
    let mut touched = Vec::new();
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    for id in ids {
        let row: Option<(String, String, String, Option<i64>, Option<String>)> = conn
            .query_row("SELECT card_id, kind, payload, base_version, base FROM salvaged_ops WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((card, kind, payload, base_version, base)) = row else { continue };
        let base: Option<crate::model::CardFields> = base.and_then(|b| serde_json::from_str(&b).ok());
        let card_id = cards::parse_uuid(&card)?;
        let payload = OpPayload::from_json_pub(&kind, &payload)?;
        let skipped: Option<String> = match payload {
            OpPayload::Create(new) => {
                if cards::exists(conn, card_id)? || remote::confirmed(conn, card_id)?.is_some() {
                    Some("the server already has this card".into())
                } else {
                    match writes::create_card(conn, new, Priority::Normal) {
                        Ok(_) => None,
                        Err(StoreError::Validation(e)) => Some(format!("invalid: {e:?}")),
                        Err(e) => return Err(e),
                    }
                }
            }
            OpPayload::Update(changes) => {
                if !cards::exists(conn, card_id)? {
                    Some("the card no longer exists".into())
                } else {
                    // Made on what it saw then, so the normal rebase merges it with whatever the
                    // server has now (or raises a conflict) instead of applying it blind.
                    let made_on = match (base, base_version) {
                        (Some(f), v) => writes::MadeOn::Fields(f, v),
                        (None, Some(v)) => writes::MadeOn::Version(v),
                        (None, None) => writes::MadeOn::Now,
                    };
                    match writes::update_made_on(conn, card_id, &changes, made_on, Priority::Normal) {
                        Ok(_) => None,
                        Err(StoreError::Validation(e)) => Some(format!("invalid: {e:?}")),
                        Err(StoreError::InvalidState(why)) => {
                            // Its base is gone: keep it for the user (discard or redo by hand).
                            history::add(conn, "salvage.kept", Some(card_id), &why)?;
                            report.kept += 1;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            OpPayload::Restore => {
                if cards::exists(conn, card_id)? {
                    Some("the card is not deleted".into())
                } else {
                    match writes::restore(conn, card_id, Priority::Normal) {
                        Ok(()) => None,
                        Err(StoreError::NotFound(_) | StoreError::InvalidState(_)) => Some("the card is not in the trash".into()),
                        Err(e) => return Err(e),
                    }
                }
            }
            OpPayload::Delete => {
                if !cards::exists(conn, card_id)? {
                    Some("the card no longer exists".into())
                } else {
                    writes::delete(conn, card_id, Priority::Normal)?;
                    None
                }
            }
        };
        conn.execute("DELETE FROM salvaged_ops WHERE id = ?1", [id])?;
        match skipped {
            None => {
                report.requeued += 1;
                touched.push(card_id);
                history::add(conn, "salvage.requeued", Some(card_id), &format!("salvaged {kind} queued again"))?;
            }
            Some(why) => {
                report.skipped += 1;
                history::add(conn, "salvage.skipped", Some(card_id), &format!("salvaged {kind} dropped: {why}"))?;
            }
        }
    }
    Ok((report, touched))
}
