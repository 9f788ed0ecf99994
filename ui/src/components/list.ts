// The list view, virtualised: only the rows in (and just around) the viewport exist in the DOM.
// Rows are fetched a page at a time with limit/offset; `total` sizes the scroll area.
import { keepListPages, loadListPage } from "../data";
import { h } from "../dom";
import { captureFocus, restoreFocus } from "../focus";
import { LIST_PAGE, state, subscribe } from "../state";
import { cardItem } from "./cardItem";
import type { CardView } from "../bindings/CardView";

export const ROW_HEIGHT = 56;
const OVERSCAN = 8;

export function mountList(root: HTMLElement): void {
  const spacer = h("div", { class: "list-spacer" });
  const scroller = h("div", { class: "list-scroll", role: "list", "aria-label": "Cards" }, spacer);
  const empty = h("p", { class: "list-empty", hidden: true }, "No cards match.");
  root.append(scroller, empty);

  const idAt = (i: number): string | undefined => state.list.pages.get(Math.floor(i / LIST_PAGE))?.[i % LIST_PAGE];
  const order = (): string[] => {
    const out: string[] = [];
    for (const [p, ids] of [...state.list.pages.entries()].sort((a, b) => a[0] - b[0])) {
      ids.forEach((id, k) => (out[p * LIST_PAGE + k] = id));
    }
    return out.filter(Boolean);
  };

  // Rows built by the last render, by card id. A row whose card (the same object: a refetch
  // replaces it) and selection are unchanged is kept in place, not rebuilt: a scroll then builds,
  // lays out and paints only the rows that came into view (rebuilding all ~30 rows every frame
  // cost a full repaint of the list per frame: the P10 benchmark).
  let built = new Map<string, { card: CardView; selected: boolean; el: HTMLElement }>();
  let frame = 0;
  const render = () => {
    frame = 0;
    if (state.view !== "list") return;
    const total = state.list.total;
    spacer.style.height = `${total * ROW_HEIGHT}px`;
    empty.hidden = total > 0 || state.list.pages.size === 0;
    const focus = captureFocus(spacer);
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((scroller.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    keepListPages(Math.floor(first / LIST_PAGE) - 1, Math.floor(last / LIST_PAGE) + 1);
    const rows: HTMLElement[] = [];
    const next: typeof built = new Map();
    for (let i = first; i <= last; i++) {
      const id = idAt(i);
      const card = id ? state.cards.get(id) : undefined;
      let row: HTMLElement;
      if (card) {
        const selected = state.selection.has(card.id);
        const prev = built.get(card.id);
        row = prev && prev.card === card && prev.selected === selected ? prev.el : cardItem(card, { variant: "row", order });
        next.set(card.id, { card, selected, el: row });
      } else {
        row = h("div", { class: "card card-row placeholder", role: "listitem", "aria-busy": "true" }, h("span", { class: "skeleton" }));
        void loadListPage(Math.floor(i / LIST_PAGE));
      }
      row.setAttribute("aria-setsize", String(total));
      row.setAttribute("aria-posinset", String(i + 1));
      row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      rows.push(row);
    }
    built = next;
    // Only the rows that left are removed and only the new ones inserted (in index order: the
    // tab order follows the DOM); kept rows are not detached, so they are not repainted.
    const keep = new Set(rows);
    for (const child of [...spacer.children]) if (!keep.has(child as HTMLElement)) child.remove();
    let cursor = spacer.firstElementChild;
    for (const row of rows) {
      if (row === cursor) cursor = cursor.nextElementSibling;
      else spacer.insertBefore(row, cursor);
    }
    restoreFocus(spacer, focus);
  };
  const schedule = (detail?: unknown) => {
    if ((detail as { reset?: boolean } | undefined)?.reset) scroller.scrollTop = 0;
    if (!frame) frame = requestAnimationFrame(render);
  };
  scroller.addEventListener("scroll", () => schedule());
  window.addEventListener("resize", () => schedule());
  for (const t of ["list", "selection", "view"] as const) subscribe(t, schedule);
  schedule();
}
