// The maintained pieces: CommonMark rendering (through the DOM builder), plain-text tile excerpts,
// and the Myers body diff on a body large enough to have frozen the old LCS table.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { done, launch, openApp, screenshot, serveDist, uuid } from "./helpers.mjs";

let browser, server;
before(async () => {
  browser = await launch();
  server = await serveDist();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const BODY = [
  "Use **plugins** and [opener](https://v2.tauri.app/plugin/opener/) for snake_case_names.",
  "",
  "See https://en.wikipedia.org/wiki/Fractional_(mathematics) and \\*not italic\\*.",
  "",
  "- [x] done item",
  "- [ ] open item",
  "",
  "<img src=x onerror=alert(1)> [bad](javascript:alert(1))",
].join("\n");

describe("markdown", () => {
  test("CommonMark: no italics inside words, URLs with parentheses, escapes, raw HTML as text", async () => {
    const page = await openApp(browser, server.url, { cards: [{ id: uuid(1), title: "Notes", body: BODY }] });
    // The tile shows the body as plain text.
    const snippet = page.locator('[data-card-id][aria-label="Notes"] .card-snippet');
    assert.equal(
      await snippet.textContent(),
      "Use plugins and opener for snake_case_names. See https://en.wikipedia.org/wiki/Fractional_(mathematics) and *not italic*. done item open it…",
    );
    await page.getByRole("button", { name: "Open Notes" }).click();
    await page.getByRole("button", { name: "Preview" }).click();
    const preview = page.getByRole("region", { name: "Body preview" });
    await preview.locator("strong", { hasText: "plugins" }).waitFor();
    assert.equal(await preview.locator("em").count(), 0, "snake_case and escaped stars are not emphasis");
    assert.equal(await preview.locator('a[href="https://en.wikipedia.org/wiki/Fractional_(mathematics)"]').count(), 1, "URL with parentheses kept whole");
    assert.equal(await preview.locator('a[href="https://v2.tauri.app/plugin/opener/"]').textContent(), "opener");
    assert.match(await preview.textContent(), /\*not italic\*/);
    assert.equal(await preview.locator("img").count(), 0, "raw HTML is text");
    assert.match(await preview.textContent(), /<img src=x onerror=alert\(1\)>/);
    assert.equal(await preview.locator(".unsafe-link").textContent(), "bad");
    assert.deepEqual(await preview.locator("li.task input").evaluateAll((els) => els.map((e) => e.checked)), [true, false]);
    await screenshot(page, "markdown-preview");
    await done(page);
  });
});

describe("body diff", () => {
  test("a 20,000-line body with two changed lines: the modal shows exactly those changes", async () => {
    const lines = Array.from({ length: 20000 }, (_, i) => `line ${i}`);
    const theirs = lines.join("\n");
    const mine = lines.map((l, i) => (i === 7 ? "line 7, edited here" : i === 15000 ? "line 15000, edited here" : l)).join("\n");
    const base = { id: uuid(1), title: "Huge", body: theirs, url: null, tags: [], lane: "inbox", position: 1, pinned: false, version: 2, deleted: false, created_at: "2026-11-24T12:00:00Z", updated_at: "2026-11-24T12:00:00Z" };
    const conflict = {
      card_id: uuid(1), kind: "fields", base, fields: ["body"],
      mine: { title: "Huge", body: mine, url: null, tags: [], lane: "inbox", position: 1, pinned: false },
      theirs: { ...base, version: 3 },
      suggested: { title: "Huge", body: mine, url: null, tags: [], lane: "inbox", position: 1, pinned: false },
    };
    const page = await openApp(browser, server.url, { cards: [{ id: uuid(1), title: "Huge", body: theirs, sync_state: "conflict" }], conflicts: [conflict] });
    await page.locator('[data-card-id][aria-label="Huge"]').getByRole("button", { name: "Resolve conflict" }).click();
    const diff = page.getByRole("dialog", { name: "Conflict: Huge" }).getByRole("region", { name: "Body differences" });
    await diff.waitFor({ timeout: 30_000 });
    assert.deepEqual(await diff.locator(".diff-del").allTextContents(), ["line 7", "line 15000"].map((t) => `−theirs: ${t}`));
    assert.deepEqual(await diff.locator(".diff-add").allTextContents(), ["line 7, edited here", "line 15000, edited here"].map((t) => `+mine: ${t}`));
    assert.equal(await diff.locator(".diff-same").count(), 19998);
    await done(page);
  });
});
