//! The optimistic local view (`cards`): row mapping, reads, listing, FTS, lanes and tags.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::Result;
use crate::error::StoreError;
use crate::model::{CardFields, CardPage, CardView, LaneSummary, ListQuery, OpError, SyncState};

/// One row of `cards`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalCard {
    pub id: Uuid,
    pub fields: CardFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp {s:?}: {e}")))
}

pub fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("bad uuid {s:?}: {e}")))
}

const LOCAL_COLS: &str = "c.id, c.title, c.body, c.url, c.tags, c.lane, c.position, c.pinned, c.created_at, c.updated_at, c.link_meta";

fn local_from_row(r: &Row<'_>) -> rusqlite::Result<(String, CardFields, String, String, String)> {
    let tags: String = r.get(4)?;
    Ok((
        r.get(0)?,
        CardFields {
            title: r.get(1)?,
            body: r.get(2)?,
            url: r.get(3)?,
            tags: Vec::new(),
            lane: r.get(5)?,
            position: r.get(6)?,
            pinned: r.get(7)?,
            link_meta: r.get::<_, Option<String>>(10)?.and_then(|j| serde_json::from_str(&j).ok()),
        },
        tags,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn finish_local(raw: (String, CardFields, String, String, String)) -> Result<LocalCard> {
    let (id, mut fields, tags, created, updated) = raw;
    fields.tags = serde_json::from_str(&tags)?;
    Ok(LocalCard { id: parse_uuid(&id)?, fields, created_at: parse_ts(&created)?, updated_at: parse_ts(&updated)? })
}

pub fn get_local(conn: &Connection, id: Uuid) -> Result<Option<LocalCard>> {
    let mut st = conn.prepare_cached(&format!("SELECT {LOCAL_COLS} FROM cards c WHERE c.id = ?1"))?;
    let raw = st.query_row([id.to_string()], local_from_row).optional()?;
    raw.map(finish_local).transpose()
}

pub fn exists(conn: &Connection, id: Uuid) -> Result<bool> {
    let mut st = conn.prepare_cached("SELECT 1 FROM cards WHERE id = ?1")?;
    Ok(st.exists([id.to_string()])?)
}

pub fn upsert_local(conn: &Connection, c: &LocalCard) -> Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO cards(id, title, body, url, tags, lane, position, pinned, created_at, updated_at, link_meta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body, url = excluded.url,
           tags = excluded.tags, lane = excluded.lane, position = excluded.position, pinned = excluded.pinned,
           created_at = excluded.created_at, updated_at = excluded.updated_at, link_meta = excluded.link_meta",
    )?;
    let f = &c.fields;
    st.execute(params![
        c.id.to_string(),
        f.title,
        f.body,
        f.url,
        serde_json::to_string(&f.tags)?,
        f.lane,
        f.position,
        f.pinned,
        ts(&c.created_at),
        ts(&c.updated_at),
        link_meta_json(&f.link_meta)?,
    ])?;
    Ok(())
}

/// Update an existing card row, writing only the columns that differ from `old` (plus
/// `updated_at`). The FTS and tag triggers fire on `UPDATE OF` their columns whether or not the
/// value changed, so a move or a title edit no longer rewrites the card's tag rows, and a move no
/// longer re-indexes its text.
pub fn update_local(conn: &Connection, old: &CardFields, c: &LocalCard) -> Result<()> {
    let f = &c.fields;
    let mut sets: Vec<&str> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = vec![c.id.to_string().into(), ts(&c.updated_at).into()];
    let mut set = |col: &'static str, changed: bool, v: rusqlite::types::Value| {
        if changed {
            sets.push(col);
            args.push(v);
        }
    };
    set("title", f.title != old.title, f.title.clone().into());
    set("body", f.body != old.body, f.body.clone().into());
    set("url", f.url != old.url, f.url.clone().into());
    set("tags", f.tags != old.tags, serde_json::to_string(&f.tags)?.into());
    set("lane", f.lane != old.lane, f.lane.clone().into());
    set("position", f.position != old.position, f.position.into());
    set("pinned", f.pinned != old.pinned, f.pinned.into());
    set("link_meta", f.link_meta != old.link_meta, link_meta_json(&f.link_meta)?.into());
    let mut sql = String::from("UPDATE cards SET updated_at = ?2");
    for (i, col) in sets.iter().enumerate() {
        sql.push_str(&format!(", {col} = ?{}", i + 3));
    }
    sql.push_str(" WHERE id = ?1");
    conn.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(args))?;
    Ok(())
}

/// `cards.link_meta`: the protocol's `LinkMeta` as JSON (NULL = never fetched). An unreadable
/// value reads as absent: metadata is a cache of a web page, never worth refusing a card for.
fn link_meta_json(m: &Option<deckhand_protocol::LinkMeta>) -> Result<Option<String>> {
    Ok(m.as_ref().map(serde_json::to_string).transpose()?)
}

pub fn delete_local(conn: &Connection, id: Uuid) -> Result<bool> {
    let mut st = conn.prepare_cached("DELETE FROM cards WHERE id = ?1")?;
    Ok(st.execute([id.to_string()])? > 0)
}

/// Position after the last card of `lane` (1.0 for an empty lane).
pub fn next_position(conn: &Connection, lane: &str) -> Result<f64> {
    let mut st = conn.prepare_cached("SELECT max(position) FROM cards WHERE lane = ?1")?;
    let max: Option<f64> = st.query_row([lane], |r| r.get(0))?;
    Ok(max.map(|m| m.floor() + 1.0).unwrap_or(1.0))
}

const VIEW_COLS: &str = "c.id, c.title, c.body, c.url, c.tags, c.lane, c.position, c.pinned, c.created_at, c.updated_at, c.link_meta,
    (SELECT version FROM confirmed WHERE id = c.id AND deleted = 0) AS confirmed_version,
    (SELECT CASE WHEN sum(state = 'conflict') > 0 THEN 'conflict'
                 WHEN sum(state = 'failed') > 0 THEN 'failed'
                 WHEN count(*) > 0 THEN 'pending' ELSE 'synced' END
       FROM outbox WHERE card_id = c.id) AS sync_state,
    (SELECT last_error FROM outbox WHERE card_id = c.id AND state = 'failed' ORDER BY op_id LIMIT 1) AS error";

fn view_from_row(r: &Row<'_>) -> rusqlite::Result<(LocalRaw, Option<i64>, String, Option<String>)> {
    Ok((local_from_row(r)?, r.get(11)?, r.get(12)?, r.get(13)?))
}

type LocalRaw = (String, CardFields, String, String, String);

fn finish_view(raw: (LocalRaw, Option<i64>, String, Option<String>)) -> Result<CardView> {
    let (local, confirmed_version, state, error) = raw;
    let l = finish_local(local)?;
    let sync_state = match state.as_str() {
        "conflict" => SyncState::Conflict,
        "failed" => SyncState::Failed,
        "pending" => SyncState::Pending,
        _ => SyncState::Synced,
    };
    let error: Option<OpError> = error.map(|e| serde_json::from_str(&e)).transpose()?;
    Ok(view_of(l, confirmed_version, sync_state, error))
}

/// A card's view from its local row and its sync facts.
pub fn view_of(l: LocalCard, confirmed_version: Option<i64>, sync_state: SyncState, error: Option<OpError>) -> CardView {
    let f = l.fields;
    // Metadata fetched for a URL the card no longer has is not shown (its refetch replaces it).
    let link_meta = f.link_meta.filter(|m| f.url.as_deref() == Some(m.url.as_str()));
    CardView {
        id: l.id,
        title: f.title,
        body: f.body,
        url: f.url,
        tags: f.tags,
        lane: f.lane,
        position: f.position,
        pinned: f.pinned,
        link_meta,
        confirmed_version,
        created_at: l.created_at,
        updated_at: l.updated_at,
        sync_state,
        error,
    }
}

pub fn view(conn: &Connection, id: Uuid) -> Result<Option<CardView>> {
    let mut st = conn.prepare_cached(&format!("SELECT {VIEW_COLS} FROM cards c WHERE c.id = ?1"))?;
    let raw = st.query_row([id.to_string()], view_from_row).optional()?;
    raw.map(finish_view).transpose()
}

/// A text-only search matching many cards: walk the lane/position index in page order (ties
/// within one position are sorted by id, so equal positions read the same on every device), keep the rows in `matches` (sorted rids), and
/// read the view of the page's rows only. Counting and then filtering through an `IN (SELECT ...)`
/// would go over the whole match set twice (~5 ms each at 25,000 matches).
fn broad_text_page(conn: &Connection, matches: &[i64], limit: u32, offset: u32) -> Result<CardPage> {
    let mut walk = conn.prepare_cached("SELECT rid FROM cards INDEXED BY cards_lane_position ORDER BY lane, position, id")?;
    let mut rows = walk.query([])?;
    let (mut skipped, mut page) = (0u32, Vec::with_capacity(limit as usize));
    while page.len() < limit as usize {
        let Some(row) = rows.next()? else { break };
        let rid: i64 = row.get(0)?;
        if matches.binary_search(&rid).is_err() {
            continue;
        }
        if skipped < offset {
            skipped += 1;
        } else {
            page.push(rid);
        }
    }
    let items = if page.is_empty() {
        Vec::new()
    } else {
        // Integers only: formatting them into the statement is safe.
        let list = page.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",");
        let mut st = conn.prepare(&format!("SELECT {VIEW_COLS} FROM cards c WHERE c.rid IN ({list}) ORDER BY c.lane, c.position, c.id"))?;
        let raws = st.query_map([], view_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(finish_view).collect::<Result<Vec<_>>>()?
    };
    Ok(CardPage { items, total: matches.len() as u32 })
}

/// Turn user text into an FTS5 query: every word must match as a prefix; quotes are neutralised.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .map(|w| w.replace('"', ""))
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect();
    if terms.is_empty() { None } else { Some(terms.join(" ")) }
}

pub const LIST_LIMIT_DEFAULT: u32 = 100;
pub const LIST_LIMIT_MAX: u32 = 1000;

/// Matches above which a text search walks `cards_lane_position` in page order and probes the
/// match set, instead of fetching and sorting every matching card.
const FTS_SCAN_THRESHOLD: i64 = 1000;

pub fn list(conn: &Connection, q: &ListQuery) -> Result<CardPage> {
    let mut where_ = Vec::new();
    let mut args: Vec<String> = Vec::new();
    if let Some(lane) = &q.lane {
        args.push(lane.clone());
        where_.push(format!("c.lane = ?{}", args.len()));
    }
    if let Some(tag) = &q.tag {
        args.push(tag.clone());
        where_.push(format!("c.id IN (SELECT card_id FROM card_tags WHERE tag = ?{})", args.len()));
    }
    let fts = q.text.as_deref().and_then(fts_query);
    if let Some(fts) = &fts {
        args.push(fts.clone());
        where_.push(format!("c.rid IN (SELECT rowid FROM cards_fts WHERE cards_fts MATCH ?{})", args.len()));
    }
    let where_sql = if where_.is_empty() { String::new() } else { format!("WHERE {}", where_.join(" AND ")) };
    // Ties broken by id, not rowid: two devices that gave cards equal positions (or inserted them in a
    // different order) show the same order. See `positions`.
    let order = if q.lane.is_some() { "c.position, c.id" } else { "c.lane, c.position, c.id" };
    let limit = q.limit.unwrap_or(LIST_LIMIT_DEFAULT).min(LIST_LIMIT_MAX);
    let offset = q.offset.unwrap_or(0);

    let total: i64 = match &fts {
        // Text only: one pass over the FTS matches (every card has exactly one FTS row) gives the
        // total and, for a broad match, the membership test of the page walk.
        Some(fts) if where_.len() == 1 => {
            let mut rids: Vec<i64> = conn
                .prepare_cached("SELECT rowid FROM cards_fts WHERE cards_fts MATCH ?1")?
                .query_map([fts], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if rids.len() as i64 > FTS_SCAN_THRESHOLD {
                rids.sort_unstable();
                return broad_text_page(conn, &rids, limit, offset);
            }
            rids.len() as i64
        }
        _ => conn
            .prepare_cached(&format!("SELECT count(*) FROM cards c {where_sql}"))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?,
    };
    // Broad text matches: walk the lane/position index in page order, testing membership, and
    // stop after the page (a rare term keeps the default plan: fetch the few matches, sort them).
    let from = if fts.is_some() && q.tag.is_none() && total > FTS_SCAN_THRESHOLD {
        "cards c INDEXED BY cards_lane_position"
    } else {
        "cards c"
    };
    // Pick the page's rowids first and compute the view columns (three correlated subqueries)
    // for those rows only, not for every row that goes through the sort.
    let mut st = conn.prepare_cached(&format!(
        "SELECT {VIEW_COLS} FROM (SELECT c.rid FROM {from} {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}) p
         CROSS JOIN cards c ON c.rid = p.rid ORDER BY {order}"
    ))?;
    let raws = st
        .query_map(rusqlite::params_from_iter(args.iter()), view_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let items = raws.into_iter().map(finish_view).collect::<Result<Vec<_>>>()?;
    Ok(CardPage { items, total: total as u32 })
}

pub fn lanes(conn: &Connection) -> Result<Vec<LaneSummary>> {
    let mut st = conn.prepare_cached("SELECT lane, count(*) FROM cards GROUP BY lane ORDER BY lane")?;
    let out = st
        .query_map([], |r| Ok(LaneSummary { lane: r.get(0)?, count: r.get::<_, i64>(1)? as u32 }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(out)
}

pub fn tags(conn: &Connection) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached("SELECT DISTINCT tag FROM card_tags ORDER BY tag")?;
    let out = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(out)
}

/// Ids of every card in the local view (bulk helpers, tests).
pub fn all_ids(conn: &Connection) -> Result<Vec<Uuid>> {
    let mut st = conn.prepare_cached("SELECT id FROM cards ORDER BY rid")?;
    let ids = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    ids.iter().map(|s| parse_uuid(s)).collect()
}
