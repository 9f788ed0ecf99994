// A lane's header on the board: its title (focusable; Alt+Left/Right moves the lane, drag moves
// it too), its count, rename and delete; and the "Add lane" button after the last lane.
import { h } from "../dom";
import { addLane, deleteLane, dropLane, moveLaneByKey, renameLane } from "../lanes";
import { laneNames } from "../state";
import { openModal } from "./modal";

export const DRAG_LANE = "application/x-deckhand-lane";

/** A small form dialog with one text field; resolves the entered text, or null on cancel. */
function askName(title: string, label: string, value: string, submit: string): Promise<string | null> {
  return new Promise((resolve) => {
    let result: string | null = null;
    const input = h("input", { type: "text", class: "input lane-name-input", value, "aria-label": label, maxlength: 64 }) as HTMLInputElement;
    const form = h(
      "form",
      { class: "lane-form" },
      h("label", {}, label, input),
      h(
        "div",
        { class: "modal-actions" },
        h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel"),
        h("button", { type: "submit", class: "btn btn-primary" }, submit),
      ),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      result = input.value.trim();
      dlg.close();
    });
    const dlg = openModal({ label: title, className: "lane-dialog", onClose: () => resolve(result) }, form);
    input.focus();
    input.select();
  });
}

/** Delete asks where the lane's cards go: another lane, or the Trash. */
function askDelete(name: string, count: number): Promise<{ moveTo: string | null } | null> {
  return new Promise((resolve) => {
    let result: { moveTo: string | null } | null = null;
    const others = laneNames().filter((l) => l !== name);
    const select = h("select", { class: "input lane-target", "aria-label": "Lane that takes the cards" }, ...others.map((l) => h("option", { value: l }, l))) as HTMLSelectElement;
    const move = h("input", { type: "radio", name: "lane-cards", value: "move", checked: others.length > 0, disabled: others.length === 0 }) as HTMLInputElement;
    const trash = h("input", { type: "radio", name: "lane-cards", value: "trash", checked: others.length === 0 }) as HTMLInputElement;
    const form = h(
      "form",
      { class: "lane-form" },
      h("p", {}, count === 1 ? "Where should its card go?" : `Where should its ${count} cards go?`),
      h("label", { class: "lane-choice" }, move, " Move them to ", select),
      h("label", { class: "lane-choice" }, trash, " Move them to the Trash"),
      h(
        "div",
        { class: "modal-actions" },
        h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel"),
        h("button", { type: "submit", class: "btn btn-danger" }, "Delete lane"),
      ),
    );
    select.addEventListener("change", () => (move.checked = true));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      result = { moveTo: move.checked ? select.value : null };
      dlg.close();
    });
    const dlg = openModal({ label: `Delete lane “${name}”?`, className: "lane-dialog", onClose: () => resolve(result) }, form);
  });
}

export function laneHead(lane: string, total: number): HTMLElement {
  // The title is a button: a Tab stop of its own (the cards keep their roving stop), the drag
  // handle, and where Alt+Left/Right moves the lane.
  const title = h(
    "button",
    {
      type: "button",
      class: "lane-handle",
      title: "Drag, or Alt+Left/Right, to move the lane",
      "aria-label": `Move lane ${lane}`,
      "aria-keyshortcuts": "Alt+ArrowLeft Alt+ArrowRight",
    },
    lane,
  );
  title.addEventListener("keydown", (e) => {
    if (!e.altKey || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) return;
    e.preventDefault();
    e.stopPropagation();
    void moveLaneByKey(lane, e.key).then(() => {
      (document.querySelector(`.lane[data-lane="${CSS.escape(lane)}"] .lane-handle`) as HTMLElement | null)?.focus();
    });
  });
  const head = h(
    "header",
    { class: "lane-head" },
    h("h2", { class: "lane-title" }, title),
    h("span", { class: "count", "aria-label": `${total} cards` }, String(total)),
    h("button", {
      type: "button",
      class: "btn btn-ghost lane-rename",
      "aria-label": `Rename lane ${lane}`,
      onclick: async () => {
        const name = await askName(`Rename lane “${lane}”`, "New name", lane, "Rename");
        if (name && name !== lane) await renameLane(lane, name);
      },
    }, "Rename"),
    h("button", {
      type: "button",
      class: "btn btn-ghost lane-delete",
      "aria-label": `Delete lane ${lane}`,
      onclick: async () => {
        const choice = await askDelete(lane, total);
        if (choice) await deleteLane(lane, choice.moveTo);
      },
    }, "Delete"),
  );
  // The whole header is the drag handle (a button cannot start a drag in every engine).
  head.setAttribute("draggable", "true");
  head.addEventListener("dragstart", (e) => {
    e.dataTransfer?.setData(DRAG_LANE, lane);
    if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
  });
  head.addEventListener("dragover", (e) => {
    if (!e.dataTransfer?.types.includes(DRAG_LANE)) return;
    e.preventDefault();
    head.classList.add("drop-before");
  });
  head.addEventListener("dragleave", () => head.classList.remove("drop-before"));
  head.addEventListener("drop", (e) => {
    head.classList.remove("drop-before");
    const moving = e.dataTransfer?.getData(DRAG_LANE);
    if (!moving) return;
    e.preventDefault();
    e.stopPropagation();
    void dropLane(moving, lane);
  });
  return head;
}

export function addLaneButton(): HTMLElement {
  return h(
    "button",
    {
      type: "button",
      class: "btn btn-ghost lane-add",
      onclick: async () => {
        const name = await askName("Add lane", "Name", "", "Add");
        if (name) await addLane(name);
      },
    },
    "+ Add lane",
  );
}
