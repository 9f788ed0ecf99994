// User actions: each is one or two commands plus a toast on failure. No sync decisions here.
import { api, errorMessage } from "./api";
import type { BulkAction } from "./bindings/BulkAction";
import type { CardView } from "./bindings/CardView";
import { confirmDialog } from "./components/modal";
import { restoreCard } from "./components/trash";
import { toast } from "./components/toasts";
import { dropNeighbours, END_OF_LANE, type Neighbours, stepNeighbours } from "./positions";
import { boardLaneOf, laneNames, notify, state } from "./state";

export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    toast(`${what} failed: ${errorMessage(err)}`, "error");
    return undefined;
  }
}

export function laneCards(lane: string): CardView[] {
  const ids = state.board.get(lane)?.ids ?? [];
  return ids.map((id) => state.cards.get(id)).filter((c): c is CardView => Boolean(c));
}

/** Move a card between `to`'s neighbours (the engine picks the position). */
export function moveCard(id: string, lane: string, to: Neighbours): Promise<unknown> {
  return attempt("Move", () => api.cardMove(id, lane, to.before, to.after));
}

export function dropCard(id: string, lane: string, beforeId: string | null): Promise<unknown> {
  if (beforeId === id) return Promise.resolve();
  return moveCard(id, lane, dropNeighbours(laneCards(lane), id, beforeId));
}

/** Alt+Left/Right: previous/next lane (end of it). Alt+Up/Down: reorder within the lane. */
export function moveByKey(id: string, key: string): Promise<unknown> | undefined {
  const card = state.cards.get(id);
  if (!card) return undefined;
  if (key === "ArrowLeft" || key === "ArrowRight") {
    const lanes = laneNames();
    const at = lanes.indexOf(boardLaneOf(card.lane));
    const next = lanes[at + (key === "ArrowLeft" ? -1 : 1)];
    if (at < 0 || !next) return undefined;
    return moveCard(id, next, END_OF_LANE);
  }
  const cards = laneCards(boardLaneOf(card.lane));
  const index = cards.findIndex((c) => c.id === id);
  if (index < 0) return undefined;
  const to = stepNeighbours(cards, index, key === "ArrowUp" ? -1 : 1);
  if (to === undefined) return undefined;
  return moveCard(id, boardLaneOf(card.lane), to);
}

export async function deleteCard(id: string): Promise<boolean> {
  const card = state.cards.get(id);
  const ok = await confirmDialog(
    "Delete card?",
    `“${card?.title ?? "This card"}” moves to the Trash on this device and, once synced, everywhere. You can restore it from the Trash.`,
    "Delete",
  );
  if (!ok) return false;
  const done = await attempt("Delete", () => api.cardDelete(id));
  if (done === undefined) return false;
  toast("Moved to Trash", "success", 10000, { label: "Restore", run: () => restoreCard(id) });
  return true;
}

async function failedOpFor(cardId: string): Promise<number | null> {
  const entries = await api.outboxList();
  const mine = entries.filter((e) => e.card_id === cardId);
  const op = mine.find((e) => e.state === "failed") ?? mine[0];
  return op ? Number(op.op_id) : null;
}

export async function retryCard(cardId: string): Promise<void> {
  await attempt("Retry", async () => {
    const opId = await failedOpFor(cardId);
    if (opId === null) throw { message: "no queued operation for this card" };
    await api.outboxRetry(opId);
  });
}

export async function discardCard(cardId: string): Promise<void> {
  const ok = await confirmDialog(
    "Discard local change?",
    "The failed change is dropped and the card goes back to its last synced copy.",
    "Discard",
  );
  if (!ok) return;
  await attempt("Discard", async () => {
    const opId = await failedOpFor(cardId);
    if (opId === null) throw { message: "no queued operation for this card" };
    await api.outboxDiscard(opId);
  });
}

export async function runBulk(action: BulkAction, label: string): Promise<void> {
  const ids = [...state.selection];
  if (ids.length === 0) return;
  const jobId = crypto.randomUUID();
  state.bulk = { jobId, label, done: 0, total: ids.length, finished: false, error: null };
  notify("bulk");
  try {
    const affected = await api.cardsBulk(ids, action, jobId);
    if (state.bulk?.jobId === jobId) {
      state.bulk.finished = true;
      state.bulk.done = state.bulk.total;
      state.bulk.label = `${label}: ${affected} card${affected === 1 ? "" : "s"} done`;
    }
    state.selection.clear();
    notify("selection");
  } catch (err) {
    if (state.bulk?.jobId === jobId) {
      state.bulk.finished = true;
      state.bulk.error = errorMessage(err);
    }
    toast(`${label} failed: ${errorMessage(err)}`, "error");
  }
  notify("bulk");
}

export function toggleSelect(id: string, shift: boolean, order: string[]): void {
  const sel = state.selection;
  if (shift && state.lastSelected && order.includes(state.lastSelected) && order.includes(id)) {
    const a = order.indexOf(state.lastSelected);
    const b = order.indexOf(id);
    for (let i = Math.min(a, b); i <= Math.max(a, b); i++) sel.add(order[i]);
  } else if (sel.has(id)) {
    sel.delete(id);
  } else {
    sel.add(id);
  }
  state.lastSelected = id;
  notify("selection");
}
