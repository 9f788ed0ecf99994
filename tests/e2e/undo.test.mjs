// End to end in the real app against a real deckhand-server: edit a card, press Ctrl+Z (on the
// board, not in a text field), and the old title is back — in the app and, through the outbox, on
// the server — with the toast saying what was undone. Screenshot: target/screenshots/e2e-undo.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { addUser, freePort, screenshot, SEL, serverCard, settle, startApp, startServer, tempDir, waitSynced } from "./harness.mjs";

test("edit a card, Ctrl+Z: the old value is back in the app and on the server", async () => {
  const work = tempDir("deckhand-e2e-undo-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "e2e");
  const server = await startServer(db, await freePort());
  const app = await startApp({ DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: server.url, DECKHAND_TOKEN: token });
  try {
    const { wd } = app;
    const input = await wd.waitFor("quick add", () => wd.find('input[aria-label="New card title"]'));
    await wd.type(input, "Plan the offsite\uE007");
    await waitSynced(wd, "Plan the offsite");
    const id = await wd.exec("return document.querySelector(arguments[0]).getAttribute('data-card-id')", SEL("Plan the offsite"));

    await wd.clickCss('button[aria-label="Open Plan the offsite"]');
    const title = await wd.waitFor("editor", () => wd.find("#ed-title"));
    await wd.clear(title);
    await wd.type(title, "Plan the offsite in Lisbon");
    await wd.clickText("button", "Save");
    await waitSynced(wd, "Plan the offsite in Lisbon");
    assert.equal((await serverCard(server.url, token, id)).body.title, "Plan the offsite in Lisbon");
    await wd.waitFor("editor closed", async () => (await wd.exec("const e = document.querySelector('#ed-title'); return !e || e.offsetParent === null")) || null);

    // Ctrl+Z on the board (a card's button has focus, not a text field).
    const cardBtn = await wd.find('button[aria-label="Open Plan the offsite in Lisbon"]');
    await wd.type(cardBtn, "\uE009z\uE000");
    await wd.waitFor("undo toast", () => wd.findByText(".toast-text", 'Undone: edit "Plan the offsite".'));
    await waitSynced(wd, "Plan the offsite");
    await settle(wd);
    await screenshot(wd, "e2e-undo");
    const back = await serverCard(server.url, token, id);
    assert.equal(back.body.title, "Plan the offsite");
    assert.equal(back.body.version, 3, "the undo is a new version, not a rewind");
  } finally {
    await app.stop();
    await server.stop();
  }
});
