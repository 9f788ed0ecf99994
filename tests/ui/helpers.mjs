// Shared setup for the UI browser tests: bundle the fake backend, serve ui/dist, launch Debian's
// Chromium, open the app with a given fake configuration.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../..");
const dist = join(repoRoot, "ui/dist");
const uiModules = join(repoRoot, "ui/node_modules");
export const screenshotDir = join(repoRoot, "target/screenshots");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
};

/** The app's CSP from tauri.conf.json, as Tauri would send it (the IPC source is irrelevant here). */
export function tauriCsp() {
  const conf = JSON.parse(readFileSync(join(repoRoot, "tauri.conf.json"), "utf8"));
  return Object.entries(conf.app.security.csp).map(([k, v]) => `${k} ${v}`).join("; ");
}

/** Bundles `entry` (TypeScript) with the esbuild and modules the UI build already installed;
 * `options` are esbuild's (format, platform, target). Answers the bundle's source. */
export async function bundle(entry, options) {
  if (!existsSync(join(uiModules, "esbuild"))) throw new Error("ui/node_modules is missing: run `cd ui && npm ci` first");
  const esbuild = createRequire(join(uiModules, "noop.js"))("esbuild");
  const out = await esbuild.build({ entryPoints: [entry], bundle: true, write: false, nodePaths: [uiModules], logLevel: "silent", ...options });
  return out.outputFiles[0].text;
}

/** Bundles tests/ui/harness/fake-backend.ts with the @tauri-apps/api the UI build already installed. */
let harnessPromise;
export function harnessSource() {
  harnessPromise ??= bundle(join(here, "harness/fake-backend.ts"), { format: "iife", target: "es2021" });
  return harnessPromise;
}

/** Static server for ui/dist on 127.0.0.1:<random>. `csp: false` serves without the CSP header. */
export async function serveDist({ csp = true } = {}) {
  if (!existsSync(join(dist, "index.html"))) throw new Error("ui/dist is missing: run `cd ui && npm run build` first");
  const policy = tauriCsp();
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(dist, path === "/" ? "index.html" : path));
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" };
      if (csp) headers["content-security-policy"] = policy;
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

export function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Opens the app against the fake backend. Returns the page; `window.__fake` drives the backend,
 * `window.__cspViolations` collects CSP reports, `window.__errors` uncaught errors.
 */
export async function openApp(browser, baseUrl, fakeConfig = {}, { viewport = { width: 1360, height: 860 }, waitReady = true } = {}) {
  const context = await browser.newContext({ viewport, colorScheme: "light" });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
  await page.addInitScript((cfg) => {
    // tauri.conf.json sets freezePrototype: Tauri freezes Object.prototype before the app runs.
    Object.freeze(Object.prototype);
    window.__FAKE_CONFIG__ = cfg;
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sample ?? ""}`));
  }, fakeConfig);
  await page.addInitScript({ content: await harnessSource() });
  await page.goto(baseUrl);
  if (waitReady) await page.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });
  page.pageErrors = pageErrors;
  return page;
}

/** Polls `fn` until it returns a truthy value or the deadline passes (expect-style). */
export async function eventually(fn, { timeout = 10_000, interval = 25, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}; last value: ${String(last)}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `ui-${name}.png`) });
}

export const uuid = (n) => `aaaaaaaa-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

/** Closes the page's context after checking it saw no CSP violation and no uncaught error. */
export async function done(page) {
  const csp = await page.evaluate(() => window.__cspViolations);
  await page.context().close();
  if (csp.length) throw new Error(`CSP violations: ${csp.join("; ")}`);
  if (page.pageErrors.length) throw new Error(`page errors: ${page.pageErrors.join("; ")}`);
}
