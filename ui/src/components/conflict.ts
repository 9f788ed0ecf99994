// Conflict modal: base / mine / theirs per field, a line diff of the body, and the three ways out
// (keep mine, keep theirs, merged). Rust decides everything else.
import { api } from "../api";
import { attempt } from "../actions";
import type { Card } from "../bindings/Card";
import type { CardFields } from "../bindings/CardFields";
import type { ConflictRecord } from "../bindings/ConflictRecord";
import type { Resolution } from "../bindings/Resolution";
import { lineDiff } from "../diff";
import { h } from "../dom";
import { openHistory } from "./history";
import { openModal } from "./modal";
import { toast } from "./toasts";

type FieldName = "title" | "body" | "url" | "tags" | "lane" | "pinned";
const FIELDS: FieldName[] = ["title", "body", "url", "tags", "lane", "pinned"];
const LABEL: Record<FieldName, string> = { title: "Title", body: "Body", url: "URL", tags: "Tags", lane: "Lane", pinned: "Pinned" };
type Side = "mine" | "theirs" | "suggested";

let current: { record: ConflictRecord; dialog: HTMLDialogElement } | null = null;
/** The card whose resolution this window is sending (its `conflict_resolved` is no news). */
let resolving: string | null = null;
const queue: ConflictRecord[] = [];

function fmt(f: FieldName, v: CardFields | Card | null): string {
  if (!v) return "—";
  switch (f) {
    case "tags":
      return v.tags.length ? v.tags.join(", ") : "—";
    case "url":
      return v.url ?? "—";
    case "pinned":
      return v.pinned ? "Yes" : "No";
    default:
      return v[f] || "—";
  }
}

function same(f: FieldName, a: CardFields | Card, b: CardFields | Card): boolean {
  return f === "tags" ? a.tags.join("\n") === b.tags.join("\n") : a[f] === b[f];
}

export async function openConflictForCard(cardId: string): Promise<void> {
  const list = await attempt("Loading conflicts", () => api.conflictsList());
  const rec = list?.find((c) => c.card_id === cardId);
  if (rec) openConflict(rec);
  else if (list) toast("This conflict has already been resolved.", "info");
}

/** Shows a conflict (queued behind the one on screen, if any). */
export function openConflict(record: ConflictRecord): void {
  if (current) {
    if (current.record.card_id === record.card_id) {
      current.dialog.close();
    } else {
      if (!queue.some((q) => q.card_id === record.card_id)) queue.push(record);
      return;
    }
  }
  show(record);
}

/** `conflict_updated`: an edit made while the conflict was open folded into "mine"; the record on
 * screen (or waiting in the queue) is replaced and re-rendered. */
export function conflictUpdated(record: ConflictRecord): void {
  const i = queue.findIndex((q) => q.card_id === record.card_id);
  if (i >= 0) queue[i] = record;
  if (current?.record.card_id === record.card_id) {
    // Closing shows the queue's head next: the updated record, at once.
    queue.unshift(record);
    current.dialog.close();
  }
}

/** `conflict_resolved`: close it if it is on screen, drop it from the queue. */
export function conflictResolvedElsewhere(cardId: string): void {
  const i = queue.findIndex((q) => q.card_id === cardId);
  if (i >= 0) queue.splice(i, 1);
  if (current?.record.card_id === cardId && resolving !== cardId) {
    toast(`The conflict on “${current.record.mine.title}” was resolved elsewhere.`, "info");
    current.dialog.close();
  }
}

async function resolve(record: ConflictRecord, resolution: Resolution, dialog: HTMLDialogElement): Promise<void> {
  const buttons = [...dialog.querySelectorAll<HTMLButtonElement>(".modal-actions button")];
  buttons.forEach((b) => (b.disabled = true));
  resolving = record.card_id;
  const ok = await attempt("Resolving the conflict", () => api.conflictResolve(record.card_id, resolution));
  resolving = null;
  buttons.forEach((b) => (b.disabled = false));
  if (ok === undefined) return;
  toast(`Conflict on “${record.mine.title}” resolved.`, "success");
  dialog.close();
}

function show(record: ConflictRecord): void {
  const deleted = record.kind === "edit_vs_delete";
  const dialog = openModal(
    {
      label: deleted ? "Card deleted on the server" : `Conflict: ${record.mine.title}`,
      className: "conflict-modal",
      onClose: () => {
        current = null;
        const next = queue.shift();
        if (next) show(next);
      },
    },
    deleted ? deletedBody(record) : fieldsBody(record),
  );
  current = { record, dialog };
  const actions = deleted
    ? [
        h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, "Decide later"),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "btn btn-danger", onclick: () => resolve(record, { choice: "keep_theirs" }, dialog) }, "Accept delete"),
        h("button", { type: "button", class: "btn btn-primary", onclick: () => resolve(record, { choice: "keep_mine" }, dialog) }, "Restore my card"),
      ]
    : [
        h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, "Decide later"),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "btn", onclick: () => resolve(record, { choice: "keep_theirs" }, dialog) }, "Keep theirs"),
        h("button", { type: "button", class: "btn", onclick: () => resolve(record, { choice: "keep_mine" }, dialog) }, "Keep mine"),
        h("button", { type: "button", class: "btn btn-primary", onclick: () => resolve(record, { choice: "merged", fields: mergedFields(record, dialog) }, dialog) }, "Merge"),
      ];
  // The card's versions on the server, for deciding (opens over this dialog).
  const history = h("button", { type: "button", class: "btn btn-ghost conflict-history", onclick: () => void openHistory(record.card_id, record.mine.title) }, "View history");
  actions.splice(1, 0, history);
  dialog.appendChild(h("div", { class: "modal-actions" }, ...actions));
  dialog.querySelector<HTMLButtonElement>(".modal-actions .btn-primary")?.focus({ preventScroll: true });
  // showModal() focused the first radio and scrolled to it: start at the comparison instead.
  const scroller = dialog.querySelector<HTMLElement>(".conflict-body");
  if (scroller) scroller.scrollTop = 0;
}

function deletedBody(record: ConflictRecord): HTMLElement {
  return h(
    "div",
    { class: "conflict-body" },
    h("p", { class: "lead" }, "Someone deleted this card on the server while you had unsynced edits. Restore it with your version, or accept the delete."),
    h("table", { class: "conflict-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "My version"))),
      h("tbody", {}, ...FIELDS.map((f) => h("tr", {}, h("th", { scope: "row" }, LABEL[f]), h("td", {}, cellValue(f, fmt(f, record.mine)))))),
    ),
  );
}

function cellValue(f: FieldName, text: string): HTMLElement {
  return f === "body" ? h("pre", { class: "cell-pre" }, text) : h("span", {}, text);
}

function fieldsBody(record: ConflictRecord): HTMLElement {
  const { base, mine, theirs } = record;
  const rows = FIELDS.map((f) => {
    const differs = !same(f, mine, theirs);
    const unmerged = record.fields.includes(f);
    const changedMine = base ? !same(f, base, mine) : false;
    const changedTheirs = base ? !same(f, base, theirs) : false;
    return h(
      "tr",
      { class: `${differs ? "differs" : ""} ${unmerged ? "unmerged" : ""}`, "data-field": f },
      h("th", { scope: "row" }, LABEL[f], unmerged ? h("span", { class: "badge badge-conflict" }, "conflict") : null),
      h("td", { class: "col-base" }, cellValue(f, fmt(f, base))),
      h("td", { class: `col-mine ${changedMine ? "changed" : ""}` }, cellValue(f, fmt(f, mine))),
      h("td", { class: `col-theirs ${changedTheirs ? "changed" : ""}` }, cellValue(f, fmt(f, theirs))),
    );
  });
  const diff = lineDiff(theirs.body, mine.body);
  return h(
    "div",
    { class: "conflict-body" },
    h("p", { class: "lead" }, "This card changed here and on the server. Compare, then keep one side or merge field by field."),
    h("div", { class: "table-wrap" },
      h("table", { class: "conflict-table", "aria-label": "Field comparison" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Base"), h("th", { scope: "col" }, "Mine"), h("th", { scope: "col" }, "Theirs"))),
        h("tbody", {}, ...rows),
      ),
    ),
    same("body", mine, theirs)
      ? null
      : h("section", { class: "body-diff", "aria-label": "Body differences" },
          h("h3", {}, "Body: theirs → mine"),
          h("pre", { class: "diff" }, ...diff.map((d) =>
            h("div", { class: `diff-line diff-${d.op}` },
              h("span", { class: "diff-sign", "aria-hidden": "true" }, d.op === "add" ? "+" : d.op === "del" ? "−" : " "),
              d.op === "add" ? h("span", { class: "sr-only" }, "mine: ") : d.op === "del" ? h("span", { class: "sr-only" }, "theirs: ") : null,
              d.text || " ",
            ))),
        ),
    mergeSection(record),
  );
}

function mergeSection(record: ConflictRecord): HTMLElement {
  const { mine, theirs, suggested } = record;
  const bodyBox = h("textarea", { class: "merged-body", rows: 6, "aria-label": "Merged body" });
  bodyBox.value = suggested.body;
  const groups = FIELDS.map((f) => {
    const sides: Side[] = ["mine", "theirs"];
    const suggestedDistinct = !same(f, suggested, mine) && !same(f, suggested, theirs);
    if (suggestedDistinct) sides.push("suggested");
    const initial: Side = suggestedDistinct ? "suggested" : same(f, suggested, mine) ? "mine" : "theirs";
    const src = { mine, theirs, suggested };
    return h(
      "fieldset",
      { class: `pick ${same(f, mine, theirs) ? "pick-same" : ""}`, "data-field": f },
      h("legend", {}, LABEL[f]),
      ...sides.map((side) => {
        const radio = h("input", {
          type: "radio",
          name: `pick-${f}`,
          value: side,
          checked: side === initial,
          "aria-label": `${LABEL[f]}: ${side}`,
        });
        if (f === "body") radio.addEventListener("change", () => (bodyBox.value = src[side].body));
        return h("label", { class: "pick-option" }, radio, h("span", { class: "pick-side" }, side), h("span", { class: "pick-value" }, f === "body" ? "" : fmt(f, src[side])));
      }),
      f === "body" ? bodyBox : null,
    );
  });
  return h("section", { class: "merge", "aria-label": "Merge" }, h("h3", {}, "Merge"), h("div", { class: "pick-grid" }, ...groups));
}

function mergedFields(record: ConflictRecord, dialog: HTMLDialogElement): CardFields {
  const src: Record<Side, CardFields> = { mine: record.mine, theirs: record.theirs, suggested: record.suggested };
  const pick = (f: FieldName): CardFields => {
    const v = dialog.querySelector<HTMLInputElement>(`input[name="pick-${f}"]:checked`)?.value as Side | undefined;
    return src[v ?? "suggested"];
  };
  const laneSrc = pick("lane");
  return {
    title: pick("title").title,
    body: dialog.querySelector<HTMLTextAreaElement>(".merged-body")?.value ?? record.suggested.body,
    url: pick("url").url,
    tags: [...pick("tags").tags],
    lane: laneSrc.lane,
    position: laneSrc.position,
    pinned: pick("pinned").pinned,
  };
}
