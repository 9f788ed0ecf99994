// The .deb that `make package` bundled from this run's debug build: installed with dpkg -i, the
// installed /usr/bin/deckhand started under Xvfb against a real server (a card made there syncs),
// screenshotted, then uninstalled. The package brings the desktop entry, icon and the deckhand://
// scheme. Needs root (CI is root; elsewhere it goes through sudo, as scripts/setup.sh does).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { BIN, addUser, freePort, screenshot, serverCard, settle, startApp, startServer, tempDir } from "./harness.mjs";

const asRoot = (cmd, args) => (process.getuid() === 0 ? execFileSync(cmd, args, { encoding: "utf8" }) : execFileSync("sudo", [cmd, ...args], { encoding: "utf8" }));

function debFile() {
  const dir = path.join(BIN, "bundle", "deb");
  const debs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".deb")) : [];
  assert.equal(debs.length, 1, `expected the one .deb of \`make package\` in ${dir}, found ${debs}`);
  return path.join(dir, debs[0]);
}

test("the .deb installs, runs against a real server, and uninstalls", async () => {
  const deb = debFile();
  const work = tempDir("deckhand-e2e-deb-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "deb");
  const server = await startServer(db, await freePort());
  asRoot("dpkg", ["-i", deb]);
  let app;
  try {
    assert.ok(existsSync("/usr/bin/deckhand"), "dpkg -i installed /usr/bin/deckhand");
    const entry = readFileSync("/usr/share/applications/Deckhand.desktop", "utf8");
    assert.match(entry, /^Exec=deckhand %u$/m);
    assert.match(entry, /^MimeType=x-scheme-handler\/deckhand;$/m);
    assert.ok(existsSync("/usr/share/icons/hicolor/256x256/apps/deckhand.png"));

    app = await startApp({ DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: server.url, DECKHAND_TOKEN: token }, { keychainHome: null, application: "/usr/bin/deckhand" });
    const { wd } = app;
    const input = await wd.waitFor("quick add", () => wd.find('input[aria-label="New card title"]'));
    await wd.type(input, "From the installed app\uE007");
    const sel = '[data-card-id][aria-label="From the installed app"]';
    await wd.waitFor("synced", () => wd.exec("const b = document.querySelector(arguments[0]); return b && b.getAttribute('data-sync-state') === 'synced'", `${sel} [data-sync-state]`), 60000);
    const id = await wd.exec("return document.querySelector(arguments[0]).getAttribute('data-card-id')", sel);
    assert.equal((await serverCard(server.url, token, id)).body.title, "From the installed app");
    await settle(wd);
    await screenshot(wd, "e2e-installed-deb");
  } finally {
    await app?.stop();
    await server.stop();
    asRoot("dpkg", ["-r", "deckhand"]);
  }
  assert.equal(existsSync("/usr/bin/deckhand"), false, "dpkg -r removed /usr/bin/deckhand");
});
