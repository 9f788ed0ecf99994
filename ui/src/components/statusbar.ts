// Status bar: connection, breaker, pending / failed / conflict counts, last sync. Opens the dashboard.
import { h, replaceChildren } from "../dom";
import { BREAKER_LABEL, CONNECTION_LABEL, time } from "../format";
import { state, subscribe } from "../state";
import { openDashboard } from "./dashboard";
import { inboxButton } from "./inbox";

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
      h("span", { class: "muted" }, `Last synced ${s.last_synced_at ? time(s.last_synced_at) : "never"}`),
      h("span", { class: "sr-only" }, ". Open sync dashboard"),
    );
  };
  subscribe("status", render);
  render();
}
