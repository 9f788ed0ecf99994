// Settings, first run, script-free card content, and the 10,000-card list.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { done, eventually, launch, openApp, screenshot, serveDist, uuid } from "./helpers.mjs";

let browser, server, looseServer;
before(async () => {
  browser = await launch();
  server = await serveDist();
  // The XSS test runs WITHOUT the CSP, so it proves the renderer itself never emits script.
  looseServer = await serveDist({ csp: false });
});
after(async () => {
  await browser?.close();
  await server?.close();
  await looseServer?.close();
});

describe("settings", () => {
  test("settings page saves through settings_set; token stays masked; theme applies", async () => {
    const page = await openApp(browser, server.url, { cards: [] });
    await page.getByRole("button", { name: "Settings" }).click();
    const form = page.getByRole("form", { name: "Settings" });
    await form.waitFor();
    assert.equal(await form.getByLabel("Server URL").inputValue(), "https://sync.example.test");
    const token = form.getByLabel("Access token");
    assert.equal(await token.getAttribute("type"), "password");
    assert.equal(await token.inputValue(), "");
    await form.getByLabel("Server URL").fill("https://cards.example.org");
    await form.getByLabel("Sync enabled").uncheck();
    await form.getByLabel("Drain window").fill("4");
    await form.getByLabel("Theme").selectOption("dark");
    await form.getByRole("button", { name: "Save settings" }).click();
    await page.getByRole("status", { name: "Notifications" }).getByText("Settings saved.").waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("settings_set")), [{
      settings: { server_url: "https://cards.example.org", token: null, token_set: true, sync_enabled: false, drain_window: 4, theme: "dark", first_run_done: true },
    }]);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    await screenshot(page, "settings-dark");
    // A new token replaces the stored one; an empty field keeps it (null, above).
    await page.getByRole("form", { name: "Settings" }).getByLabel("Access token").fill("s3cret");
    await page.getByRole("form", { name: "Settings" }).getByRole("button", { name: "Save settings" }).click();
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("settings_set").length)) === 2, { message: "second save" });
    const second = await page.evaluate(() => window.__fake.callsOf("settings_set")[1]);
    assert.equal(second.settings.token, "s3cret");
    assert.equal(await page.getByRole("form", { name: "Settings" }).getByLabel("Access token").inputValue(), "", "token is never shown back");
    await done(page);
  });

  test("first run: Work offline", async () => {
    const page = await openApp(browser, server.url, { cards: [], settings: { first_run_done: false, server_url: null, token_set: false } });
    const dlg = page.getByRole("dialog", { name: "Welcome to Deckhand" });
    await dlg.waitFor();
    await page.keyboard.press("Escape");
    await dlg.waitFor({ state: "visible" });
    await dlg.getByRole("button", { name: "Work offline" }).click();
    await dlg.waitFor({ state: "detached" });
    const [call] = await page.evaluate(() => window.__fake.callsOf("settings_set"));
    assert.equal(call.settings.server_url, null);
    assert.equal(call.settings.token, null);
    assert.equal(call.settings.first_run_done, true);
    await done(page);
  });

  test("first run: connect with server URL and token", async () => {
    const page = await openApp(browser, server.url, { cards: [], settings: { first_run_done: false, server_url: null, token_set: false } });
    const dlg = page.getByRole("dialog", { name: "Welcome to Deckhand" });
    await dlg.getByLabel("Server URL").fill("https://sync.example.org");
    await dlg.getByLabel("Access token").fill("tok-123");
    await dlg.getByRole("button", { name: "Connect" }).click();
    await dlg.waitFor({ state: "detached" });
    const [call] = await page.evaluate(() => window.__fake.callsOf("settings_set"));
    assert.equal(call.settings.server_url, "https://sync.example.org");
    assert.equal(call.settings.token, "tok-123");
    assert.equal(call.settings.first_run_done, true);
    await done(page);
  });
});

describe("card content never runs script", () => {
  test("HTML in title/body and javascript: urls stay inert (no CSP to help)", async () => {
    const evil = {
      id: uuid(1),
      title: `<img src=x onerror="window.__pwned='title'">`,
      body: [
        `<script>window.__pwned='script'</script>`,
        `<img src=x onerror="window.__pwned='body'">`,
        `[click me](javascript:window.__pwned='link')`,
        `[data](data:text/html,<script>parent.__pwned='data'</script>)`,
        `**bold <b onmouseover="window.__pwned='b'">x</b>** and [ok](https://example.com/ok)`,
      ].join("\n\n"),
      url: `javascript:window.__pwned='url'`,
      lane: "inbox",
    };
    const page = await openApp(browser, looseServer.url, { cards: [evil] });
    const title = evil.title;
    await page.getByRole("button", { name: `Open ${title}` }).waitFor();
    const inert = async () => {
      const r = await page.evaluate(() => ({
        pwned: window.__pwned,
        imgs: document.querySelectorAll("#app img, aside img").length,
        scripts: document.querySelectorAll("body script").length,
        badLinks: [...document.querySelectorAll("a[href]")].filter((a) => !/^https?:/.test(a.getAttribute("href"))).length,
        handlers: [...document.querySelectorAll("*")].filter((el) => [...el.attributes].some((at) => at.name.startsWith("on"))).length,
      }));
      assert.deepEqual(r, { pwned: undefined, imgs: 0, scripts: 0, badLinks: 0, handlers: 0 });
    };
    await inert();
    // No link is rendered for the javascript: url on the card.
    assert.equal(await page.locator(".board-view .card a").count(), 0);
    await page.getByRole("button", { name: `Open ${title}` }).click();
    const panel = page.getByRole("complementary", { name: "Edit card" });
    await panel.getByRole("button", { name: "Preview" }).click();
    const preview = panel.getByRole("region", { name: "Body preview" });
    await preview.getByText("click me").click();
    await preview.getByText("data", { exact: true }).click();
    await preview.getByRole("link", { name: "ok" }).waitFor();
    assert.equal(await preview.getByRole("link").count(), 1);
    assert.equal(await panel.getByRole("link", { name: "Open link" }).count(), 0);
    await inert();
    // The list view renders the same card safely too.
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "List", exact: true }).click();
    await page.locator(".list-view .card-row").first().waitFor();
    await inert();
    await done(page);
  });
});

describe("links", () => {
  test("one delegated handler opens http(s) links through the opener; others never open", async () => {
    const page = await openApp(browser, server.url, {
      cards: [{ id: uuid(1), title: "Linked", url: "https://example.org/a?b=1", body: "Read [the docs](https://example.com/d) or [this](javascript:alert(1))." }],
    });
    const opened = () => page.evaluate(() => window.__fake.callsOf("plugin:opener|open_url").map((a) => a.url));
    await page.locator('[data-card-id] a.card-link').click();
    await eventually(async () => (await opened()).length === 1, { message: "card link opened" });
    await page.getByRole("button", { name: "Open Linked" }).click();
    await page.getByRole("button", { name: "Preview" }).click();
    await page.locator(".preview a", { hasText: "the docs" }).click();
    await eventually(async () => (await opened()).length === 2, { message: "markdown link opened" });
    // Links the renderers never make still must not open: a javascript: one, then a sentinel.
    await page.evaluate(() => {
      for (const [id, href] of [["js", "javascript:void 0"], ["ftp", "ftp://example.org/x"], ["sentinel", "https://example.net/s"]]) {
        const a = document.createElement("a");
        a.id = id;
        a.href = href;
        a.textContent = id;
        document.querySelector(".preview").appendChild(a);
      }
    });
    await page.locator("#js").click();
    await page.locator("#ftp").click({ button: "middle" });
    await page.locator("#sentinel").click();
    await eventually(async () => (await opened()).length === 3, { message: "sentinel opened" });
    assert.deepEqual(await opened(), ["https://example.org/a?b=1", "https://example.com/d", "https://example.net/s"]);
    assert.equal(page.url().startsWith(server.url), true, "the page never navigated");
    await done(page);
  });
});

describe("scale", () => {
  test("10,000 cards: the list is virtualised and pages with limit/offset", async () => {
    const page = await openApp(browser, server.url, { generate: 10_000 });
    // Board: every lane shows a first page and a Show more button.
    await page.getByRole("region", { name: "Lane inbox" }).getByRole("button", { name: /Show more/ }).waitFor();
    assert.ok((await page.locator(".board-view .card").count()) <= 150);
    await page.getByRole("button", { name: "List", exact: true }).click();
    const list = page.getByRole("list", { name: "Cards" });
    await list.locator(".card-row").first().waitFor();
    const rows = await page.locator(".list-view .card-row").count();
    assert.ok(rows > 5 && rows < 200, `rendered ${rows} rows`);
    assert.ok((await page.locator(".list-view *").count()) < 3000, "DOM stays small");
    assert.equal(await list.locator("[aria-posinset]").first().getAttribute("aria-setsize"), "10000");
    // Jump to the end: the last card is fetched by offset and shown.
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await list.locator('[aria-posinset="10000"]:not(.placeholder)').waitFor();
    assert.ok((await page.locator(".list-view .card-row").count()) < 200);
    await screenshot(page, "list");
    const q = await page.evaluate(() => window.__fake.callsOf("cards_list").map((c) => c.query));
    assert.ok(q.some((x) => x.offset === 9900 && x.limit === 100), "fetched the last page by offset");
    assert.ok(q.every((x) => (x.limit ?? 0) <= 100), "never asks for everything");
    await done(page);
  });

  test("10,000 cards: scrolling keeps rows still in view; hundreds of changed cards reload in place", async () => {
    const page = await openApp(browser, server.url, { generate: 10_000 });
    await page.getByRole("button", { name: "List", exact: true }).click();
    const list = page.getByRole("list", { name: "Cards" });
    await list.evaluate((el) => (el.scrollTop = 5000 * 56));
    await list.locator('[aria-posinset="5001"]:not(.placeholder)').waitFor();
    // One row further down: the rows still in view are the same elements (only new ones are built).
    await page.evaluate(() => (window.__kept = document.querySelector('.list-view [aria-posinset="5004"]')));
    await list.evaluate((el) => (el.scrollTop += 56));
    await list.locator('[aria-posinset="5002"]:not(.placeholder)').waitFor();
    await eventually(() => page.evaluate(() => window.__kept.isConnected && window.__kept === document.querySelector('.list-view [aria-posinset="5004"]')), { message: "row kept across a scroll" });
    // Far pages are dropped, so a change refetches only the pages around the viewport, and a
    // burst of 201 changed cards (a drain's group commit) reloads them in place: no jump to the top.
    await list.evaluate((el) => (el.scrollTop = 0));
    await list.locator('[aria-posinset="1"]:not(.placeholder)').waitFor();
    await list.evaluate((el) => (el.scrollTop = 5000 * 56));
    await list.locator('[aria-posinset="5001"]:not(.placeholder)').waitFor();
    const before = await page.evaluate(() => window.__fake.callsOf("cards_list").length);
    await page.evaluate((ids) => window.__fake.emit({ type: "cards_changed", ids }), Array.from({ length: 201 }, (_, i) => uuid(i + 1)));
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("cards_list").length)) > before, { message: "views reloaded" });
    await list.locator('[aria-posinset="5001"]:not(.placeholder)').waitFor();
    assert.equal(await list.evaluate((el) => el.scrollTop), 5000 * 56, "the list kept its place");
    const offsets = await page.evaluate((n) => window.__fake.callsOf("cards_list").slice(n).filter((c) => !c.query.lane).map((c) => c.query.offset), before);
    assert.ok(offsets.length > 0 && offsets.every((o) => o >= 4800 && o <= 5200), `refetched list pages at ${offsets}`);
    // 50 changed cards no view holds (a drain's confirmations): the shown pages are reloaded,
    // the 50 are not fetched one by one.
    const shownIds = await page.evaluate(() => [...document.querySelectorAll(".list-view [data-card-id]")].map((e) => e.getAttribute("data-card-id")));
    const unseen = Array.from({ length: 50 }, (_, i) => uuid(i + 1)).filter((id) => !shownIds.includes(id));
    const [gets, lists] = await page.evaluate(() => [window.__fake.callsOf("card_get").length, window.__fake.callsOf("cards_list").length]);
    await page.evaluate((ids) => window.__fake.emit({ type: "cards_changed", ids }), unseen);
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("cards_list").length)) > lists, { message: "shown pages reloaded" });
    assert.equal(await page.evaluate(() => window.__fake.callsOf("card_get").length), gets, "cards no view holds are not fetched one by one");
    // Meanwhile the hidden board reloaded none of its lanes; it does when it is shown.
    const laneCalls = () => page.evaluate(() => window.__fake.callsOf("cards_list").filter((c) => c.query.lane).length);
    const [lanesBefore, listsNow] = [await laneCalls(), await page.evaluate(() => window.__fake.callsOf("cards_list").length)];
    await page.evaluate((ids) => window.__fake.emit({ type: "cards_changed", ids }), unseen.slice(0, 10));
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("cards_list").length)) > listsNow, { message: "shown pages reloaded again" });
    assert.equal(await laneCalls(), lanesBefore, "the hidden board reloaded lanes on a change");
    await page.click('button.seg[data-view="board"]');
    await eventually(async () => (await laneCalls()) > lanesBefore, { message: "the board reloads its lanes when shown" });
    await done(page);
  });

  test("shortcuts: Ctrl+K focuses search, d opens the dashboard, Escape closes it", async () => {
    const page = await openApp(browser, server.url, { cards: [] });
    await page.keyboard.press("Control+k");
    await eventually(() => page.evaluate(() => document.activeElement?.id === "search"), { message: "search focused" });
    await page.locator("body").click({ position: { x: 600, y: 500 } });
    await page.keyboard.press("d");
    const dash = page.getByRole("dialog", { name: "Sync dashboard" });
    await dash.waitFor();
    await page.keyboard.press("Escape");
    await dash.waitFor({ state: "detached" });
    await done(page);
  });
});
