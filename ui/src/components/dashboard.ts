// Sync dashboard: outbox table, retry/discard, pause/resume, sync now, stream health, history.
import { api } from "../api";
import { attempt } from "../actions";
import type { HistoryEntry } from "../bindings/HistoryEntry";
import type { OutboxEntry } from "../bindings/OutboxEntry";
import { h, replaceChildren } from "../dom";
import { BREAKER_LABEL, CONNECTION_LABEL, duration, time } from "../format";
import { state, subscribe } from "../state";
import { confirmDialog, openModal } from "./modal";
import { toast } from "./toasts";

let dialog: HTMLDialogElement | null = null;
let outbox: OutboxEntry[] = [];
let history: HistoryEntry[] = [];
let refreshing: Promise<void> | null = null;
let again = false;

export function isDashboardOpen(): boolean {
  return dialog !== null;
}

export function mountDashboardRefresh(): void {
  // While open, the dashboard refetches what the events say changed; it never polls.
  subscribe("status", () => dialog && void refresh());
  subscribe("card", () => dialog && void refresh());
}

export function refresh(): Promise<void> {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      const [o, hi] = await Promise.all([api.outboxList(), api.syncHistory(50)]);
      outbox = o;
      history = hi;
    } while (again);
  })()
    .catch((err) => toast(`Loading the outbox failed: ${(err as { message?: string })?.message ?? err}`, "error"))
    .finally(() => {
      refreshing = null;
      render();
    });
  return refreshing;
}

export async function openDashboard(): Promise<void> {
  if (dialog) return;
  const content = h("div", { class: "dash" });
  dialog = openModal({ label: "Sync dashboard", className: "dashboard-modal", onClose: () => (dialog = null) }, content,
    h("div", { class: "modal-actions" }, h("span", { class: "spacer" }), h("button", { type: "button", class: "btn", onclick: () => dialog?.close() }, "Close")));
  render();
  await refresh();
  dialog?.querySelector<HTMLButtonElement>(".dash-actions button")?.focus();
}

function command(label: string, fn: () => Promise<unknown>, cls = "btn") {
  return h("button", { type: "button", class: cls, onclick: async () => { await attempt(label, fn); void refresh(); } }, label);
}

function render(): void {
  const content = dialog?.querySelector<HTMLElement>(".dash");
  if (!content) return;
  const s = state.status;
  const paused = s?.connection === "paused";
  const failed = outbox.filter((e) => e.state === "failed").length;
  replaceChildren(
    content,
    h("div", { class: "dash-actions" },
      command("Sync now", () => api.syncNow(), "btn btn-primary"),
      paused ? command("Resume sync", () => api.syncResume()) : command("Pause sync", () => api.syncPause()),
      h("button", {
        type: "button", class: "btn", disabled: failed === 0 && outbox.length === 0,
        onclick: async () => {
          const n = await attempt("Retry all", () => api.outboxRetryAll());
          if (n !== undefined) toast(`Retrying ${n} operation${n === 1 ? "" : "s"}.`, "info");
          void refresh();
        },
      }, "Retry all"),
      h("span", { class: "spacer" }),
      command("Open logs folder", () => api.openLogsFolder(), "btn btn-ghost"),
    ),
    s
      ? h("section", { class: "dash-cards", "aria-label": "Connection health" },
          tile("Connection", CONNECTION_LABEL[s.connection], `conn-${s.connection}`),
          tile("Breaker", BREAKER_LABEL[s.breaker].replace("Breaker ", ""), `breaker-${s.breaker}`),
          tile("Stream", s.stream.state, `stream-${s.stream.state}`),
          tile("Uptime", s.stream.connected_since ? duration(Date.now() - Date.parse(s.stream.connected_since)) : "—"),
          tile("Events", `${s.stream.events_created} created · ${s.stream.events_updated} updated · ${s.stream.events_deleted} deleted`),
          tile("Last event", s.stream.last_event_at ? `${time(s.stream.last_event_at)}${s.stream.last_event_id !== null ? ` (#${s.stream.last_event_id})` : ""}` : "—"),
          tile("Queue", `${s.pending} pending · ${s.in_flight} in flight · ${s.failed} failed · ${s.conflicts} conflicts`),
          tile("Oldest pending", s.oldest_pending_age_ms !== null ? duration(s.oldest_pending_age_ms) : "—"),
          tile("Last synced", time(s.last_synced_at)),
          // A full resync with a restored or reset server (docs/sync-engine.md, "Server restore").
          tile(
            "Server restore",
            s.last_resync
              ? `resynced ${time(s.last_resync.at)} · ${s.last_resync.reoffered} card(s) offered again`
              : "—",
          ),
        )
      : null,
    h("h3", { class: "dash-h" }, `Outbox (${outbox.length})`),
    outbox.length === 0
      ? h("p", { class: "muted empty-note" }, "Nothing waiting: every change is synced.")
      : h("div", { class: "table-wrap" }, outboxTable()),
    h("h3", { class: "dash-h" }, "Recent activity"),
    history.length === 0
      ? h("p", { class: "muted empty-note" }, "No sync activity yet.")
      : h("ol", { class: "history", "aria-label": "Recent sync history" },
          ...history.map((e) => h("li", { class: `hist hist-${e.kind.split(".")[0]}` },
            h("time", { datetime: e.at }, time(e.at)), h("code", { class: "hist-kind" }, e.kind), h("span", {}, e.message)))),
  );
}

function tile(label: string, value: string, cls = ""): HTMLElement {
  return h("div", { class: `tile ${cls}` }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value));
}

function outboxTable(): HTMLElement {
  return h("table", { class: "outbox", "aria-label": "Outbox" },
    h("thead", {}, h("tr", {}, ...["Card", "Kind", "State", "Attempts", "Next attempt", "Last error", "Priority", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...outbox.map((e) => {
      const opId = Number(e.op_id);
      return h("tr", { "data-op-id": String(opId), class: `op-${e.state}` },
        h("td", { class: "op-card" }, e.card_title || "Untitled"),
        h("td", {}, e.kind),
        h("td", {}, h("span", { class: `badge badge-op-${e.state}` }, e.state.replace("_", " "))),
        h("td", { class: "num" }, String(e.attempts)),
        h("td", {}, time(e.next_attempt_at)),
        h("td", { class: e.last_error ? "op-error" : "muted" }, e.last_error ? `${e.last_error.message}${e.last_error.status ? ` (${e.last_error.status})` : ""}` : "—"),
        h("td", {}, e.priority),
        h("td", { class: "op-actions" },
          h("button", { type: "button", class: "btn btn-xs", "aria-label": `Retry ${e.card_title}`, onclick: async () => { await attempt("Retry", () => api.outboxRetry(opId)); void refresh(); } }, "Retry"),
          h("button", { type: "button", class: "btn btn-xs btn-ghost", "aria-label": `Discard ${e.card_title}`, onclick: async () => {
            if (!(await confirmDialog("Discard this change?", `The queued ${e.kind} of “${e.card_title}” is dropped and the card goes back to its last synced copy.`, "Discard"))) return;
            await attempt("Discard", () => api.outboxDiscard(opId));
            void refresh();
          } }, "Discard"),
        ),
      );
    })),
  );
}
