//! Link cards on the engine: fetching a card's URL metadata (one card, in bulk with bounded
//! concurrency, or automatically in the background after a create or URL change), the broken
//! links list and the duplicate-URL check. Metadata is stored as an ordinary queued edit on the
//! card as it is now, so it syncs to other devices and never blocks sync: a fetch happens
//! outside any transaction and its failure is recorded in the metadata, not raised.

use deckhand_protocol::{LinkMeta, LinkStatus};
use futures::StreamExt;
use tracing::Instrument;
use uuid::Uuid;

use super::SharedRef;
use super::engine::Engine;
use crate::error::CoreError;
use crate::link::{CreateOutcome, LinkFetcher, RefreshSummary, normalize_url};
use crate::model::{CardView, EngineEvent, NewCardInput};
use crate::store::links;

/// Write fetched metadata and tell the faces, like `Engine::after_write`. `None` when the card
/// is gone or its URL changed while the page loaded.
pub(crate) async fn store_meta(sh: &SharedRef, id: Uuid, meta: LinkMeta) -> Result<Option<CardView>, CoreError> {
    let up = sh.db(move |s| s.write(|tx| links::write_meta(tx, id, &meta))).await?;
    let Some(up) = up else { return Ok(None) };
    if let Some(conflict) = up.conflict {
        sh.emit(EngineEvent::ConflictUpdated { conflict });
    }
    if up.changed {
        sh.emit(EngineEvent::CardsChanged { ids: vec![id] });
        sh.wake.notify_one();
        sh.schedule_status();
    }
    Ok(Some(up.view))
}

async fn fetch_for(fetcher: &LinkFetcher, id: Uuid, url: &str) -> LinkMeta {
    fetcher.fetch(url).instrument(tracing::info_span!("link_meta", card_id = %id)).await
}

impl Engine {
    fn link_fetcher(&self) -> LinkFetcher {
        LinkFetcher::new(self.sh.config.link_fetch.clone())
    }

    /// Fetch card `id`'s URL now and store what it answered (also a failure: status, error,
    /// time). Answers the card as it is afterwards.
    pub async fn refresh_link_meta(&self, id: Uuid) -> Result<CardView, CoreError> {
        let card = self.get(id).await?.ok_or_else(|| CoreError::NotFound(format!("card {id} not found")))?;
        let url = card.url.ok_or_else(|| CoreError::InvalidState(format!("card {id} has no URL")))?;
        let meta = fetch_for(&self.link_fetcher(), id, &url).await;
        store_meta(&self.sh, id, meta).await?;
        self.get(id).await?.ok_or_else(|| CoreError::NotFound(format!("card {id} not found")))
    }

    /// Refresh the metadata of every card with a URL (`stale_only`: only those never fetched or
    /// fetched for another URL), `EngineConfig::link_refresh_concurrency` pages at a time.
    pub async fn refresh_all_link_meta(&self, stale_only: bool) -> Result<RefreshSummary, CoreError> {
        let targets = self.db(move |s| s.read(|c| links::refresh_targets(c, stale_only))).await?;
        let fetcher = self.link_fetcher();
        let n = self.sh.config.link_refresh_concurrency.max(1);
        let mut results = futures::stream::iter(targets)
            .map(|(id, url)| {
                let f = fetcher.clone();
                async move { (id, fetch_for(&f, id, &url).await) }
            })
            .buffer_unordered(n);
        let mut sum = RefreshSummary::default();
        while let Some((id, meta)) = results.next().await {
            let status = meta.status;
            if store_meta(&self.sh, id, meta).await?.is_none() {
                sum.skipped += 1;
                continue;
            }
            sum.refreshed += 1;
            match status {
                LinkStatus::Ok => sum.ok += 1,
                LinkStatus::Broken => sum.broken += 1,
                LinkStatus::Failed => sum.failed += 1,
            }
        }
        Ok(sum)
    }

    /// Cards whose URL no longer answered at their last fetch.
    pub async fn broken_links(&self) -> Result<Vec<CardView>, CoreError> {
        self.db(|s| s.read(links::broken)).await
    }

    /// A live card whose URL normalises to the same as `url` (see `link::normalize_url`).
    pub async fn find_duplicate(&self, url: &str) -> Result<Option<CardView>, CoreError> {
        let Some(norm) = normalize_url(url) else { return Ok(None) };
        // The normalised host appears in any URL that normalises to it, unless it was written
        // in Unicode (the normal form is punycode): then every URL is a candidate.
        let host = url::Url::parse(&norm).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let needle = if host.contains("xn--") { String::new() } else { host };
        let candidates = self.db(move |s| s.read(|c| links::urls_containing(c, &needle))).await?;
        let Some((id, _)) = candidates.into_iter().find(|(_, u)| normalize_url(u).as_deref() == Some(norm.as_str())) else {
            return Ok(None);
        };
        self.get(id).await
    }

    /// `create`, unless a card with the same (normalised) URL exists: then that card is the
    /// answer and nothing is created. `create` itself is "add anyway".
    pub async fn create_checked(&self, input: NewCardInput) -> Result<CreateOutcome, CoreError> {
        if let Some(url) = &input.url {
            if let Some(existing) = self.find_duplicate(url).await? {
                return Ok(CreateOutcome::Duplicate { existing });
            }
        }
        Ok(CreateOutcome::Created { card: self.create(input).await? })
    }

    /// Switch `EngineConfig::link_meta_auto` while running.
    pub fn set_link_meta_auto(&self, on: bool) {
        self.sh.link_auto.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// After a create or a URL change: fetch in the background when the setting is on.
    pub(super) fn auto_fetch_link(&self, id: Uuid, url: Option<&str>) {
        let (Some(url), true) = (url, self.sh.link_auto.load(std::sync::atomic::Ordering::Relaxed)) else { return };
        let (sh, url, fetcher) = (self.sh.clone(), url.to_string(), self.link_fetcher());
        tokio::spawn(async move {
            let meta = fetch_for(&fetcher, id, &url).await;
            if let Err(e) = store_meta(&sh, id, meta).await {
                tracing::warn!(card_id = %id, error = %e, "storing link metadata failed");
            }
        });
    }
}
