//! A card's version history (`GET /v1/cards/{id}/versions`) and reverting to a version. A revert
//! is a NEW edit through the outbox, made on the card as it is now: the target version's values
//! as a diff against the current ones, so it merges with (or conflicts against) a change made
//! elsewhere like any edit, and works offline from the versions this device confirmed.

use deckhand_protocol::CardVersion;
use uuid::Uuid;

use super::client::SyncClient;
use super::engine::Engine;
use crate::error::CoreError;
use crate::merge::diff;
use crate::model::{CardFields, CardView};
use crate::store::{cards, remote};
use crate::SyncError;

/// Versions fetched per request.
const PAGE: u32 = 100;

impl Engine {
    /// The card's stored versions on the server, newest first, at most `limit` (online only).
    pub async fn card_history(&self, id: Uuid, limit: u32) -> Result<Vec<CardVersion>, CoreError> {
        let client = self.history_client()?;
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        while out.len() < limit as usize {
            let page = client.versions(id, PAGE.min(limit - out.len() as u32), cursor.as_deref()).await.map_err(|e| history_error(id, e))?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    /// Bring the card's fields back to those of `version`, as a new edit made on the card as it
    /// is now (queued like any edit; offline it uses the copies this device confirmed).
    pub async fn revert(&self, id: Uuid, version: i64) -> Result<CardView, CoreError> {
        let kept = self.db(move |s| s.read(|c| remote::confirmed_fields_at(c, id, version))).await?;
        let target = match kept {
            Some(f) => f,
            None => {
                let v = self.find_version(id, version).await?;
                if v.card.deleted {
                    return Err(CoreError::InvalidState(format!("version {version} of card {id} is its deletion; restore the card instead")));
                }
                CardFields::from_card(&v.card)
            }
        };
        let current = self
            .db(move |s| s.read(|c| cards::get_local(c, id)))
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("card {id} not found (restore it from the trash first)")))?;
        let changes = diff(&current.fields, &target);
        tracing::info!(card_id = %id, version, "revert");
        if changes.is_empty() {
            return self.get(id).await?.ok_or_else(|| CoreError::NotFound(format!("card {id} not found")));
        }
        self.update_labelled(id, changes, None, Some(format!("revert \"{}\" to version {version}", current.fields.title))).await
    }

    async fn find_version(&self, id: Uuid, version: i64) -> Result<CardVersion, CoreError> {
        let client = self.history_client()?;
        let mut cursor: Option<String> = None;
        loop {
            let page = client.versions(id, PAGE, cursor.as_deref()).await.map_err(|e| history_error(id, e))?;
            if let Some(v) = page.items.into_iter().find(|v| v.card.version == version) {
                return Ok(v);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Err(CoreError::NotFound(format!("card {id} has no version {version} (older versions are not kept)"))),
            }
        }
    }

    /// "Empty trash": purge every deleted card for good, on the server (so every device loses
    /// them: see docs/protocol.md, "Trash") and here. Online only. Returns how many the server
    /// purged.
    pub async fn empty_trash(&self) -> Result<u64, CoreError> {
        let client = self.history_client()?;
        let purged = client.empty_trash().await.map_err(|e| CoreError::InvalidState(format!("emptying the trash needs the server: {e}")))?.purged;
        self.db(|s| s.write(|tx| crate::store::trash::forget_tombstones(tx))).await?;
        Ok(purged)
    }

    fn history_client(&self) -> Result<SyncClient, CoreError> {
        let server = self.sh.rt().server.clone().ok_or_else(|| CoreError::InvalidState("this needs a server; none is configured".into()))?;
        SyncClient::new(&server.url, &server.token, self.sh.config.request_timeout).map_err(|e| CoreError::Config(e.to_string()))
    }
}

fn history_error(id: Uuid, e: SyncError) -> CoreError {
    match e {
        SyncError::Refused { status: 404, .. } => CoreError::NotFound(format!("card {id} is not on the server")),
        other => CoreError::InvalidState(format!("history unavailable (offline?): {other}")),
    }
}
