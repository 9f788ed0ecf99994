// The Trash (issue 12): deleted cards that can still be restored, newest deletion first. Restore
// goes through the engine's restore op (queued: works offline); "Empty trash" purges on the server
// for every device, so it asks first and needs the connection.
import { api } from "../api";
import { attempt } from "../actions";
import type { Card } from "../bindings/Card";
import { h, replaceChildren } from "../dom";
import { time } from "../format";
import { confirmDialog, openModal } from "./modal";
import { toast } from "./toasts";

/** Restore a trashed card (from the Trash, or the "Moved to Trash" toast). */
export async function restoreCard(id: string): Promise<boolean> {
  const card = await attempt("Restore", () => api.cardRestore(id));
  if (card) toast(`Restored “${card.title}”`, "success");
  return card !== undefined;
}

function row(card: Card, refresh: () => Promise<void>): HTMLElement {
  return h(
    "li",
    { class: "trash-item", "data-id": card.id },
    h("div", { class: "trash-main" }, h("span", { class: "trash-title" }, card.title), h("span", { class: "trash-meta" }, `${card.lane} · deleted ${time(card.updated_at)}`)),
    h("button", {
      type: "button",
      class: "btn btn-xs",
      "aria-label": `Restore ${card.title}`,
      onclick: async () => {
        if (await restoreCard(card.id)) await refresh();
      },
    }, "Restore"),
  );
}

export async function openTrash(): Promise<HTMLDialogElement> {
  const listEl = h("ul", { class: "trash-list", "aria-label": "Deleted cards" });
  const empty = h("button", { type: "button", class: "btn btn-danger", disabled: true }, "Empty trash");
  const refresh = async () => {
    const cards = (await attempt("Loading the trash", () => api.trashList())) ?? [];
    if (cards.length === 0) replaceChildren(listEl, h("li", { class: "trash-empty" }, "The trash is empty."));
    else replaceChildren(listEl, ...cards.map((c) => row(c, refresh)));
    empty.disabled = cards.length === 0;
  };
  empty.addEventListener("click", async () => {
    const ok = await confirmDialog("Empty trash?", "Every card in the trash is deleted for good, on every device. This cannot be undone.", "Empty trash");
    if (!ok) return;
    const n = await attempt("Empty trash", () => api.trashEmpty());
    if (n !== undefined) toast(`Trash emptied: ${n} card${n === 1 ? "" : "s"} deleted for good`, "success");
    await refresh();
  });
  const dialog = openModal(
    { label: "Trash", className: "trash" },
    h("p", { class: "trash-hint" }, "Deleted cards stay here for 30 days, then they are gone for good."),
    listEl,
    h("div", { class: "modal-actions" }, empty, h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, "Close")),
  );
  await refresh();
  return dialog;
}
