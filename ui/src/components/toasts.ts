// Toasts in a polite live region: failures, resolutions, confirmations.
import { h } from "../dom";

let region: HTMLElement | null = null;

export function mountToasts(parent: HTMLElement): void {
  region = h("div", { class: "toasts", role: "status", "aria-live": "polite", "aria-label": "Notifications" });
  parent.appendChild(region);
}

export type ToastKind = "info" | "success" | "error";

export function toast(message: string, kind: ToastKind = "info", timeoutMs = 6000): void {
  if (!region) return;
  const item = h(
    "div",
    { class: `toast toast-${kind}` },
    h("span", { class: "toast-text" }, message),
    h("button", { class: "icon-btn", type: "button", "aria-label": "Dismiss notification", onclick: () => item.remove() }, "×"),
  );
  region.appendChild(item);
  while (region.children.length > 4) region.firstElementChild?.remove();
  window.setTimeout(() => item.remove(), timeoutMs);
}
