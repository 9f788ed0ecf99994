// A card's version history (issue 12): the server's versions newest first, each with when, which
// device token wrote it, the fields that changed from the version before and a word diff of the
// body. "Restore this version" is the engine's revert: a new edit through the outbox.
import { api } from "../api";
import { attempt } from "../actions";
import type { CardVersion } from "../bindings/CardVersion";
import { wordDiff } from "../diff";
import { h, replaceChildren } from "../dom";
import { time } from "../format";
import { openModal } from "./modal";
import { toast } from "./toasts";

const FIELDS = ["title", "body", "url", "tags", "lane", "pinned"] as const;
const LIMIT = 100;

/** Fields whose value differs between two versions (position moves are not news here). */
export function changedFields(now: CardVersion["card"], before: CardVersion["card"] | undefined): string[] {
  if (!before) return ["created"];
  if (now.deleted !== before.deleted) return [now.deleted ? "deleted" : "restored"];
  return FIELDS.filter((f) => JSON.stringify(now[f]) !== JSON.stringify(before[f]));
}

function bodyDiff(now: string, before: string): HTMLElement {
  const parts = wordDiff(before, now).map((p) => (p.op === "same" ? p.text : h(p.op === "add" ? "ins" : "del", { class: `wd-${p.op}` }, p.text)));
  return h("div", { class: "history-diff", "aria-label": "Body changes" }, ...parts);
}

function entry(cardId: string, v: CardVersion, older: CardVersion | undefined, isCurrent: boolean, done: () => void): HTMLElement {
  const c = v.card;
  const fields = changedFields(c, older?.card);
  return h(
    "li",
    { class: "history-item", "data-version": c.version },
    h(
      "div",
      { class: "history-head" },
      h("span", { class: "history-version" }, `v${c.version}`),
      h("time", { datetime: c.updated_at }, time(c.updated_at)),
      h("span", { class: "history-writer", title: "The device token that wrote it" }, v.writer ? `by ${v.writer.slice(0, 8)}` : "by an unknown device"),
      isCurrent ? h("span", { class: "history-current" }, "current") : null,
    ),
    h("div", { class: "history-fields" }, `Changed: ${fields.join(", ") || "position"}`),
    h("div", { class: "history-title" }, c.deleted ? "(deleted)" : c.title),
    older && fields.includes("body") ? bodyDiff(c.body, older.card.body) : null,
    !isCurrent && !c.deleted
      ? h("button", {
          type: "button",
          class: "btn btn-xs",
          onclick: async () => {
            const card = await attempt("Restore version", () => api.cardRevert(cardId, c.version));
            if (card) {
              toast(`Restored version ${c.version} of “${card.title}”`, "success");
              done();
            }
          },
        }, "Restore this version")
      : null,
  );
}

export async function openHistory(cardId: string, title = "Card"): Promise<HTMLDialogElement> {
  const listEl = h("ol", { class: "history-list", "aria-label": "Versions, newest first" }, h("li", { class: "history-loading" }, "Loading history…"));
  const dialog = openModal(
    { label: `History of “${title}”`, className: "history" },
    listEl,
    h("div", { class: "modal-actions" }, h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, "Close")),
  );
  const versions = await attempt("History", () => api.cardHistory(cardId, LIMIT));
  if (!versions) replaceChildren(listEl, h("li", { class: "history-empty" }, "History is not available (it needs the server)."));
  else if (versions.length === 0) replaceChildren(listEl, h("li", { class: "history-empty" }, "No versions on the server yet (not synced)."));
  else replaceChildren(listEl, ...versions.map((v, i) => entry(cardId, v, versions[i + 1], i === 0, () => dialog.close())));
  return dialog;
}
