//! Lane commands: add, rename (moves the lane's cards), move between neighbours, delete (its
//! cards go where the user chose). Each is one engine call; errors are typed `{kind, message}`
//! (`lane_name_taken`, `not_found`, `validation`, `invalid_state`).

use deckhand_core::model::{LaneCards, LaneSummary};
use tauri::State;
use uuid::Uuid;

use crate::error::CmdResult;
use crate::state::Shell;

#[tauri::command]
pub async fn lane_add(shell: State<'_, Shell>, name: String, position: Option<f64>) -> CmdResult<LaneSummary> {
    Ok(shell.engine.add_lane(name, position).await?)
}

/// Returns the cards that moved with the lane.
#[tauri::command]
pub async fn lane_rename(shell: State<'_, Shell>, name: String, new_name: String) -> CmdResult<Vec<Uuid>> {
    Ok(shell.engine.rename_lane(name, new_name).await?)
}

/// `before`: the lane that will precede it; `after`: the lane that will follow it (neither = end).
#[tauri::command]
pub async fn lane_move(shell: State<'_, Shell>, name: String, before: Option<String>, after: Option<String>) -> CmdResult<()> {
    Ok(shell.engine.move_lane(name, before, after).await?)
}

/// Returns the cards moved (or moved to the Trash).
#[tauri::command]
pub async fn lane_delete(shell: State<'_, Shell>, name: String, cards_go: LaneCards) -> CmdResult<Vec<Uuid>> {
    Ok(shell.engine.delete_lane(name, cards_go).await?)
}
