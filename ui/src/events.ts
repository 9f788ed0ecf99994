// The single `engine-event` stream: each event refreshes exactly what it names.
import { onEngineEvent } from "./api";
import type { EngineEvent } from "./bindings/EngineEvent";
import { conflictResolvedElsewhere, conflictUpdated } from "./components/conflict";
import { inboxAdd, inboxRemove, loadInbox } from "./components/inbox";
import { toast } from "./components/toasts";
import { loadLanes, loadStatus, loadTags, refreshCards, reloadViews } from "./data";
import { notify, state } from "./state";

// cards_changed events arriving together are coalesced into one refetch.
let pendingIds = new Set<string>();
let flushing: Promise<void> | null = null;

function queueCards(ids: string[]): void {
  for (const id of ids) pendingIds.add(id);
  if (flushing || pendingIds.size === 0) return;
  flushing = (async () => {
    // Run only after `flushing` is set: a body that finished synchronously (nothing to fetch)
    // would clear it before the assignment, leaving a settled promise there for good, and no
    // card would ever be refreshed again (an empty `cards_changed` from a lane sync did that).
    await Promise.resolve();
    while (pendingIds.size > 0) {
      const batch = [...pendingIds];
      pendingIds = new Set();
      try {
        await refreshCards(batch);
      } catch (err) {
        console.error("refresh failed", err);
      }
    }
    flushing = null;
  })();
}

async function reloadEverything(): Promise<void> {
  await Promise.all([reloadViews(), loadLanes(), loadTags(), loadStatus(), loadInbox()]);
}

export function handleEvent(ev: EngineEvent): void {
  switch (ev.type) {
    case "cards_changed":
      queueCards(ev.ids);
      break;
    case "status_changed":
      state.status = ev.status;
      notify("status");
      break;
    case "connection_changed":
      if (state.status) {
        state.status = { ...state.status, connection: ev.state };
        notify("status");
      }
      break;
    case "breaker_changed":
      if (state.status) {
        state.status = { ...state.status, breaker: ev.state };
        notify("status");
      }
      if (ev.state === "open") toast("The server keeps failing: sync is backing off for a while.", "error");
      break;
    // A background conflict goes to the inbox: never a modal over the user's work, never focus.
    case "conflict_detected":
      inboxAdd(ev.conflict);
      break;
    case "conflict_updated":
      inboxAdd(ev.conflict);
      conflictUpdated(ev.conflict);
      break;
    case "conflict_resolved":
      inboxRemove(ev.card_id);
      conflictResolvedElsewhere(ev.card_id);
      break;
    case "op_failed": {
      const title = state.cards.get(ev.card_id)?.title;
      toast(`Sync failed${title ? ` for “${title}”` : ""}: ${ev.error.message}`, "error", 9000);
      break;
    }
    case "resync":
      // The shell fell behind the engine's events, or the engine resynced with a restored
      // server: anything may have changed, so every view, lane, tag and the status reload.
      void reloadEverything().catch((err) => console.error("reload failed", err));
      break;
    case "lanes_changed":
      // Renamed, moved, added or deleted here or on another device: the columns follow.
      void loadLanes()
        .then(() => reloadViews())
        .catch((err) => console.error("reload failed", err));
      break;
    case "bulk_progress":
      if (state.bulk && state.bulk.jobId === ev.job_id && !state.bulk.finished) {
        state.bulk.done = ev.done;
        state.bulk.total = ev.total;
        notify("bulk");
      }
      break;
  }
}

export function subscribeEngineEvents(): Promise<unknown> {
  return onEngineEvent(handleEvent);
}
