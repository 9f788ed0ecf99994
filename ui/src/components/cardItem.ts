// One card, as a board tile or a list row: title, tags, link, sync state and its actions.
import { deleteCard, discardCard, moveByKey, retryCard, toggleSelect } from "../actions";
import type { CardView } from "../bindings/CardView";
import { h } from "../dom";
import { plainText } from "../markdown";
import { safeHttpUrl } from "../safeurl";
import { state } from "../state";
import { openConflictForCard } from "./conflict";
import { openEditor } from "./editor";
import { linkPreview } from "./linkPreview";
import { syncBadge } from "./syncBadge";

export interface CardItemOptions {
  variant: "tile" | "row";
  /** Ids in display order, for shift-click range selection. */
  order: () => string[];
}


export function cardItem(card: CardView, opts: CardItemOptions): HTMLElement {
  const selected = state.selection.has(card.id);
  const title = card.title || "Untitled";
  const url = safeHttpUrl(card.url);
  let host = "";
  if (url) host = new URL(url).host;

  const checkbox = h("input", {
    type: "checkbox",
    class: "card-check",
    "aria-label": `Select ${title}`,
    checked: selected,
  });
  checkbox.addEventListener("click", (e) => {
    e.stopPropagation();
    e.preventDefault();
    toggleSelect(card.id, e.shiftKey, opts.order());
  });

  const errorBlock =
    card.sync_state === "failed"
      ? h(
          "div",
          { class: "card-error" },
          h("span", { class: "card-error-text" }, card.error?.message ?? "The server refused this change."),
          h("div", { class: "card-error-actions" },
            h("button", { type: "button", class: "btn btn-xs", onclick: () => retryCard(card.id) }, "Retry"),
            h("button", { type: "button", class: "btn btn-xs btn-ghost", onclick: () => discardCard(card.id) }, "Discard"),
          ),
        )
      : null;
  const conflictBtn =
    card.sync_state === "conflict"
      ? h("button", { type: "button", class: "btn btn-xs btn-warn", onclick: () => openConflictForCard(card.id) }, "Resolve conflict")
      : null;

  const el: HTMLElement = h(
    opts.variant === "tile" ? "article" : "div",
    {
      class: `card card-${opts.variant} sync-${card.sync_state}${selected ? " selected" : ""}${card.pinned ? " pinned" : ""}`,
      tabindex: 0,
      "data-card-id": card.id,
      "aria-label": title,
      role: opts.variant === "tile" ? null : "listitem",
      draggable: opts.variant === "tile" ? "true" : null,
      "aria-keyshortcuts": "Alt+ArrowLeft Alt+ArrowRight Alt+ArrowUp Alt+ArrowDown Enter Delete",
    },
    h(
      "div",
      { class: "card-head" },
      checkbox,
      h("button", { type: "button", class: "card-title", "aria-label": `Open ${title}`, onclick: () => openEditor(card.id) }, title),
      card.pinned ? h("span", { class: "pin", title: "Pinned", "aria-label": "Pinned", role: "img" }, "★") : null,
    ),
    opts.variant === "tile" && card.body.trim() ? h("p", { class: "card-snippet" }, plainText(card.body)) : null,
    linkPreview(card, { description: opts.variant === "tile" }),
    h(
      "div",
      { class: "card-meta" },
      opts.variant === "row" ? h("span", { class: "lane-chip" }, card.lane) : null,
      ...card.tags.map((t) => h("span", { class: "tag" }, t)),
      url ? h("a", { class: "card-link", href: url, rel: "noopener noreferrer" }, host) : null,
      h("span", { class: "spacer" }),
      syncBadge(card.sync_state),
    ),
    errorBlock,
    conflictBtn,
  );

  el.addEventListener("keydown", (e) => {
    if (e.target !== el) return;
    if (e.altKey && ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(e.key)) {
      e.preventDefault();
      state.focusAfterRender = card.id;
      moveByKey(card.id, e.key);
    } else if (e.key === "Enter") {
      e.preventDefault();
      openEditor(card.id);
    } else if (e.key === " ") {
      e.preventDefault();
      toggleSelect(card.id, e.shiftKey, opts.order());
    } else if (e.key === "Delete") {
      e.preventDefault();
      deleteCard(card.id);
    }
  });
  if (opts.variant === "tile") {
    el.addEventListener("dragstart", (e) => {
      e.dataTransfer?.setData("application/x-deckhand-card", card.id);
      e.dataTransfer?.setData("text/plain", card.title);
      if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
      el.classList.add("dragging");
    });
    el.addEventListener("dragend", () => el.classList.remove("dragging"));
  }
  return el;
}
