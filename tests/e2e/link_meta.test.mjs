// Link metadata in the real app: a local web server (node:http on 127.0.0.1) serves a page with
// Open Graph tags and an icon. The CLI (another device) fetches its metadata and syncs; the app
// shows the card's icon (a data: URI), site, title and description without fetching the page
// itself. "Refresh metadata" in the app on a dead link marks it broken, and the Links dialog lists
// it. Nothing reaches the internet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { promisify } from "node:util";
import { addUser, BIN, cli, freePort, screenshot, settle, startApp, startServer, tempDir } from "./harness.mjs";

/** `cli`, without blocking this process: the web server the CLI fetches from runs in it. */
async function cliAsync(dataDir, url, token, args) {
  const { stdout } = await promisify(execFile)(path.join(BIN, "deckhand-cli"), ["--data-dir", dataDir, "--server", url, "--token", token, ...args], { encoding: "utf8" });
  return stdout;
}

// 16x16 PNG, a solid square.
const ICON = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGPQyr9NEmIY1TCqYfhqAAATZ3QQKjf4tAAAAABJRU5ErkJggg==",
  "base64",
);
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>fallback</title>
<meta property="og:title" content="Sync that never loses an edit">
<meta property="og:description" content="How Deckhand keeps cards in step across devices, offline first.">
<meta property="og:site_name" content="Deckhand Blog">
<link rel="icon" href="/icon.png"></head><body>post</body></html>`;

async function webSite() {
  const hits = { page: 0 };
  const srv = http.createServer((req, res) => {
    if (req.url === "/post") {
      hits.page++;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
    } else if (req.url === "/icon.png") {
      res.writeHead(200, { "content-type": "image/png" }).end(ICON);
    } else {
      res.writeHead(404, { "content-type": "text/html" }).end("<title>Not found</title>");
    }
  });
  const port = await freePort();
  await new Promise((r) => srv.listen(port, "127.0.0.1", r));
  return { base: `http://127.0.0.1:${port}`, hits, close: () => new Promise((r) => srv.close(r)) };
}

test("a link card shows the metadata another device fetched; a dead link is listed as broken", async () => {
  const work = tempDir("deckhand-e2e-linkmeta-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "linkmeta");
  const server = await startServer(db, await freePort());
  const web = await webSite();
  const cliDir = path.join(work, "cli");
  const card = JSON.parse(cli(cliDir, server.url, token, ["--json", "cards", "add", "--title", "Read: sync design", "--url", `${web.base}/post`]));
  cli(cliDir, server.url, token, ["--json", "cards", "add", "--title", "Old docs", "--url", `${web.base}/old-docs`]);
  const refreshed = JSON.parse(await cliAsync(cliDir, server.url, token, ["--json", "cards", "refresh-meta", card.id]));
  assert.equal(refreshed.link_meta.title, "Sync that never loses an edit");
  cli(cliDir, server.url, token, ["sync", "run", "--until-idle", "--timeout", "30"]);
  assert.equal(web.hits.page, 1);
  const app = await startApp({ DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: server.url, DECKHAND_TOKEN: token });
  try {
    const { wd } = app;
    const tile = `[data-card-id="${card.id}"]`;
    await wd.waitFor("the pulled card with its preview", () => wd.find(`${tile} .link-preview.link-ok`).catch(() => null), 60000);
    assert.equal(await wd.exec(`return document.querySelector('${tile} .link-title').textContent`), "Deckhand Blog · Sync that never loses an edit");
    assert.match(await wd.exec(`return document.querySelector('${tile} img.link-icon').getAttribute('src')`), /^data:image\/png;base64,/);
    // The icon rendered under the app's CSP (img-src 'self' data:).
    await wd.waitFor("the icon decoded", () => wd.exec(`const i = document.querySelector('${tile} img.link-icon'); return i.complete && i.naturalWidth === 16`));
    assert.equal(web.hits.page, 1, "the app did not fetch the page");
    await settle(wd);
    await screenshot(wd, "e2e-link-card");

    // The dead link: Refresh metadata in the app, then the Links dialog lists it.
    await wd.clickCss('button[aria-label="Refresh metadata of Old docs"]');
    await wd.waitFor("the broken badge", () => wd.find('[data-card-id][aria-label="Old docs"] [data-link-status="broken"]').catch(() => null));
    await wd.clickText("button", "Links");
    await wd.waitFor("the broken links list", () => wd.findByText(".broken-row strong", "Old docs"));
    await screenshot(wd, "e2e-broken-links");
  } finally {
    await app.stop();
    await server.stop();
    await web.close();
  }
});
