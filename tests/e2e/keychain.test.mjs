// The sync token in the real app: an old plaintext token in settings.json moves on first start to
// the OS keychain (a private D-Bus session with an unlocked gnome-keyring), or, with no keychain
// at all, to a 0600 file; settings.json keeps no token either way, sync still works with it, and
// the Settings page says where it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { addUser, freePort, screenshot, settle, startApp, startServer, tempDir } from "./harness.mjs";

/** settings.json as the previous version wrote it: the token in plain text. */
function plaintextSettings(dataDir, url, token) {
  mkdirSync(dataDir, { recursive: true });
  const settings = { server_url: url, token, token_set: true, sync_enabled: true, drain_window: 8, theme: "light", first_run_done: true };
  writeFileSync(path.join(dataDir, "settings.json"), JSON.stringify({ settings }));
}

async function syncsAndShowsStorage(wd, title, storage, shot) {
  const input = await wd.waitFor("quick add", () => wd.find('input[aria-label="New card title"]'));
  await wd.type(input, `${title}\uE007`);
  await wd.waitFor(`"${title}" synced with the moved token`, () =>
    wd.exec("const b = document.querySelector(arguments[0]); return b && b.getAttribute('data-sync-state') === 'synced'", `[data-card-id][aria-label="${title}"] [data-sync-state]`), 60000);
  await wd.clickCss('button[data-view="settings"]');
  await wd.waitFor(`settings say ${storage}`, () => wd.find(`.token-storage[data-storage="${storage}"]`).catch(() => null));
  await settle(wd);
  await screenshot(wd, shot);
}

async function withServer(fn) {
  const work = tempDir("deckhand-e2e-token-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "token");
  const server = await startServer(db, await freePort());
  try {
    await fn(work, server.url, token);
  } finally {
    await server.stop();
  }
}

test("keychain: the plaintext token moves into gnome-keyring", async () => {
  await withServer(async (work, url, token) => {
    const dataDir = path.join(work, "app");
    plaintextSettings(dataDir, url, token);
    const home = path.join(work, "home");
    const app = await startApp({ DECKHAND_DATA_DIR: dataDir }, { keychainHome: home });
    try {
      await syncsAndShowsStorage(app.wd, "Keychain card", "keychain", "e2e-settings-keychain");
      assert.doesNotMatch(readFileSync(path.join(dataDir, "settings.json"), "utf8"), new RegExp(token), "settings.json still holds the token");
      assert.equal(existsSync(path.join(dataDir, "token")), false, "no token file when the keychain works");
      const stored = execFileSync("secret-tool", ["lookup", "service", "dev.deckhand.app", "username", `sync-token:${dataDir}`], {
        env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: readFileSync(path.join(home, "bus"), "utf8") },
        encoding: "utf8",
      });
      assert.equal(stored.trim(), token);
    } finally {
      await app.stop();
    }
  });
});

test("no keychain: the plaintext token moves into a 0600 file, and Settings says so", async () => {
  await withServer(async (work, url, token) => {
    const dataDir = path.join(work, "app");
    plaintextSettings(dataDir, url, token);
    const app = await startApp({ DECKHAND_DATA_DIR: dataDir }, { keychainHome: null });
    try {
      await syncsAndShowsStorage(app.wd, "File card", "file", "e2e-settings-token-file");
      assert.match(await app.wd.exec("return document.querySelector('.token-storage').textContent"), /No system keychain available/);
      assert.doesNotMatch(readFileSync(path.join(dataDir, "settings.json"), "utf8"), new RegExp(token), "settings.json still holds the token");
      const file = path.join(dataDir, "token");
      assert.equal(readFileSync(file, "utf8"), token);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      await app.stop();
    }
  });
});
