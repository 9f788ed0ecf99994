// Status bar: connection, breaker, pending / failed / conflict counts, last sync. Opens the dashboard.
import type { SyncStatus } from "../bindings/SyncStatus";
import { h, replaceChildren } from "../dom";
import { BREAKER_LABEL, CONNECTION_LABEL, time } from "../format";
import { state, subscribe } from "../state";
import { openDashboard } from "./dashboard";
import { inboxButton } from "./inbox";

/** The latest sign of being in sync: a pull, or a change the realtime stream delivered since. */
function lastSynced(s: SyncStatus): string | null {
  const a = s.last_synced_at;
  const b = s.stream.last_event_at;
  if (!a || !b) return a ?? b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

export function mountStatusBar(parent: HTMLElement): void {
  const button = h("button", { type: "button", class: "status-button", "aria-haspopup": "dialog", onclick: () => openDashboard() });
  const bar = h("footer", { class: "statusbar" }, button, inboxButton());
  parent.appendChild(bar);
  const render = () => {
    const s = state.status;
    if (!s) {
      replaceChildren(button, h("span", { class: "muted" }, "Sync status loading"));
      return;
    }
    const conn = s.connection;
    replaceChildren(
      button,
      h("span", { class: "sr-only" }, "Sync status: "),
      h("span", { class: `conn conn-${conn}`, "data-connection": conn }, h("span", { class: "dot", "aria-hidden": "true" }), CONNECTION_LABEL[conn]),
      s.breaker !== "closed" ? h("span", { class: `breaker breaker-${s.breaker}` }, BREAKER_LABEL[s.breaker]) : null,
      h("span", { class: "sep", "aria-hidden": "true" }, "·"),
      h("span", { class: "stat" }, `${s.pending + s.in_flight} pending`),
      h("span", { class: `stat ${s.failed ? "stat-failed" : ""}` }, `${s.failed} failed`),
      h("span", { class: `stat ${s.conflicts ? "stat-conflict" : ""}` }, `${s.conflicts} conflicts`),
      h("span", { class: "spacer" }),
      h("span", { class: "muted last-synced" }, `Last synced ${lastSynced(s) ? time(lastSynced(s)!) : "never"}`),
      h("span", { class: "sr-only" }, ". Open sync dashboard"),
    );
  };
  subscribe("status", render);
  render();
}
