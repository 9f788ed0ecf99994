// Undo / redo in the app: Ctrl+Z / Ctrl+Shift+Z and the toolbar buttons ask the engine (the fake
// backend here keeps the engine's rule), a toast says what was undone and what was skipped, and
// Ctrl+Z inside a text field is left to the browser's own text undo.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { done, eventually, launch, openApp, screenshot, serveDist, uuid } from "./helpers.mjs";

let browser, server;
before(async () => {
  browser = await launch();
  server = await serveDist();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const CARDS = [
  { id: uuid(1), title: "Write release notes", lane: "inbox", body: "draft" },
  { id: uuid(2), title: "Fix login bug", lane: "doing" },
];
const calls = (page, cmd) => page.evaluate((c) => window.__fake.callsOf(c).length, cmd);
const cardTitle = (page, id) => page.evaluate((i) => window.__fake.cards.find((c) => c.id === i)?.title, id);

async function editTitle(page, from, to) {
  await page.getByRole("button", { name: `Open ${from}` }).click();
  const panel = page.getByRole("complementary", { name: "Edit card" });
  await panel.getByLabel("Title").fill(to);
  await panel.getByRole("button", { name: "Save" }).click();
  await panel.waitFor({ state: "hidden" });
  await page.getByText(to).waitFor();
}

describe("undo and redo", () => {
  test("Ctrl+Z undoes an edit with a toast; Ctrl+Shift+Z redoes it; the buttons follow", async () => {
    const page = await openApp(browser, server.url, { cards: CARDS });
    const undoBtn = page.getByRole("button", { name: "Undo", exact: true });
    const redoBtn = page.getByRole("button", { name: "Redo", exact: true });
    assert.equal(await undoBtn.isDisabled(), true, "nothing to undo at start");
    await editTitle(page, "Write release notes", "Write the 1.0 release notes");
    await eventually(async () => !(await undoBtn.isDisabled()), { message: "undo enabled" });
    assert.equal(await undoBtn.getAttribute("title"), 'Undo edit "Write release notes" (Ctrl+Z)');

    await page.locator("body").click({ position: { x: 5, y: 400 } });
    await page.keyboard.press("Control+z");
    await page.getByRole("status").getByText('Undone: edit "Write release notes".').waitFor();
    await page.getByText("Write release notes", { exact: true }).waitFor();
    assert.equal(await cardTitle(page, uuid(1)), "Write release notes");
    await screenshot(page, "undo-toast");
    await eventually(async () => !(await redoBtn.isDisabled()) && (await undoBtn.isDisabled()), { message: "redo enabled, undo empty" });

    await page.keyboard.press("Control+Shift+Z");
    await page.getByRole("status").getByText('Redone: edit "Write release notes".').waitFor();
    assert.equal(await cardTitle(page, uuid(1)), "Write the 1.0 release notes");
    // The toolbar button does the same.
    await undoBtn.click();
    await eventually(async () => (await cardTitle(page, uuid(1))) === "Write release notes", { message: "undone by the button" });
    assert.equal(await calls(page, "undo"), 2);
    assert.equal(await calls(page, "redo"), 1);
    await done(page);
  });

  test("a field changed on another device since is skipped, and the toast says so", async () => {
    const page = await openApp(browser, server.url, { cards: CARDS });
    await editTitle(page, "Fix login bug", "Fix login bug on Safari");
    await page.evaluate((id) => window.__fake.remoteEdit(id, { title: "Fix login bug (Safari, iOS)" }), uuid(2));
    await page.getByText("Fix login bug (Safari, iOS)").waitFor();
    await page.locator("body").click({ position: { x: 5, y: 400 } });
    await page.keyboard.press("Control+z");
    const t = page.getByRole("alert").getByText(/Nothing to undo: edit "Fix login bug" was changed since\. Skipped: .*title was changed since/);
    await t.waitFor();
    await screenshot(page, "undo-skipped");
    assert.equal(await cardTitle(page, uuid(2)), "Fix login bug (Safari, iOS)", "their change is kept");
    await done(page);
  });

  test("Ctrl+Z while typing in a text field is the browser's text undo, not the engine's", async () => {
    const page = await openApp(browser, server.url, { cards: CARDS });
    await editTitle(page, "Fix login bug", "Fix it");
    const search = page.getByRole("searchbox", { name: "Search cards" });
    await search.click();
    await search.pressSequentially("abc");
    await page.keyboard.press("Control+z");
    await page.keyboard.press("Control+Shift+Z");
    assert.equal(await calls(page, "undo"), 0);
    assert.equal(await calls(page, "redo"), 0);
    assert.equal(await cardTitle(page, uuid(2)), "Fix it");
    await done(page);
  });
});
