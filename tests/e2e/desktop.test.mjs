// Desktop integration in the real app: a second start with a deckhand:// link hands it to the
// running window (single instance over D-Bus), which opens the quick capture form; the card syncs;
// the same link again offers the existing card. Without a session bus a second process on the
// same data dir refuses to start. The window's size survives a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { BIN, addUser, freePort, screenshot, serverCard, settle, startApp, startServer, tempDir } from "./harness.mjs";

/** Runs a second `deckhand` (its own Xvfb) with `env`; resolves {code, stderr} when it exits. */
function secondStart(args, env, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const child = spawn("xvfb-run", ["-a", path.join(BIN, "deckhand"), ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`second start did not exit: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const link = (title, url) => `deckhand://new?title=${encodeURIComponent(title)}&url=${encodeURIComponent(url)}`;

test("a deckhand:// link from a second start opens quick capture in the running window", async () => {
  const work = tempDir("deckhand-e2e-desktop-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "desktop");
  const server = await startServer(db, await freePort());
  const dataDir = path.join(work, "app");
  const home = path.join(work, "home");
  const env = { DECKHAND_DATA_DIR: dataDir, DECKHAND_SERVER: server.url, DECKHAND_TOKEN: token };
  const app = await startApp(env, { keychainHome: home });
  try {
    const { wd } = app;
    await wd.waitFor("app ready", () => wd.exec("return document.body.dataset.ready === 'true'"));
    const secondEnv = {
      ...process.env, ...env, HOME: home, XDG_DATA_HOME: path.join(home, "share"), XDG_RUNTIME_DIR: path.join(home, "run"),
      DBUS_SESSION_BUS_ADDRESS: readFileSync(path.join(home, "bus"), "utf8"),
    };
    const url = "https://example.org/captured?via=link";
    const first = await secondStart([link("Captured by link", url)], secondEnv);
    assert.equal(first.code, 0, `the second start must hand over and exit: ${first.stderr}`);
    const dialog = 'dialog.capture-modal';
    await wd.waitFor("quick capture form", () => wd.find(dialog).catch(() => null));
    assert.equal(await wd.exec("return document.querySelector('#cap-title').value"), "Captured by link");
    assert.equal(await wd.exec("return document.querySelector('#cap-url').value"), url);
    await settle(wd);
    await screenshot(wd, "e2e-quick-capture");
    await wd.clickText(`${dialog} button`, "Save card");
    const sel = '[data-card-id][aria-label="Captured by link"]';
    await wd.waitFor("captured card synced", () =>
      wd.exec("const b = document.querySelector(arguments[0]); return b && b.getAttribute('data-sync-state') === 'synced'", `${sel} [data-sync-state]`), 60000);
    const id = await wd.exec("return document.querySelector(arguments[0]).getAttribute('data-card-id')", sel);
    const onServer = await serverCard(server.url, token, id);
    assert.equal(onServer.body.url, url);

    // The same link again: the form offers the card that has it.
    const again = await secondStart([link("Same link", url)], secondEnv);
    assert.equal(again.code, 0, again.stderr);
    await wd.waitFor("capture form again", () => wd.exec("return document.querySelector('#cap-title')?.value === 'Same link'"));
    await wd.clickText(`${dialog} button`, "Save card");
    await wd.clickText(`${dialog} button`, "Open that card");
    await wd.waitFor("editor on the existing card", () => wd.exec("return document.querySelector('#ed-title')?.value === 'Captured by link'"));
    assert.equal(await wd.exec("return document.querySelectorAll('[data-card-id][aria-label=\"Same link\"]').length"), 0, "no duplicate card");

    // The quick capture shortcut: X11 under Xvfb accepts the global grab, and Settings says so.
    await wd.clickCss('button[aria-label="Close editor"]');
    await wd.clickCss('button[data-view="settings"]');
    const state = await wd.waitFor("shortcut state", () => wd.exec("return document.querySelector('.shortcut-state')?.dataset.state ?? null"));
    assert.equal(state, "active", await wd.exec("return document.querySelector('.shortcut-state').textContent"));
    await wd.exec("document.querySelector('.desktop-settings').scrollIntoView({ block: 'end' })");
    await settle(wd);
    await screenshot(wd, "e2e-settings-desktop");
  } finally {
    await app.stop();
    await server.stop();
  }
});

test("without a session bus, a second process on the same data dir refuses to start", async () => {
  const work = tempDir("deckhand-e2e-lock-");
  const dataDir = path.join(work, "app");
  const app = await startApp({ DECKHAND_DATA_DIR: dataDir }, { keychainHome: null });
  try {
    await app.wd.waitFor("app ready", () => app.wd.exec("return document.body.dataset.ready === 'true'"));
    const env = { ...process.env, DECKHAND_DATA_DIR: dataDir };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const second = await secondStart([], env);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /another Deckhand is already using/);
  } finally {
    await app.stop();
  }
});

test("the window's size and position survive a restart", async () => {
  const work = tempDir("deckhand-e2e-window-");
  const env = { DECKHAND_DATA_DIR: path.join(work, "app"), XDG_CONFIG_HOME: path.join(work, "config") };
  const want = { width: 1000, height: 640 };
  let app = await startApp(env, { keychainHome: null });
  try {
    await app.wd.waitFor("app ready", () => app.wd.exec("return document.body.dataset.ready === 'true'"));
    await app.wd.setWindowRect(want);
    await app.wd.waitFor("resized", async () => {
      const r = await app.wd.windowRect();
      return r.width === want.width && r.height === want.height;
    });
    await app.wd.closeWindow();
  } finally {
    await app.stop();
  }
  app = await startApp(env, { keychainHome: null });
  try {
    await app.wd.waitFor("app ready", () => app.wd.exec("return document.body.dataset.ready === 'true'"));
    const r = await app.wd.windowRect();
    assert.deepEqual({ width: r.width, height: r.height }, want, `restored ${JSON.stringify(r)}`);
  } finally {
    await app.stop();
  }
});
