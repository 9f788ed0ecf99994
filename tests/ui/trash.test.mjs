// Trash and version history (issue 12): the Trash view, the "Moved to Trash" toast with Restore,
// "Empty trash" behind a confirmation, and a card's history with a body word diff and "Restore
// this version" — all through the typed commands of the fake backend.
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

const DELETED_AT = "2026-11-20T09:30:00Z";
const cards = [
  { id: uuid(1), title: "Plan the offsite", lane: "inbox", confirmed_version: 3, body: "Book the venue\nInvite the team" },
  { id: uuid(2), title: "Renew domain", lane: "doing" },
];
const trash = [{ id: uuid(9), title: "Old roadmap", lane: "done", tags: ["q3"], updated_at: DELETED_AT, version: 4 }];

function version(v, fields, writer, at) {
  return {
    card: { id: uuid(1), title: "Plan the offsite", body: "", url: null, tags: [], lane: "inbox", position: 1, pinned: false, version: v, created_at: "2026-11-01T08:00:00Z", updated_at: at, deleted: false, ...fields },
    writer,
  };
}
const versions = {
  [uuid(1)]: [
    version(3, { body: "Book the venue\nInvite the team" }, "aaaabbbbccccdddd", "2026-11-23T10:00:00Z"),
    version(2, { title: "Plan offsite", body: "Book a venue\nInvite the team" }, "1111222233334444", "2026-11-22T10:00:00Z"),
    version(1, { title: "Plan offsite", body: "Book a venue" }, "1111222233334444", "2026-11-21T10:00:00Z"),
  ],
};

const notifications = (page) => page.getByRole("status", { name: "Notifications" });

describe("trash", () => {
  test("the Trash lists deleted cards with when; Restore goes through card_restore", async () => {
    const page = await openApp(browser, server.url, { cards, trash });
    await page.getByRole("button", { name: "Trash" }).click();
    const dlg = page.getByRole("dialog", { name: "Trash" });
    await dlg.waitFor();
    const item = dlg.getByRole("listitem").filter({ hasText: "Old roadmap" });
    await item.waitFor();
    assert.match(await item.innerText(), /done · deleted/);
    await screenshot(page, "trash");
    await item.getByRole("button", { name: "Restore Old roadmap" }).click();
    await notifications(page).getByText("Restored “Old roadmap”").waitFor();
    await dlg.getByText("The trash is empty.").waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_restore")), [{ id: uuid(9) }]);
    await dlg.getByRole("button", { name: "Close" }).click();
    await page.getByRole("button", { name: "Open Old roadmap" }).waitFor();
    await done(page);
  });

  test("deleting shows “Moved to Trash” whose Restore brings the card back", async () => {
    const page = await openApp(browser, server.url, { cards });
    await page.getByRole("button", { name: "Open Renew domain" }).click();
    await page.getByRole("complementary", { name: "Edit card" }).getByRole("button", { name: "Delete" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete card?" });
    assert.match(await confirm.innerText(), /moves to the Trash/);
    await confirm.getByRole("button", { name: "Delete" }).click();
    const toastEl = notifications(page).locator(".toast").filter({ hasText: "Moved to Trash" });
    await toastEl.waitFor();
    await page.getByRole("button", { name: "Open Renew domain" }).waitFor({ state: "detached" });
    await screenshot(page, "trash-toast");
    await toastEl.getByRole("button", { name: "Restore" }).click();
    await page.getByRole("button", { name: "Open Renew domain" }).waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_restore")), [{ id: uuid(2) }]);
    await toastEl.waitFor({ state: "detached" });
    await done(page);
  });

  test("Empty trash asks first; Cancel keeps the cards, confirming empties it", async () => {
    const page = await openApp(browser, server.url, { cards, trash });
    await page.getByRole("button", { name: "Trash" }).click();
    const dlg = page.getByRole("dialog", { name: "Trash" });
    await dlg.getByText("Old roadmap").waitFor();
    await dlg.getByRole("button", { name: "Empty trash" }).click();
    const confirm = page.getByRole("dialog", { name: "Empty trash?" });
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    assert.equal((await page.evaluate(() => window.__fake.callsOf("trash_empty"))).length, 0);
    await dlg.getByRole("button", { name: "Empty trash" }).click();
    await page.getByRole("dialog", { name: "Empty trash?" }).getByRole("button", { name: "Empty trash" }).click();
    await notifications(page).getByText("Trash emptied: 1 card deleted for good").waitFor();
    await dlg.getByText("The trash is empty.").waitFor();
    assert.equal(await dlg.getByRole("button", { name: "Empty trash" }).isDisabled(), true);
    await done(page);
  });

  test("Empty trash without the server says so and keeps the cards", async () => {
    const page = await openApp(browser, server.url, { cards, trash, offline: true });
    await page.getByRole("button", { name: "Trash" }).click();
    const dlg = page.getByRole("dialog", { name: "Trash" });
    await dlg.getByRole("button", { name: "Empty trash" }).click();
    await page.getByRole("dialog", { name: "Empty trash?" }).getByRole("button", { name: "Empty trash" }).click();
    await page.getByRole("alert", { name: "Errors" }).getByText(/Empty trash failed: emptying the trash needs the server/).waitFor();
    await dlg.getByText("Old roadmap").waitFor();
    await done(page);
  });
});

describe("history", () => {
  test("the editor's History shows versions newest first with changed fields, a word diff and Restore this version", async () => {
    const page = await openApp(browser, server.url, { cards, versions });
    await page.getByRole("button", { name: "Open Plan the offsite" }).click();
    await page.getByRole("complementary", { name: "Edit card" }).getByRole("button", { name: "History" }).click();
    const dlg = page.getByRole("dialog", { name: "History of “Plan the offsite”" });
    const items = dlg.getByRole("listitem");
    await eventually(async () => (await items.count()) === 3, { message: "three versions" });
    assert.deepEqual(await dlg.locator(".history-version").allInnerTexts(), ["v3", "v2", "v1"]);
    const v3 = items.nth(0);
    assert.match(await v3.innerText(), /Changed: title, body/);
    assert.match(await v3.innerText(), /by aaaabbbb/);
    assert.match(await v3.innerText(), /current/);
    assert.equal(await v3.getByRole("button", { name: "Restore this version" }).count(), 0, "the current version has nothing to restore");
    // Word diff v2 → v3: "a" out, "the" in.
    assert.deepEqual(await v3.locator(".history-diff del").allInnerTexts(), ["a"]);
    assert.deepEqual(await v3.locator(".history-diff ins").allInnerTexts(), ["the"]);
    assert.match(await items.nth(2).innerText(), /Changed: created/);
    await screenshot(page, "history");
    await items.nth(1).getByRole("button", { name: "Restore this version" }).click();
    await notifications(page).getByText("Restored version 2 of “Plan offsite”").waitFor();
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_revert")), [{ id: uuid(1), version: 2 }]);
    await page.getByRole("button", { name: "Open Plan offsite" }).waitFor();
    await done(page);
  });

  test("history without the server says it is unavailable", async () => {
    const page = await openApp(browser, server.url, { cards, versions, offline: true });
    await page.getByRole("button", { name: "Open Plan the offsite" }).click();
    await page.getByRole("complementary", { name: "Edit card" }).getByRole("button", { name: "History" }).click();
    const dlg = page.getByRole("dialog", { name: "History of “Plan the offsite”" });
    await dlg.getByText("History is not available (it needs the server).").waitFor();
    await page.getByRole("alert", { name: "Errors" }).getByText(/History failed/).waitFor();
    await done(page);
  });

  test("the conflict modal links to the card's history", async () => {
    const mine = { title: "Plan the offsite", body: "Book the venue", url: null, tags: [], lane: "inbox", position: 1, pinned: false };
    const theirs = { ...versions[uuid(1)][0].card, version: 4, deleted: true };
    const record = { card_id: uuid(1), kind: "edit_vs_delete", base: mine, mine, theirs, fields: [], suggested: mine, detected_at: "2026-11-24T12:00:00Z" };
    const page = await openApp(browser, server.url, { cards: cards.map((c) => (c.id === uuid(1) ? { ...c, sync_state: "conflict" } : c)), conflicts: [record], versions });
    await page.locator(".board-view .card", { has: page.getByRole("button", { name: "Open Plan the offsite", exact: true }) }).getByRole("button", { name: "Resolve conflict" }).click();
    const conflict = page.getByRole("dialog", { name: "Card deleted on the server" });
    await conflict.getByRole("button", { name: "View history" }).click();
    await page.getByRole("dialog", { name: "History of “Plan the offsite”" }).getByText("v3").waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_history")), [{ id: uuid(1), limit: 100 }]);
    await done(page);
  });
});
