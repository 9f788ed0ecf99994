// Banner shown after the engine found the local database corrupt at start: where the old file was
// moved, that cards were rebuilt from the server, and the salvaged changes to re-queue or drop.
import { api, errorMessage } from "../api";
import { h, replaceChildren } from "../dom";
import { time } from "../format";
import { state, subscribe } from "../state";
import { toast } from "./toasts";

const DISMISSED = "deckhand.recovery.dismissed";

export function mountRecoveryBanner(parent: HTMLElement): void {
  const banner = h("section", { class: "banner banner-warn", role: "alert", "aria-label": "Database recovered", hidden: true });
  parent.appendChild(banner);
  let busy = false;
  const render = () => {
    const report = state.status?.recovery ?? null;
    if (!report || localStorage.getItem(DISMISSED) === report.at) {
      banner.hidden = true;
      return;
    }
    const act = async (label: string, run: () => Promise<string>) => {
      if (busy) return;
      busy = true;
      try {
        toast(await run(), "success");
        localStorage.setItem(DISMISSED, report.at);
        render();
      } catch (e) {
        toast(`${label} failed: ${errorMessage(e)}`, "error");
      } finally {
        busy = false;
      }
    };
    const pending = report.salvaged;
    replaceChildren(
      banner,
      h("div", { class: "banner-text" },
        h("strong", {}, "Your local database was damaged and has been rebuilt from the server."),
        h("p", {}, `Found ${time(report.at)}: ${report.reason}. The old file was kept at `, h("code", {}, report.moved_to), "."),
        pending > 0
          ? h("p", {}, `${pending} unsynced change${pending === 1 ? "" : "s"} could be read back from it${report.unreadable ? ` (${report.unreadable} could not)` : ""}.`)
          : h("p", {}, report.unreadable ? `${report.unreadable} unsynced change(s) could not be read back.` : "No unsynced changes were lost."),
      ),
      h("div", { class: "banner-actions" },
        pending > 0
          ? h("button", { type: "button", class: "btn btn-primary", onclick: () => act("Re-queue", async () => {
              const r = await api.recoveryRequeue([]);
              return `${r.requeued} change(s) queued again${r.skipped ? `, ${r.skipped} no longer applied` : ""}`;
            }) }, "Re-queue changes")
          : null,
        pending > 0
          ? h("button", { type: "button", class: "btn", onclick: () => act("Discard", async () => `${await api.recoveryDiscard([])} salvaged change(s) discarded`) }, "Discard them")
          : null,
        h("button", { type: "button", class: "btn btn-ghost", onclick: () => { localStorage.setItem(DISMISSED, report.at); render(); } }, "Dismiss"),
      ),
    );
    banner.hidden = false;
  };
  subscribe("status", render);
  render();
}
