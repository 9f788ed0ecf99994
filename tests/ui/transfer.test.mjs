// File menu: Import… with a progress bar from `import_progress` events, a failed import, and
// Export with the current filter. The native dialogs are the shell's (`import_pick`,
// `export_pick`); the fake answers them with a path.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { done, eventually, launch, openApp, screenshot, serveDist, uuid } from "./helpers.mjs";

const CARDS = [
  { id: uuid(1), title: "Existing card", lane: "inbox", position: 1, tags: ["keep"] },
  { id: uuid(2), title: "Another", lane: "doing", position: 1 },
];

let browser, server;
before(async () => {
  browser = await launch();
  server = await serveDist();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const fileMenu = async (page, item) => {
  await page.getByRole("button", { name: "File" }).click();
  await page.getByRole("menu", { name: "File" }).getByRole("menuitem", { name: item }).click();
};

describe("import and export", () => {
  test("Import… shows progress per chunk, then what was imported", async () => {
    const page = await openApp(browser, server.url, { cards: CARDS, holdImport: true });
    await fileMenu(page, "Import…");
    const progress = page.getByRole("progressbar", { name: "Import progress" });
    await eventually(async () => (await progress.getAttribute("aria-valuenow")) === "500", { message: "progress 500 of 1200" });
    assert.equal(await progress.getAttribute("aria-valuemax"), "1200");
    const region = page.getByRole("region", { name: "Import", exact: true });
    await region.getByText("Importing… 500 of 1200").waitFor();
    await screenshot(page, "import-progress");
    await page.evaluate(() => window.__fake.releaseImport());
    await region.getByText("Import done: 1197 cards imported · 3 already here · 1 left out").waitFor();
    assert.equal(await progress.getAttribute("aria-valuenow"), "1200");
    await screenshot(page, "import-done");
    const [pick] = await page.evaluate(() => window.__fake.callsOf("import_pick"));
    assert.deepEqual(pick, { folder: false });
    const [call] = await page.evaluate(() => window.__fake.callsOf("cards_import"));
    assert.equal(call.path, "/home/user/bookmarks.html");
    assert.match(call.options.job_id, /^[0-9a-f-]{36}$/);
    // The new lane and its cards show without a reload.
    await page.getByRole("region", { name: "Lane imported" }).getByText("Imported 1200").waitFor();
    await region.getByRole("button", { name: "Dismiss import" }).click();
    await region.waitFor({ state: "hidden" });
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
    await done(page);
  });

  test("a bad file shows the engine's message naming the item", async () => {
    const msg = "malformed file at line 3: found record with 3 fields, but the previous record has 2 fields";
    const page = await openApp(browser, server.url, { cards: CARDS, importError: msg });
    await fileMenu(page, "Import Markdown folder…");
    await page.getByRole("region", { name: "Import", exact: true }).getByText(`Import failed: ${msg}`).waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("import_pick")), [{ folder: true }]);
    await done(page);
  });

  test("Export as CSV… exports what the current filter shows", async () => {
    const page = await openApp(browser, server.url, { cards: CARDS });
    await page.getByRole("combobox", { name: "Filter by tag" }).selectOption("keep");
    await fileMenu(page, "Export as CSV…");
    await page.getByText("Exported 1 card to /home/user/deckhand-cards.csv").waitFor();
    const [call] = await page.evaluate(() => window.__fake.callsOf("cards_export"));
    assert.deepEqual(call, { path: "/home/user/deckhand-cards.csv", format: "csv", query: { tag: "keep" } });
    await done(page);
  });
});
