// Toasts: confirmations and news in a polite live region; errors in an assertive one (role
// "alert"), so a screen reader interrupts for what went wrong and not for "Saved".
import { h } from "../dom";

let polite: HTMLElement | null = null;
let assertive: HTMLElement | null = null;

export function mountToasts(parent: HTMLElement): void {
  polite = h("div", { class: "toast-region", role: "status", "aria-live": "polite", "aria-label": "Notifications" });
  assertive = h("div", { class: "toast-region", role: "alert", "aria-live": "assertive", "aria-label": "Errors" });
  parent.appendChild(h("div", { class: "toasts" }, assertive, polite));
}

export type ToastKind = "info" | "success" | "error";

/** An undo-like button on a toast ("Restore" after a delete); clicking it closes the toast. */
export interface ToastAction {
  label: string;
  run: () => unknown;
}

export function toast(message: string, kind: ToastKind = "info", timeoutMs = 6000, action?: ToastAction): void {
  const region = kind === "error" ? assertive : polite;
  if (!region) return;
  const item = h(
    "div",
    { class: `toast toast-${kind}` },
    h("span", { class: "toast-text" }, message),
    action
      ? h("button", { type: "button", class: "btn btn-xs toast-action", onclick: () => { item.remove(); void action.run(); } }, action.label)
      : null,
    h("button", { class: "icon-btn", type: "button", "aria-label": "Dismiss notification", onclick: () => item.remove() }, "×"),
  );
  region.appendChild(item);
  while (region.children.length > 4) region.firstElementChild?.remove();
  window.setTimeout(() => item.remove(), timeoutMs);
}
