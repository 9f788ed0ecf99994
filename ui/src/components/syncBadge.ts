// The sync-state badge every card shows, straight from `CardView.sync_state`.
import type { SyncState } from "../bindings/SyncState";
import { h } from "../dom";

const LABELS: Record<SyncState, string> = {
  synced: "Synced",
  pending: "Pending",
  failed: "Sync failed",
  conflict: "Conflict",
};

export function syncBadge(s: SyncState): HTMLElement {
  return h("span", { class: `badge badge-${s}`, "data-sync-state": s }, h("span", { class: "dot", "aria-hidden": "true" }), LABELS[s]);
}
