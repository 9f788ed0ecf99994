//! The durable outbox: enqueue with coalescing, scheduling reads, and state transitions.

use chrono::Utc;
use deckhand_protocol::{Card, CardChanges, NewCard};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::Result;
use super::cards::{parse_ts, parse_uuid, ts};
use crate::error::StoreError;
use crate::model::{OpError, OpKind, OpState, OutboxEntry, Priority};

#[derive(Debug, Clone, PartialEq)]
pub enum OpPayload {
    Create(NewCard),
    Update(CardChanges),
    Delete,
}

impl OpPayload {
    pub fn kind(&self) -> OpKind {
        match self {
            OpPayload::Create(_) => OpKind::Create,
            OpPayload::Update(_) => OpKind::Update,
            OpPayload::Delete => OpKind::Delete,
        }
    }

    fn to_json(&self) -> Result<String> {
        Ok(match self {
            OpPayload::Create(c) => serde_json::to_string(c)?,
            OpPayload::Update(c) => serde_json::to_string(c)?,
            OpPayload::Delete => "null".to_string(),
        })
    }

    pub(crate) fn from_json_pub(kind: &str, s: &str) -> Result<OpPayload> {
        Self::from_json(kind, s)
    }

    fn from_json(kind: &str, s: &str) -> Result<OpPayload> {
        Ok(match kind {
            "create" => OpPayload::Create(serde_json::from_str(s)?),
            "update" => OpPayload::Update(serde_json::from_str(s)?),
            "delete" => OpPayload::Delete,
            k => return Err(StoreError::Corrupt(format!("unknown op kind {k:?}"))),
        })
    }
}

pub fn kind_str(k: OpKind) -> &'static str {
    match k {
        OpKind::Create => "create",
        OpKind::Update => "update",
        OpKind::Delete => "delete",
    }
}

pub fn state_str(s: OpState) -> &'static str {
    match s {
        OpState::Pending => "pending",
        OpState::InFlight => "in_flight",
        OpState::Failed => "failed",
        OpState::Conflict => "conflict",
    }
}

fn parse_state(s: &str) -> Result<OpState> {
    Ok(match s {
        "pending" => OpState::Pending,
        "in_flight" => OpState::InFlight,
        "failed" => OpState::Failed,
        "conflict" => OpState::Conflict,
        s => return Err(StoreError::Corrupt(format!("unknown op state {s:?}"))),
    })
}

pub fn priority_num(p: Priority) -> i64 {
    match p {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

fn parse_priority(n: i64) -> Priority {
    match n {
        0 => Priority::High,
        1 => Priority::Normal,
        _ => Priority::Low,
    }
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub op_id: i64,
    pub card_id: Uuid,
    pub payload: OpPayload,
    /// Confirmed version the edit was made against; `None` = whatever is confirmed at send time.
    pub base_version: Option<i64>,
    /// Confirmed copy at `base_version` (merge base); `None` = the confirmed copy at send time.
    pub base: Option<Card>,
    pub idempotency_key: String,
    pub priority: Priority,
    pub created_at: chrono::DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<OpError>,
    pub state: OpState,
    pub sent: bool,
}

const OP_COLS: &str = "op_id, card_id, kind, payload, base_version, base, idempotency_key, priority, created_at,
    attempts, next_attempt_at, last_error, state, sent";

type OpRaw = (i64, String, String, String, Option<i64>, Option<String>, String, i64, String, i64, Option<i64>, Option<String>, String, bool);

fn op_raw(r: &Row<'_>) -> rusqlite::Result<OpRaw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

fn op_finish(raw: OpRaw) -> Result<Op> {
    let (op_id, card_id, kind, payload, base_version, base, key, prio, created, attempts, next, err, state, sent) = raw;
    Ok(Op {
        op_id,
        card_id: parse_uuid(&card_id)?,
        payload: OpPayload::from_json(&kind, &payload)?,
        base_version,
        base: base.map(|b| serde_json::from_str(&b)).transpose()?,
        idempotency_key: key,
        priority: parse_priority(prio),
        created_at: parse_ts(&created)?,
        attempts: attempts as u32,
        next_attempt_at: next,
        last_error: err.map(|e| serde_json::from_str(&e)).transpose()?,
        state: parse_state(&state)?,
        sent,
    })
}

fn query_ops(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Op>> {
    let mut st = conn.prepare_cached(sql)?;
    let raws = st.query_map(args, op_raw)?.collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(op_finish).collect()
}

pub fn get(conn: &Connection, op_id: i64) -> Result<Option<Op>> {
    let mut st = conn.prepare_cached(&format!("SELECT {OP_COLS} FROM outbox WHERE op_id = ?1"))?;
    let raw = st.query_row([op_id], op_raw).optional()?;
    raw.map(op_finish).transpose()
}

/// Every op of a card, oldest first.
pub fn for_card(conn: &Connection, card_id: Uuid) -> Result<Vec<Op>> {
    query_ops(conn, &format!("SELECT {OP_COLS} FROM outbox WHERE card_id = ?1 ORDER BY op_id"), [card_id.to_string()])
}

/// What `enqueue` did with the new op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Appended(i64),
    /// Folded into this not-yet-sent op.
    Coalesced(i64),
    /// A delete cancelled a create that never left: nothing will be sent.
    Cancelled,
}

/// Queue `payload` for `card_id`, coalescing with the card's last op when that op never left
/// (pending and never sent). An op that may have reached the server is never changed.
pub fn enqueue(
    conn: &Connection,
    card_id: Uuid,
    payload: OpPayload,
    base: Option<&Card>,
    priority: Priority,
) -> Result<Enqueued> {
    let ops = for_card(conn, card_id)?;
    if let Some(last) = ops.last().filter(|o| o.state == OpState::Pending && !o.sent) {
        let merged = match (&last.payload, &payload) {
            (OpPayload::Update(a), OpPayload::Update(b)) => Some(OpPayload::Update(a.merged_with(b))),
            (OpPayload::Create(c), OpPayload::Update(ch)) => {
                let mut f = crate::fields::of_new(c);
                crate::fields::apply(&mut f, ch);
                Some(OpPayload::Create(crate::fields::to_new(c.id, &f)))
            }
            (OpPayload::Update(_), OpPayload::Delete) => Some(OpPayload::Delete),
            (OpPayload::Create(_), OpPayload::Delete) => {
                remove(conn, last.op_id)?;
                return Ok(Enqueued::Cancelled);
            }
            _ => None,
        };
        if let Some(m) = merged {
            let prio = priority_num(priority).min(priority_num(last.priority));
            conn.prepare_cached("UPDATE outbox SET kind = ?2, payload = ?3, priority = ?4 WHERE op_id = ?1")?
                .execute(params![last.op_id, kind_str(m.kind()), m.to_json()?, prio])?;
            return Ok(Enqueued::Coalesced(last.op_id));
        }
    }
    // An edit queued behind other ops of the same card is based on whatever those ops leave
    // confirmed, so its base is resolved at send time.
    let base = if ops.is_empty() { base } else { None };
    conn.prepare_cached(
        "INSERT INTO outbox(card_id, kind, payload, base_version, base, idempotency_key, priority, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        card_id.to_string(),
        kind_str(payload.kind()),
        payload.to_json()?,
        base.map(|b| b.version),
        base.map(serde_json::to_string).transpose()?,
        Uuid::now_v7().to_string(),
        priority_num(priority),
        ts(&Utc::now()),
    ])?;
    Ok(Enqueued::Appended(conn.last_insert_rowid()))
}

pub fn remove(conn: &Connection, op_id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE op_id = ?1")?.execute([op_id])?;
    Ok(())
}

pub fn remove_card_ops(conn: &Connection, card_id: Uuid) -> Result<usize> {
    Ok(conn.prepare_cached("DELETE FROM outbox WHERE card_id = ?1")?.execute([card_id.to_string()])?)
}

/// Head op of every card that may be sent now: the card's oldest op, pending, due, not excluded.
/// High priority first, then oldest.
pub fn ready_heads(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<Op>> {
    query_ops(
        conn,
        &format!(
            "SELECT {OP_COLS} FROM outbox o
             WHERE o.state = 'pending' AND coalesce(o.next_attempt_at, 0) <= ?1
               AND o.op_id = (SELECT min(op_id) FROM outbox WHERE card_id = o.card_id)
             ORDER BY o.priority, o.op_id LIMIT ?2"
        ),
        params![now_ms, limit as i64],
    )
}

/// Earliest `next_attempt_at` of a pending head op (for the drain loop's sleep).
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    let mut st = conn.prepare_cached(
        "SELECT min(coalesce(o.next_attempt_at, 0)) FROM outbox o WHERE o.state = 'pending'
           AND o.op_id = (SELECT min(op_id) FROM outbox WHERE card_id = o.card_id)",
    )?;
    Ok(st.query_row([], |r| r.get(0))?)
}

/// Choose, once, the base an op is sent with, and store it with the op. Updates keep their own
/// base, else take what is confirmed now; deletes take what is confirmed now (fewer 409s). Once
/// the op has been sent the base never changes again: a retry after a lost response must repeat
/// the exact request its Idempotency-Key was first used for, or the server refuses it with 422
/// `idempotency_key_reused` (a newer confirmed copy pulled meanwhile would change `base_version`)
/// and the op fails for good although its effect is in place.
pub fn pin_base(conn: &Connection, op: &mut Op, conf: Option<&Card>) -> Result<()> {
    if op.sent && op.base_version.is_some() {
        return Ok(());
    }
    let chosen = match &op.payload {
        OpPayload::Create(_) => None,
        OpPayload::Update(_) if op.base_version.is_some() => None,
        OpPayload::Update(_) | OpPayload::Delete => conf,
    };
    let Some(c) = chosen else { return Ok(()) };
    if op.base_version == Some(c.version) && op.base.is_some() {
        return Ok(());
    }
    conn.prepare_cached("UPDATE outbox SET base_version = ?2, base = ?3 WHERE op_id = ?1")?
        .execute(params![op.op_id, c.version, serde_json::to_string(c)?])?;
    op.base_version = Some(c.version);
    op.base = Some(c.clone());
    Ok(())
}

pub fn mark_in_flight(conn: &Connection, op_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET state = 'in_flight', sent = 1, attempts = attempts + 1 WHERE op_id = ?1")?
        .execute([op_id])?;
    Ok(())
}

pub fn mark_retry(conn: &Connection, op_id: i64, next_at_ms: i64, err: &OpError) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, last_error = ?3 WHERE op_id = ?1",
    )?
    .execute(params![op_id, next_at_ms, serde_json::to_string(err)?])?;
    Ok(())
}

/// Ops left in flight by a stopped session go back to pending (keeping `sent` and their key).
pub fn reset_in_flight(conn: &Connection) -> Result<usize> {
    Ok(conn.execute("UPDATE outbox SET state = 'pending' WHERE state = 'in_flight'", [])?)
}

/// Back to pending without counting a failure (paused, auth required, breaker open).
pub fn mark_pending(conn: &Connection, op_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET state = 'pending' WHERE op_id = ?1")?.execute([op_id])?;
    Ok(())
}

/// What a card's view shows of its stuck ops: whether one is in conflict, and the error of its
/// first failed op (usually neither: one indexed lookup that finds no row).
pub fn stuck(conn: &Connection, card_id: Uuid) -> Result<(bool, Option<OpError>)> {
    let mut st = conn.prepare_cached(
        "SELECT state, last_error FROM outbox WHERE card_id = ?1 AND state IN ('failed', 'conflict') ORDER BY op_id",
    )?;
    let rows = st
        .query_map([card_id.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let conflict = rows.iter().any(|(s, _)| s == "conflict");
    let error = rows.into_iter().find(|(s, _)| s == "failed").and_then(|(_, e)| e);
    Ok((conflict, error.map(|e| serde_json::from_str(&e)).transpose()?))
}

/// Back to pending only if still in flight (a send that died may have settled some of its ops).
pub fn mark_pending_if_in_flight(conn: &Connection, op_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET state = 'pending' WHERE op_id = ?1 AND state = 'in_flight'")?.execute([op_id])?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, op_id: i64, err: &OpError) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET state = 'failed', last_error = ?2 WHERE op_id = ?1")?
        .execute(params![op_id, serde_json::to_string(err)?])?;
    Ok(())
}

pub fn mark_conflict(conn: &Connection, op_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET state = 'conflict' WHERE op_id = ?1")?.execute([op_id])?;
    Ok(())
}

/// Replace an op's request after a definite non-success answer (merge, resolution): new
/// idempotency key, pending, due now.
pub fn rewrite(conn: &Connection, op_id: i64, payload: &OpPayload, base: Option<&Card>) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET kind = ?2, payload = ?3, base_version = ?4, base = ?5, idempotency_key = ?6,
           state = 'pending', sent = 0, next_attempt_at = NULL, last_error = NULL WHERE op_id = ?1",
    )?
    .execute(params![
        op_id,
        kind_str(payload.kind()),
        payload.to_json()?,
        base.map(|b| b.version),
        base.map(serde_json::to_string).transpose()?,
        Uuid::now_v7().to_string(),
    ])?;
    Ok(())
}

/// A failed op goes back to pending, due now (same idempotency key).
pub fn retry(conn: &Connection, op_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET state = 'pending', next_attempt_at = NULL WHERE op_id = ?1 AND state = 'failed'",
        )?
        .execute([op_id])?
        > 0)
}

pub fn retry_all(conn: &Connection) -> Result<usize> {
    Ok(conn.execute("UPDATE outbox SET state = 'pending', next_attempt_at = NULL WHERE state = 'failed'", [])?)
}

/// Make every pending op due now (reconnect, "sync now"), except ops the server asked to wait
/// (429/503 carry `Retry-After`, which stays a floor).
pub fn make_all_due(conn: &Connection) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE outbox SET next_attempt_at = NULL WHERE state = 'pending' AND next_attempt_at IS NOT NULL
           AND coalesce(json_extract(last_error, '$.status'), 0) NOT IN (429, 503)",
        [],
    )?)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: u32,
    pub in_flight: u32,
    pub failed: u32,
    pub conflict: u32,
    pub oldest_created_ms: Option<i64>,
}

impl Counts {
    pub fn total(&self) -> u32 {
        self.pending + self.in_flight + self.failed + self.conflict
    }
}

pub fn counts(conn: &Connection) -> Result<Counts> {
    let mut c = Counts::default();
    // Counted on the covering `outbox_state` index; op ids grow with creation time, so each
    // state's oldest op is its smallest id (one lookup, instead of reading every row's created_at).
    let mut st = conn.prepare_cached(
        "SELECT s.state, s.n, (SELECT created_at FROM outbox WHERE op_id = s.first)
           FROM (SELECT state, count(*) AS n, min(op_id) AS first FROM outbox GROUP BY state) s",
    )?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (state, n, oldest) in rows {
        let n = n as u32;
        match state.as_str() {
            "pending" => c.pending = n,
            "in_flight" => c.in_flight = n,
            "failed" => c.failed = n,
            _ => c.conflict = n,
        }
        let o = parse_ts(&oldest)?.timestamp_millis();
        c.oldest_created_ms = Some(c.oldest_created_ms.map_or(o, |x: i64| x.min(o)));
    }
    Ok(c)
}

/// Cheap idle check: whether any op is queued, and how many failed (index lookups, no scan).
pub fn idle_probe(conn: &Connection) -> Result<(bool, u32)> {
    let any: bool = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox)")?.query_row([], |r| r.get(0))?;
    let failed: i64 = conn.prepare_cached("SELECT count(*) FROM outbox WHERE state = 'failed'")?.query_row([], |r| r.get(0))?;
    Ok((any, failed as u32))
}

/// The sync dashboard's outbox list, oldest first.
pub fn entries(conn: &Connection, limit: usize) -> Result<Vec<OutboxEntry>> {
    let ops = query_ops(conn, &format!("SELECT {OP_COLS} FROM outbox ORDER BY op_id LIMIT ?1"), [limit as i64])?;
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let title = match &op.payload {
            OpPayload::Create(c) => Some(c.title.clone()),
            _ => None,
        };
        let title = match title {
            Some(t) => t,
            None => {
                let local: Option<String> = conn
                    .prepare_cached("SELECT title FROM cards WHERE id = ?1")?
                    .query_row([op.card_id.to_string()], |r| r.get(0))
                    .optional()?;
                match local {
                    Some(t) => t,
                    None => super::remote::confirmed(conn, op.card_id)?.map(|c| c.title).unwrap_or_default(),
                }
            }
        };
        out.push(OutboxEntry {
            op_id: op.op_id,
            card_id: op.card_id,
            card_title: title,
            kind: op.payload.kind(),
            state: op.state,
            priority: op.priority,
            idempotency_key: op.idempotency_key,
            attempts: op.attempts,
            created_at: op.created_at,
            next_attempt_at: op.next_attempt_at.and_then(chrono::DateTime::from_timestamp_millis),
            last_error: op.last_error,
        });
    }
    Ok(out)
}
