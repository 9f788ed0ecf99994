// Links in the real app open in the user's browser through tauri-plugin-opener: `PATH` starts with
// a stub `xdg-open` that appends its argument to a file. Clicking a card's link and a Markdown link
// records exactly those URLs; a `javascript:` link records nothing (a sentinel link clicked after it
// proves the handler ran to completion without opening it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { addUser, cli, freePort, screenshot, startApp, startServer, tempDir } from "./harness.mjs";

const CARD_URL = "https://example.org/card-link?x=1";
const MD_URL = "https://example.com/docs/markdown";
const SENTINEL = "https://example.net/sentinel";

/** A directory with an `xdg-open` that records what it was asked to open. */
export function stubOpener(work) {
  const bin = path.join(work, "stub-bin");
  mkdirSync(bin, { recursive: true });
  const log = path.join(work, "opened.txt");
  const script = path.join(bin, "xdg-open");
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${log}'\n`);
  chmodSync(script, 0o755);
  return { bin, opened: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []) };
}

test("card links and Markdown links open in the browser; javascript: links do not", async () => {
  const work = tempDir("deckhand-e2e-links-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "links");
  const port = await freePort();
  const server = await startServer(db, port);
  const opener = stubOpener(work);
  // Another device made the card: the app pulls it on start.
  const cliDir = path.join(work, "cli");
  cli(cliDir, server.url, token, ["cards", "add", "--title", "Linked card", "--url", CARD_URL, "--body", `See [the docs](${MD_URL}) and [bad](javascript:alert(1)).`]);
  cli(cliDir, server.url, token, ["sync", "run", "--until-idle", "--timeout", "30"]);
  const app = await startApp({
    DECKHAND_DATA_DIR: path.join(work, "app"),
    DECKHAND_SERVER: server.url,
    DECKHAND_TOKEN: token,
    PATH: `${opener.bin}:${process.env.PATH}`,
  });
  try {
    const { wd } = app;
    const tileLink = '[data-card-id][aria-label="Linked card"] a.card-link';
    await wd.waitFor("the pulled card", () => wd.find(tileLink).catch(() => null), 60000);
    await wd.clickCss(tileLink);
    await wd.waitFor("xdg-open for the card link", () => opener.opened().length >= 1);
    assert.deepEqual(opener.opened(), [CARD_URL]);

    // The Markdown link, in the editor's preview.
    await wd.clickCss('button[aria-label="Open Linked card"]');
    await wd.clickText("button.tab", "Preview");
    const mdLink = await wd.waitFor("markdown link", () => wd.findByText(".preview a", "the docs"));
    assert.equal(await wd.exec("return document.querySelector('.preview .unsafe-link')?.textContent ?? null"), "bad", "a javascript: Markdown link renders as text");
    await wd.click(mdLink);
    await wd.waitFor("xdg-open for the Markdown link", () => opener.opened().length >= 2);
    assert.deepEqual(opener.opened(), [CARD_URL, MD_URL]);
    await screenshot(wd, "e2e-links");

    // A javascript: link (as a hostile card could never produce, but a future renderer might), then
    // a sentinel: once the sentinel is recorded, the javascript: click has been handled too.
    await wd.exec(
      "for (const [id, href] of [['js-link', 'javascript:window.__ran = 1'], ['sentinel', arguments[0]]]) { const a = document.createElement('a'); a.id = id; a.href = href; a.textContent = id; document.querySelector('.preview').appendChild(a); }",
      SENTINEL,
    );
    await wd.clickCss("#js-link");
    await wd.clickCss("#sentinel");
    await wd.waitFor("xdg-open for the sentinel", () => opener.opened().length >= 3);
    assert.deepEqual(opener.opened(), [CARD_URL, MD_URL, SENTINEL]);
    assert.equal(await wd.exec("return window.__ran ?? null"), null, "the javascript: URL must not run");
    assert.equal(await wd.exec("return location.protocol"), "tauri:", "the webview must not navigate away");
  } finally {
    await app.stop();
    await server.stop();
  }
});
