// Link cards: the preview the engine fetched (icon as a data: URI only, site, title,
// description), "Refresh metadata" on a card, the Broken links dialog with "Refresh all", and the
// duplicate offer for a URL written differently.
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

const ICON = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==";
const META = { status: "ok", url: "https://deckhand.example/blog/sync", fetched_at: "2026-11-24T11:00:00Z", title: "Sync that never loses an edit", description: "How Deckhand keeps cards in step across devices.", site_name: "Deckhand Blog", icon: ICON, http_status: 200 };
const LINKED = { id: uuid(1), title: "Read: sync design", url: META.url, link_meta: META };
const PLAIN = { id: uuid(2), title: "No link here" };
// A remote icon must never become an <img> (the CSP would block it; the UI does not even try).
const SNEAKY = { id: uuid(3), title: "Sneaky icon", url: "https://sneaky.example/", link_meta: { ...META, url: "https://sneaky.example/", title: "Sneaky", icon: "https://tracker.example/pixel.png" } };
const GONE = { id: uuid(4), title: "Old docs", url: "https://old.example/docs" };

const tile = (page, id) => page.locator(`[data-card-id="${id}"]`);

describe("link previews", () => {
  test("a link card shows its icon, site, title and description; a remote icon is not loaded", async () => {
    const page = await openApp(browser, server.url, { cards: [LINKED, PLAIN, SNEAKY] });
    const card = tile(page, LINKED.id);
    await card.locator(".link-preview.link-ok").waitFor();
    assert.equal(await card.locator(".link-title").textContent(), "Deckhand Blog · Sync that never loses an edit");
    assert.equal(await card.locator(".link-desc").textContent(), META.description);
    assert.equal(await card.locator("img.link-icon").getAttribute("src"), ICON);
    assert.equal(await tile(page, PLAIN.id).locator(".link-preview").count(), 0);
    assert.equal(await tile(page, SNEAKY.id).locator(".link-title").textContent(), "Deckhand Blog · Sneaky");
    assert.equal(await tile(page, SNEAKY.id).locator("img").count(), 0);
    await screenshot(page, "link-card");
    await done(page); // also: no CSP violation
  });

  test("Refresh metadata fetches through the engine and shows the result", async () => {
    const page = await openApp(browser, server.url, {
      cards: [{ id: uuid(5), title: "New link", url: "https://fresh.example/" }],
      pages: { "https://fresh.example/": { status: "ok", title: "Fresh page", site_name: "Fresh", icon: ICON } },
    });
    const card = tile(page, uuid(5));
    await card.getByText("No preview yet").waitFor();
    await card.getByRole("button", { name: "Refresh metadata of New link" }).click();
    await card.locator(".link-title", { hasText: "Fresh · Fresh page" }).waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_refresh_meta")), [{ id: uuid(5) }]);
    await done(page);
  });
});

describe("broken links", () => {
  test("the Links dialog lists broken links after Refresh all, and reports the tally", async () => {
    const page = await openApp(browser, server.url, { cards: [LINKED, PLAIN, GONE], pages: { [META.url]: { status: "ok", title: META.title } } });
    await page.getByRole("button", { name: "Links" }).click();
    const dlg = page.getByRole("dialog", { name: "Broken links" });
    await dlg.getByText("No broken links.").waitFor();
    await dlg.getByRole("button", { name: "Refresh all metadata" }).click();
    await dlg.locator(`.broken-row[data-card-id="${GONE.id}"]`).waitFor();
    assert.equal(await dlg.locator(".broken-row").count(), 1);
    await page.getByText("Checked 2 link(s): 1 ok, 1 broken, 0 without a preview.").waitFor();
    assert.match(await dlg.locator(".broken-row").textContent(), /Old docs.*https:\/\/old\.example\/docs.*HTTP 404/);
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("cards_refresh_meta")), [{ staleOnly: false }]);
    await screenshot(page, "broken-links");
    // The card on the board says so too.
    await dlg.getByRole("button", { name: "Close" }).click();
    await tile(page, GONE.id).locator('[data-link-status="broken"]').getByText("Broken link").waitFor();
    await done(page);
  });
});

describe("duplicate links", () => {
  test("a URL differing only in case, slash, fragment and tracking is offered as the existing card", async () => {
    const page = await openApp(browser, server.url, { cards: [LINKED] });
    await page.evaluate(() => window.__fake.capture({ title: "Same post", url: "https://DECKHAND.example/blog/sync/?utm_source=feed#top" }));
    const dlg = page.getByRole("dialog", { name: "Quick capture" });
    await dlg.getByRole("button", { name: "Save card" }).click();
    await dlg.getByText("“Read: sync design” already has this link.").waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_create")), []);
    await dlg.getByRole("button", { name: "Create anyway" }).click();
    await dlg.waitFor({ state: "detached" });
    assert.equal(await page.evaluate(() => window.__fake.callsOf("card_create").length), 1);
    await eventually(async () => (await page.locator('[data-card-id][aria-label="Same post"]').count()) === 1, { message: "the duplicate was added anyway" });
    await done(page);
  });
});

describe("link previews setting", () => {
  test("Fetch link previews is off until switched on, and saves with the settings", async () => {
    const page = await openApp(browser, server.url, { cards: [] });
    await page.getByRole("button", { name: "Settings" }).click();
    const box = page.getByLabel("Fetch link previews");
    assert.equal(await box.isChecked(), false);
    await box.check();
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Settings saved.").waitFor();
    const calls = await page.evaluate(() => window.__fake.callsOf("settings_set"));
    assert.equal(calls.at(-1).settings.link_previews, true);
    await done(page);
  });
});
