// Import in the real app (tauri-driver + WebKitWebDriver under Xvfb): the native file dialog
// cannot be driven, so the test calls the command the dialog feeds, `cards_import`, with a path —
// the 10,000-bookmark sample — and watches the import bar follow the engine's progress events to
// the end; the imported cards then sync to a real deckhand-server.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ROOT, addUser, freePort, screenshot, startApp, startServer, tempDir } from "./harness.mjs";

const BOOKMARKS = path.join(ROOT, "crates/core/tests/data/import/bookmarks.html");
const BIG = path.join(ROOT, "crates/core/tests/data/import/bookmarks-10k.html");

const importBar = (wd) => wd.exec("const r = document.querySelector('[role=region][aria-label=Import]'); return r && !r.hidden ? r.textContent : null");

test("importing by path shows progress and the result, and the cards sync", async () => {
  const work = tempDir("deckhand-e2e-import-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "import");
  const server = await startServer(db, await freePort());
  const app = await startApp({ DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: server.url, DECKHAND_TOKEN: token });
  try {
    const { wd } = app;
    await wd.waitFor("the app loaded", () => wd.exec("return document.body.dataset.ready === 'true'"));
    // Started without waiting (a pending async script would hold the WebDriver session), then
    // its outcome polled: the bar is watched meanwhile.
    const start = (cmd, args) =>
      wd.exec(
        `const slot = (window.__invoked = {});
         window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then((r) => (slot.ok = r), (e) => (slot.err = e ?? "error"));`,
        cmd,
        args,
      );
    const outcome = async () => {
      let r = null;
      await wd.waitFor("the command's answer", async () => {
        r = await wd.exec("const s = window.__invoked; return s && (s.ok !== undefined || s.err !== undefined) ? s : null");
        return r !== null;
      }, 120000);
      return r;
    };
    const invoke = async (cmd, args) => {
      await start(cmd, args);
      return outcome();
    };
    // A small file first: its lanes and tags appear on the board.
    const small = await invoke("cards_import", { path: BOOKMARKS, options: { job_id: "e2e-small", folders: "lane" } });
    assert.deepEqual([small.ok?.created, small.ok?.existing], [5, 1], JSON.stringify(small));
    await wd.waitFor("import bar done", async () => /Import done: 6 items read/.test((await importBar(wd)) ?? ""));
    await wd.waitFor("card Deep link on the board", () => wd.exec("return Boolean(document.querySelector('[data-card-id][aria-label=\"Deep link\"]'))"));
    // The big one: the bar counts up in chunks of 500 to 10000 of 10000.
    const seen = new Set();
    await start("cards_import", { path: BIG, options: { job_id: "e2e-big" } });
    let shot = false;
    await wd.waitFor("import bar at 10000", async () => {
      const text = (await importBar(wd)) ?? "";
      const m = /Importing… (\d+) of 10000/.exec(text);
      if (m) {
        seen.add(m[1]);
        if (!shot && Number(m[1]) > 0) {
          shot = true;
          await screenshot(wd, "e2e-import-progress");
        }
      }
      return /Import done: 10000 items read/.test(text);
    }, 120000);
    const r = await outcome();
    assert.deepEqual([r.ok?.total, r.ok?.created], [10000, 10000], JSON.stringify(r));
    await screenshot(wd, "e2e-import-done");
    // A second import of the same file creates nothing.
    const again = await invoke("cards_import", { path: BIG, options: { job_id: "e2e-again" } });
    assert.deepEqual([again.ok?.created, again.ok?.existing], [0, 10000], JSON.stringify(again));
    // A bad file: a typed error naming the problem.
    const bad = await invoke("cards_import", { path: path.join(ROOT, "crates/core/tests/data/import/bad.json"), options: {} });
    assert.equal(bad.err?.kind, "validation", JSON.stringify(bad));
    assert.match(bad.err?.message ?? "", /cards\[1\]/);
    // The imported cards sync to the server (checked by count: one page of the change feed).
    await wd.waitFor("server has the imported cards", async () => {
      const res = await fetch(`${server.url}/v1/cards?limit=1`, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.json();
      return res.ok && body.items.length === 1;
    }, 60000);
  } finally {
    await app.stop();
    await server.stop?.();
  }
});
