// Native <dialog> helpers: modal, top layer, focus containment, Escape closes.
import { h, type Child } from "../dom";

export interface ModalOptions {
  label: string;
  className?: string;
  /** Escape / backdrop dismissal allowed (default true). */
  dismissable?: boolean;
  onClose?: () => void;
}

export function openModal(opts: ModalOptions, ...children: Child[]): HTMLDialogElement {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  // Focus goes back where it was when the dialog closes (the button that opened it, say).
  const opener = document.activeElement as HTMLElement | null;
  const dlg = h(
    "dialog",
    { class: `modal ${opts.className ?? ""}`, "aria-modal": "true", "aria-labelledby": titleId },
    // The title takes the initial focus, so showModal() doesn't scroll to some control deep inside.
    h("h2", { id: titleId, class: "modal-title", tabindex: -1, autofocus: true }, opts.label),
    ...children,
  );
  dlg.addEventListener("cancel", (e) => {
    if (opts.dismissable === false) e.preventDefault();
  });
  dlg.addEventListener("close", () => {
    dlg.remove();
    opts.onClose?.();
    if (opener?.isConnected && !document.querySelector("dialog[open]")) opener.focus({ preventScroll: true });
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  return dlg;
}

/** Resolves true when the user confirms, false on cancel/Escape. */
export function confirmDialog(title: string, message: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    let result = false;
    const dlg = openModal(
      { label: title, className: "confirm", onClose: () => resolve(result) },
      h("p", { class: "confirm-text" }, message),
      h(
        "div",
        { class: "modal-actions" },
        h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel"),
        h(
          "button",
          {
            type: "button",
            class: "btn btn-danger",
            onclick: () => {
              result = true;
              dlg.close();
            },
          },
          confirmLabel,
        ),
      ),
    );
    (dlg.querySelector(".btn") as HTMLButtonElement | null)?.focus();
  });
}
