// The "Links" dialog: cards whose URL no longer answered at their last check, with "Refresh all"
// (the engine fetches every card's page, a few at a time, and syncs what it found).
import { api, errorMessage } from "../api";
import type { CardView } from "../bindings/CardView";
import { h, replaceChildren } from "../dom";
import { openEditor } from "./editor";
import { openModal } from "./modal";
import { refreshMeta } from "./linkPreview";
import { toast } from "./toasts";

function row(card: CardView, reload: () => Promise<void>): HTMLElement {
  const m = card.link_meta;
  return h(
    "li",
    { class: "broken-row", "data-card-id": card.id },
    h("div", { class: "broken-text" },
      h("strong", {}, card.title),
      h("div", { class: "link-muted" }, card.url ?? ""),
      h("div", { class: "link-muted" }, `${m?.error ?? "No answer"}${m ? ` — checked ${new Date(m.fetched_at).toLocaleString()}` : ""}`),
    ),
    h("button", { type: "button", class: "btn btn-xs", onclick: () => openEditor(card.id) }, "Open"),
    h("button", { type: "button", class: "btn btn-xs", onclick: async () => { await refreshMeta(card.id); await reload(); } }, "Check again"),
  );
}

export function openBrokenLinks(): void {
  const list = h("ul", { class: "broken-list", "aria-label": "Broken links" });
  const note = h("p", { class: "link-muted", role: "status" });
  const reload = async () => {
    try {
      const cards = await api.cardsBroken();
      replaceChildren(list, ...cards.map((c) => row(c, reload)));
      note.replaceChildren(cards.length ? `${cards.length} card(s) whose link no longer answers.` : "No broken links.");
    } catch (err) {
      note.replaceChildren(`Could not list broken links: ${errorMessage(err)}`);
    }
  };
  const refreshAll = h("button", { type: "button", class: "btn" }, "Refresh all metadata");
  refreshAll.addEventListener("click", async () => {
    refreshAll.disabled = true;
    note.replaceChildren("Checking every link…");
    try {
      const s = await api.cardsRefreshMeta(false);
      toast(`Checked ${s.refreshed} link(s): ${s.ok} ok, ${s.broken} broken, ${s.failed} without a preview.`, s.broken ? "error" : "success");
    } catch (err) {
      toast(`Could not refresh: ${errorMessage(err)}`, "error");
    } finally {
      refreshAll.disabled = false;
      await reload();
    }
  });
  const dlg = openModal({ label: "Broken links", className: "broken-modal" },
    note, list,
    h("div", { class: "modal-actions" }, refreshAll, h("button", { type: "button", class: "btn btn-ghost", onclick: () => dlg.close() }, "Close")),
  );
  void reload();
}
