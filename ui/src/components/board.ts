// The board: one column per lane, cards in lane order, drag and drop between and within lanes.
import { dropCard } from "../actions";
import { boardLanes, loadBoardLane, showMore } from "../data";
import { h, replaceChildren } from "../dom";
import { captureFocus, restoreFocus } from "../focus";
import { applyRoving, installRoving } from "../roving";
import { notify, state, subscribe } from "../state";
import { cardItem } from "./cardItem";
import { addLaneButton, laneHead } from "./laneHead";

const DRAG_TYPE = "application/x-deckhand-card";

export function mountBoard(root: HTMLElement): void {
  const render = () => {
    if (state.view !== "board") return;
    const focus = captureFocus(root);
    // A focused lane handle keeps the focus too: Alt+Left/Right moves its lane, and the sync
    // events that follow re-render the board (the header is a new element then).
    const active = document.activeElement;
    const handleLane = active instanceof HTMLElement && root.contains(active) && active.matches(".lane-handle") ? (active.closest<HTMLElement>(".lane")?.dataset.lane ?? null) : null;
    const lanes = boardLanes();
    const missing = lanes.filter((l) => !state.board.has(l));
    if (missing.length) {
      Promise.all(missing.map((l) => loadBoardLane(l))).then(() => notify("board"));
    }
    const order = () => lanes.flatMap((l) => state.board.get(l)?.ids ?? []);
    replaceChildren(root, ...lanes.map((lane) => laneColumn(lane, order)), state.filter.lane ? null : addLaneButton());
    applyRoving(root);
    restoreFocus(root, focus);
    if (handleLane !== null) root.querySelector<HTMLElement>(`.lane[data-lane="${CSS.escape(handleLane)}"] .lane-handle`)?.focus();
  };
  installRoving(root);
  for (const t of ["board", "selection", "view", "lanes"] as const) subscribe(t, render);
  render();
}

function laneColumn(lane: string, order: () => string[]): HTMLElement {
  const data = state.board.get(lane);
  const ids = data?.ids ?? [];
  const total = data?.total ?? 0;
  const body = h(
    "div",
    { class: "lane-body", role: "list", "aria-label": `${lane} cards` },
    ...ids.map((id) => {
      const card = state.cards.get(id);
      if (!card) return null;
      const wrap = h("div", { role: "listitem", class: "lane-item" }, cardItem(card, { variant: "tile", order }));
      wrap.addEventListener("dragover", (e) => {
        if (!e.dataTransfer?.types.includes(DRAG_TYPE)) return;
        e.preventDefault();
        e.stopPropagation();
        wrap.classList.add("drop-before");
      });
      wrap.addEventListener("dragleave", () => wrap.classList.remove("drop-before"));
      wrap.addEventListener("drop", (e) => {
        const moving = e.dataTransfer?.getData(DRAG_TYPE);
        wrap.classList.remove("drop-before");
        if (!moving) return;
        e.preventDefault();
        e.stopPropagation();
        dropCard(moving, lane, id);
      });
      return wrap;
    }),
    ids.length === 0 ? h("p", { class: "lane-empty" }, "No cards") : null,
  );
  const col = h(
    "section",
    { class: "lane", "aria-label": `Lane ${lane}`, "data-lane": lane },
    laneHead(lane, total),
    body,
    total > ids.length
      ? h("button", { type: "button", class: "btn btn-ghost show-more", onclick: () => showMore(lane) }, `Show more (${total - ids.length} more)`)
      : null,
  );
  col.addEventListener("dragover", (e) => {
    if (!e.dataTransfer?.types.includes(DRAG_TYPE)) return;
    e.preventDefault();
    col.classList.add("drop-target");
  });
  col.addEventListener("dragleave", (e) => {
    if (!col.contains(e.relatedTarget as Node | null)) col.classList.remove("drop-target");
  });
  col.addEventListener("drop", (e) => {
    col.classList.remove("drop-target");
    const moving = e.dataTransfer?.getData(DRAG_TYPE);
    if (!moving) return;
    e.preventDefault();
    dropCard(moving, lane, null);
  });
  return col;
}
