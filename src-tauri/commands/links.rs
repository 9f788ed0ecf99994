//! Link cards: add with the duplicate-URL check, refresh metadata (one card, all), broken links.

use deckhand_core::link::{CreateOutcome, RefreshSummary};
use deckhand_core::model::{CardView, NewCardInput};
use tauri::State;
use uuid::Uuid;

use crate::error::CmdResult;
use crate::state::Shell;

/// `card_create`, unless a card with the same (normalised) URL exists: then `Duplicate` with it
/// and nothing is created. The UI offers "open existing" / "add anyway" (= `card_create`).
#[tauri::command]
pub async fn card_create_checked(shell: State<'_, Shell>, input: NewCardInput) -> CmdResult<CreateOutcome> {
    Ok(shell.engine.create_checked(input).await?)
}

#[tauri::command]
pub async fn card_refresh_meta(shell: State<'_, Shell>, id: Uuid) -> CmdResult<CardView> {
    Ok(shell.engine.refresh_link_meta(id).await?)
}

/// Every card with a URL (`stale_only`: those never fetched or fetched for another URL).
#[tauri::command]
pub async fn cards_refresh_meta(shell: State<'_, Shell>, stale_only: bool) -> CmdResult<RefreshSummary> {
    Ok(shell.engine.refresh_all_link_meta(stale_only).await?)
}

#[tauri::command]
pub async fn cards_broken(shell: State<'_, Shell>) -> CmdResult<Vec<CardView>> {
    Ok(shell.engine.broken_links().await?)
}
