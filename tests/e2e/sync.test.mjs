// End to end in the real app (tauri-driver + WebKitWebDriver under Xvfb) against a real
// deckhand-server: an offline create syncs by itself once the server starts; a conflicting edit
// made with deckhand-cli is resolved in the conflict modal and the server ends with my value.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { addUser, cli, freePort, screenshot, SEL, serverCard, settle, startApp, startServer, tempDir, waitState } from "./harness.mjs";

async function openDashboard(wd) {
  await wd.clickCss("button.status-button");
  await wd.waitFor("dashboard", () => wd.findByText("h2, h1", "Sync dashboard"));
}

test("offline create syncs on reconnect; CLI conflict resolved in the modal", async () => {
  const work = tempDir("deckhand-e2e-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "e2e");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await startApp({ DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: url, DECKHAND_TOKEN: token });
  let server;
  try {
    const { wd } = app;
    // 1. Offline: the server is not running. The card shows at once, pending.
    const input = await wd.waitFor("quick add", () => wd.find('input[aria-label="New card title"]'));
    await wd.type(input, "Written offline\uE007");
    await waitState(wd, "Written offline", "pending", 20000);
    const id = await wd.exec("return document.querySelector(arguments[0]).getAttribute('data-card-id')", SEL("Written offline"));
    assert.equal((await fetch(`${url}/healthz`).catch(() => null)), null, "server must be down during the offline write");

    // 2. Start the server: the app notices by itself and syncs, no user action.
    server = await startServer(db, port);
    await waitState(wd, "Written offline", "synced");
    await settle(wd);
    const created = await serverCard(url, token, id);
    assert.equal(created.status, 200);
    assert.equal(created.body.title, "Written offline");
    await screenshot(wd, "e2e-board");

    // 3. A second device (deckhand-cli) has the card too.
    const cliDir = path.join(work, "cli");
    cli(cliDir, url, token, ["sync", "run", "--until-idle", "--timeout", "30"]);
    assert.match(cli(cliDir, url, token, ["cards", "show", id]), /Written offline/);

    // 4. Pause the app's sync, edit the title in the app, edit it differently from the CLI.
    await openDashboard(wd);
    await wd.clickText("button", "Pause sync");
    await wd.waitFor("paused", () => wd.findByText("button", "Resume sync"));
    await settle(wd);
    await screenshot(wd, "e2e-dashboard");
    await wd.clickText("button", "Close");
    await wd.clickCss(`button[aria-label="Open Written offline"]`);
    const title = await wd.waitFor("editor", () => wd.find("#ed-title"));
    await wd.clear(title);
    await wd.type(title, "Title from the app");
    await wd.clickText("button", "Save");
    await waitState(wd, "Title from the app", "pending", 20000);
    cli(cliDir, url, token, ["cards", "edit", id, "--title", "Title from the CLI"]);
    cli(cliDir, url, token, ["sync", "run", "--until-idle", "--timeout", "30"]);
    assert.equal((await serverCard(url, token, id)).body.title, "Title from the CLI");

    // 5. Resume: the app's edit meets the CLI's. The conflict lands in the inbox (no modal over
    // the user's work); one click on the badge and one on the entry open it.
    await openDashboard(wd);
    await wd.clickText("button", "Resume sync");
    // The dashboard dialog is gone before we look (it was still closing when the badge came).
    // Its own Close button, clicked again if a click was lost while the resumed sync re-rendered
    // the window (seen once in CI on a loaded machine: the dialog stayed open).
    await wd.waitFor("dashboard closed", async () => {
      if ((await wd.exec("return document.querySelectorAll('dialog[open]').length")) === 0) return true;
      const close = await wd.findByText("dialog.dashboard-modal[open] button", "Close");
      if (close) await wd.click(close).catch(() => null);
      return null;
    });
    await wd.waitFor("conflicts badge", () => wd.find('button.inbox-button:not([hidden])').catch(() => null), 60000);
    assert.equal(await wd.exec("return document.querySelectorAll('dialog.conflict-modal[open]').length"), 0, "a background conflict opened a modal");
    await wd.clickCss("button.inbox-button");
    await settle(wd);
    await screenshot(wd, "e2e-conflicts-inbox");
    await wd.clickCss("button.inbox-item");
    await wd.waitFor("conflict modal", () => wd.findByText("button", "Keep mine"), 60000);
    await settle(wd);
    await screenshot(wd, "e2e-conflict");
    await wd.clickText("button", "Keep mine");
    await waitState(wd, "Title from the app", "synced");
    const resolved = await serverCard(url, token, id);
    assert.equal(resolved.body.title, "Title from the app");
    assert.ok(resolved.body.version >= 3, `version ${resolved.body.version}`);
  } finally {
    await app.stop();
    if (server) await server.stop();
  }
});
