//! Catch up from the change feed: `GET /v1/changes?since=cursor` until `has_more = false`.
//! Each page is applied in one transaction together with the cursor.

use std::time::Duration;

use tracing::Instrument;

use super::SharedRef;
use super::client::{Answer, SyncClient, TransportFailure};
use crate::model::EngineEvent;
use crate::store::{remote, sync_state};

pub const PAGE: u32 = 500;

#[derive(Debug)]
#[allow(dead_code)] // fields are for Debug output in logs
pub(crate) enum PullError {
    Transport(TransportFailure),
    Auth,
    Server { status: u16, retry_after: Option<Duration> },
    Store(String),
}

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

pub(crate) async fn catch_up(sh: &SharedRef, client: &SyncClient) -> Result<usize, PullError> {
    {
        let mut rt = sh.rt();
        rt.pull_requested = false;
    }
    let mut total = 0;
    loop {
        let since = sh.db(|s| s.read(sync_state::cursor)).await.map_err(|e| PullError::Store(e.to_string()))?;
        let span = tracing::info_span!("pull", since);
        let page = async { client.changes(since, PAGE).await }.instrument(span).await;
        let page = match page {
            Err(t) => return Err(PullError::Transport(t)),
            Ok(Err(Answer::Problem { status: 401, .. })) => return Err(PullError::Auth),
            Ok(Err(Answer::Problem { status, retry_after, .. })) => return Err(PullError::Server { status, retry_after }),
            Ok(Err(Answer::Ok(_))) => unreachable!("changes() never returns a card"),
            Ok(Ok(p)) => p,
        };
        let cards: Vec<_> = page.changes.into_iter().map(|c| (c.card, Some(c.seq))).collect();
        total += apply_cards(sh, cards, Some(page.next_since)).await.map_err(PullError::Store)?;
        if !page.has_more {
            break;
        }
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
