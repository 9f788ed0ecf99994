// Quick capture: a small form the shortcut, the tray's "New card" and `deckhand://new?…` links
// open. The card is saved locally at once (offline is fine); a link that already has a card
// offers that card instead of a duplicate.
import { listen } from "@tauri-apps/api/event";
import { api, errorMessage } from "../api";
import type { Capture } from "../bindings/Capture";
import { QUICK_CAPTURE } from "../bindings/ipc";
import { h } from "../dom";
import { safeHttpUrl } from "../safeurl";
import { openEditor } from "./editor";
import { openModal } from "./modal";
import { toast } from "./toasts";

let open: HTMLDialogElement | null = null;

/** Listens for captures and takes one that arrived before the UI did (the app was started by a link). */
export async function mountCapture(): Promise<void> {
  await listen(QUICK_CAPTURE, () => void takeAndOpen());
  await takeAndOpen();
}

async function takeAndOpen(): Promise<void> {
  const c = await api.captureTake();
  if (c) openCapture(c);
}

/** The card that already has this link, if any (the index searches urls too; match exactly). */
export function openCapture(c: Capture): void {
  open?.close();
  const title = h("input", { id: "cap-title", type: "text", required: true, value: c.title, "aria-label": "Title" });
  const url = h("input", { id: "cap-url", type: "url", value: c.url ?? "", placeholder: "https://…", "aria-label": "Link" });
  const note = h("div", { class: "capture-note", role: "status" });
  let allowDuplicate = false;
  const save = h("button", { type: "submit", class: "btn btn-primary" }, "Save card");
  const form = h(
    "form",
    { class: "capture-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "cap-title" }, "Title"), title),
    h("div", { class: "field" }, h("label", { for: "cap-url" }, "Link"), url),
    note,
    h("div", { class: "modal-actions" },
      h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, "Cancel"),
      h("span", { class: "spacer" }),
      save,
    ),
  );
  const dialog = openModal({ label: "Quick capture", className: "capture-modal", onClose: () => (open = null) }, form);
  open = dialog;
  title.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const t = title.value.trim();
    if (!t) {
      note.replaceChildren("A card needs a title.");
      title.focus();
      return;
    }
    const link = url.value.trim() ? safeHttpUrl(url.value) : null;
    if (url.value.trim() && !link) {
      note.replaceChildren("Only http and https links can be saved.");
      url.focus();
      return;
    }
    save.disabled = true;
    try {
      // The engine compares normalised URLs (case, default port, trailing slash, fragment,
      // tracking parameters) and creates nothing when the link already has a card.
      const input = { title: t, ...(link ? { url: link } : {}) };
      const outcome = allowDuplicate ? null : await api.cardCreateChecked(input);
      const existing = outcome?.outcome === "duplicate" ? outcome.existing : null;
      if (existing) {
        note.replaceChildren(
          h("p", {}, `“${existing.title}” already has this link.`),
          h("div", { class: "capture-dup" },
            h("button", { type: "button", class: "btn btn-primary", onclick: () => { dialog.close(); openEditor(existing.id); } }, "Open that card"),
            h("button", { type: "button", class: "btn", onclick: () => { allowDuplicate = true; form.requestSubmit(); } }, "Create anyway"),
          ),
        );
        return;
      }
      if (!outcome) await api.cardCreate(input);
      toast(`Saved “${t}”.`, "success");
      dialog.close();
    } catch (err) {
      note.replaceChildren(`Could not save: ${errorMessage(err)}`);
    } finally {
      save.disabled = false;
    }
  });
}
