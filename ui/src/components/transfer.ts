// File menu: Import… / Import Markdown folder… / Export as JSON, CSV or Markdown. The native file
// dialogs are opened by the shell (`import_pick`, `export_pick`); the import itself runs in the
// engine and reports `import_progress` events, shown here as a progress bar.
import { api, errorMessage, onEngineEvent } from "../api";
import type { ExportFormat } from "../bindings/ExportFormat";
import type { ImportReport } from "../bindings/ImportReport";
import { loadLanes, loadTags, reloadViews } from "../data";
import { h, replaceChildren } from "../dom";
import { state } from "../state";
import { toast } from "./toasts";

interface ImportJob {
  jobId: string;
  path: string;
  done: number;
  total: number;
  report: ImportReport | null;
  error: string | null;
}

let job: ImportJob | null = null;

/** Whether `j` has ended: our own with its report or error, another one at its last step. */
function finished(j: ImportJob): boolean {
  return Boolean(j.report || j.error || (!j.path && j.total > 0 && j.done === j.total));
}
let render: () => void = () => {};

function summary(r: ImportReport): string {
  const parts = [`${r.created} card${r.created === 1 ? "" : "s"} imported`];
  if (r.existing) parts.push(`${r.existing} already here`);
  if (r.ignored.length) parts.push(`${r.ignored.length} left out`);
  if (r.unknown_columns.length) parts.push(`columns not imported: ${r.unknown_columns.join(", ")}`);
  return parts.join(" · ");
}

/** Import `path` (a file, or a folder of Markdown notes) with a progress bar. Exported for the
 * e2e test, which calls the same command with a path (the native dialog cannot be driven). */
export async function importPath(path: string): Promise<void> {
  const jobId = crypto.randomUUID();
  job = { jobId, path, done: 0, total: 0, report: null, error: null };
  render();
  try {
    const report = await api.cardsImport(path, { job_id: jobId });
    if (job?.jobId === jobId) {
      job.report = report;
      job.done = job.total = report.total;
    }
    await Promise.all([loadLanes(), loadTags(), reloadViews()]);
  } catch (err) {
    if (job?.jobId === jobId) job.error = errorMessage(err);
  }
  render();
}

async function pickAndImport(folder: boolean): Promise<void> {
  try {
    const path = await api.importPick(folder);
    if (path) await importPath(path);
  } catch (err) {
    toast(`Import failed: ${errorMessage(err)}`, "error");
  }
}

async function pickAndExport(format: ExportFormat): Promise<void> {
  try {
    const path = await api.exportPick(format);
    if (!path) return;
    const f = state.filter;
    const query = { text: f.text || undefined, tag: f.tag || undefined, lane: f.lane || undefined };
    const r = await api.cardsExport(path, format, query);
    toast(`Exported ${r.cards} card${r.cards === 1 ? "" : "s"} to ${r.path}`, "info");
  } catch (err) {
    toast(`Export failed: ${errorMessage(err)}`, "error");
  }
}

export function mountTransfer(topbar: HTMLElement, parent: HTMLElement): void {
  // The File menu: a disclosure button and a list of menu items (Escape or a choice closes it).
  const items = h("div", { class: "file-menu-items", role: "menu", "aria-label": "File", hidden: true });
  const toggle = h("button", { type: "button", class: "btn btn-ghost", "aria-haspopup": "menu", "aria-expanded": "false" }, "File");
  const close = () => {
    items.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
  };
  const item = (label: string, run: () => Promise<void>) =>
    h("button", { type: "button", role: "menuitem", class: "file-menu-item", onclick: () => { close(); void run(); } }, label);
  items.append(
    item("Import…", () => pickAndImport(false)),
    item("Import Markdown folder…", () => pickAndImport(true)),
    item("Export as JSON…", () => pickAndExport("json")),
    item("Export as CSV…", () => pickAndExport("csv")),
    item("Export as Markdown…", () => pickAndExport("md")),
  );
  toggle.addEventListener("click", () => {
    items.hidden = !items.hidden;
    toggle.setAttribute("aria-expanded", String(!items.hidden));
    if (!items.hidden) items.querySelector<HTMLButtonElement>("button")?.focus();
  });
  items.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      close();
      toggle.focus();
    }
  });
  const menu = h("div", { class: "file-menu" }, toggle, items);
  topbar.querySelector(".spacer")?.after(menu);

  const bar = h("div", { class: "import-bar", role: "region", "aria-label": "Import", hidden: true });
  parent.appendChild(bar);
  render = () => {
    bar.hidden = !job;
    if (!job) return replaceChildren(bar);
    const elsewhere = !job.path && job.total > 0 && job.done === job.total;
    const ended = finished(job);
    const label = job.error
      ? `Import failed: ${job.error}`
      : job.report
        ? `Import done: ${summary(job.report)}`
        : elsewhere
          ? `Import done: ${job.total} item${job.total === 1 ? "" : "s"} read`
          : `Importing… ${job.done} of ${job.total || "?"}`;
    replaceChildren(
      bar,
      h("span", { class: "import-label", role: "status" }, label),
      h("progress", {
        max: Math.max(job.total, 1), value: job.done,
        "aria-label": "Import progress", "aria-valuemin": 0, "aria-valuemax": job.total, "aria-valuenow": job.done,
      }),
      ended ? h("button", { type: "button", class: "icon-btn", "aria-label": "Dismiss import", onclick: () => { job = null; render(); } }, "×") : null,
    );
  };
  void onEngineEvent((ev) => {
    if (ev.type !== "import_progress") return;
    // An import this window did not start (the e2e test calls `cards_import` by path) shows too,
    // unless one of ours is still running.
    const ours = job && job.jobId === ev.job_id;
    if (!ours && job && !finished(job)) return;
    if (!ours) job = { jobId: ev.job_id, path: "", done: 0, total: 0, report: null, error: null };
    if (!job || job.report) return;
    job.done = ev.done;
    job.total = ev.total;
    if (!job.path && ev.done === ev.total) void Promise.all([loadLanes(), loadTags(), reloadViews()]);
    render();
  });
}
