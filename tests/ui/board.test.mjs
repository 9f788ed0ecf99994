// Board, list, quick add, editor, search, keyboard move, delete, bulk.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { done, eventually, launch, openApp, screenshot, serveDist, uuid } from "./helpers.mjs";

const CARDS = [
  { id: uuid(1), title: "Write release notes", body: "- [x] draft\n- [ ] review\n\nSee **changelog**", lane: "inbox", tags: ["docs"], url: "https://example.com/notes", position: 1 },
  { id: uuid(2), title: "Fix login bug", body: "Users are logged out.", lane: "inbox", tags: ["bug", "urgent"], position: 2, pinned: true },
  { id: uuid(3), title: "Design the dashboard", lane: "doing", tags: ["design"], position: 1, sync_state: "pending" },
  { id: uuid(4), title: "Ship v1", lane: "done", position: 1 },
  { id: uuid(5), title: "Refactor outbox", lane: "doing", position: 2, tags: ["core"] },
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

async function app(cfg = {}) {
  return openApp(browser, server.url, { cards: CARDS, ...cfg });
}
const lane = (page, name) => page.getByRole("region", { name: `Lane ${name}` });
const card = (page, title) => page.locator(".card", { has: page.getByRole("button", { name: `Open ${title}`, exact: true }) });

describe("board", () => {
  test("renders lanes and cards with sync badges, no CSP violations", async () => {
    const page = await app();
    for (const name of ["inbox", "doing", "done"]) await lane(page, name).waitFor();
    await lane(page, "inbox").getByText("Write release notes").waitFor();
    await lane(page, "doing").getByText("Design the dashboard").waitFor();
    assert.equal(await lane(page, "doing").locator(".card").count(), 2);
    assert.equal(await card(page, "Design the dashboard").locator("[data-sync-state]").getAttribute("data-sync-state"), "pending");
    assert.equal(await card(page, "Ship v1").locator("[data-sync-state]").textContent(), "Synced");
    await page.getByRole("button", { name: /Sync status: Online/ }).waitFor();
    await screenshot(page, "board");
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
    assert.deepEqual(page.pageErrors, []);
    await done(page);
  });

  test("quick add creates a card in the chosen lane", async () => {
    const page = await app();
    await page.keyboard.press("n");
    await eventually(() => page.evaluate(() => document.activeElement?.id === "quick-title"), { message: "n focuses quick add" });
    await page.getByRole("textbox", { name: "New card title" }).fill("Buy milk");
    await page.getByRole("combobox", { name: "Lane for new card" }).selectOption("doing");
    await page.getByRole("button", { name: "Add card" }).click();
    await lane(page, "doing").getByText("Buy milk").waitFor();
    const calls = await page.evaluate(() => window.__fake.callsOf("card_create"));
    assert.deepEqual(calls, [{ input: { title: "Buy milk", lane: "doing" } }]);
    await done(page);
  });

  test("side panel edit saves only the changed fields", async () => {
    const page = await app();
    await page.getByRole("button", { name: "Open Fix login bug" }).click();
    const panel = page.getByRole("complementary", { name: "Edit card" });
    await panel.waitFor();
    await panel.getByLabel("Title").fill("Fix login bug on Safari");
    await panel.getByLabel("Body (Markdown)").fill("# Steps\n1. open [site](https://example.com)\n2. wait");
    await panel.getByRole("button", { name: "Preview" }).click();
    await panel.getByRole("region", { name: "Body preview" }).getByRole("link", { name: "site" }).waitFor();
    await screenshot(page, "editor");
    await panel.getByLabel("URL").fill("https://example.com/bug/1");
    await panel.getByLabel("Tags").fill("bug, safari");
    await panel.getByLabel("Lane").fill("doing");
    await panel.getByLabel("Pinned").uncheck();
    await panel.getByRole("button", { name: "Save" }).click();
    await panel.waitFor({ state: "hidden" });
    const calls = await page.evaluate(() => window.__fake.callsOf("card_update"));
    assert.deepEqual(calls, [{
      id: uuid(2),
      changes: { title: "Fix login bug on Safari", body: "# Steps\n1. open [site](https://example.com)\n2. wait", url: "https://example.com/bug/1", tags: ["bug", "safari"], lane: "doing", pinned: false },
      // The version the editor was filled from: a remote change since is merged, not overwritten.
      baseVersion: 1,
    }]);
    await lane(page, "doing").getByText("Fix login bug on Safari").waitFor();
    assert.equal(await card(page, "Fix login bug on Safari").locator("[data-sync-state]").getAttribute("data-sync-state"), "pending");
    await done(page);
  });

  test("search, tag and lane filters query the index", async () => {
    const page = await app();
    await page.keyboard.press("/");
    await page.getByRole("searchbox", { name: "Search cards" }).fill("dashboard");
    await eventually(async () => (await page.locator(".board-view .card").count()) === 1, { message: "one search hit" });
    await page.getByText("Design the dashboard").waitFor();
    const q = await page.evaluate(() => window.__fake.callsOf("cards_list").at(-1));
    assert.equal(q.query.text, "dashboard");
    await page.getByRole("searchbox", { name: "Search cards" }).fill("");
    await eventually(async () => (await page.locator(".board-view .card").count()) === 5, { message: "all cards back" });
    await page.getByRole("combobox", { name: "Filter by tag" }).selectOption("bug");
    await eventually(async () => (await page.locator(".board-view .card").count()) === 1, { message: "tag filter" });
    await page.getByRole("combobox", { name: "Filter by tag" }).selectOption("");
    await page.getByRole("combobox", { name: "Filter by lane" }).selectOption("doing");
    await eventually(async () => (await page.locator(".board-view .lane").count()) === 1, { message: "lane filter shows one lane" });
    assert.equal(await page.locator(".board-view .card").count(), 2);
    await done(page);
  });

  test("keyboard: Alt+Right moves lane, Alt+Down reorders, focus stays on the card", async () => {
    const page = await app();
    const c = card(page, "Write release notes");
    await c.focus();
    await page.keyboard.press("Alt+ArrowRight");
    await lane(page, "doing").getByText("Write release notes").waitFor();
    let moves = await page.evaluate(() => window.__fake.callsOf("card_move"));
    assert.deepEqual(moves[0], { id: uuid(1), lane: "doing", before: null, after: null });
    await eventually(() => page.evaluate(() => document.activeElement?.getAttribute("aria-label") === "Write release notes"), { message: "focus kept" });
    // Now in doing: [Design, Refactor, Write]. Alt+Up puts it between Design and Refactor: the UI
    // names the neighbours, the backend picks the position.
    await page.keyboard.press("Alt+ArrowUp");
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("card_move").length)) === 2, { message: "second move" });
    moves = await page.evaluate(() => window.__fake.callsOf("card_move"));
    assert.deepEqual(moves[1], { id: uuid(1), lane: "doing", before: uuid(3), after: uuid(5) });
    await eventually(async () => (await lane(page, "doing").locator(".card").nth(1).getAttribute("aria-label")) === "Write release notes", { message: "reordered" });
    await done(page);
  });

  test("drag and drop moves a card to another lane", async () => {
    const page = await app();
    await card(page, "Ship v1").dragTo(lane(page, "inbox").locator(".lane-body"), { targetPosition: { x: 40, y: 5 } });
    await lane(page, "inbox").getByText("Ship v1").waitFor();
    const moves = await page.evaluate(() => window.__fake.callsOf("card_move"));
    assert.equal(moves.length, 1);
    assert.equal(moves[0].lane, "inbox");
    await done(page);
  });

  test("moves name neighbours, never positions: 20 drops at one spot keep their order", async () => {
    // Two cards in "done" share a position (as from two devices) and list by id, a hair after
    // "Ship v1": dropping cards right after "Ship v1" over and over exhausts the midpoints after
    // ~12 drops. The UI sends only the neighbours; the backend rebalances, and the board shows
    // the order the user made.
    const tied = [
      { id: uuid(41), title: "Tie A", lane: "done", position: 1.000000000001 },
      { id: uuid(40), title: "Tie B", lane: "done", position: 1.000000000001 },
    ];
    const many = Array.from({ length: 20 }, (_, i) => ({ id: uuid(100 + i), title: `Drop ${i}`, lane: "inbox", position: 10 + i }));
    const page = await app({ cards: [...CARDS, ...tied, ...many] });
    const titles = () => lane(page, "done").locator(".card").evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")));
    await eventually(async () => JSON.stringify(await titles()) === JSON.stringify(["Ship v1", "Tie B", "Tie A"]), { message: "ties listed by id" });
    for (let i = 0; i < 20; i++) {
      // Onto the card right after "Ship v1" = just before it.
      await card(page, `Drop ${i}`).dragTo(card(page, i === 0 ? "Tie B" : `Drop ${i - 1}`), { targetPosition: { x: 60, y: 8 } });
      await eventually(async () => (await titles())[1] === `Drop ${i}`, { message: `drop ${i} landed after Ship v1` });
    }
    const moves = await page.evaluate(() => window.__fake.callsOf("card_move"));
    assert.equal(moves.length, 20);
    for (const [i, m] of moves.entries()) {
      assert.deepEqual(Object.keys(m).sort(), ["after", "before", "id", "lane"]);
      assert.deepEqual([m.before, m.after], [uuid(4), i === 0 ? uuid(40) : uuid(100 + i - 1)]);
    }
    const expected = ["Ship v1", ...Array.from({ length: 20 }, (_, i) => `Drop ${19 - i}`), "Tie B", "Tie A"];
    assert.deepEqual(await titles(), expected);
    await done(page);
  });

  test("delete asks for confirmation", async () => {
    const page = await app();
    await card(page, "Ship v1").focus();
    await page.keyboard.press("Delete");
    const dlg = page.getByRole("dialog", { name: "Delete card?" });
    await dlg.waitFor();
    await dlg.getByRole("button", { name: "Cancel" }).click();
    await dlg.waitFor({ state: "detached" });
    assert.equal((await page.evaluate(() => window.__fake.callsOf("card_delete"))).length, 0);
    await page.getByRole("button", { name: "Open Ship v1" }).click();
    await page.getByRole("complementary", { name: "Edit card" }).getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog", { name: "Delete card?" }).getByRole("button", { name: "Delete" }).click();
    await card(page, "Ship v1").waitFor({ state: "detached" });
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_delete")), [{ id: uuid(4) }]);
    await done(page);
  });

  test("bulk move shows progress from bulk_progress events", async () => {
    const page = await app({ holdBulk: true });
    await page.getByRole("checkbox", { name: "Select Write release notes" }).click();
    await page.getByRole("checkbox", { name: "Select Design the dashboard" }).click();
    await page.getByRole("checkbox", { name: "Select Ship v1" }).click();
    const bar = page.getByRole("region", { name: "Bulk actions" });
    await bar.getByText("3 selected").waitFor();
    await bar.getByRole("combobox", { name: "Move selected to lane" }).selectOption("done");
    await bar.getByRole("button", { name: "Move selected" }).click();
    const progress = page.getByRole("progressbar", { name: "Bulk action progress" });
    await eventually(async () => (await progress.getAttribute("aria-valuenow")) === "1", { message: "progress 1 of 3" });
    assert.equal(await progress.getAttribute("aria-valuemax"), "3");
    await page.evaluate(() => window.__fake.releaseBulk());
    await eventually(async () => (await progress.getAttribute("aria-valuenow")) === "3", { message: "progress 3 of 3" });
    await bar.getByText(/3 cards done/).waitFor();
    const [call] = await page.evaluate(() => window.__fake.callsOf("cards_bulk"));
    assert.deepEqual(call.ids, [uuid(1), uuid(3), uuid(4)]);
    assert.deepEqual(call.action, { action: "move", lane: "done" });
    assert.match(call.jobId, /^[0-9a-f-]{36}$/);
    await eventually(async () => (await lane(page, "done").locator(".card").count()) === 3, { message: "cards moved" });
    await done(page);
  });

  test("shift-click selects a range", async () => {
    const page = await app();
    await page.getByRole("checkbox", { name: "Select Write release notes" }).click();
    await page.getByRole("checkbox", { name: "Select Refactor outbox" }).click({ modifiers: ["Shift"] });
    await page.getByRole("region", { name: "Bulk actions" }).getByText("4 selected").waitFor();
    // Keyboard: Space on a card's checkbox selects it and focus stays on that checkbox.
    await page.getByRole("checkbox", { name: "Select Ship v1" }).focus();
    await page.keyboard.press("Space");
    await page.getByRole("region", { name: "Bulk actions" }).getByText("5 selected").waitFor();
    await eventually(() => page.evaluate(() => document.activeElement?.getAttribute("aria-label") === "Select Ship v1"), { message: "focus stays on checkbox" });
    assert.equal(await page.getByRole("checkbox", { name: "Select Ship v1" }).isChecked(), true);
    await done(page);
  });

  test("bulk add tag and bulk delete (confirmed)", async () => {
    const page = await app();
    await page.getByRole("checkbox", { name: "Select Ship v1" }).click();
    await page.getByRole("checkbox", { name: "Select Refactor outbox" }).click();
    const bar = page.getByRole("region", { name: "Bulk actions" });
    await bar.getByRole("textbox", { name: "Tag for selected cards" }).fill("q4");
    await bar.getByRole("button", { name: "Add tag" }).click();
    await card(page, "Ship v1").getByText("q4", { exact: true }).waitFor();
    await card(page, "Refactor outbox").getByText("q4", { exact: true }).waitFor();
    let calls = await page.evaluate(() => window.__fake.callsOf("cards_bulk"));
    assert.deepEqual(calls[0].action, { action: "add_tag", tag: "q4" });
    // Selection was cleared after the bulk action; select again and delete.
    await page.getByRole("checkbox", { name: "Select Ship v1" }).click();
    await page.getByRole("checkbox", { name: "Select Refactor outbox" }).click();
    await bar.getByRole("button", { name: "Delete selected" }).click();
    await page.getByRole("dialog", { name: "Delete selected cards?" }).getByRole("button", { name: "Delete" }).click();
    await card(page, "Ship v1").waitFor({ state: "detached" });
    await card(page, "Refactor outbox").waitFor({ state: "detached" });
    calls = await page.evaluate(() => window.__fake.callsOf("cards_bulk"));
    assert.deepEqual(calls[1].action, { action: "delete" });
    assert.deepEqual([...calls[1].ids].sort(), [uuid(4), uuid(5)]);
    await done(page);
  });

  test("drag onto a card places it before that card", async () => {
    const page = await app();
    await card(page, "Refactor outbox").dragTo(card(page, "Design the dashboard"), { targetPosition: { x: 60, y: 8 } });
    await eventually(async () => (await lane(page, "doing").locator(".card").first().getAttribute("aria-label")) === "Refactor outbox", { message: "reordered by drop" });
    const [move] = await page.evaluate(() => window.__fake.callsOf("card_move"));
    assert.deepEqual(move, { id: uuid(5), lane: "doing", before: null, after: uuid(3) });
    await done(page);
  });

  test("Escape closes the editor without saving; list view toggles", async () => {
    const page = await app();
    await page.getByRole("button", { name: "Open Ship v1" }).click();
    const panel = page.getByRole("complementary", { name: "Edit card" });
    await panel.getByLabel("Title").fill("changed but not saved");
    await page.keyboard.press("Escape");
    await panel.waitFor({ state: "hidden" });
    assert.equal((await page.evaluate(() => window.__fake.callsOf("card_update"))).length, 0);
    await page.getByRole("button", { name: "List", exact: true }).click();
    const list = page.getByRole("list", { name: "Cards" });
    await list.getByRole("button", { name: "Open Ship v1" }).waitFor();
    assert.equal(await list.locator(".card-row").count(), 5);
    await page.getByRole("button", { name: "Board", exact: true }).click();
    await lane(page, "done").getByText("Ship v1").waitFor();
    await done(page);
  });

  test("dark theme renders", async () => {
    const page = await app({ settings: { theme: "dark" } });
    await lane(page, "inbox").getByText("Write release notes").waitFor();
    await page.evaluate((id) => window.__fake.failCard(id, { code: "validation_failed", message: "url must be http(s)", status: 422 }), uuid(5));
    await card(page, "Refactor outbox").getByText("url must be http(s)").waitFor();
    await page.getByRole("checkbox", { name: "Select Ship v1" }).click();
    await screenshot(page, "board-dark");
    await done(page);
  });

  test("roving tabindex: one tab stop per lane, arrows move between cards and lanes", async () => {
    const page = await app();
    const active = () => page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
    const stops = () => page.evaluate(() => [...document.querySelectorAll(".board-view [tabindex='0']")].map((e) => e.getAttribute("aria-label") ?? e.className));
    assert.deepEqual(await stops(), ["Write release notes", "Design the dashboard", "Ship v1"]);
    await card(page, "Write release notes").focus();
    await page.keyboard.press("ArrowDown");
    assert.equal(await active(), "Fix login bug");
    await page.keyboard.press("ArrowRight");
    assert.equal(await active(), "Refactor outbox");
    await page.keyboard.press("ArrowUp");
    assert.equal(await active(), "Design the dashboard");
    await page.keyboard.press("ArrowRight");
    assert.equal(await active(), "Ship v1");
    // The lane remembers its current card: Tab order is still one stop per lane.
    assert.deepEqual(await stops(), ["Fix login bug", "Design the dashboard", "Ship v1"]);
    // Shift+Tab walks back through each lane's header controls (move handle, rename, delete)
    // to the previous lane's one card stop.
    for (const stop of ["Delete lane done", "Rename lane done", "Move lane done", "Design the dashboard", "Delete lane doing", "Rename lane doing", "Move lane doing", "Fix login bug"]) {
      await page.keyboard.press("Shift+Tab");
      assert.equal(await active(), stop);
    }
    await done(page);
  });
});
