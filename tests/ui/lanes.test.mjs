// Lanes on the board: columns in lane order (cards match lanes case-insensitively), add, rename
// (cards move with it), delete asking where the cards go, reorder by keyboard and by drag.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { done, eventually, launch, openApp, screenshot, serveDist, uuid } from "./helpers.mjs";

const CARDS = [
  { id: uuid(1), title: "Old inbox card", lane: "inbox", position: 1 },
  { id: uuid(2), title: "Working on it", lane: "Doing", position: 1 },
  { id: uuid(3), title: "Also doing", lane: "doing", position: 2 },
  { id: uuid(4), title: "Shipped", lane: "Done", position: 1 },
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

const app = (cfg = {}) => openApp(browser, server.url, { cards: CARDS, lanes: ["Inbox", "Doing", "Done"], ...cfg });
const lane = (page, name) => page.getByRole("region", { name: `Lane ${name}`, exact: true });
const columns = (page) => page.locator(".lane").evaluateAll((els) => els.map((e) => e.getAttribute("data-lane")));

describe("lanes", () => {
  test("columns follow lane order, not the alphabet, and hold their cards whatever the case", async () => {
    const page = await app();
    await lane(page, "Done").getByText("Shipped").waitFor();
    assert.deepEqual(await columns(page), ["Inbox", "Doing", "Done"]);
    await lane(page, "Inbox").getByText("Old inbox card").waitFor();
    assert.equal(await lane(page, "Doing").locator(".card").count(), 2);
    await screenshot(page, "lanes");
    assert.deepEqual(page.pageErrors, []);
    await done(page);
  });

  test("add and rename a lane; a taken name is refused with a message", async () => {
    const page = await app();
    await lane(page, "Done").waitFor();
    await page.getByRole("button", { name: "+ Add lane" }).click();
    await page.getByRole("textbox", { name: "Name" }).fill("Someday");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await lane(page, "Someday").waitFor();
    assert.deepEqual(await columns(page), ["Inbox", "Doing", "Done", "Someday"]);

    await page.getByRole("button", { name: "Rename lane Doing" }).click();
    await page.getByRole("textbox", { name: "New name" }).fill("Now");
    await page.getByRole("button", { name: "Rename", exact: true }).click();
    await lane(page, "Now").getByText("Also doing").waitFor();
    assert.equal(await lane(page, "Now").locator(".card").count(), 2, "the cards moved with the lane");
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("lane_rename")), [{ name: "Doing", newName: "Now" }]);

    await page.getByRole("button", { name: "Rename lane Now" }).click();
    await page.getByRole("textbox", { name: "New name" }).fill("done");
    await page.getByRole("button", { name: "Rename", exact: true }).click();
    await page.getByText(/exists already/).waitFor();
    assert.deepEqual(await columns(page), ["Inbox", "Now", "Done", "Someday"]);
    await done(page);
  });

  test("delete asks where the cards go: another lane, or the Trash", async () => {
    const page = await app();
    await lane(page, "Doing").getByText("Working on it").waitFor();
    await page.getByRole("button", { name: "Delete lane Doing" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete lane “Doing”?" });
    await dialog.getByText("Where should its 2 cards go?").waitFor();
    await dialog.getByRole("combobox", { name: "Lane that takes the cards" }).selectOption("Done");
    await screenshot(page, "lane-delete");
    await dialog.getByRole("button", { name: "Delete lane" }).click();
    await lane(page, "Done").getByText("Working on it").waitFor();
    assert.deepEqual(await columns(page), ["Inbox", "Done"]);
    assert.equal(await lane(page, "Done").locator(".card").count(), 3);
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("lane_delete")), [{ name: "Doing", cardsGo: { to: "move_to", lane: "Done" } }]);

    await page.getByRole("button", { name: "Delete lane Inbox" }).click();
    const second = page.getByRole("dialog", { name: "Delete lane “Inbox”?" });
    await second.getByRole("radio", { name: /Trash/ }).check();
    await second.getByRole("button", { name: "Delete lane", exact: true }).click();
    await eventually(async () => (await columns(page)).join() === "Done", { message: "Inbox deleted" });
    assert.equal(await page.getByText("Old inbox card").count(), 0);
    assert.deepEqual((await page.evaluate(() => window.__fake.callsOf("lane_delete")))[1], { name: "Inbox", cardsGo: { to: "trash" } });
    await done(page);
  });

  test("Alt+Left/Right on a lane title moves the lane and keeps the focus on it", async () => {
    const page = await app();
    await lane(page, "Doing").waitFor();
    await lane(page, "Doing").locator(".lane-handle").focus();
    await page.keyboard.press("Alt+ArrowLeft");
    await eventually(async () => (await columns(page)).join() === "Doing,Inbox,Done", { message: "Doing moved left" });
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("lane_move")), [{ name: "Doing", before: null, after: "Inbox" }]);
    await eventually(() => page.evaluate(() => document.activeElement?.textContent === "Doing"), { message: "focus stays on the lane" });
    await page.keyboard.press("Alt+ArrowRight");
    await page.keyboard.press("Alt+ArrowRight");
    await eventually(async () => (await columns(page)).join() === "Inbox,Done,Doing", { message: "Doing moved right twice" });
    await done(page);
  });

  test("dragging a lane's header onto another lane's header puts it before that lane", async () => {
    const page = await app();
    await lane(page, "Done").waitFor();
    await lane(page, "Done").locator(".lane-head .count").dragTo(lane(page, "Inbox").locator(".lane-head"));
    await eventually(async () => (await columns(page)).join() === "Done,Inbox,Doing", { message: "Done dragged first" });
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("lane_move")), [{ name: "Done", before: null, after: "Inbox" }]);
    await done(page);
  });
});
