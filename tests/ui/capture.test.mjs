// Quick capture (the form the shortcut, tray and deckhand:// links open) and the desktop settings.
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

const EXISTING = { id: uuid(1), title: "Tauri plugins", url: "https://v2.tauri.app/plugin/" };
const creates = (page) => page.evaluate(() => window.__fake.callsOf("card_create"));

describe("quick capture", () => {
  test("a capture waiting at start opens prefilled; saving creates the card at once", async () => {
    const page = await openApp(browser, server.url, { cards: [EXISTING], capture: { title: "Read later", url: "https://example.org/article" } });
    const dlg = page.getByRole("dialog", { name: "Quick capture" });
    await dlg.waitFor();
    assert.equal(await dlg.getByLabel("Title").inputValue(), "Read later");
    assert.equal(await dlg.getByLabel("Link").inputValue(), "https://example.org/article");
    await screenshot(page, "quick-capture");
    await dlg.getByRole("button", { name: "Save card" }).click();
    await dlg.waitFor({ state: "detached" });
    // Through the engine's duplicate check, which created the card (no separate create).
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("card_create_checked")), [{ input: { title: "Read later", url: "https://example.org/article" } }]);
    assert.deepEqual(await creates(page), []);
    await page.locator('[data-card-id][aria-label="Read later"]').waitFor();
    // Taken once: a second poke without a new capture opens nothing.
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("capture_take").length), 1);
    await done(page);
  });

  test("a link that already has a card offers that card instead of a duplicate", async () => {
    const page = await openApp(browser, server.url, { cards: [EXISTING] });
    await page.evaluate(() => window.__fake.capture({ title: "Plugins again", url: "https://v2.tauri.app/plugin/" }));
    const dlg = page.getByRole("dialog", { name: "Quick capture" });
    await dlg.getByRole("button", { name: "Save card" }).click();
    await dlg.getByText("“Tauri plugins” already has this link.").waitFor();
    await screenshot(page, "quick-capture-duplicate");
    assert.deepEqual(await creates(page), []);
    await dlg.getByRole("button", { name: "Open that card" }).click();
    await dlg.waitFor({ state: "detached" });
    await eventually(async () => (await page.locator("#ed-title").inputValue().catch(() => "")) === "Tauri plugins", { message: "editor on the existing card" });
    assert.deepEqual(await creates(page), []);
    await done(page);
  });

  test("create anyway makes the duplicate; a non-http link is refused", async () => {
    const page = await openApp(browser, server.url, { cards: [EXISTING] });
    await page.evaluate(() => window.__fake.capture({ title: "Bad", url: null }));
    const dlg = page.getByRole("dialog", { name: "Quick capture" });
    await dlg.getByLabel("Link").fill("javascript:alert(1)");
    await dlg.getByRole("button", { name: "Save card" }).click();
    await dlg.getByText("Only http and https links can be saved.").waitFor();
    await dlg.getByLabel("Link").fill("https://v2.tauri.app/plugin/");
    await dlg.getByRole("button", { name: "Save card" }).click();
    await dlg.getByRole("button", { name: "Create anyway" }).click();
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await creates(page), [{ input: { title: "Bad", url: "https://v2.tauri.app/plugin/" } }]);
    await done(page);
  });
});

describe("desktop settings", () => {
  test("a refused shortcut is reported as off; notifications toggle saves", async () => {
    const page = await openApp(browser, server.url, { cards: [] });
    await page.getByRole("button", { name: "Settings" }).click();
    const form = page.getByRole("form", { name: "Desktop integration" });
    await form.locator('.shortcut-state[data-state="active"]').waitFor();
    await form.getByLabel("Quick capture shortcut").fill("Refused+Key");
    await form.getByLabel(/Notify me/).uncheck();
    await form.getByRole("button", { name: "Save desktop settings" }).click();
    await form.locator('.shortcut-state[data-state="refused"]').waitFor();
    assert.match(await form.locator(".shortcut-state").textContent(), /refused it \(HotKey already registered\)/);
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("desktop_settings_set")), [{ settings: { capture_shortcut: "Refused+Key", notifications: false } }]);
    await screenshot(page, "settings-desktop");
    await done(page);
  });
});
