//! The IPC surface as data: every command with its argument names and types and its result type,
//! written out as `ui/src/bindings/ipc.ts` (typed `invoke` wrappers, an arg/result map the fake
//! backend is checked against, the event names and the error type). Types come from ts-rs, so the
//! TypeScript follows the Rust; `make bindings` regenerates and CI fails when the committed file
//! differs (`make check-bindings`).
//!
//! tauri-specta would derive this from the handlers themselves, but it needs `specta::Type` on the
//! engine's types, which derive ts-rs only; this table is the small generator in its place. The
//! test `ipc_table_matches_the_handlers` keeps it honest against build.rs' command list.

use deckhand_core::io::{ExportFormat, ExportReport, ImportOptions, ImportReport};
use deckhand_core::model::*;
use deckhand_core::undo::{UndoOutcome, UndoState};
use deckhand_protocol::CardChanges;
use ts_rs::TS;
use uuid::Uuid;

use crate::capture::Capture;
use crate::commands::settings::TokenStorageInfo;
use crate::desktop::{DesktopSettings, DesktopState};

pub struct CommandSig {
    pub name: &'static str,
    pub args: Vec<(&'static str, String)>,
    pub result: String,
}

macro_rules! sig {
    ($name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty) => {
        CommandSig { name: stringify!($name), args: vec![$((stringify!($arg), <$ty as TS>::name())),*], result: <$ret as TS>::name() }
    };
}

/// Mirrors the handler signatures in src-tauri/commands (minus `State`/`AppHandle`).
pub fn commands() -> Vec<CommandSig> {
    vec![
        sig!(cards_list(query: ListQuery) -> CardPage),
        sig!(card_get(id: Uuid) -> Option<CardView>),
        sig!(lanes_list() -> Vec<LaneSummary>),
        sig!(tags_list() -> Vec<String>),
        sig!(lane_add(name: String, position: Option<f64>) -> LaneSummary),
        sig!(lane_rename(name: String, new_name: String) -> Vec<Uuid>),
        sig!(lane_move(name: String, before: Option<String>, after: Option<String>) -> ()),
        sig!(lane_delete(name: String, cards_go: LaneCards) -> Vec<Uuid>),
        sig!(card_create(input: NewCardInput) -> CardView),
        sig!(card_update(id: Uuid, changes: CardChanges, base_version: Option<i64>) -> CardView),
        sig!(card_move(id: Uuid, lane: String, before: Option<Uuid>, after: Option<Uuid>) -> CardView),
        sig!(card_delete(id: Uuid) -> ()),
        sig!(cards_bulk(ids: Vec<Uuid>, action: BulkAction, job_id: String) -> u32),
        sig!(trash_list() -> Vec<deckhand_protocol::Card>),
        sig!(card_restore(id: Uuid) -> CardView),
        sig!(trash_empty() -> u32),
        sig!(card_history(id: Uuid, limit: u32) -> Vec<deckhand_protocol::CardVersion>),
        sig!(card_revert(id: Uuid, version: i64) -> CardView),
        sig!(card_create_checked(input: NewCardInput) -> deckhand_core::link::CreateOutcome),
        sig!(card_refresh_meta(id: Uuid) -> CardView),
        sig!(cards_refresh_meta(stale_only: bool) -> deckhand_core::link::RefreshSummary),
        sig!(cards_broken() -> Vec<CardView>),
        sig!(outbox_list() -> Vec<OutboxEntry>),
        sig!(outbox_retry(op_id: i64) -> ()),
        sig!(outbox_retry_all() -> u32),
        sig!(outbox_discard(op_id: i64) -> ()),
        sig!(recovery_report() -> Option<RecoveryReport>),
        sig!(recovery_list() -> Vec<SalvagedOp>),
        sig!(recovery_requeue(ids: Vec<i64>) -> RequeueReport),
        sig!(recovery_discard(ids: Vec<i64>) -> u32),
        sig!(conflicts_list() -> Vec<ConflictRecord>),
        sig!(conflict_resolve(card_id: Uuid, resolution: Resolution) -> ()),
        sig!(sync_pause() -> ()),
        sig!(sync_resume() -> ()),
        sig!(sync_now() -> ()),
        sig!(ui_ready() -> ()),
        sig!(sync_status() -> SyncStatus),
        sig!(sync_history(limit: u32) -> Vec<HistoryEntry>),
        sig!(open_logs_folder() -> ()),
        sig!(settings_get() -> AppSettings),
        sig!(settings_set(settings: AppSettings) -> AppSettings),
        sig!(token_storage() -> TokenStorageInfo),
        sig!(desktop_settings_get() -> DesktopState),
        sig!(desktop_settings_set(settings: DesktopSettings) -> DesktopState),
        sig!(capture_take() -> Option<Capture>),
        sig!(undo() -> Option<UndoOutcome>),
        sig!(redo() -> Option<UndoOutcome>),
        sig!(undo_state() -> UndoState),
        sig!(cards_import(path: String, options: ImportOptions) -> ImportReport),
        sig!(cards_export(path: String, format: ExportFormat, query: ListQuery) -> ExportReport),
        sig!(import_pick(folder: bool) -> Option<String>),
        sig!(export_pick(format: ExportFormat) -> Option<String>),
    ]
}

/// Events the shell emits: (Tauri event name, payload type).
pub fn events() -> Vec<(&'static str, String)> {
    vec![(crate::events::ENGINE_EVENT, <EngineEvent as TS>::name()), (crate::capture::QUICK_CAPTURE_EVENT, <Capture as TS>::name())]
}

fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// i64 crosses IPC as a JSON number (exact to 2^53), never a JS bigint, whatever ts-rs says.
pub fn wire(ts: &str) -> String {
    ts.replace("bigint", "number")
}

/// Named types a TypeScript type string refers to (each has its own ts-rs file beside ipc.ts).
fn referenced(ts: &str, into: &mut std::collections::BTreeSet<String>) {
    for word in ts.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        if word.starts_with(|c: char| c.is_ascii_uppercase()) && !matches!(word, "Array" | "Record" | "Partial") {
            into.insert(word.to_string());
        }
    }
}

pub fn render() -> String {
    let cmds = commands();
    let events = events();
    let mut imports = std::collections::BTreeSet::new();
    for c in &cmds {
        referenced(&c.result, &mut imports);
        for (_, t) in &c.args {
            referenced(t, &mut imports);
        }
    }
    for (_, t) in &events {
        referenced(t, &mut imports);
    }
    imports.insert("ErrorKind".into());
    let mut out = String::from("// Generated from src-tauri/ipc.rs by `make bindings`. Do not edit: CI fails when it drifts.\n");
    out.push_str("import { invoke } from \"@tauri-apps/api/core\";\n");
    for t in &imports {
        out.push_str(&format!("import type {{ {t} }} from \"./{t}\";\n"));
    }
    out.push_str("\n/** What every rejected command carries; the UI branches on `kind`. */\nexport interface CommandError {\n  kind: ErrorKind;\n  message: string;\n}\n");
    out.push_str("\n/** Each command's arguments (as sent: camelCase) and result. */\nexport interface Commands {\n");
    for c in &cmds {
        let args: Vec<String> = c.args.iter().map(|(n, t)| format!("{}: {}", camel(n), wire(t))).collect();
        let args = if args.is_empty() { "{}".to_string() } else { format!("{{ {} }}", args.join("; ")) };
        out.push_str(&format!("  {}: {{ args: {}; result: {} }};\n", c.name, args, wire(&c.result)));
    }
    out.push_str("}\n\nexport type CommandName = keyof Commands;\n");
    out.push_str("\n/** Typed `invoke` wrappers, one per command. */\nexport const commands = {\n");
    for c in &cmds {
        // Trailing optional arguments may be left out (sent as null).
        let params: Vec<String> = c.args.iter().map(|(n, t)| {
            let t = wire(t);
            if t.ends_with(" | null") { format!("{}: {} = null", camel(n), t) } else { format!("{}: {}", camel(n), t) }
        }).collect();
        let names: Vec<String> = c.args.iter().map(|(n, _)| camel(n)).collect();
        let body = if names.is_empty() { String::new() } else { format!(", {{ {} }}", names.join(", ")) };
        out.push_str(&format!(
            "  {}: ({}) => invoke<{}>(\"{}\"{}),\n",
            camel(c.name), params.join(", "), wire(&c.result), c.name, body
        ));
    }
    out.push_str("};\n\n/** Tauri events the shell emits, with their payloads. */\nexport interface Events {\n");
    for (name, t) in &events {
        out.push_str(&format!("  \"{name}\": {};\n", wire(t)));
    }
    out.push_str("}\n");
    for (name, _) in &events {
        out.push_str(&format!("export const {} = \"{name}\";\n", name.replace('-', "_").to_uppercase()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn bindings_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings")
    }

    /// `make bindings` runs this: writes ipc.ts and turns ts-rs' `bigint` into the wire's `number`.
    #[test]
    fn export_ipc_bindings() {
        let dir = bindings_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ipc.ts"), render()).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ts") {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains("bigint") {
                    std::fs::write(&path, wire(&text)).unwrap();
                }
            }
        }
    }

    /// Every command the handler registers is in the table and the other way round (build.rs'
    /// list is what the capability grants; lib.rs registers the same names).
    #[test]
    fn ipc_table_matches_the_handlers() {
        let build = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src-tauri/build.rs")).unwrap();
        let start = build.find("let commands: &[&str] = &[").unwrap();
        let end = start + build[start..].find("];").unwrap();
        let mut registered: Vec<String> = build[start..end].lines().filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\",").map(String::from)).collect();
        let mut table: Vec<String> = commands().iter().map(|c| c.name.to_string()).collect();
        registered.sort();
        table.sort();
        assert_eq!(table, registered);
        let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src-tauri/lib.rs")).unwrap();
        for name in &table {
            assert!(lib.contains(&format!("::{name},")), "{name} is not in generate_handler!");
        }
    }
}
