// Keeps keyboard focus on the same card (and the same control in it) across a re-render.
import { state } from "./state";

export interface FocusMark {
  id: string;
  control: string | null;
}

const CONTROLS = [".card-check", ".card-title"];

export function captureFocus(root: HTMLElement): FocusMark | null {
  if (state.focusAfterRender) return { id: state.focusAfterRender, control: null };
  const active = document.activeElement as HTMLElement | null;
  if (!active || !root.contains(active)) return null;
  const card = active.closest<HTMLElement>("[data-card-id]");
  if (!card) return null;
  const control = CONTROLS.find((c) => active.matches(c)) ?? null;
  return { id: card.getAttribute("data-card-id")!, control };
}

export function restoreFocus(root: HTMLElement, mark: FocusMark | null): void {
  if (!mark) return;
  const card = root.querySelector<HTMLElement>(`[data-card-id="${CSS.escape(mark.id)}"]`);
  if (!card) return;
  const target = (mark.control && card.querySelector<HTMLElement>(mark.control)) || card;
  target.focus({ preventScroll: root.classList.contains("list-spacer") });
  if (state.focusAfterRender === mark.id) state.focusAfterRender = null;
}
