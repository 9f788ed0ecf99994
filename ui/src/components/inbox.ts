// Conflicts inbox: background conflicts collect here instead of opening modals over the user's
// work. A badge in the status bar counts them; its list opens any one in the conflict modal with
// one click. Nothing here ever moves focus on its own: only the user's click does.
import { api } from "../api";
import type { ConflictRecord } from "../bindings/ConflictRecord";
import { h, replaceChildren } from "../dom";
import { notify, state, subscribe } from "../state";
import { openConflict } from "./conflict";

const records = new Map<string, ConflictRecord>();
let panel: HTMLElement | null = null;

export function inboxRecords(): ConflictRecord[] {
  return [...records.values()];
}

function changed(): void {
  state.conflictCount = records.size;
  notify("conflicts");
}

/** The conflicts parked at start (the engine keeps them across restarts). */
export async function loadInbox(): Promise<void> {
  records.clear();
  for (const r of await api.conflictsList()) records.set(r.card_id, r);
  changed();
}

/** `conflict_detected` / `conflict_updated`: file it (replacing an older record of the card). */
export function inboxAdd(record: ConflictRecord): void {
  records.set(record.card_id, record);
  changed();
}

/** `conflict_resolved`: gone, wherever it was resolved. */
export function inboxRemove(cardId: string): void {
  if (records.delete(cardId)) changed();
}

function label(r: ConflictRecord): string {
  return r.kind === "edit_vs_delete" ? `${r.mine.title} (deleted on the server)` : r.mine.title;
}

function closePanel(returnFocus: boolean): void {
  if (!panel) return;
  panel.remove();
  panel = null;
  document.querySelector<HTMLButtonElement>(".inbox-button")?.setAttribute("aria-expanded", "false");
  if (returnFocus) document.querySelector<HTMLButtonElement>(".inbox-button")?.focus();
}

function renderPanel(): void {
  if (!panel) return;
  const list = inboxRecords();
  replaceChildren(
    panel,
    h("h2", { class: "inbox-title", id: "inbox-title" }, "Conflicts"),
    list.length === 0
      ? h("p", { class: "muted" }, "No conflicts. Everything merged by itself.")
      : h("ul", { class: "inbox-list" },
          ...list.map((r) =>
            h("li", {},
              h("button", {
                type: "button",
                class: "inbox-item",
                "data-card-id": r.card_id,
                onclick: () => {
                  // Focus rests on the badge first, so closing the modal returns it there.
                  closePanel(true);
                  openConflict(r);
                },
              }, label(r)),
            ),
          ),
        ),
  );
}

function togglePanel(anchor: HTMLElement): void {
  if (panel) {
    closePanel(true);
    return;
  }
  panel = h("section", { class: "inbox-panel", role: "region", "aria-labelledby": "inbox-title" });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      closePanel(true);
    }
  });
  anchor.closest(".statusbar")?.appendChild(panel);
  anchor.setAttribute("aria-expanded", "true");
  renderPanel();
  panel.querySelector<HTMLButtonElement>(".inbox-item")?.focus();
}

/** The badge: hidden at zero, a count otherwise. */
export function inboxButton(): HTMLButtonElement {
  const button = h("button", { type: "button", class: "inbox-button", "aria-expanded": "false", hidden: true });
  button.addEventListener("click", () => togglePanel(button));
  const render = () => {
    const n = records.size;
    button.hidden = n === 0;
    replaceChildren(button, h("span", { class: "inbox-count", "aria-hidden": "true" }, String(n)), h("span", { class: "inbox-label" }, n === 1 ? "conflict" : "conflicts"));
    button.setAttribute("aria-label", `Conflicts inbox: ${n} ${n === 1 ? "conflict" : "conflicts"}`);
    if (n === 0 && panel) closePanel(false);
    renderPanel();
  };
  subscribe("conflicts", render);
  render();
  return button;
}
