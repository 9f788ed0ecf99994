// End to end in the real app (tauri-driver + WebKitWebDriver under Xvfb) against a real
// deckhand-server (issue 12): delete → "Moved to Trash" → restore from the Trash (the card comes
// back with its id on the server), and a card's history → "Restore this version".
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { addUser, freePort, noDialog, screenshot, SEL, serverCard, settle, startApp, startServer, tempDir, waitState } from "./harness.mjs";

test("delete → trash → restore, and history → restore a version", async () => {
  const work = tempDir("deckhand-e2e-life-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "e2e");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServer(db, port);
  const app = await startApp({ DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: url, DECKHAND_TOKEN: token });
  try {
    const { wd } = app;
    const input = await wd.waitFor("quick add", () => wd.find('input[aria-label="New card title"]'));
    await wd.type(input, "Trip plan\uE007");
    await waitState(wd, "Trip plan", "synced");
    const id = await wd.exec("return document.querySelector(arguments[0]).getAttribute('data-card-id')", SEL("Trip plan"));

    // 1. Delete from the editor: the toast says "Moved to Trash"; the server keeps a tombstone.
    await wd.clickCss(`button[aria-label="Open Trip plan"]`);
    await wd.waitFor("editor", () => wd.find("#ed-title"));
    await wd.clickText(".editor button", "Delete");
    await wd.clickText("dialog[open] button", "Delete");
    await wd.waitFor("toast", () => wd.findByText(".toast-text", "Moved to Trash"));
    await wd.waitFor("card gone", async () => ((await wd.exec("return document.querySelector(arguments[0])", SEL("Trip plan"))) === null ? true : null));
    await wd.waitFor("tombstone on the server", async () => ((await serverCard(url, token, id)).status === 410 ? true : null), 60000);

    // 2. The Trash lists it; Restore brings it back with its id (a restore op through the outbox).
    await noDialog(wd);
    await wd.clickCss("#open-trash");
    await wd.waitFor("trash entry", () => wd.findByText(".trash-title", "Trip plan"), 30000);
    await settle(wd);
    await screenshot(wd, "e2e-trash");
    await wd.clickCss('button[aria-label="Restore Trip plan"]');
    await wd.waitFor("trash empty", () => wd.findByText(".trash-empty", "The trash is empty."));
    await wd.clickText("dialog[open] button", "Close");
    await waitState(wd, "Trip plan", "synced");
    assert.equal(await wd.exec("return document.querySelector(arguments[0]).getAttribute('data-card-id')", SEL("Trip plan")), id, "restored with its id");
    const restored = await serverCard(url, token, id);
    assert.equal(restored.status, 200);
    assert.equal(restored.body.title, "Trip plan");
    assert.equal(restored.body.deleted, false);

    // 3. Edit the title; then History → restore the version before the edit.
    await noDialog(wd);
    await wd.clickCss(`button[aria-label="Open Trip plan"]`);
    const title = await wd.waitFor("editor", () => wd.find("#ed-title"));
    await wd.clear(title);
    await wd.type(title, "Trip plan v2");
    await wd.clickText("button", "Save");
    await waitState(wd, "Trip plan v2", "synced");
    await wd.clickCss(`button[aria-label="Open Trip plan v2"]`);
    await wd.waitFor("editor", () => wd.find("#ed-title"));
    await wd.clickText(".editor button", "History");
    await wd.waitFor("history", () => wd.find("dialog.history .history-item .history-current"), 30000);
    await settle(wd);
    await screenshot(wd, "e2e-history");
    const versions = await wd.exec("return [...document.querySelectorAll('dialog.history .history-version')].map((e) => e.textContent)");
    assert.ok(versions.length >= 4, `create, delete, restore, edit: ${versions}`);
    // The newest version that is not the current one and not a deletion: the restored "Trip plan".
    const target = await wd.exec(
      "const items = [...document.querySelectorAll('dialog.history .history-item')].filter((i) => i.querySelector('button')); const b = items[0].querySelector('button'); b.setAttribute('data-e2e', 'restore-version'); return items[0].querySelector('.history-title').textContent",
    );
    assert.equal(target, "Trip plan");
    await wd.clickCss('button[data-e2e="restore-version"]');
    await waitState(wd, "Trip plan", "synced");
    const reverted = await serverCard(url, token, id);
    assert.equal(reverted.body.title, "Trip plan");
    assert.ok(reverted.body.version > restored.body.version, "a new edit, not a rewind");
  } finally {
    await app.stop();
    await server.stop();
  }
});
