//! Catch up from the change feed: `GET /v1/changes?since=cursor` until `has_more = false`.
//! Each page is applied in one transaction together with the cursor. A page from another
//! database epoch, or a server whose last seq is below our cursor (restored from a backup, or
//! reset), turns the catch-up into a full resync from 0 (`store/resync.rs`).

use tracing::Instrument;

use super::SharedRef;
use super::client::SyncClient;
use crate::error::SyncError;
use crate::model::{EngineEvent, ResyncReason, ResyncReport};
use crate::store::{remote, resync, sync_state};

pub const PAGE: u32 = 500;

/// Apply remote cards (from the feed or the stream) and tell the faces. Returns changed ids.
pub(crate) async fn apply_cards(sh: &SharedRef, cards: Vec<(deckhand_protocol::Card, Option<i64>)>, final_cursor: Option<i64>) -> Result<usize, String> {
    let outcomes = sh
        .db(move |s| {
            s.write(|tx| {
                let mut out = Vec::with_capacity(cards.len());
                for (card, seq) in &cards {
                    let o = remote::apply_remote(tx, card, *seq)?;
                    out.push((card.id, o));
                }
                if let Some(c) = final_cursor {
                    sync_state::advance_cursor(tx, c)?;
                }
                Ok(out)
            })
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    for (id, o) in outcomes {
        if o.changed {
            ids.push(id);
        }
        if let Some(conflict) = o.conflict {
            sh.emit(EngineEvent::ConflictDetected { conflict });
        }
    }
    let n = ids.len();
    if !ids.is_empty() {
        sh.emit(EngineEvent::CardsChanged { ids });
    }
    Ok(n)
}

pub(crate) async fn catch_up(sh: &SharedRef, client: &SyncClient) -> Result<usize, SyncError> {
    {
        let mut rt = sh.rt();
        rt.pull_requested = false;
    }
    let store_err = |e: crate::error::StoreError| SyncError::Store(e.to_string());
    // A resync left unfinished (a crash, a failed page) starts again from 0.
    let mut resync: Option<(String, &'static str)> = None;
    if let Some(epoch) = sh.db(|s| s.read(resync::in_progress)).await.map_err(store_err)? {
        start_resync(sh, &epoch, "resumed").await.map_err(store_err)?;
        resync = Some((epoch, "resumed"));
    }
    let mut first = true;
    let mut total = 0;
    // The server's purge horizon as the first page told it, stored once the pull is done.
    let mut horizon: Option<i64> = None;
    // Cards offered again while the pages were applied (the rest come at the end).
    let mut reoffered = 0;
    // The next page, fetched while the previous one was applied (see below), with its `since`.
    let mut prefetched: Option<(i64, Result<deckhand_protocol::ChangesPage, SyncError>)> = None;
    loop {
        let (since, known_epoch, seen_horizon) = sh
            .db(|s| {
                s.read(|c| {
                    let h = sync_state::get(c, sync_state::PURGE_HORIZON)?.and_then(|h| h.parse::<i64>().ok()).unwrap_or(0);
                    Ok((sync_state::cursor(c)?, sync_state::get(c, sync_state::EPOCH)?, h))
                })
            })
            .await
            .map_err(store_err)?;
        // Used only when it asked for exactly what this step would ask for: the cursor the
        // applied page committed. (After a failed apply or a restart of the resync it is not.)
        let page = match prefetched.take() {
            Some((asked, page)) if asked == since => page?,
            _ => client.changes(since, PAGE).instrument(tracing::info_span!("pull", since)).await?,
        };
        // Is this still the database our cursor belongs to? (docs/sync-engine.md, "Server restore")
        let restored = match &resync {
            // The server changed again under a resync: start that one over.
            Some((epoch, _)) if *epoch != page.epoch => Some("new_epoch"),
            Some(_) => None,
            None if known_epoch.as_deref().is_some_and(|e| e != page.epoch) => Some("new_epoch"),
            None if first && since > page.last_seq => Some("cursor_ahead"),
            // Tombstones this client may never have pulled were purged (docs/protocol.md,
            // "Trash"): pull everything and drop what the server no longer has.
            None if first && since > 0 && since < page.purged_seq && page.purged_seq > seen_horizon => Some("trash_purged"),
            None => None,
        };
        if first && page.purged_seq > seen_horizon {
            horizon = Some(page.purged_seq);
        }
        first = false;
        if let Some(why) = restored {
            tracing::warn!(why, epoch = %page.epoch, last_seq = page.last_seq, since, "server was restored or reset; full resync");
            start_resync(sh, &page.epoch, why).await.map_err(store_err)?;
            resync = Some((page.epoch.clone(), why));
            reoffered = 0;
            continue;
        }
        if known_epoch.is_none() && resync.is_none() {
            // First contact (or a client from before epochs): this is the database we sync with.
            let epoch = page.epoch.clone();
            sh.db(move |s| s.write(|tx| sync_state::set(tx, sync_state::EPOCH, &epoch))).await.map_err(store_err)?;
        }
        let has_more = page.has_more;
        // The next page is fetched while this one is applied: the server's and the network's
        // half of a catch-up overlaps the local store's half (a new device pulling 100,000
        // cards, Q4 in docs/benchmarks.md).
        let next_since = page.next_since;
        let fetch_next = async {
            if !has_more {
                return None;
            }
            let span = tracing::info_span!("pull", since = next_since, prefetch = true);
            Some((next_since, client.changes(next_since, PAGE).instrument(span).await))
        };
        let apply = async {
            // Lanes first, in their own transaction: re-applied harmlessly if the cards' cursor
            // does not commit (an older or equal lane version is an echo).
            super::lanes::apply_remote(sh, page.lanes.iter().map(|l| l.lane.clone()).collect()).await.map_err(SyncError::Store)?;
            if resync.is_some() {
                let (n, offered) = apply_resync_page(sh, page.changes.into_iter().map(|c| c.card).collect(), page.next_since).await.map_err(store_err)?;
                Ok::<_, SyncError>((n, offered))
            } else {
                let cards: Vec<_> = page.changes.into_iter().map(|c| (c.card, Some(c.seq))).collect();
                Ok((apply_cards(sh, cards, Some(page.next_since)).await.map_err(SyncError::Store)?, 0))
            }
        };
        let (applied, next) = tokio::join!(apply, fetch_next);
        let (n, offered) = applied?;
        total += n;
        reoffered += offered;
        prefetched = next;
        if !has_more {
            break;
        }
    }
    if let Some((epoch, why)) = resync {
        finish_resync(sh, epoch, why, reoffered).await.map_err(store_err)?;
    }
    if let Some(h) = horizon {
        sh.db(move |s| s.write(|tx| sync_state::set(tx, sync_state::PURGE_HORIZON, &h.to_string()))).await.map_err(store_err)?;
    }
    let now = chrono::Utc::now();
    let _ = sh
        .db(move |s| s.write(|tx| sync_state::set(tx, sync_state::LAST_SYNCED_AT, &crate::store::cards::ts(&now))))
        .await;
    let mut rt = sh.rt();
    rt.last_synced_at = Some(now);
    if !rt.pull_requested {
        rt.caught_up = true;
    }
    Ok(total)
}

/// Cursor to 0 and the stream stopped until the full pull is done (it would resume from a cursor
/// that means nothing on this database).
async fn start_resync(sh: &SharedRef, epoch: &str, why: &'static str) -> crate::store::Result<()> {
    sh.rt().resyncing = true;
    sh.wake_stream.notify_one();
    let epoch = epoch.to_string();
    sh.db(move |s| s.write(|tx| resync::begin(tx, &epoch, why))).await
}

/// Returns the cards changed and the cards offered again.
async fn apply_resync_page(sh: &SharedRef, cards: Vec<deckhand_protocol::Card>, next_since: i64) -> crate::store::Result<(usize, u32)> {
    let out = sh.db(move |s| s.write(|tx| resync::apply_page(tx, &cards, next_since))).await?;
    for conflict in out.conflicts {
        sh.emit(EngineEvent::ConflictDetected { conflict });
    }
    let n = out.changed.len();
    if !out.changed.is_empty() {
        sh.emit(EngineEvent::CardsChanged { ids: out.changed });
    }
    if out.reoffered > 0 {
        sh.wake.notify_one();
    }
    Ok((n, out.reoffered))
}

/// Re-offer what the server lacks, store its epoch, let the stream resume and tell the faces.
async fn finish_resync(sh: &SharedRef, epoch: String, why: &'static str, reoffered: u32) -> crate::store::Result<()> {
    let report = ResyncReport { at: chrono::Utc::now(), epoch: epoch.clone(), reason: why.to_string(), reoffered };
    let (report, changed) = sh.db(move |s| s.write(|tx| resync::finish(tx, &epoch, why, report))).await?;
    tracing::info!(epoch = %report.epoch, reoffered = report.reoffered, "resync finished");
    sh.rt().resyncing = false;
    sh.wake_stream.notify_one();
    sh.wake.notify_one();
    if !changed.is_empty() {
        sh.emit(EngineEvent::CardsChanged { ids: changed });
    }
    sh.emit(EngineEvent::Resync { reason: ResyncReason::ServerRestored });
    Ok(())
}
