// UI state (what is shown, what is selected) and a tiny topic-based change notifier.
// Card data is whatever Rust last returned: nothing here decides sync state.
import type { AppSettings } from "./bindings/AppSettings";
import type { CardView } from "./bindings/CardView";
import type { LaneSummary } from "./bindings/LaneSummary";
import type { SyncStatus } from "./bindings/SyncStatus";

export type View = "board" | "list" | "settings";
export type Topic = "board" | "list" | "lanes" | "tags" | "status" | "selection" | "view" | "bulk" | "card" | "conflicts";

export interface LaneData {
  ids: string[];
  total: number;
  limit: number;
}

export interface BulkJob {
  jobId: string;
  label: string;
  done: number;
  total: number;
  finished: boolean;
  error: string | null;
}

export const BOARD_PAGE = 50;
export const LIST_PAGE = 100;
export const DEFAULT_LANE = "inbox";

export const state = {
  view: "board" as View,
  lanes: [] as LaneSummary[],
  tags: [] as string[],
  filter: { text: "", tag: "", lane: "" },
  status: null as SyncStatus | null,
  settings: null as AppSettings | null,
  /** Every card currently loaded into a view, by id. */
  cards: new Map<string, CardView>(),
  board: new Map<string, LaneData>(),
  list: { total: 0, pages: new Map<number, string[]>(), loading: new Set<number>() },
  selection: new Set<string>(),
  lastSelected: null as string | null,
  editingId: null as string | null,
  bulk: null as BulkJob | null,
  /** Conflicts waiting in the inbox (the badge). */
  conflictCount: 0,
  /** Card to focus once the next render has it (keyboard moves keep focus on the card). */
  focusAfterRender: null as string | null,
};

type Listener = (detail?: unknown) => void;
const listeners = new Map<Topic, Set<Listener>>();

export function subscribe(topic: Topic, fn: Listener): () => void {
  let set = listeners.get(topic);
  if (!set) listeners.set(topic, (set = new Set()));
  set.add(fn);
  return () => set!.delete(fn);
}

export function notify(topic: Topic, detail?: unknown): void {
  for (const fn of listeners.get(topic) ?? []) fn(detail);
}

/** Lane names in display order: what Rust lists, with the default lane always present. */
export function laneNames(): string[] {
  const names = state.lanes.map((l) => l.lane);
  // Lanes are records now (a deleted Inbox stays deleted); an empty board still shows one lane.
  if (names.length === 0) names.push(DEFAULT_LANE);
  return names;
}

/** The board lane a card's `lane` belongs to: lanes match names case-insensitively ("inbox" cards
 * are in "Inbox"). */
export function boardLaneOf(lane: string): string {
  const key = lane.trim().toLowerCase();
  return laneNames().find((n) => n.trim().toLowerCase() === key) ?? lane;
}
