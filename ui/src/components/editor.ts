// Side panel to edit one card: title, Markdown body (with sanitised preview), url, tags, lane, pinned.
import { api } from "../api";
import { attempt, deleteCard, discardCard, retryCard } from "../actions";
import type { CardChanges } from "../bindings/CardChanges";
import type { CardView } from "../bindings/CardView";
import { h, replaceChildren } from "../dom";
import { rememberCard } from "../data";
import { renderMarkdown } from "../markdown";
import { safeHttpUrl } from "../safeurl";
import { laneNames, notify, state, subscribe } from "../state";
import { openConflictForCard } from "./conflict";
import { openHistory } from "./history";
import { syncBadge } from "./syncBadge";
import { toast } from "./toasts";

let panel: HTMLElement;
let original: CardView | null = null;

export function mountEditor(parent: HTMLElement): void {
  panel = h("aside", { class: "editor", "aria-label": "Edit card", hidden: true });
  parent.appendChild(panel);
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !e.defaultPrevented) {
      e.preventDefault();
      closeEditor();
    }
  });
  subscribe("card", (ids) => {
    if (state.editingId && (ids as string[]).includes(state.editingId)) renderStatus();
  });
}

export function closeEditor(): void {
  const id = state.editingId;
  state.editingId = null;
  original = null;
  panel.hidden = true;
  panel.replaceChildren();
  if (id) document.querySelector<HTMLElement>(`[data-card-id="${CSS.escape(id)}"]`)?.focus();
}

export async function openEditor(id: string): Promise<void> {
  const card = await attempt("Open card", () => api.cardGet(id));
  if (!card) {
    if (card === null) toast("That card no longer exists.", "error");
    return;
  }
  state.cards.set(card.id, card);
  state.editingId = id;
  original = card;
  render(card);
  panel.hidden = false;
  panel.querySelector<HTMLInputElement>("#ed-title")?.focus();
}

function splitTags(raw: string): string[] {
  const seen = new Set<string>();
  for (const t of raw.split(",")) {
    const tag = t.trim();
    if (tag) seen.add(tag);
  }
  return [...seen];
}

function field(label: string, id: string, control: HTMLElement, hint?: string): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("p", { class: "hint" }, hint) : null);
}

function renderStatus(): void {
  const slot = panel.querySelector(".editor-status");
  const card = state.editingId ? state.cards.get(state.editingId) : undefined;
  if (!slot || !card) return;
  replaceChildren(
    slot as HTMLElement,
    syncBadge(card.sync_state),
    card.sync_state === "failed"
      ? h("span", { class: "editor-error" }, card.error?.message ?? "", " ",
          h("button", { type: "button", class: "btn btn-xs", onclick: () => retryCard(card.id) }, "Retry"),
          h("button", { type: "button", class: "btn btn-xs btn-ghost", onclick: () => discardCard(card.id) }, "Discard"))
      : null,
    card.sync_state === "conflict"
      ? h("button", { type: "button", class: "btn btn-xs btn-warn", onclick: () => openConflictForCard(card.id) }, "Resolve conflict")
      : null,
  );
}

function render(card: CardView): void {
  const title = h("input", { id: "ed-title", type: "text", required: true, value: card.title });
  const body = h("textarea", { id: "ed-body", rows: 10, spellcheck: "true" });
  body.value = card.body;
  const preview = h("div", { class: "markdown preview", "aria-label": "Body preview", role: "region", hidden: true });
  const url = h("input", { id: "ed-url", type: "url", value: card.url ?? "", placeholder: "https://…" });
  const tags = h("input", { id: "ed-tags", type: "text", value: card.tags.join(", "), placeholder: "tag, another" });
  const lane = h("input", { id: "ed-lane", type: "text", value: card.lane, list: "ed-lanes" });
  const lanes = h("datalist", { id: "ed-lanes" }, ...laneNames().map((l) => h("option", { value: l })));
  const pinned = h("input", { id: "ed-pinned", type: "checkbox", checked: card.pinned });
  const tabWrite = h("button", { type: "button", class: "tab active", "aria-pressed": "true" }, "Write");
  const tabPreview = h("button", { type: "button", class: "tab", "aria-pressed": "false" }, "Preview");
  const setTab = (showPreview: boolean) => {
    tabWrite.classList.toggle("active", !showPreview);
    tabPreview.classList.toggle("active", showPreview);
    tabWrite.setAttribute("aria-pressed", String(!showPreview));
    tabPreview.setAttribute("aria-pressed", String(showPreview));
    body.hidden = showPreview;
    preview.hidden = !showPreview;
    if (showPreview) preview.replaceChildren(renderMarkdown(body.value));
  };
  tabWrite.addEventListener("click", () => setTab(false));
  tabPreview.addEventListener("click", () => setTab(true));
  const openLink = safeHttpUrl(card.url);

  const form = h(
    "form",
    { class: "editor-form", novalidate: true },
    h("div", { class: "editor-head" },
      h("h2", { class: "editor-title" }, "Edit card"),
      h("button", { type: "button", class: "icon-btn", "aria-label": "Close editor", onclick: closeEditor }, "×"),
    ),
    h("div", { class: "editor-status" }),
    field("Title", "ed-title", title),
    h("div", { class: "field" },
      h("div", { class: "field-row" }, h("label", { for: "ed-body" }, "Body (Markdown)"), h("span", { class: "tabs" }, tabWrite, tabPreview)),
      body,
      preview,
    ),
    field("URL", "ed-url", url, "Only http and https links open."),
    openLink ? h("a", { class: "card-link", href: openLink, rel: "noopener noreferrer" }, "Open link") : null,
    field("Tags", "ed-tags", tags, "Comma separated."),
    field("Lane", "ed-lane", lane),
    lanes,
    h("div", { class: "field field-check" }, pinned, h("label", { for: "ed-pinned" }, "Pinned")),
    h("div", { class: "editor-actions" },
      h("button", { type: "button", class: "btn btn-danger btn-ghost", onclick: async () => { if (await deleteCard(card.id)) closeEditor(); } }, "Delete"),
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => void openHistory(card.id, card.title) }, "History"),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "btn", onclick: closeEditor }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary" }, "Save"),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!original) return;
    if (!title.value.trim()) {
      toast("A card needs a title.", "error");
      title.focus();
      return;
    }
    const changes: CardChanges = {};
    if (title.value !== original.title) changes.title = title.value;
    if (body.value !== original.body) changes.body = body.value;
    const newUrl = url.value.trim() === "" ? null : url.value.trim();
    if (newUrl !== original.url) changes.url = newUrl;
    const newTags = splitTags(tags.value);
    if (newTags.join("\n") !== original.tags.join("\n")) changes.tags = newTags;
    const newLane = lane.value.trim() || original.lane;
    if (newLane !== original.lane) changes.lane = newLane;
    if (pinned.checked !== original.pinned) changes.pinned = pinned.checked;
    if (Object.keys(changes).length === 0) {
      closeEditor();
      return;
    }
    // Made on the copy the form was filled from: a remote edit that landed meanwhile is merged.
    const saved = await attempt("Save", () => api.cardUpdate(original!.id, changes, original!.confirmed_version));
    if (saved) {
      rememberCard(saved);
      // The saved card is what the engine holds now: the views show it at once, whether or not
      // the engine's cards_changed for this write was already handled (it may come first).
      notify("board");
      notify("list");
      notify("card", [saved.id]);
      toast("Card saved.", "success", 2500);
      closeEditor();
    }
  });
  replaceChildren(panel, form);
  renderStatus();
}
