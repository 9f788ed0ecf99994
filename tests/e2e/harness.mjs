// Processes for the end-to-end suite: a real deckhand-server, deckhand-cli, and the real app
// driven through tauri-driver + WebKitWebDriver under Xvfb.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebDriver } from "./webdriver.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// DECKHAND_BIN_DIR: another build of the same binaries (the app benchmark runs the release build).
export const BIN = process.env.DECKHAND_BIN_DIR ? path.resolve(process.env.DECKHAND_BIN_DIR) : path.join(process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target"), "debug");
export const SCREENSHOTS = path.join(ROOT, "target", "screenshots");

export function tempDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function until(what, probe, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Creates a user in the server database and returns its token. */
export function addUser(db, name) {
  return execFileSync(path.join(BIN, "deckhand-server"), ["user", "add", name, "--db", db], {
    encoding: "utf8",
  }).trim();
}

/** Starts deckhand-server on `port`; resolves once /healthz answers. */
export async function startServer(db, port) {
  const child = spawn(path.join(BIN, "deckhand-server"), ["serve", "--db", db, "--listen", `127.0.0.1:${port}`, "--heartbeat-secs", "2"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await until("deckhand-server /healthz", async () => (await fetch(`${url}/healthz`)).ok);
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await done;
    },
  };
}

/** Runs deckhand-cli with a data dir, server and token; returns stdout (throws on non-zero exit). */
export function cli(dataDir, url, token, args) {
  return execFileSync(path.join(BIN, "deckhand-cli"), ["--data-dir", dataDir, "--server", url, "--token", token, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
}

/**
 * Starts tauri-driver under xvfb-run and a WebDriver session on the real app. `keychainHome`: run
 * it all inside a private D-Bus session with an unlocked gnome-keyring (HOME there), and write
 * that session's bus address to `<keychainHome>/bus` so the test can query the keychain too.
 * `keychainHome: null` removes any session bus, as on a headless machine.
 */
export async function startApp(env, { keychainHome, application = path.join(BIN, "deckhand") } = {}) {
  const port = await freePort();
  const nativePort = await freePort();
  const driverBin = process.env.TAURI_DRIVER ?? path.join(process.env.HOME ?? "/root", ".cargo", "bin", "tauri-driver");
  const xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1280x860x24", driverBin, "--port", String(port), "--native-port", String(nativePort)];
  const fullEnv = { ...process.env, ...env };
  let cmd = xvfb;
  if (keychainHome === null) {
    delete fullEnv.DBUS_SESSION_BUS_ADDRESS;
  } else if (keychainHome) {
    Object.assign(fullEnv, { HOME: keychainHome, XDG_DATA_HOME: path.join(keychainHome, "share"), XDG_RUNTIME_DIR: path.join(keychainHome, "run") });
    mkdirSync(path.join(keychainHome, "run"), { recursive: true, mode: 0o700 });
    const inner = 'printf deckhand-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && printf %s "$DBUS_SESSION_BUS_ADDRESS" > "$HOME/bus" && exec "$@"';
    cmd = ["dbus-run-session", "--", "sh", "-c", inner, "sh", ...xvfb];
  }
  const driver = spawn(cmd[0], cmd.slice(1), {
    stdio: ["ignore", "inherit", "inherit"],
    env: fullEnv,
    detached: true,
  });
  const base = `http://127.0.0.1:${port}`;
  await until("tauri-driver", async () => (await fetch(`${base}/status`)).ok);
  const wd = await new WebDriver(base).start(application);
  wd.failureDir = SCREENSHOTS;
  return {
    wd,
    async stop() {
      await wd.quit();
      try {
        process.kill(-driver.pid, "SIGTERM");
      } catch {}
    },
  };
}

/** Waits until the view shows what the user would see: the app loaded, the sync status in the
 * status bar, no render pending (two animation frames with no DOM change in between). */
export async function settle(wd) {
  await wd.waitFor("the view to settle", () =>
    wd.execAsync(
      `const done = arguments[arguments.length - 1];
       if (document.body.dataset.ready !== "true" || !document.querySelector(".status-button .conn")) return done(false);
       let changed = false;
       const mo = new MutationObserver(() => (changed = true));
       mo.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
       requestAnimationFrame(() => requestAnimationFrame(() => { mo.disconnect(); done(!changed); }));`,
    ),
  );
}

export async function screenshot(wd, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  writeFileSync(file, await wd.screenshot());
  return file;
}

/** GETs a card straight from the server. */
export async function serverCard(url, token, id) {
  const res = await fetch(`${url}/v1/cards/${id}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

/** CSS for a card on the board or in the list, by its title. */
export const SEL = (title) => `[data-card-id][aria-label="${title}"]`;

/** A card's sync badge state in the app ("pending", "synced", ...), or null when not shown. */
export async function syncState(wd, title) {
  return wd.exec(
    "const c = document.querySelector(arguments[0]); const b = c && c.querySelector('[data-sync-state]'); return b ? b.getAttribute('data-sync-state') : null",
    SEL(title),
  );
}

export async function waitState(wd, title, state, timeoutMs = 60000) {
  await wd.waitFor(`card "${title}" ${state}`, async () => (await syncState(wd, title)) === state, timeoutMs);
}

export async function waitSynced(wd, title, timeoutMs = 60000) {
  await waitState(wd, title, "synced", timeoutMs);
}

/** Every dialog closed. */
export async function noDialog(wd) {
  await wd.waitFor("dialogs closed", async () => ((await wd.exec("return document.querySelectorAll('dialog[open]').length")) === 0 ? true : null));
}
