// The Tauri commands and events, typed from Rust: `commands` and the `Commands`/`Events` maps are
// generated into bindings/ipc.ts by src-tauri/ipc.rs (`make bindings`). No logic here.
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { EngineEvent } from "./bindings/EngineEvent";
import type { ErrorKind } from "./bindings/ErrorKind";
import { commands, ENGINE_EVENT, type CommandError, type Events } from "./bindings/ipc";

export type { TokenStorageInfo } from "./bindings/TokenStorageInfo";

export const api = commands;

export function onEngineEvent(handler: (ev: EngineEvent) => void): Promise<UnlistenFn> {
  return listen<Events[typeof ENGINE_EVENT]>(ENGINE_EVENT, (e) => handler(e.payload));
}

/** What the user is told per kind. A kind added in Rust fails this map's type check until it has
 * its own message. `null`: the engine's own message says it best (it names the field or card). */
const KIND_MESSAGE: Record<ErrorKind, string | null> = {
  validation: null,
  not_found: "That card no longer exists (deleted here or on another device).",
  storage: "Deckhand could not use its database.",
  corrupt_database: "The local database is damaged; Deckhand will set it aside and rebuild it on the next start.",
  disk_full: "The disk is full: free some space, then try again. Nothing was lost.",
  read_only: "Deckhand cannot write to its data folder (read-only), so changes cannot be saved. Cards are still shown.",
  invalid_state: null,
  config: null,
  io: null,
  lane_name_taken: null,
};

const KINDS = new Set(Object.keys(KIND_MESSAGE));

export function isCommandError(err: unknown): err is CommandError {
  return !!err && typeof err === "object" && "kind" in err && KINDS.has(String((err as { kind: unknown }).kind)) && "message" in err;
}

/** The human message of a rejected command (a `CommandError`, or anything else thrown). */
export function errorMessage(err: unknown): string {
  if (isCommandError(err)) {
    const own = KIND_MESSAGE[err.kind];
    return own ? `${own} (${err.message})` : err.message;
  }
  if (err && typeof err === "object" && "message" in err) return String((err as { message: unknown }).message ?? "Unknown error");
  return typeof err === "string" ? err : "Unknown error";
}
