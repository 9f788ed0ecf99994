// Bulk actions over the selected cards, with progress from `bulk_progress` events.
import { runBulk } from "../actions";
import { confirmDialog } from "./modal";
import { h, replaceChildren } from "../dom";
import { laneNames, notify, state, subscribe } from "../state";

export function mountBulkBar(parent: HTMLElement): void {
  const bar = h("div", { class: "bulkbar", role: "region", "aria-label": "Bulk actions", hidden: true });
  parent.appendChild(bar);
  const laneSel = h("select", { "aria-label": "Move selected to lane", class: "filter" });
  const tagInput = h("input", { type: "text", "aria-label": "Tag for selected cards", placeholder: "tag", class: "tag-input" });
  const render = () => {
    const n = state.selection.size;
    const job = state.bulk;
    bar.hidden = n === 0 && !job;
    const chosen = laneSel.value;
    replaceChildren(laneSel, ...laneNames().map((l) => h("option", { value: l, selected: l === chosen }, l)));
    const busy = Boolean(job && !job.finished);
    replaceChildren(
      bar,
      n > 0
        ? h("div", { class: "bulk-controls" },
            h("strong", {}, `${n} selected`),
            laneSel,
            h("button", { type: "button", class: "btn btn-xs", disabled: busy, onclick: () => runBulk({ action: "move", lane: laneSel.value }, `Move to ${laneSel.value}`) }, "Move selected"),
            tagInput,
            h("button", { type: "button", class: "btn btn-xs", disabled: busy, onclick: () => tagInput.value.trim() && runBulk({ action: "add_tag", tag: tagInput.value.trim() }, `Tag “${tagInput.value.trim()}”`) }, "Add tag"),
            h("button", { type: "button", class: "btn btn-xs", disabled: busy, onclick: () => tagInput.value.trim() && runBulk({ action: "remove_tag", tag: tagInput.value.trim() }, `Untag “${tagInput.value.trim()}”`) }, "Remove tag"),
            h("button", {
              type: "button", class: "btn btn-xs btn-danger", disabled: busy,
              onclick: async () => {
                if (await confirmDialog("Delete selected cards?", `${n} card${n === 1 ? "" : "s"} will be deleted.`, "Delete")) await runBulk({ action: "delete" }, "Delete");
              },
            }, "Delete selected"),
            h("button", { type: "button", class: "btn btn-xs btn-ghost", onclick: () => { state.selection.clear(); notify("selection"); } }, "Clear selection"),
          )
        : null,
      job
        ? h("div", { class: "bulk-progress" },
            h("span", { class: "bulk-label" }, job.error ? `${job.label}: ${job.error}` : job.finished ? job.label : `${job.label}… ${job.done} of ${job.total}`),
            h("progress", {
              role: "progressbar", max: job.total, value: job.done,
              "aria-label": "Bulk action progress", "aria-valuemin": 0, "aria-valuemax": job.total, "aria-valuenow": job.done,
            }),
            job.finished ? h("button", { type: "button", class: "icon-btn", "aria-label": "Dismiss progress", onclick: () => { state.bulk = null; notify("bulk"); } }, "×") : null,
          )
        : null,
    );
  };
  for (const t of ["selection", "bulk", "lanes"] as const) subscribe(t, render);
  render();
}
