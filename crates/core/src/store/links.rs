//! Link cards in the local store: writing fetched metadata (an ordinary queued edit), the
//! "broken links" list and the candidates for a duplicate URL.

use deckhand_protocol::{CardChanges, LinkMeta};
use rusqlite::Connection;
use uuid::Uuid;

use super::Result;
use super::cards::{self, parse_uuid};
use super::writes::{self, Updated};
use crate::model::{CardView, Priority};

/// Store `meta` on card `id` as a queued edit on the card as it is now (low priority: a user's
/// own edits go first). `None` when the card is gone or its URL is no longer the one fetched
/// (the user changed it while the page loaded; the new URL gets its own fetch).
pub fn write_meta(conn: &Connection, id: Uuid, meta: &LinkMeta) -> Result<Option<Updated>> {
    let Some(local) = cards::get_local(conn, id)? else { return Ok(None) };
    if local.fields.url.as_deref() != Some(meta.url.as_str()) {
        return Ok(None);
    }
    // A card near the size limit keeps its metadata without the icon (then without the
    // description) rather than failing to sync: the server refuses a card that does not fit.
    let mut meta = meta.clone();
    let fits = |m: &LinkMeta| {
        let mut f = local.fields.clone();
        f.link_meta = Some(m.clone());
        deckhand_protocol::card_fits(&f.to_new_card(id))
    };
    if !fits(&meta) {
        meta.icon = None;
    }
    if !fits(&meta) {
        meta.description = None;
    }
    let changes = CardChanges { link_meta: Some(Some(meta)), ..Default::default() };
    writes::update_view(conn, id, &changes, None, Priority::Low).map(Some)
}

/// Cards whose URL no longer answered at their last fetch, in board order.
pub fn broken(conn: &Connection) -> Result<Vec<CardView>> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM cards INDEXED BY cards_broken_links
              WHERE json_extract(link_meta, '$.status') = 'broken' AND json_extract(link_meta, '$.url') = url
              ORDER BY lane, position, id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(v) = cards::view(conn, parse_uuid(&id)?)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// (id, url) of every card with a URL whose text contains `needle` (ASCII case-insensitive):
/// the candidates a normalised URL is compared against. The caller normalises; this only keeps
/// the scan to cards that could match (the host always appears in a URL that normalises to it).
pub fn urls_containing(conn: &Connection, needle: &str) -> Result<Vec<(Uuid, String)>> {
    let rows: Vec<(String, String)> = conn
        .prepare_cached("SELECT id, url FROM cards WHERE url IS NOT NULL AND instr(lower(url), lower(?1)) > 0 ORDER BY rid")?
        .query_map([needle], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter().map(|(id, url)| Ok((parse_uuid(&id)?, url))).collect()
}

/// (id, url) of cards to refresh: all cards with a URL, or those never fetched / fetched for
/// another URL when `stale_only`.
pub fn refresh_targets(conn: &Connection, stale_only: bool) -> Result<Vec<(Uuid, String)>> {
    let sql = if stale_only {
        "SELECT id, url FROM cards WHERE url IS NOT NULL
           AND (link_meta IS NULL OR json_extract(link_meta, '$.url') IS NOT url) ORDER BY rid"
    } else {
        "SELECT id, url FROM cards WHERE url IS NOT NULL ORDER BY rid"
    };
    let rows: Vec<(String, String)> =
        conn.prepare_cached(sql)?.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    rows.into_iter().map(|(id, url)| Ok((parse_uuid(&id)?, url))).collect()
}
