// Deckhand UI entry: lay out the shell, load once, then follow `engine-event`.
import "./styles.css";
import { api, errorMessage } from "./api";
import { mountBoard } from "./components/board";
import { mountBulkBar } from "./components/bulkbar";
import { mountCapture } from "./components/capture";
import { mountDashboardRefresh } from "./components/dashboard";
import { mountEditor } from "./components/editor";
import { loadInbox } from "./components/inbox";
import { openFirstRun } from "./components/firstrun";
import { mountList } from "./components/list";
import { mountRecoveryBanner } from "./components/recovery";
import { mountSettings } from "./components/settings";
import { mountStatusBar } from "./components/statusbar";
import { mountToasts, toast } from "./components/toasts";
import { mountToolbar, setView } from "./components/toolbar";
import { mountUndo } from "./components/undo";
import { mountTransfer } from "./components/transfer";
import { loadBoard, loadLanes, loadStatus, loadTags, resetList } from "./data";
import { h } from "./dom";
import { subscribeEngineEvents } from "./events";
import { installShortcuts } from "./keyboard";
import { installLinkHandler } from "./links";
import { installPerfMarks, markFirstCards, step } from "./perfmarks";
import { state } from "./state";
import { applyTheme } from "./theme";

async function start(): Promise<void> {
  installPerfMarks();
  step("start");
  const app = document.getElementById("app")!;
  const board = h("div", { class: "view board-view", id: "board-view", role: "region", "aria-label": "Board" });
  const list = h("div", { class: "view list-view", id: "list-view", role: "region", "aria-label": "List" });
  const settings = h("div", { class: "view settings-view", id: "settings-view" });
  const main = h("main", { class: "content" }, board, list, settings);
  mountToolbar(app);
  mountUndo();
  mountBulkBar(app);
  mountTransfer(app.querySelector(".topbar")!, app);
  mountRecoveryBanner(app);
  app.appendChild(main);
  mountEditor(app);
  mountStatusBar(app);
  mountToasts(document.body);
  setView("board");
  installShortcuts();
  installLinkHandler();
  mountDashboardRefresh();

  try {
    // Subscribe while loading so nothing that happens during start-up is missed. The first paint
    // waits only for what it shows (the theme, the lanes and then their cards, the list's first
    // page); tags, the status and the inbox load beside it (the tag list reads the whole tag
    // index). Asking for those only after the first paint's data came was measured no faster.
    const besides = Promise.all([loadTags(), loadStatus(), loadInbox()]);
    besides.catch(() => {}); // handled where it is awaited below
    const [s] = await Promise.all([
      api.settingsGet(),
      subscribeEngineEvents(),
      loadLanes().then(() => {
        step("lanes");
        return loadBoard();
      }),
      resetList(),
    ]);
    state.settings = s;
    applyTheme(s.theme);
    step("board");
    mountBoard(board);
    mountList(list);
    mountSettings(settings);
    step("mounted");
    document.body.dataset.ready = "true";
    markFirstCards();
    releaseSync();
    await besides;
    // After the board: a capture that started the app opens over a loaded view.
    await mountCapture();
    if (!s.first_run_done) openFirstRun(s);
  } catch (err) {
    toast(`Deckhand could not load: ${errorMessage(err)}`, "error", 60000);
    document.body.dataset.ready = "error";
    releaseSync();
  }
}

/** Background sync waits for this (the shell opens the engine with `hold_sync`): a drain of
 * thousands of queued ops would otherwise compete with the first paint. Sent once the frame with
 * the cards has been painted (rAF runs before the paint; a task queued from it runs after). */
function releaseSync(): void {
  requestAnimationFrame(() => setTimeout(() => void api.uiReady().catch((err) => console.error("ui_ready failed", err)), 0));
}

void start();
