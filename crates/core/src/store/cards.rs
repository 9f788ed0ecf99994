//! The optimistic local view (`cards`): row mapping, reads, listing, FTS, lanes and tags.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{Result, index, search};
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
    let mut st = conn.prepare_cached("SELECT max(position) FROM cards WHERE lane = ?1 COLLATE NOCASE")?;
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

/// A text-only search matching many cards: walk the lane/position index in page order, keep the
/// rows in `matches` (sorted rids), and read the view of the page's rows only. The walk reads
/// (lane, position, rid) from the index alone: ordering by id as well made SQLite read every
/// walked card's row for its id (2–5 µs a row instead of 0.05, 17 ms for a word matching 1,400
/// of 100,000 cards, P6's tail). Ties within one position are still sorted by id (equal
/// positions read the same on every device): the walk stops only at the end of the position
/// group that fills the page, and the collected rows are sorted by id in SQL.
/// Counting and then filtering through an `IN (SELECT ...)` would go over the whole match set
/// twice (~5 ms each at 25,000 matches).
fn broad_text_page(conn: &Connection, matches: &[i64], limit: u32, offset: u32) -> Result<CardPage> {
    let want = offset as usize + limit as usize;
    let mut walk = conn.prepare_cached("SELECT lane, position, rid FROM cards INDEXED BY cards_lane_position ORDER BY lane, position")?;
    let mut rows = walk.query([])?;
    let mut kept: Vec<i64> = Vec::with_capacity(want);
    let mut last: Option<(String, f64)> = None;
    while let Some(row) = rows.next()? {
        let rid: i64 = row.get(2)?;
        if matches.binary_search(&rid).is_err() {
            continue;
        }
        let key: (String, f64) = (row.get(0)?, row.get(1)?);
        if kept.len() >= want && last.as_ref() != Some(&key) {
            break;
        }
        kept.push(rid);
        last = Some(key);
    }
    let items = if kept.len() <= offset as usize {
        Vec::new()
    } else {
        // Integers only: formatting them into the statement is safe.
        let list = kept.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",");
        let mut st = conn.prepare(&format!(
            "SELECT {VIEW_COLS} FROM (SELECT c.rid FROM cards c WHERE c.rid IN ({list}) ORDER BY c.lane, c.position, c.id LIMIT {limit} OFFSET {offset}) p
             CROSS JOIN cards c ON c.rid = p.rid ORDER BY c.lane, c.position, c.id"
        ))?;
        let raws = st.query_map([], view_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(finish_view).collect::<Result<Vec<_>>>()?
    };
    Ok(CardPage { items, total: matches.len() as u32 })
}

pub const LIST_LIMIT_DEFAULT: u32 = 100;
pub const LIST_LIMIT_MAX: u32 = 1000;

/// Matches above which a text search walks `cards_lane_position` in page order and probes the
/// match set, instead of fetching and sorting every matching card.
const FTS_SCAN_THRESHOLD: i64 = 1000;

/// How many times more a match costs to fetch and sort (a read of the card's row, often not in
/// SQLite's cache: 1–5 µs) than a row of the index-only walk (~0.05 µs). Measured on P6's
/// 100,000 cards; a word matching 700 of them took 6–16 ms through the fetch path under load.
const FETCH_VS_WALK: f64 = 50.0;

/// Whether `broad_text_page` (walking the index until `want` matches are seen, about
/// cards × want / matches rows) is cheaper than fetching and sorting every match.
/// `max(rid)` stands in for the number of cards (an index lookup, not a count).
fn walk_is_cheaper(conn: &Connection, matches: usize, want: usize) -> Result<bool> {
    if matches == 0 {
        return Ok(false);
    }
    let rows: i64 = conn.prepare_cached("SELECT coalesce(max(rid), 0) FROM cards")?.query_row([], |r| r.get(0))?;
    Ok((matches as f64) * (matches as f64) * FETCH_VS_WALK > rows as f64 * want as f64)
}

/// The card rowids a text term matches, sorted (see `search`: word prefix, substring from 3
/// characters, a scan for short non-ASCII terms).
fn text_rids(conn: &Connection, text: &str, phrase: bool) -> Result<Vec<i64>> {
    let plan = search::plan_text(text, phrase);
    let mut rids: Vec<i64> = Vec::new();
    let mut add = |sql: &str, arg: &str| -> Result<()> {
        let mut st = conn.prepare_cached(sql)?;
        for r in st.query_map([arg], |r| r.get(0))? {
            rids.push(r?);
        }
        Ok(())
    };
    if let Some(expr) = vocab_match(conn, text, phrase)? {
        add("SELECT rowid FROM cards_fts WHERE cards_fts MATCH ?1", &expr)?;
        rids.sort_unstable();
        return Ok(rids);
    }
    add("SELECT rowid FROM cards_fts WHERE cards_fts MATCH ?1", &plan.word)?;
    if let Some(t) = &plan.trigram {
        add("SELECT rowid FROM cards_tri WHERE cards_tri MATCH ?1", t)?;
    }
    if let Some(t) = &plan.scan {
        add(&format!("SELECT c.rid FROM cards c WHERE {SCAN_SQL}"), t)?;
    }
    rids.sort_unstable();
    rids.dedup();
    Ok(rids)
}

/// The word-index MATCH expression that answers a term through the vocabulary
/// (`search::term_lookup`, migration 0011): the term as a word start OR any known word that
/// contains it. The trigram lists of a 4-letter term cover tens of thousands of cards; the words
/// containing it are a handful, and the word index has their cards directly. `None`: the term
/// is looked up the old way (trigram index over the cards, or a scan).
fn vocab_match(conn: &Connection, text: &str, phrase: bool) -> Result<Option<String>> {
    use search::TermLookup;
    let Some(lookup) = search::term_lookup(text, phrase) else { return Ok(None) };
    let (sql, arg) = match &lookup {
        TermLookup::Trigram(m) => ("SELECT term FROM search_terms_tri WHERE search_terms_tri MATCH ?1 LIMIT ?2", m.as_str()),
        TermLookup::Contains(t) => ("SELECT term FROM search_terms WHERE instr(term, ?1) LIMIT ?2", t.as_str()),
    };
    let terms = conn
        .prepare_cached(sql)?
        .query_map(rusqlite::params![arg, (search::TERM_LOOKUP_MAX + 1) as i64], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if terms.len() > search::TERM_LOOKUP_MAX {
        return Ok(None);
    }
    let mut expr = search::plan_text(text, false).word;
    for t in &terms {
        expr.push_str(" OR ");
        expr.push_str(&search::fts_string(t));
    }
    Ok(Some(expr))
}

/// A short non-ASCII term as a substring of any indexed field (`?1`).
const SCAN_SQL: &str = "(instr(c.title, ?1) OR instr(c.body, ?1) OR instr(coalesce(c.url, ''), ?1) OR instr(c.tags, ?1))";

/// One clause as a SQL condition on `c`, its arguments appended to `args`.
fn clause_sql(conn: &Connection, clause: &search::Clause, args: &mut Vec<String>) -> Result<String> {
    use search::{Filter, IsState};
    let mut arg = |v: String| {
        args.push(v);
        format!("?{}", args.len())
    };
    let has = |cond: &str| format!("EXISTS (SELECT 1 FROM outbox WHERE card_id = c.id{cond})");
    let sql = match &clause.filter {
        Filter::Text { text, phrase } => {
            if let Some(expr) = vocab_match(conn, text, *phrase)? {
                let sql = format!("c.rid IN (SELECT rowid FROM cards_fts WHERE cards_fts MATCH {})", arg(expr));
                return Ok(if clause.negated { format!("NOT {sql}") } else { sql });
            }
            let plan = search::plan_text(text, *phrase);
            let mut sets = vec![format!("SELECT rowid FROM cards_fts WHERE cards_fts MATCH {}", arg(plan.word))];
            if let Some(t) = plan.trigram {
                sets.push(format!("SELECT rowid FROM cards_tri WHERE cards_tri MATCH {}", arg(t)));
            }
            let mut sql = format!("c.rid IN ({})", sets.join(" UNION "));
            if let Some(t) = plan.scan {
                sql = format!("({sql} OR {})", SCAN_SQL.replace("?1", &arg(t)));
            }
            sql
        }
        Filter::Tag(t) => format!("c.id IN (SELECT card_id FROM card_tags WHERE tag = {})", arg(t.clone())),
        Filter::Lane(l) => format!("c.lane = {}", arg(l.clone())),
        // The same states the view reports (`VIEW_COLS`): conflict wins over failed over pending.
        Filter::Is(IsState::Pinned) => "c.pinned = 1".into(),
        Filter::Is(IsState::Conflict) => has(" AND state = 'conflict'"),
        Filter::Is(IsState::Failed) => format!("({} AND NOT {})", has(" AND state = 'failed'"), has(" AND state = 'conflict'")),
        Filter::Is(IsState::Pending) => format!("({} AND NOT {})", has(""), has(" AND state IN ('failed', 'conflict')")),
    };
    Ok(if clause.negated { format!("NOT {sql}") } else { sql })
}

pub fn list(conn: &Connection, q: &ListQuery) -> Result<CardPage> {
    let clauses = match q.text.as_deref() {
        Some(t) => search::parse(t)?,
        None => Vec::new(),
    };
    // Read-your-writes: whatever is still queued for the derived indexes is indexed first.
    if q.tag.is_some() || !clauses.is_empty() {
        index::catch_up(conn)?;
    }
    let mut where_ = Vec::new();
    let mut args: Vec<String> = Vec::new();
    if let Some(lane) = &q.lane {
        args.push(lane.clone());
        // A lane's cards match its name case-insensitively ("Inbox" holds the "inbox" cards).
        where_.push(format!("c.lane = ?{} COLLATE NOCASE", args.len()));
    }
    if let Some(tag) = &q.tag {
        args.push(tag.clone());
        where_.push(format!("c.id IN (SELECT card_id FROM card_tags WHERE tag = ?{})", args.len()));
    }
    // Ties broken by id, not rowid: two devices that gave cards equal positions (or inserted them in a
    // different order) show the same order. See `positions`.
    let order = if q.lane.is_some() { "c.position, c.id" } else { "c.lane, c.position, c.id" };
    let limit = q.limit.unwrap_or(LIST_LIMIT_DEFAULT).min(LIST_LIMIT_MAX);
    let offset = q.offset.unwrap_or(0);
    let has_text = clauses.iter().any(|c| matches!(c.filter, search::Filter::Text { .. }));

    let text_only = where_.is_empty()
        && !clauses.is_empty()
        && clauses.iter().all(|c| !c.negated && matches!(c.filter, search::Filter::Text { .. }));
    let total: i64 = if text_only {
        // Words only (the search box's common case): the match set is computed once (each term's
        // word and substring matches, intersected) and gives the total; a broad match is paged by
        // walking the lane/position index, a narrow one by fetching its rows.
        let mut set: Option<Vec<i64>> = None;
        for c in &clauses {
            if let search::Filter::Text { text, phrase } = &c.filter {
                let rids = text_rids(conn, text, *phrase)?;
                set = Some(match set {
                    None => rids,
                    Some(prev) => prev.into_iter().filter(|r| rids.binary_search(r).is_ok()).collect(),
                });
            }
        }
        let rids = set.unwrap_or_default();
        if walk_is_cheaper(conn, rids.len(), offset as usize + limit as usize)? {
            return broad_text_page(conn, &rids, limit, offset);
        }
        // Integers only: formatting them into the statement is safe.
        let list = rids.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",");
        where_.push(format!("c.rid IN ({list})"));
        rids.len() as i64
    } else {
        for c in &clauses {
            where_.push(clause_sql(conn, c, &mut args)?);
        }
        let where_sql = if where_.is_empty() { String::new() } else { format!("WHERE {}", where_.join(" AND ")) };
        conn.prepare_cached(&format!("SELECT count(*) FROM cards c {where_sql}"))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
    };
    let where_sql = if where_.is_empty() { String::new() } else { format!("WHERE {}", where_.join(" AND ")) };
    // Broad text matches: walk the lane/position index in page order, testing membership, and
    // stop after the page (a rare term keeps the default plan: fetch the few matches, sort them).
    let from = if has_text && q.tag.is_none() && total > FTS_SCAN_THRESHOLD {
        "cards c INDEXED BY cards_lane_position"
    } else {
        "cards c"
    };
    // Pick the page's rowids first and compute the view columns (three correlated subqueries)
    // for those rows only, not for every row that goes through the sort. (A narrow text-only
    // match set is inlined: not cached, since it differs every time.)
    let sql = format!(
        "SELECT {VIEW_COLS} FROM (SELECT c.rid FROM {from} {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}) p
         CROSS JOIN cards c ON c.rid = p.rid ORDER BY {order}"
    );
    let (mut plain, mut cached);
    let st: &mut rusqlite::Statement<'_> = if text_only {
        plain = conn.prepare(&sql)?;
        &mut plain
    } else {
        cached = conn.prepare_cached(&sql)?;
        &mut cached
    };
    let raws = st
        .query_map(rusqlite::params_from_iter(args.iter()), view_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let items = raws.into_iter().map(finish_view).collect::<Result<Vec<_>>>()?;
    Ok(CardPage { items, total: total as u32 })
}

pub fn lanes(conn: &Connection) -> Result<Vec<LaneSummary>> {
    let mut st = conn.prepare_cached("SELECT lane, count(*) FROM cards GROUP BY lane ORDER BY lane")?;
    let out = st
        .query_map([], |r| Ok(LaneSummary { lane: r.get(0)?, count: r.get::<_, i64>(1)? as u32, id: None, position: None, pending: false }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(out)
}

pub fn tags(conn: &Connection) -> Result<Vec<String>> {
    index::catch_up(conn)?;
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
