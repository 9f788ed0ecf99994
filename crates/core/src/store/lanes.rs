//! Lanes as synced records (migration 0008): the local view of each lane (`lanes`: name,
//! position, deleted) beside its last server copy (`confirmed`), and the lanes' outbox
//! (`lane_ops`). Cards still name their lane; a lane's cards are the cards whose `lane` equals its
//! name case-insensitively (`lane_key`). Rules in docs/sync-engine.md, "Lanes".

use deckhand_protocol::{BatchWrite, CardChanges, DEFAULT_LANES, Lane, LaneChanges, NewLane, PatchLane, lane_key, validate_lane_changes, validate_new_lane};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::Result;
use super::cards::parse_uuid;
use super::{history, sync_state, writes};
use crate::error::StoreError;
use crate::model::{LaneCards, LaneSummary, Priority};

/// `sync_state` key: the first-run lanes were queued in this database.
const SEEDED: &str = "lanes_seeded";

#[derive(Debug, Clone, PartialEq)]
pub struct LaneRow {
    pub id: Uuid,
    pub name: String,
    pub position: f64,
    pub deleted: bool,
    pub confirmed: Option<Lane>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneOpKind {
    Create,
    Patch,
    Delete,
}

#[derive(Debug, Clone)]
pub struct LaneOp {
    pub op_id: i64,
    pub lane_id: Uuid,
    pub kind: LaneOpKind,
    pub payload: String,
    pub base_name: Option<String>,
    pub key: String,
    pub attempts: i64,
    /// The request as first sent (retries repeat it).
    pub request: Option<BatchWrite>,
}

fn kind_str(k: LaneOpKind) -> &'static str {
    match k {
        LaneOpKind::Create => "create",
        LaneOpKind::Patch => "patch",
        LaneOpKind::Delete => "delete",
    }
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, f64, bool, Option<String>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn finish_row((id, name, position, deleted, confirmed): (String, String, f64, bool, Option<String>)) -> Result<LaneRow> {
    let confirmed = confirmed.map(|c| serde_json::from_str::<Lane>(&c)).transpose()?;
    Ok(LaneRow { id: parse_uuid(&id)?, name, position, deleted, confirmed })
}

pub fn get(conn: &Connection, id: Uuid) -> Result<Option<LaneRow>> {
    let row = conn
        .prepare_cached("SELECT id, name, position, deleted, confirmed FROM lanes WHERE id = ?1")?
        .query_row([id.to_string()], row_of)
        .optional()?;
    row.map(finish_row).transpose()
}

/// Live lanes in board order: (position, id).
pub fn live(conn: &Connection) -> Result<Vec<LaneRow>> {
    let rows = conn
        .prepare_cached("SELECT id, name, position, deleted, confirmed FROM lanes WHERE deleted = 0")?
        .query_map([], row_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = rows.into_iter().map(finish_row).collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.position.total_cmp(&b.position).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// The live lane with this name (case-insensitively).
pub fn by_name(conn: &Connection, name: &str) -> Result<Option<LaneRow>> {
    let key = lane_key(name);
    Ok(live(conn)?.into_iter().find(|l| lane_key(&l.name) == key))
}

fn put_row(conn: &Connection, r: &LaneRow) -> Result<()> {
    let confirmed = r.confirmed.as_ref().map(serde_json::to_string).transpose()?;
    conn.prepare_cached(
        "INSERT INTO lanes (id, name, position, deleted, confirmed) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, position = excluded.position,
         deleted = excluded.deleted, confirmed = excluded.confirmed",
    )?
    .execute(params![r.id.to_string(), r.name, r.position, r.deleted, confirmed])?;
    Ok(())
}

fn enqueue(conn: &Connection, lane: Uuid, kind: LaneOpKind, payload: String, base_name: Option<&str>) -> Result<()> {
    // A patch folds into the lane's last patch while that one never left (a burst of moves is one
    // request); a request that may have left is never changed (docs/sync-engine.md, rule 3).
    if kind == LaneOpKind::Patch {
        let last = ops_of(conn, lane)?.pop();
        if let Some(last) = last.filter(|o| o.kind == LaneOpKind::Patch && o.request.is_none() && o.attempts == 0) {
            let before: LaneChanges = serde_json::from_str(&last.payload)?;
            let later: LaneChanges = serde_json::from_str(&payload)?;
            let merged = serde_json::to_string(&before.merged_with(&later))?;
            conn.execute("UPDATE lane_ops SET payload = ?2 WHERE op_id = ?1", params![last.op_id, merged])?;
            return Ok(());
        }
    }
    conn.prepare_cached(
        "INSERT INTO lane_ops (lane_id, kind, payload, base_name, idempotency_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![lane.to_string(), kind_str(kind), payload, base_name, Uuid::new_v4().to_string(), chrono::Utc::now().to_rfc3339()])?;
    Ok(())
}

const OP_COLS: &str = "op_id, lane_id, kind, payload, base_name, idempotency_key, attempts, request";

fn op_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String, Option<String>, String, i64, Option<String>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

fn finish_op((op_id, lane, kind, payload, base_name, key, attempts, request): (i64, String, String, String, Option<String>, String, i64, Option<String>)) -> Result<LaneOp> {
    let kind = match kind.as_str() {
        "create" => LaneOpKind::Create,
        "patch" => LaneOpKind::Patch,
        "delete" => LaneOpKind::Delete,
        other => return Err(StoreError::Corrupt(format!("lane op kind {other:?}"))),
    };
    let request = request.map(|r| serde_json::from_str(&r)).transpose()?;
    Ok(LaneOp { op_id, lane_id: parse_uuid(&lane)?, kind, payload, base_name, key, attempts, request })
}

pub fn ops_of(conn: &Connection, lane: Uuid) -> Result<Vec<LaneOp>> {
    let rows = conn
        .prepare_cached(&format!("SELECT {OP_COLS} FROM lane_ops WHERE lane_id = ?1 ORDER BY op_id"))?
        .query_map([lane.to_string()], op_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(finish_op).collect()
}

/// The oldest queued lane op if it is due (lane ops go one at a time, oldest first).
pub fn next_ready(conn: &Connection, now_ms: i64) -> Result<Option<LaneOp>> {
    let row = conn
        .prepare_cached(&format!("SELECT {OP_COLS} FROM lane_ops WHERE next_attempt_at <= ?1 ORDER BY op_id LIMIT 1"))?
        .query_row([now_ms], op_of)
        .optional()?;
    row.map(finish_op).transpose()
}

/// When the next lane op is due (ms since the epoch), if any is queued.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.prepare_cached("SELECT min(next_attempt_at) FROM lane_ops")?.query_row([], |r| r.get(0))?)
}

pub fn pending(conn: &Connection) -> Result<u32> {
    Ok(conn.prepare_cached("SELECT count(*) FROM lane_ops")?.query_row([], |r| r.get::<_, i64>(0))? as u32)
}

/// The lane's view: its confirmed copy (or its queued create) with its queued ops on top. A lane
/// with neither (a create adopted by another id) goes.
fn recompute(conn: &Connection, id: Uuid) -> Result<()> {
    let Some(mut row) = get(conn, id)? else { return Ok(()) };
    let ops = ops_of(conn, id)?;
    let mut view: Option<(String, f64, bool)> = row.confirmed.as_ref().map(|c| (c.name.clone(), c.position, c.deleted));
    for op in &ops {
        match op.kind {
            LaneOpKind::Create => {
                if view.is_none() {
                    let new: NewLane = serde_json::from_str(&op.payload)?;
                    view = Some((new.name, new.position, false));
                }
            }
            LaneOpKind::Patch => {
                if let Some(v) = view.as_mut().filter(|v| !v.2) {
                    let ch: LaneChanges = serde_json::from_str(&op.payload)?;
                    if let Some(n) = ch.name {
                        v.0 = n;
                    }
                    if let Some(p) = ch.position {
                        v.1 = p;
                    }
                }
            }
            LaneOpKind::Delete => {
                if let Some(v) = view.as_mut() {
                    v.2 = true;
                }
            }
        }
    }
    match view {
        Some((name, position, deleted)) => {
            (row.name, row.position, row.deleted) = (name, position, deleted);
            put_row(conn, &row)
        }
        None => {
            conn.execute("DELETE FROM lanes WHERE id = ?1", [id.to_string()])?;
            Ok(())
        }
    }
}

// ---- local writes (each in the caller's transaction) ----

/// First run: the default lanes (fixed ids, docs/protocol.md "Lanes"), queued once per database.
/// Returns whether it seeded now.
pub fn seed_defaults(conn: &Connection) -> Result<bool> {
    if sync_state::get(conn, SEEDED)?.is_some() {
        return Ok(false);
    }
    for (id, name, position) in DEFAULT_LANES {
        // Pulled already (another device ran first), or a lane of that name exists: nothing to add.
        if get(conn, id)?.is_some() || by_name(conn, name)?.is_some() {
            continue;
        }
        put_row(conn, &LaneRow { id, name: name.into(), position, deleted: false, confirmed: None })?;
        let new = NewLane { id, name: name.into(), position };
        enqueue(conn, id, LaneOpKind::Create, serde_json::to_string(&new)?, None)?;
    }
    sync_state::set(conn, SEEDED, "1")?;
    Ok(true)
}

fn taken(conn: &Connection, name: &str, except: Option<Uuid>) -> Result<()> {
    if let Some(other) = by_name(conn, name)?.filter(|l| Some(l.id) != except) {
        return Err(StoreError::LaneNameTaken(other.name));
    }
    Ok(())
}

/// A new lane at `position` (default: after the last lane).
pub fn add(conn: &Connection, name: &str, position: Option<f64>) -> Result<LaneRow> {
    let position = match position {
        Some(p) => p,
        None => live(conn)?.last().map_or(1.0, |l| l.position.floor() + 1.0),
    };
    let new = NewLane { id: Uuid::now_v7(), name: name.trim().to_string(), position };
    validate_new_lane(&new).map_err(StoreError::Validation)?;
    taken(conn, &new.name, None)?;
    let row = LaneRow { id: new.id, name: new.name.clone(), position, deleted: false, confirmed: None };
    put_row(conn, &row)?;
    enqueue(conn, new.id, LaneOpKind::Create, serde_json::to_string(&new)?, None)?;
    Ok(row)
}

/// The lane named `name`: its record, or — for a lane that only cards name — a record made now
/// at the end of the board (the lane "created on the fly" becomes a real one when the user acts
/// on it).
pub fn ensure(conn: &Connection, name: &str) -> Result<LaneRow> {
    match by_name(conn, name)? {
        Some(l) => Ok(l),
        None => {
            if cards_in(conn, name)?.is_empty() {
                return Err(StoreError::LaneNotFound(name.to_string()));
            }
            add(conn, name, None)
        }
    }
}

/// Ids of the live cards in the lane named `name` (case-insensitively), in board order.
pub fn cards_in(conn: &Connection, name: &str) -> Result<Vec<Uuid>> {
    let key = lane_key(name);
    let rows = conn
        .prepare_cached("SELECT id, lane FROM cards WHERE lane = ?1 COLLATE NOCASE ORDER BY position, id")?
        .query_map([name.trim()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // NOCASE narrows by index; the key decides (it also folds non-ASCII case).
    let mut out: Vec<Uuid> = rows.iter().filter(|(_, l)| lane_key(l) == key).map(|(id, _)| parse_uuid(id)).collect::<Result<_>>()?;
    if out.is_empty() {
        // Names that differ from `name` in non-ASCII case only are missed by NOCASE.
        let all = conn
            .prepare_cached("SELECT id, lane FROM cards ORDER BY position, id")?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out = all.iter().filter(|(_, l)| lane_key(l) == key).map(|(id, _)| parse_uuid(id)).collect::<Result<_>>()?;
    }
    Ok(out)
}

/// Renames the lane and moves its cards to the new name, as one user action: one lane op plus
/// one queued update per card, all in the caller's transaction. Returns the moved cards.
pub fn rename(conn: &Connection, name: &str, new_name: &str) -> Result<(LaneRow, Vec<Uuid>)> {
    let new_name = new_name.trim().to_string();
    let changes = LaneChanges { name: Some(new_name.clone()), position: None };
    validate_lane_changes(&changes).map_err(StoreError::Validation)?;
    let mut row = ensure(conn, name)?;
    if row.name == new_name {
        return Ok((row, Vec::new()));
    }
    taken(conn, &new_name, Some(row.id))?;
    let old = std::mem::replace(&mut row.name, new_name.clone());
    put_row(conn, &row)?;
    enqueue(conn, row.id, LaneOpKind::Patch, serde_json::to_string(&changes)?, Some(&old))?;
    let moved = move_cards(conn, &old, &new_name)?;
    Ok((row, moved))
}

/// Every card of lane `from` into lane `to` (keeping their order), through the outbox.
fn move_cards(conn: &Connection, from: &str, to: &str) -> Result<Vec<Uuid>> {
    let ids = cards_in(conn, from)?;
    for id in &ids {
        writes::update(conn, *id, &CardChanges { lane: Some(to.to_string()), ..Default::default() }, Priority::Normal)?;
    }
    Ok(ids)
}

/// Moves the lane between two others on the board (`before`: the lane that will precede it;
/// `after`: the lane that will follow it), as cards move inside a lane: the midpoint, or a
/// rebalance of every lane (1.0, 2.0, …) when f64 has no room left.
pub fn move_between(conn: &Connection, name: &str, before: Option<&str>, after: Option<&str>) -> Result<LaneRow> {
    let row = ensure(conn, name)?;
    let others: Vec<LaneRow> = live(conn)?.into_iter().filter(|l| l.id != row.id).collect();
    let index_of = |n: Option<&str>| n.map(lane_key).and_then(|k| others.iter().position(|l| lane_key(&l.name) == k));
    let at = match (index_of(before), index_of(after)) {
        (Some(i), _) => i + 1,
        (None, Some(i)) => i,
        (None, None) => others.len(),
    };
    let prev = at.checked_sub(1).map(|i| others[i].position);
    let next = others.get(at).map(|l| l.position);
    let fits_now = Some(row.position).filter(|&p| prev.is_none_or(|a| a < p) && next.is_none_or(|b| p < b));
    let position = match fits_now.or_else(|| super::positions::slot(prev, next)) {
        Some(p) => p,
        None => {
            for (i, other) in others.iter().enumerate() {
                let new = (if i < at { i + 1 } else { i + 2 }) as f64;
                if other.position != new {
                    set_position(conn, other.clone(), new)?;
                }
            }
            (at + 1) as f64
        }
    };
    if position == row.position {
        return Ok(row);
    }
    set_position(conn, row, position)
}

fn set_position(conn: &Connection, mut row: LaneRow, position: f64) -> Result<LaneRow> {
    row.position = position;
    put_row(conn, &row)?;
    let changes = LaneChanges { name: None, position: Some(position) };
    enqueue(conn, row.id, LaneOpKind::Patch, serde_json::to_string(&changes)?, None)?;
    Ok(row)
}

/// Deletes the lane; its cards go where the user said (another lane, or the Trash), in the same
/// transaction. Returns the cards touched.
pub fn delete(conn: &Connection, name: &str, cards_go: &LaneCards) -> Result<Vec<Uuid>> {
    let row = by_name(conn, name)?;
    let ids = cards_in(conn, name)?;
    if row.is_none() && ids.is_empty() {
        return Err(StoreError::LaneNotFound(name.to_string()));
    }
    match cards_go {
        LaneCards::MoveTo { lane } => {
            if lane_key(lane) == lane_key(name) {
                return Err(StoreError::InvalidState("the cards of a deleted lane cannot stay in it".into()));
            }
            // Into the target lane's own spelling, after its cards.
            let target = by_name(conn, lane)?.map(|l| l.name).unwrap_or_else(|| lane.trim().to_string());
            let mut position = super::cards::next_position(conn, &target)?;
            for id in &ids {
                let changes = CardChanges { lane: Some(target.clone()), position: Some(position), ..Default::default() };
                writes::update(conn, *id, &changes, Priority::Normal)?;
                position += 1.0;
            }
        }
        LaneCards::Trash => {
            for id in &ids {
                writes::delete(conn, *id, Priority::Normal)?;
            }
        }
    }
    if let Some(mut row) = row {
        row.deleted = true;
        put_row(conn, &row)?;
        enqueue(conn, row.id, LaneOpKind::Delete, "null".into(), None)?;
    }
    Ok(ids)
}

/// The board's lanes: live lane records by (position, id), then the lanes only cards name
/// (no record: "created on the fly"), by name. Counts are the cards each holds.
pub fn summaries(conn: &Connection) -> Result<Vec<LaneSummary>> {
    let counts = conn
        .prepare_cached("SELECT lane, count(*) FROM cards GROUP BY lane ORDER BY lane")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u32)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let queued: std::collections::HashSet<String> = conn
        .prepare_cached("SELECT DISTINCT lane_id FROM lane_ops")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out: Vec<LaneSummary> = live(conn)?
        .into_iter()
        .map(|l| LaneSummary { pending: queued.contains(&l.id.to_string()), lane: l.name, count: 0, id: Some(l.id), position: Some(l.position) })
        .collect();
    for (lane, n) in counts {
        let key = lane_key(&lane);
        match out.iter_mut().find(|s| lane_key(&s.lane) == key) {
            Some(s) => s.count += n,
            None => out.push(LaneSummary { lane, count: n, id: None, position: None, pending: false }),
        }
    }
    Ok(out)
}

// ---- sending and answers ----

/// What to do with the head lane op now.
pub enum Prepared {
    Send(BatchWrite),
    /// Settled without a request (nothing left to say).
    Done,
}

/// The request for `op`, rebased on the lane's confirmed copy (an op that never left) or exactly
/// as first sent (one that may have left). The request is stored before it goes out.
pub fn prepare(conn: &Connection, op: &LaneOp) -> Result<Prepared> {
    if let Some(w) = &op.request {
        return Ok(Prepared::Send(w.clone()));
    }
    let conf = get(conn, op.lane_id)?.and_then(|r| r.confirmed);
    let write = match op.kind {
        LaneOpKind::Create => {
            if conf.is_some() {
                return done(conn, op);
            }
            BatchWrite { method: "POST".into(), path: "/v1/lanes".into(), idempotency_key: op.key.clone(), body: Some(op.payload.clone()) }
        }
        LaneOpKind::Patch => {
            let Some(conf) = conf.filter(|c| !c.deleted) else { return done(conn, op) };
            let mut changes: LaneChanges = serde_json::from_str(&op.payload)?;
            // Concurrent renames: the rename that reached the server first stays; this one is
            // dropped and the cards it moved follow the lane to its name there.
            if let (Some(base), Some(mine)) = (&op.base_name, &changes.name) {
                if lane_key(base) != lane_key(&conf.name) && conf.name != *mine {
                    let moved = move_cards(conn, mine, &conf.name)?;
                    history::add(conn, "lane.rename_lost", None, &format!("{base:?} → {mine:?} lost to {:?}; {} card(s) followed", conf.name, moved.len()))?;
                    changes.name = None;
                }
            }
            if changes.name.as_ref().is_some_and(|n| *n == conf.name) {
                changes.name = None;
            }
            if changes.position.is_some_and(|p| p == conf.position) {
                changes.position = None;
            }
            if changes.is_empty() {
                return done(conn, op);
            }
            let body = serde_json::to_string(&PatchLane { base_version: conf.version, changes })?;
            BatchWrite { method: "PATCH".into(), path: format!("/v1/lanes/{}", op.lane_id), idempotency_key: op.key.clone(), body: Some(body) }
        }
        LaneOpKind::Delete => {
            let Some(conf) = conf.filter(|c| !c.deleted) else { return done(conn, op) };
            let path = format!("/v1/lanes/{}?base_version={}", op.lane_id, conf.version);
            BatchWrite { method: "DELETE".into(), path, idempotency_key: op.key.clone(), body: None }
        }
    };
    conn.execute("UPDATE lane_ops SET request = ?2 WHERE op_id = ?1", params![op.op_id, serde_json::to_string(&write)?])?;
    Ok(Prepared::Send(write))
}

fn done(conn: &Connection, op: &LaneOp) -> Result<Prepared> {
    remove_op(conn, op.op_id)?;
    recompute(conn, op.lane_id)?;
    Ok(Prepared::Done)
}

fn remove_op(conn: &Connection, op_id: i64) -> Result<()> {
    conn.execute("DELETE FROM lane_ops WHERE op_id = ?1", [op_id])?;
    Ok(())
}

/// A rename of a lane deleted elsewhere: delete wins, so the rename is undone — the cards it
/// moved go back to the lane's old name, where the deleting device's choice for them (moved or
/// trashed) meets no competing move of ours.
fn undo_renames(conn: &Connection, lane: Uuid, except_sent: bool) -> Result<()> {
    for op in ops_of(conn, lane)?.into_iter().filter(|o| o.kind == LaneOpKind::Patch && !(except_sent && o.request.is_some())) {
        let changes: LaneChanges = serde_json::from_str(&op.payload)?;
        if let (Some(mine), Some(base)) = (changes.name, op.base_name.as_deref()) {
            let moved = move_cards(conn, &mine, base)?;
            history::add(conn, "lane.rename_undone", None, &format!("{base:?} → {mine:?}: the lane was deleted elsewhere; {} card(s) back", moved.len()))?;
        }
        remove_op(conn, op.op_id)?;
    }
    Ok(())
}

/// Keeps `lane` as the confirmed copy unless a newer one is there already.
fn confirm(conn: &Connection, lane: &Lane) -> Result<()> {
    match get(conn, lane.id)? {
        Some(mut row) => {
            if row.confirmed.as_ref().is_some_and(|c| c.version >= lane.version) {
                return Ok(());
            }
            row.confirmed = Some(lane.clone());
            put_row(conn, &row)
        }
        None => put_row(conn, &LaneRow { id: lane.id, name: lane.name.clone(), position: lane.position, deleted: lane.deleted, confirmed: Some(lane.clone()) }),
    }
}

/// The server applied the op.
pub fn settle_ok(conn: &Connection, op: &LaneOp, lane: &Lane) -> Result<()> {
    confirm(conn, lane)?;
    remove_op(conn, op.op_id)?;
    recompute(conn, op.lane_id)
}

/// What a refused lane op leads to.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Settled (dropped or adopted); go on with the next op.
    Settled,
    /// Rebased on the lane the server sent; send again now.
    Again,
}

/// The server refused the op with `code` (and the lane it met, when it sent one).
pub fn settle_refused(conn: &Connection, op: &LaneOp, status: u16, code: &str, current: Option<&Lane>) -> Result<Refusal> {
    match (code, current) {
        // The id exists (a default lane another device created first, or a retry whose record
        // expired): that lane is ours; adopt it, tombstone included.
        ("already_exists", Some(cur)) if cur.id == op.lane_id => {
            confirm(conn, cur)?;
            remove_op(conn, op.op_id)?;
            recompute(conn, op.lane_id)?;
            Ok(Refusal::Settled)
        }
        // Another lane has the name: a create adopts it (the same lane made on two devices); a
        // rename is dropped (the cards it moved now sit in that lane, which has their name).
        ("lane_name_taken", Some(cur)) => {
            confirm(conn, cur)?;
            recompute(conn, cur.id)?;
            if op.kind == LaneOpKind::Create {
                conn.execute("DELETE FROM lane_ops WHERE lane_id = ?1", [op.lane_id.to_string()])?;
                conn.execute("DELETE FROM lanes WHERE id = ?1", [op.lane_id.to_string()])?;
                history::add(conn, "lane.adopted", None, &format!("lane {:?} exists already; using it", cur.name))?;
            } else {
                remove_op(conn, op.op_id)?;
                recompute(conn, op.lane_id)?;
                history::add(conn, "lane.rename_refused", None, &format!("another lane is named {:?}", cur.name))?;
            }
            Ok(Refusal::Settled)
        }
        // A stale base: take the lane as it is and rebase (a move or a delete wins on retry; a
        // rename meets the concurrent-rename rule in `prepare`).
        ("version_conflict", Some(cur)) => {
            confirm(conn, cur)?;
            conn.execute(
                "UPDATE lane_ops SET request = NULL, idempotency_key = ?2, attempts = attempts + 1 WHERE op_id = ?1",
                params![op.op_id, Uuid::new_v4().to_string()],
            )?;
            recompute(conn, op.lane_id)?;
            Ok(Refusal::Again)
        }
        // Deleted elsewhere: delete wins over a rename or a move.
        ("gone", cur) => {
            if let Some(cur) = cur {
                confirm(conn, cur)?;
            }
            undo_renames(conn, op.lane_id, false)?;
            conn.execute("DELETE FROM lane_ops WHERE lane_id = ?1 AND kind != 'create'", [op.lane_id.to_string()])?;
            recompute(conn, op.lane_id)?;
            Ok(Refusal::Settled)
        }
        _ => {
            // Nothing the server will ever accept (404, 422): dropped, with a history line.
            remove_op(conn, op.op_id)?;
            recompute(conn, op.lane_id)?;
            history::add(conn, "lane.op_refused", None, &format!("{} of lane {}: {status} {code}", kind_str(op.kind), op.lane_id))?;
            Ok(Refusal::Settled)
        }
    }
}

/// A transient failure: the op waits until `next_at_ms` (same key, same request).
pub fn retry_later(conn: &Connection, op: &LaneOp, next_at_ms: i64, error: &str, never_left: bool) -> Result<()> {
    conn.execute(
        "UPDATE lane_ops SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3,
         request = CASE WHEN ?4 THEN NULL ELSE request END WHERE op_id = ?1",
        params![op.op_id, next_at_ms, error, never_left],
    )?;
    Ok(())
}

/// Every queued lane op is due now (back online).
pub fn make_all_due(conn: &Connection) -> Result<()> {
    conn.execute("UPDATE lane_ops SET next_attempt_at = 0", [])?;
    Ok(())
}

// ---- remote changes ----

/// A lane from the change feed or the stream. An older copy than the confirmed one is an echo.
/// A local lane whose create has not been answered yet and that has the same name adopts the
/// remote lane at once (the server would refuse it with `lane_name_taken`). Returns whether the
/// view changed.
pub fn apply_remote(conn: &Connection, lane: &Lane) -> Result<bool> {
    let before = get(conn, lane.id)?;
    if before.as_ref().and_then(|r| r.confirmed.as_ref()).is_some_and(|c| c.version >= lane.version) {
        return Ok(false);
    }
    if !lane.deleted {
        let key = lane_key(&lane.name);
        for twin in live(conn)?.into_iter().filter(|l| l.id != lane.id && l.confirmed.is_none() && lane_key(&l.name) == key) {
            let unsent = ops_of(conn, twin.id)?.iter().all(|o| o.request.is_none());
            if unsent {
                conn.execute("DELETE FROM lane_ops WHERE lane_id = ?1", [twin.id.to_string()])?;
                conn.execute("DELETE FROM lanes WHERE id = ?1", [twin.id.to_string()])?;
            }
        }
    }
    // Renamed elsewhere while a rename of ours waits unsent: theirs came first, so ours is
    // dropped now, before the card moves of their rename arrive (our cards follow their name, so
    // both devices' moves agree and raise no conflict).
    let prev_name = before.as_ref().and_then(|r| r.confirmed.as_ref()).map(|c| c.name.clone());
    if let Some(prev) = prev_name.filter(|p| lane_key(p) != lane_key(&lane.name) && !lane.deleted) {
        for op in ops_of(conn, lane.id)?.into_iter().filter(|o| o.kind == LaneOpKind::Patch && o.request.is_none()) {
            let mut changes: LaneChanges = serde_json::from_str(&op.payload)?;
            let Some(mine) = changes.name.take() else { continue };
            let moved = move_cards(conn, &mine, &lane.name)?;
            history::add(conn, "lane.rename_lost", None, &format!("{prev:?} → {mine:?} lost to {:?}; {} card(s) followed", lane.name, moved.len()))?;
            if changes.is_empty() {
                remove_op(conn, op.op_id)?;
            } else {
                conn.execute("UPDATE lane_ops SET payload = ?2 WHERE op_id = ?1", params![op.op_id, serde_json::to_string(&changes)?])?;
            }
        }
    }
    if lane.deleted {
        undo_renames(conn, lane.id, true)?;
    }
    confirm(conn, lane)?;
    recompute(conn, lane.id)?;
    Ok(get(conn, lane.id)? != before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn names(conn: &Connection) -> Vec<String> {
        summaries(conn).unwrap().into_iter().map(|s| s.lane).collect()
    }

    #[test]
    fn first_run_seeds_once_and_cards_without_a_lane_record_show_after_the_lanes() {
        let s = Store::open_in_memory().unwrap();
        s.write(|tx| {
            assert!(seed_defaults(tx)?);
            assert!(!seed_defaults(tx)?);
            assert_eq!(pending(tx)?, 3);
            let input = crate::model::NewCardInput { title: "t".into(), lane: Some("zeta".into()), ..Default::default() };
            writes::create(tx, &input)?;
            writes::create(tx, &crate::model::NewCardInput { title: "i".into(), ..Default::default() })?;
            Ok(())
        })
        .unwrap();
        s.read(|c| {
            assert_eq!(names(c), ["Inbox", "Doing", "Done", "zeta"]);
            // The default "inbox" card counts in "Inbox".
            assert_eq!(summaries(c)?[0].count, 1);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn an_id_or_a_name_the_server_has_is_adopted() {
        let s = Store::open_in_memory().unwrap();
        s.write(|tx| {
            seed_defaults(tx)?;
            // The default Inbox, created (and renamed) by another device first.
            let op = next_ready(tx, i64::MAX)?.unwrap();
            let theirs = Lane { id: op.lane_id, name: "Later".into(), position: 7.0, version: 3, updated_at: chrono::Utc::now(), deleted: false };
            assert_eq!(settle_refused(tx, &op, 409, "already_exists", Some(&theirs))?, Refusal::Settled);
            let row = get(tx, op.lane_id)?.unwrap();
            assert_eq!((row.name.as_str(), row.position, row.confirmed.map(|c| c.version)), ("Later", 7.0, Some(3)));
            // A new lane whose name another lane has on the server: that lane replaces it.
            let mine = add(tx, "Ideas", None)?;
            let op = ops_of(tx, mine.id)?.remove(0);
            let other = Lane { id: Uuid::now_v7(), name: "IDEAS".into(), position: 9.0, version: 1, updated_at: chrono::Utc::now(), deleted: false };
            settle_refused(tx, &op, 409, "lane_name_taken", Some(&other))?;
            assert!(get(tx, mine.id)?.is_none() && ops_of(tx, mine.id)?.is_empty());
            assert_eq!(by_name(tx, "ideas")?.unwrap().id, other.id);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn rename_moves_the_cards_and_refuses_a_taken_name() {
        let s = Store::open_in_memory().unwrap();
        s.write(|tx| {
            seed_defaults(tx)?;
            let id = writes::create(tx, &crate::model::NewCardInput { title: "t".into(), lane: Some("doing".into()), ..Default::default() })?;
            assert!(matches!(rename(tx, "Doing", "done"), Err(StoreError::LaneNameTaken(_))));
            let (row, moved) = rename(tx, "DOING", "Now")?;
            assert_eq!((row.name.as_str(), moved), ("Now", vec![id]));
            assert_eq!(crate::store::cards::get_local(tx, id)?.unwrap().fields.lane, "Now");
            Ok(())
        })
        .unwrap();
        s.read(|c| {
            assert_eq!(names(c), ["Inbox", "Now", "Done"]);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn moves_take_the_midpoint_and_rebalance_when_there_is_none() {
        let s = Store::open_in_memory().unwrap();
        s.write(|tx| {
            seed_defaults(tx)?;
            move_between(tx, "Done", None, Some("Inbox"))?;
            assert_eq!(names(tx), ["Done", "Inbox", "Doing"]);
            move_between(tx, "Done", Some("Doing"), None)?;
            assert_eq!(names(tx), ["Inbox", "Doing", "Done"]);
            // Each move lands in the gap right before "Done", halving it: f64 runs out of
            // midpoints after ~50 and the lanes rebalance; the order always holds.
            for i in 0..80 {
                let (moving, prev) = if i % 2 == 0 { ("Inbox", "Doing") } else { ("Doing", "Inbox") };
                move_between(tx, moving, Some(prev), Some("Done"))?;
                assert_eq!(names(tx), [prev, moving, "Done"], "move {i}");
            }
            let positions: Vec<f64> = live(tx)?.iter().map(|l| l.position).collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
            Ok(())
        })
        .unwrap();
    }
}
