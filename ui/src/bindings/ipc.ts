// Generated from src-tauri/ipc.rs by `make bindings`. Do not edit: CI fails when it drifts.
import { invoke } from "@tauri-apps/api/core";
import type { AppSettings } from "./AppSettings";
import type { BulkAction } from "./BulkAction";
import type { Capture } from "./Capture";
import type { Card } from "./Card";
import type { CardChanges } from "./CardChanges";
import type { CardPage } from "./CardPage";
import type { CardVersion } from "./CardVersion";
import type { CardView } from "./CardView";
import type { ConflictRecord } from "./ConflictRecord";
import type { CreateOutcome } from "./CreateOutcome";
import type { DesktopSettings } from "./DesktopSettings";
import type { DesktopState } from "./DesktopState";
import type { EngineEvent } from "./EngineEvent";
import type { ErrorKind } from "./ErrorKind";
import type { ExportFormat } from "./ExportFormat";
import type { ExportReport } from "./ExportReport";
import type { HistoryEntry } from "./HistoryEntry";
import type { ImportOptions } from "./ImportOptions";
import type { ImportReport } from "./ImportReport";
import type { LaneCards } from "./LaneCards";
import type { LaneSummary } from "./LaneSummary";
import type { ListQuery } from "./ListQuery";
import type { NewCardInput } from "./NewCardInput";
import type { OutboxEntry } from "./OutboxEntry";
import type { RecoveryReport } from "./RecoveryReport";
import type { RefreshSummary } from "./RefreshSummary";
import type { RequeueReport } from "./RequeueReport";
import type { Resolution } from "./Resolution";
import type { SalvagedOp } from "./SalvagedOp";
import type { SyncStatus } from "./SyncStatus";
import type { TokenStorageInfo } from "./TokenStorageInfo";
import type { UndoOutcome } from "./UndoOutcome";
import type { UndoState } from "./UndoState";

/** What every rejected command carries; the UI branches on `kind`. */
export interface CommandError {
  kind: ErrorKind;
  message: string;
}

/** Each command's arguments (as sent: camelCase) and result. */
export interface Commands {
  cards_list: { args: { query: ListQuery }; result: CardPage };
  card_get: { args: { id: string }; result: CardView | null };
  lanes_list: { args: {}; result: Array<LaneSummary> };
  tags_list: { args: {}; result: Array<string> };
  lane_add: { args: { name: string; position: number | null }; result: LaneSummary };
  lane_rename: { args: { name: string; newName: string }; result: Array<string> };
  lane_move: { args: { name: string; before: string | null; after: string | null }; result: null };
  lane_delete: { args: { name: string; cardsGo: LaneCards }; result: Array<string> };
  card_create: { args: { input: NewCardInput }; result: CardView };
  card_update: { args: { id: string; changes: CardChanges; baseVersion: number | null }; result: CardView };
  card_move: { args: { id: string; lane: string; before: string | null; after: string | null }; result: CardView };
  card_delete: { args: { id: string }; result: null };
  cards_bulk: { args: { ids: Array<string>; action: BulkAction; jobId: string }; result: number };
  trash_list: { args: {}; result: Array<Card> };
  card_restore: { args: { id: string }; result: CardView };
  trash_empty: { args: {}; result: number };
  card_history: { args: { id: string; limit: number }; result: Array<CardVersion> };
  card_revert: { args: { id: string; version: number }; result: CardView };
  card_create_checked: { args: { input: NewCardInput }; result: CreateOutcome };
  card_refresh_meta: { args: { id: string }; result: CardView };
  cards_refresh_meta: { args: { staleOnly: boolean }; result: RefreshSummary };
  cards_broken: { args: {}; result: Array<CardView> };
  outbox_list: { args: {}; result: Array<OutboxEntry> };
  outbox_retry: { args: { opId: number }; result: null };
  outbox_retry_all: { args: {}; result: number };
  outbox_discard: { args: { opId: number }; result: null };
  recovery_report: { args: {}; result: RecoveryReport | null };
  recovery_list: { args: {}; result: Array<SalvagedOp> };
  recovery_requeue: { args: { ids: Array<number> }; result: RequeueReport };
  recovery_discard: { args: { ids: Array<number> }; result: number };
  conflicts_list: { args: {}; result: Array<ConflictRecord> };
  conflict_resolve: { args: { cardId: string; resolution: Resolution }; result: null };
  sync_pause: { args: {}; result: null };
  sync_resume: { args: {}; result: null };
  sync_now: { args: {}; result: null };
  ui_ready: { args: {}; result: null };
  sync_status: { args: {}; result: SyncStatus };
  sync_history: { args: { limit: number }; result: Array<HistoryEntry> };
  open_logs_folder: { args: {}; result: null };
  settings_get: { args: {}; result: AppSettings };
  settings_set: { args: { settings: AppSettings }; result: AppSettings };
  token_storage: { args: {}; result: TokenStorageInfo };
  desktop_settings_get: { args: {}; result: DesktopState };
  desktop_settings_set: { args: { settings: DesktopSettings }; result: DesktopState };
  capture_take: { args: {}; result: Capture | null };
  undo: { args: {}; result: UndoOutcome | null };
  redo: { args: {}; result: UndoOutcome | null };
  undo_state: { args: {}; result: UndoState };
  cards_import: { args: { path: string; options: ImportOptions }; result: ImportReport };
  cards_export: { args: { path: string; format: ExportFormat; query: ListQuery }; result: ExportReport };
  import_pick: { args: { folder: boolean }; result: string | null };
  export_pick: { args: { format: ExportFormat }; result: string | null };
}

export type CommandName = keyof Commands;

/** Typed `invoke` wrappers, one per command. */
export const commands = {
  cardsList: (query: ListQuery) => invoke<CardPage>("cards_list", { query }),
  cardGet: (id: string) => invoke<CardView | null>("card_get", { id }),
  lanesList: () => invoke<Array<LaneSummary>>("lanes_list"),
  tagsList: () => invoke<Array<string>>("tags_list"),
  laneAdd: (name: string, position: number | null = null) => invoke<LaneSummary>("lane_add", { name, position }),
  laneRename: (name: string, newName: string) => invoke<Array<string>>("lane_rename", { name, newName }),
  laneMove: (name: string, before: string | null = null, after: string | null = null) => invoke<null>("lane_move", { name, before, after }),
  laneDelete: (name: string, cardsGo: LaneCards) => invoke<Array<string>>("lane_delete", { name, cardsGo }),
  cardCreate: (input: NewCardInput) => invoke<CardView>("card_create", { input }),
  cardUpdate: (id: string, changes: CardChanges, baseVersion: number | null = null) => invoke<CardView>("card_update", { id, changes, baseVersion }),
  cardMove: (id: string, lane: string, before: string | null = null, after: string | null = null) => invoke<CardView>("card_move", { id, lane, before, after }),
  cardDelete: (id: string) => invoke<null>("card_delete", { id }),
  cardsBulk: (ids: Array<string>, action: BulkAction, jobId: string) => invoke<number>("cards_bulk", { ids, action, jobId }),
  trashList: () => invoke<Array<Card>>("trash_list"),
  cardRestore: (id: string) => invoke<CardView>("card_restore", { id }),
  trashEmpty: () => invoke<number>("trash_empty"),
  cardHistory: (id: string, limit: number) => invoke<Array<CardVersion>>("card_history", { id, limit }),
  cardRevert: (id: string, version: number) => invoke<CardView>("card_revert", { id, version }),
  cardCreateChecked: (input: NewCardInput) => invoke<CreateOutcome>("card_create_checked", { input }),
  cardRefreshMeta: (id: string) => invoke<CardView>("card_refresh_meta", { id }),
  cardsRefreshMeta: (staleOnly: boolean) => invoke<RefreshSummary>("cards_refresh_meta", { staleOnly }),
  cardsBroken: () => invoke<Array<CardView>>("cards_broken"),
  outboxList: () => invoke<Array<OutboxEntry>>("outbox_list"),
  outboxRetry: (opId: number) => invoke<null>("outbox_retry", { opId }),
  outboxRetryAll: () => invoke<number>("outbox_retry_all"),
  outboxDiscard: (opId: number) => invoke<null>("outbox_discard", { opId }),
  recoveryReport: () => invoke<RecoveryReport | null>("recovery_report"),
  recoveryList: () => invoke<Array<SalvagedOp>>("recovery_list"),
  recoveryRequeue: (ids: Array<number>) => invoke<RequeueReport>("recovery_requeue", { ids }),
  recoveryDiscard: (ids: Array<number>) => invoke<number>("recovery_discard", { ids }),
  conflictsList: () => invoke<Array<ConflictRecord>>("conflicts_list"),
  conflictResolve: (cardId: string, resolution: Resolution) => invoke<null>("conflict_resolve", { cardId, resolution }),
  syncPause: () => invoke<null>("sync_pause"),
  syncResume: () => invoke<null>("sync_resume"),
  syncNow: () => invoke<null>("sync_now"),
  uiReady: () => invoke<null>("ui_ready"),
  syncStatus: () => invoke<SyncStatus>("sync_status"),
  syncHistory: (limit: number) => invoke<Array<HistoryEntry>>("sync_history", { limit }),
  openLogsFolder: () => invoke<null>("open_logs_folder"),
  settingsGet: () => invoke<AppSettings>("settings_get"),
  settingsSet: (settings: AppSettings) => invoke<AppSettings>("settings_set", { settings }),
  tokenStorage: () => invoke<TokenStorageInfo>("token_storage"),
  desktopSettingsGet: () => invoke<DesktopState>("desktop_settings_get"),
  desktopSettingsSet: (settings: DesktopSettings) => invoke<DesktopState>("desktop_settings_set", { settings }),
  captureTake: () => invoke<Capture | null>("capture_take"),
  undo: () => invoke<UndoOutcome | null>("undo"),
  redo: () => invoke<UndoOutcome | null>("redo"),
  undoState: () => invoke<UndoState>("undo_state"),
  cardsImport: (path: string, options: ImportOptions) => invoke<ImportReport>("cards_import", { path, options }),
  cardsExport: (path: string, format: ExportFormat, query: ListQuery) => invoke<ExportReport>("cards_export", { path, format, query }),
  importPick: (folder: boolean) => invoke<string | null>("import_pick", { folder }),
  exportPick: (format: ExportFormat) => invoke<string | null>("export_pick", { format }),
};

/** Tauri events the shell emits, with their payloads. */
export interface Events {
  "engine-event": EngineEvent;
  "quick-capture": Capture;
}
export const ENGINE_EVENT = "engine-event";
export const QUICK_CAPTURE = "quick-capture";
