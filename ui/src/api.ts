// Typed wrappers over the Tauri commands of docs/commands.md, plus the single `engine-event`.
// No logic here: every call goes straight to Rust.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AppSettings } from "./bindings/AppSettings";
import type { BulkAction } from "./bindings/BulkAction";
import type { CardChanges } from "./bindings/CardChanges";
import type { CardPage } from "./bindings/CardPage";
import type { CardView } from "./bindings/CardView";
import type { ConflictRecord } from "./bindings/ConflictRecord";
import type { EngineEvent } from "./bindings/EngineEvent";
import type { ErrorBody } from "./bindings/ErrorBody";
import type { HistoryEntry } from "./bindings/HistoryEntry";
import type { LaneSummary } from "./bindings/LaneSummary";
import type { ListQuery } from "./bindings/ListQuery";
import type { NewCardInput } from "./bindings/NewCardInput";
import type { OutboxEntry } from "./bindings/OutboxEntry";
import type { RequeueReport } from "./bindings/RequeueReport";
import type { Resolution } from "./bindings/Resolution";
import type { SyncStatus } from "./bindings/SyncStatus";

/** Where the sync token is kept (src-tauri/commands/settings.rs). */
export interface TokenStorageInfo {
  storage: "keychain" | "file";
  fallback_reason: string | null;
  file: string | null;
}

export const api = {
  cardsList: (query: ListQuery) => invoke<CardPage>("cards_list", { query }),
  cardGet: (id: string) => invoke<CardView | null>("card_get", { id }),
  lanesList: () => invoke<LaneSummary[]>("lanes_list"),
  tagsList: () => invoke<string[]>("tags_list"),
  cardCreate: (input: NewCardInput) => invoke<CardView>("card_create", { input }),
  /** `baseVersion`: the confirmed version the edit was made on (the editor's card when it opened). */
  cardUpdate: (id: string, changes: CardChanges, baseVersion: number | null = null) =>
    invoke<CardView>("card_update", { id, changes, baseVersion }),
  cardMove: (id: string, lane: string, position: number | null) =>
    invoke<CardView>("card_move", { id, lane, position }),
  cardDelete: (id: string) => invoke<null>("card_delete", { id }),
  cardsBulk: (ids: string[], action: BulkAction, jobId: string) =>
    invoke<number>("cards_bulk", { ids, action, jobId }),
  outboxList: () => invoke<OutboxEntry[]>("outbox_list"),
  outboxRetry: (opId: number) => invoke<null>("outbox_retry", { opId }),
  outboxRetryAll: () => invoke<number>("outbox_retry_all"),
  outboxDiscard: (opId: number) => invoke<null>("outbox_discard", { opId }),
  conflictsList: () => invoke<ConflictRecord[]>("conflicts_list"),
  conflictResolve: (cardId: string, resolution: Resolution) =>
    invoke<null>("conflict_resolve", { cardId, resolution }),
  syncPause: () => invoke<null>("sync_pause"),
  syncResume: () => invoke<null>("sync_resume"),
  syncNow: () => invoke<null>("sync_now"),
  syncStatus: () => invoke<SyncStatus>("sync_status"),
  syncHistory: (limit: number) => invoke<HistoryEntry[]>("sync_history", { limit }),
  settingsGet: () => invoke<AppSettings>("settings_get"),
  settingsSet: (settings: AppSettings) => invoke<AppSettings>("settings_set", { settings }),
  tokenStorage: () => invoke<TokenStorageInfo>("token_storage"),
  openLogsFolder: () => invoke<null>("open_logs_folder"),
  /** `[]` = every salvaged op. */
  recoveryRequeue: (ids: number[]) => invoke<RequeueReport>("recovery_requeue", { ids }),
  recoveryDiscard: (ids: number[]) => invoke<number>("recovery_discard", { ids }),
};

export function onEngineEvent(handler: (ev: EngineEvent) => void): Promise<UnlistenFn> {
  return listen<EngineEvent>("engine-event", (e) => handler(e.payload));
}

/** The human message of a rejected command (an `ErrorBody`, or anything else thrown). */
export function errorMessage(err: unknown): string {
  if (err && typeof err === "object" && "message" in err) {
    const body = err as Partial<ErrorBody>;
    return String(body.message ?? "Unknown error");
  }
  return typeof err === "string" ? err : "Unknown error";
}
