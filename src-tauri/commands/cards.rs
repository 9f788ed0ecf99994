use deckhand_core::model::{BulkAction, CardPage, CardView, LaneSummary, ListQuery, NewCardInput};
use deckhand_protocol::CardChanges;
use tauri::State;
use uuid::Uuid;

use crate::error::CmdResult;
use crate::state::Shell;

#[tauri::command]
pub async fn cards_list(shell: State<'_, Shell>, query: ListQuery) -> CmdResult<CardPage> {
    Ok(shell.engine.list(query).await?)
}

#[tauri::command]
pub async fn card_get(shell: State<'_, Shell>, id: Uuid) -> CmdResult<Option<CardView>> {
    Ok(shell.engine.get(id).await?)
}

#[tauri::command]
pub async fn lanes_list(shell: State<'_, Shell>) -> CmdResult<Vec<LaneSummary>> {
    Ok(shell.engine.lanes().await?)
}

#[tauri::command]
pub async fn tags_list(shell: State<'_, Shell>) -> CmdResult<Vec<String>> {
    Ok(shell.engine.tags().await?)
}

#[tauri::command]
pub async fn card_create(shell: State<'_, Shell>, input: NewCardInput) -> CmdResult<CardView> {
    Ok(shell.engine.create(input).await?)
}

#[tauri::command]
/// `base_version`: the confirmed version the editor showed (`CardView::confirmed_version` when it
/// opened), so a remote change that landed while it was open is merged, not overwritten.
pub async fn card_update(shell: State<'_, Shell>, id: Uuid, changes: CardChanges, base_version: Option<i64>) -> CmdResult<CardView> {
    Ok(shell.engine.update_on(id, changes, base_version).await?)
}

/// Move a card into `lane` directly after `before` (the card that will precede it) or, without
/// one, directly before `after`; neither = end of the lane. The engine picks the position (and
/// rebalances the lane when the neighbours leave no room), so the UI never does float arithmetic.
#[tauri::command]
pub async fn card_move(shell: State<'_, Shell>, id: Uuid, lane: String, before: Option<Uuid>, after: Option<Uuid>) -> CmdResult<CardView> {
    Ok(shell.engine.move_card_between(id, lane, before, after).await?)
}

#[tauri::command]
pub async fn card_delete(shell: State<'_, Shell>, id: Uuid) -> CmdResult<()> {
    Ok(shell.engine.delete(id).await?)
}

#[tauri::command]
pub async fn cards_bulk(shell: State<'_, Shell>, ids: Vec<Uuid>, action: BulkAction, job_id: String) -> CmdResult<u32> {
    Ok(shell.engine.bulk(ids, action, Some(job_id)).await?)
}
