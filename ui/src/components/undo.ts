// Undo / redo: toolbar buttons, Ctrl+Z / Ctrl+Shift+Z (keyboard.ts; not while typing in a text
// field, where the browser's own text undo applies) and a toast saying what was undone and what
// was skipped. The engine does the work (a new write on the card as it is now); this only asks.
import { api, errorMessage, onEngineEvent } from "../api";
import type { UndoOutcome } from "../bindings/UndoOutcome";
import { h } from "../dom";
import { toast } from "./toasts";

let undoBtn: HTMLButtonElement | null = null;
let redoBtn: HTMLButtonElement | null = null;
let refreshing = 0;

/** The toast text for an outcome (null outcome: nothing to undo / redo). */
export function describeOutcome(o: UndoOutcome): string {
  const verb = o.direction === "undo" ? "Undone" : "Redone";
  let text = `${verb}: ${o.label}.`;
  if (o.applied.length === 0) text = `Nothing to ${o.direction}: ${o.label} was changed since.`;
  if (o.skipped.length > 0) text += ` Skipped: ${o.skipped.map((s) => s.message).join("; ")}.`;
  return text;
}

export async function refreshUndo(): Promise<void> {
  const mine = ++refreshing;
  try {
    const s = await api.undoState();
    if (mine !== refreshing || !undoBtn || !redoBtn) return;
    undoBtn.disabled = s.undo === null;
    redoBtn.disabled = s.redo === null;
    undoBtn.title = s.undo ? `Undo ${s.undo} (Ctrl+Z)` : "Nothing to undo";
    redoBtn.title = s.redo ? `Redo ${s.redo} (Ctrl+Shift+Z)` : "Nothing to redo";
  } catch (err) {
    console.error("undo state", err);
  }
}

export async function runUndo(direction: "undo" | "redo"): Promise<void> {
  try {
    const out = direction === "undo" ? await api.undo() : await api.redo();
    if (!out) toast(`Nothing to ${direction}.`, "info", 3000);
    else toast(describeOutcome(out), out.applied.length === 0 ? "error" : "success", out.skipped.length > 0 ? 10000 : 6000);
  } catch (err) {
    toast(`${direction === "undo" ? "Undo" : "Redo"} failed: ${errorMessage(err)}`, "error");
  }
  await refreshUndo();
}

/** Buttons in the top bar (after the view switch); they follow every card change. */
export function mountUndo(): void {
  const bar = document.querySelector(".topbar");
  if (!bar) return;
  undoBtn = h("button", { type: "button", class: "btn btn-ghost", id: "undo-btn", "aria-keyshortcuts": "Control+Z", disabled: true, onclick: () => void runUndo("undo") }, "Undo") as HTMLButtonElement;
  redoBtn = h("button", { type: "button", class: "btn btn-ghost", id: "redo-btn", "aria-keyshortcuts": "Control+Shift+Z", disabled: true, onclick: () => void runUndo("redo") }, "Redo") as HTMLButtonElement;
  const group = h("div", { class: "undo-group", role: "group", "aria-label": "Undo and redo" }, undoBtn, redoBtn);
  bar.querySelector(".segmented")?.after(group);
  void onEngineEvent((ev) => {
    if (ev.type === "cards_changed" || ev.type === "resync") void refreshUndo();
  });
  void refreshUndo();
}
