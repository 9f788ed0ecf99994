//! The durable outbox: enqueue with coalescing, scheduling reads, and state transitions.

use chrono::Utc;
use deckhand_protocol::{Card, CardChanges, NewCard};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::Result;
use super::cards::{parse_ts, parse_uuid, ts};
use crate::error::StoreError;
use crate::merge::{diff, merge3};
use crate::model::{CardFields, ConflictKind, ConflictRecord, OpError, OpKind, OpState, OutboxEntry, Priority};

#[derive(Debug, Clone, PartialEq)]
pub enum OpPayload {
    Create(NewCard),
    Update(CardChanges),
    Delete,
    /// Revive the confirmed tombstone with its fields; sent against the tombstone's version.
    Restore,
}

impl OpPayload {
    pub fn kind(&self) -> OpKind {
        match self {
            OpPayload::Create(_) => OpKind::Create,
            OpPayload::Update(_) => OpKind::Update,
            OpPayload::Delete => OpKind::Delete,
            OpPayload::Restore => OpKind::Restore,
        }
    }

    fn to_json(&self) -> Result<String> {
        Ok(match self {
            OpPayload::Create(c) => serde_json::to_string(c)?,
            OpPayload::Update(c) => serde_json::to_string(c)?,
            OpPayload::Delete | OpPayload::Restore => "null".to_string(),
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
            "restore" => OpPayload::Restore,
            k => return Err(StoreError::Corrupt(format!("unknown op kind {k:?}"))),
        })
    }
}

pub fn kind_str(k: OpKind) -> &'static str {
    match k {
        OpKind::Create => "create",
        OpKind::Update => "update",
        OpKind::Delete => "delete",
        OpKind::Restore => "restore",
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
    /// Confirmed version the edit was made against (once prepared for sending: the version the
    /// request names); `None` for creates and for edits made before the card was ever confirmed.
    pub base_version: Option<i64>,
    /// The card's fields as the edit saw them: what the user's change was applied to (the merge
    /// base). Once prepared for sending, the confirmed fields the request is computed against.
    /// `None` for creates (and rows queued by older builds behind another op).
    pub base: Option<CardFields>,
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
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    Appended(i64),
    /// Folded into this not-yet-sent op.
    Coalesced(i64),
    /// A delete cancelled a create that never left: nothing will be sent.
    Cancelled,
    /// The card has an open conflict: the edit folded into its "mine" (record updated in place).
    Folded(Box<ConflictRecord>),
}

/// What a queued edit was made on: the card's fields as the user saw them, and the confirmed
/// version at that moment (`None` before the card was ever confirmed).
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub fields: &'a CardFields,
    pub version: Option<i64>,
}

/// Queue `payload` for `card_id` (see docs/sync-engine.md, "Rules"):
/// - an open conflict parks the card's whole queue, so an edit folds into its "mine";
/// - the card's last op is coalesced with only when it never left (pending, never sent) AND the
///   new edit was made on exactly what that op leaves (coalescing never moves a base);
/// - otherwise a new op keeps `seen` as its own base.
pub fn enqueue(conn: &Connection, card_id: Uuid, payload: OpPayload, seen: Option<Seen<'_>>, priority: Priority) -> Result<Enqueued> {
    let ops = for_card(conn, card_id)?;
    if let (Some(parked), OpPayload::Update(ch)) = (ops.iter().find(|o| o.state == OpState::Conflict), &payload) {
        return fold_into_conflict(conn, parked, ch).map(|r| Enqueued::Folded(Box::new(r)));
    }
    if let Some(last) = ops.last().filter(|o| o.state == OpState::Pending && !o.sent) {
        let continues = match (&last.payload, seen) {
            (_, None) => true,
            (OpPayload::Create(c), Some(s)) => CardFields::from_new_card(c) == *s.fields,
            (OpPayload::Update(ch), Some(s)) => last.base.as_ref().is_none_or(|b| b.apply(ch) == *s.fields),
            // A restore changes no field, but what follows it is made on the revived card:
            // never folded into it (it is sent first, then the edit on its answer).
            (OpPayload::Delete | OpPayload::Restore, Some(_)) => false,
        };
        let merged = match (&last.payload, &payload) {
            _ if !continues => None,
            (OpPayload::Update(a), OpPayload::Update(b)) => Some(OpPayload::Update(a.merged_with(b))),
            (OpPayload::Create(c), OpPayload::Update(ch)) => Some(OpPayload::Create(CardFields::from_new_card(c).apply(ch).to_new_card(c.id))),
            (OpPayload::Update(_), OpPayload::Delete) => Some(OpPayload::Delete),
            (OpPayload::Create(_), OpPayload::Delete) => {
                remove(conn, last.op_id)?;
                return Ok(Enqueued::Cancelled);
            }
            // A restore of a card whose delete never left: the delete is simply withdrawn.
            (OpPayload::Delete, OpPayload::Restore) => {
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
    conn.prepare_cached(
        "INSERT INTO outbox(card_id, kind, payload, base_version, base, idempotency_key, priority, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        card_id.to_string(),
        kind_str(payload.kind()),
        payload.to_json()?,
        seen.and_then(|s| s.version),
        seen.map(|s| serde_json::to_string(s.fields)).transpose()?,
        Uuid::now_v7().to_string(),
        priority_num(priority),
        ts(&Utc::now()),
    ])?;
    Ok(Enqueued::Appended(conn.last_insert_rowid()))
}

/// An edit made while the card's conflict is open: it becomes part of "mine" (the parked op
/// carries every local change of the card), and the record is updated in place.
fn fold_into_conflict(conn: &Connection, parked: &Op, ch: &CardChanges) -> Result<ConflictRecord> {
    let (mut rec, _) = super::conflicts::get(conn, parked.card_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("op {} is parked without a conflict record", parked.op_id)))?;
    let mine = rec.mine.apply(ch);
    let base = parked.base.clone().unwrap_or_else(|| rec.mine.clone());
    let payload = OpPayload::Update(diff(&base, &mine));
    conn.prepare_cached("UPDATE outbox SET kind = 'update', payload = ?2 WHERE op_id = ?1")?
        .execute(params![parked.op_id, payload.to_json()?])?;
    match rec.kind {
        ConflictKind::Fields => {
            let m = merge3(&base, &mine, &CardFields::from_card(&rec.theirs));
            rec.fields = m.conflicting;
            rec.suggested = m.merged;
        }
        ConflictKind::EditVsDelete => rec.suggested = mine.clone(),
    }
    rec.mine = mine;
    super::conflicts::update(conn, &rec)?;
    Ok(rec)
}

/// A discarded op never happened: later ops of the card whose base still shows its values are
/// made on what it replaced instead, so they do not fight the confirmed copy in a merge.
pub fn forget(conn: &Connection, op: &Op) -> Result<()> {
    remove(conn, op.op_id)?;
    let (OpPayload::Update(ch), Some(before)) = (&op.payload, &op.base) else { return Ok(()) };
    let after = before.apply(ch);
    let undo = diff(&after, before);
    for later in for_card(conn, op.card_id)?.into_iter().filter(|o| o.op_id > op.op_id) {
        let Some(b) = later.base.as_ref() else { continue };
        let moved = diff(&after, b);
        let keep: Vec<&str> = undo.field_names().into_iter().filter(|f| !moved.field_names().contains(f)).collect();
        let restored = b.apply(&only(&undo, &keep));
        if restored != *b {
            conn.prepare_cached("UPDATE outbox SET base = ?2 WHERE op_id = ?1")?
                .execute(params![later.op_id, serde_json::to_string(&restored)?])?;
        }
    }
    Ok(())
}

/// `ch` restricted to the named fields.
fn only(ch: &CardChanges, names: &[&str]) -> CardChanges {
    let has = |n: &str| names.contains(&n);
    CardChanges {
        title: ch.title.clone().filter(|_| has("title")),
        body: ch.body.clone().filter(|_| has("body")),
        url: ch.url.clone().filter(|_| has("url")),
        tags: ch.tags.clone().filter(|_| has("tags")),
        lane: ch.lane.clone().filter(|_| has("lane")),
        position: ch.position.filter(|_| has("position")),
        pinned: ch.pinned.filter(|_| has("pinned")),
        link_meta: ch.link_meta.clone().filter(|_| has("link_meta")),
    }
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

/// What `prepare` decided for an op about to be sent.
#[derive(Debug)]
pub enum Prepared {
    /// Send it (its request base is pinned in the row and in `op`).
    Send,
    /// Nothing to send: the confirmed copy already has the op's values (the op is gone).
    Done,
    /// The op's fields were changed remotely since the edit was made and cannot be merged: the
    /// card's queue is parked in this conflict (nothing was sent).
    Conflict(Box<ConflictRecord>),
}

/// THE one place that decides the base an op is sent with (docs/sync-engine.md, "Rules").
/// An op that may have reached the server keeps its request exactly (a retry must repeat the
/// request its Idempotency-Key was first used for, or the server answers 422
/// `idempotency_key_reused`). An op that never left is rebased onto the confirmed copy now:
/// creates need none; deletes take the confirmed version (delete wins); an update made on
/// fields B, meeting confirmed fields C, is `merge3(B, B + changes, C)` — so its request is
/// its own changes on top of C, and a remote change it never saw is merged or raised as a
/// conflict, never overwritten.
pub fn prepare(conn: &Connection, op: &mut Op, conf: Option<&Card>) -> Result<Prepared> {
    if op.sent && op.base_version.is_some() {
        return Ok(Prepared::Send);
    }
    let Some(c) = conf else { return Ok(Prepared::Send) };
    match &op.payload {
        OpPayload::Create(_) => Ok(Prepared::Send),
        OpPayload::Delete => {
            if op.base_version != Some(c.version) {
                pin(conn, op, c)?;
            }
            Ok(Prepared::Send)
        }
        // Restores are sent against the tombstone they revive; a card that is live on the server
        // already (restored elsewhere, or its delete never landed) needs nothing.
        OpPayload::Restore if c.deleted => {
            if op.base_version != Some(c.version) {
                pin(conn, op, c)?;
            }
            Ok(Prepared::Send)
        }
        OpPayload::Restore => {
            remove(conn, op.op_id)?;
            super::remote::rebase(conn, op.card_id)?;
            Ok(Prepared::Done)
        }
        OpPayload::Update(_) if c.deleted => Ok(match super::apply::park_edit_vs_delete(conn, op, c)? {
            Some(rec) => Prepared::Conflict(Box::new(rec)),
            None => Prepared::Done,
        }),
        OpPayload::Update(ch) => {
            let theirs = CardFields::from_card(c);
            match &op.base {
                // Made on exactly this copy (the common case), or queued by an older build: pin.
                Some(b) if *b == theirs => {
                    if op.base_version != Some(c.version) {
                        pin(conn, op, c)?;
                    }
                    Ok(Prepared::Send)
                }
                None => {
                    pin(conn, op, c)?;
                    Ok(Prepared::Send)
                }
                Some(b) => {
                    let (b, ch) = (b.clone(), ch.clone());
                    Ok(match super::apply::rebase_update(conn, op, &b, &ch, c)? {
                        super::apply::Rebased::Done => Prepared::Done,
                        super::apply::Rebased::Rewritten => {
                            *op = get(conn, op.op_id)?.ok_or(StoreError::OpNotFound(op.op_id))?;
                            Prepared::Send
                        }
                        super::apply::Rebased::Conflict(rec) => Prepared::Conflict(rec),
                    })
                }
            }
        }
    }
}

/// The request of `op` is made against `c`: its base (version and fields) becomes `c`.
fn pin(conn: &Connection, op: &mut Op, c: &Card) -> Result<()> {
    let fields = CardFields::from_card(c);
    conn.prepare_cached("UPDATE outbox SET base_version = ?2, base = ?3 WHERE op_id = ?1")?
        .execute(params![op.op_id, c.version, serde_json::to_string(&fields)?])?;
    op.base_version = Some(c.version);
    op.base = Some(fields);
    Ok(())
}

pub fn mark_in_flight(conn: &Connection, op_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET state = 'in_flight', sent = 1, attempts = attempts + 1 WHERE op_id = ?1")?
        .execute([op_id])?;
    Ok(())
}

/// Back to pending, due at `next_at_ms`. `never_left` (a connect failure: no byte of the request
/// reached the server) restores the op's `sent` flag from before this attempt, so an edit that
/// was never sent still coalesces and is still rebased before its next attempt.
pub fn mark_retry(conn: &Connection, op: &Op, next_at_ms: i64, err: &OpError, never_left: bool) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, last_error = ?3,
           sent = CASE WHEN ?4 THEN ?5 ELSE sent END WHERE op_id = ?1",
    )?
    .execute(params![op.op_id, next_at_ms, serde_json::to_string(err)?, never_left, op.sent])?;
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

/// Replace an op's request after a definite non-success answer or a rebase before sending: new
/// idempotency key, pending, never sent, due now; `base` is the copy the new request is made on.
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
        base.map(|b| serde_json::to_string(&CardFields::from_card(b))).transpose()?,
        Uuid::now_v7().to_string(),
    ])?;
    Ok(())
}

/// Replace an op's payload keeping everything else (folding later edits into a parked op).
pub fn set_payload(conn: &Connection, op_id: i64, payload: &OpPayload) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET kind = ?2, payload = ?3 WHERE op_id = ?1")?
        .execute(params![op_id, kind_str(payload.kind()), payload.to_json()?])?;
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
    // Queued lane writes count too (`lanes.rs`): idle means both queues are empty.
    let any: bool = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox) OR EXISTS (SELECT 1 FROM lane_ops)")?.query_row([], |r| r.get(0))?;
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
