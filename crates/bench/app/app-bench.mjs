// P9, P10 and the whole app's memory (issue 13, "the app as users feel it"): ONE run of the real
// app (the release Tauri binary, under Xvfb through tauri-driver + WebKitWebDriver, started by the
// e2e harness) on a copy of a 100,000-card database with 10,000 pending creates, syncing to a live
// release deckhand-server. Prints one JSON line; crates/bench/src/p9.rs runs it N times and writes
// the rows. The UI's marks come from ui/src/perfmarks.ts (`window.__deckhandPerf`).
//
//   DECKHAND_BIN_DIR=target/release node crates/bench/app/app-bench.mjs --db DIR_WITH_deckhand.db --work TMPDIR
//
// This is a benchmark, not a test: nothing asserts on time.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { BIN, addUser, freePort, startApp, startServer } from "../../../tests/e2e/harness.mjs";

const { values: opt } = parseArgs({ options: { db: { type: "string" }, work: { type: "string" }, cards: { type: "string", default: "100000" }, offline: { type: "boolean", default: false } } });
if (!opt.db || !opt.work) {
  console.error("usage: app-bench.mjs --db DIR --work DIR [--cards N]");
  process.exit(2);
}
const CARDS = Number(opt.cards);
const APP = path.join(BIN, "deckhand");
const CLK_TCK = 100; // USER_HZ: /proc times are in 1/100 s on Linux

// ---- /proc ----

function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(f[1]), starttime: Number(f[19]) };
}

/** Process start as a Date.now() value: its start in ticks since boot, against /proc/uptime read
 * beside Date.now() (both at 10 ms resolution). */
function startEpoch(pid) {
  const { starttime } = stat(pid);
  const now = Date.now();
  const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  return now - (uptime - starttime / CLK_TCK) * 1000;
}

function pids() {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

/** The app process WebKitWebDriver started (its exe is our binary). */
function findApp() {
  for (const pid of pids()) {
    try {
      if (readlinkSync(`/proc/${pid}/exe`) === APP) return pid;
    } catch {}
  }
  return null;
}

/** `root` and every process below it (the app's WebKitWebProcess / WebKitNetworkProcess children). */
function tree(root) {
  const kids = new Map();
  for (const pid of pids()) {
    try {
      const { ppid } = stat(pid);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(pid);
    } catch {}
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(root);
  return out;
}

function kb(file, key) {
  try {
    const line = readFileSync(file, "utf8").split("\n").find((l) => l.startsWith(key));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } catch {
    return 0;
  }
}

function memory(root) {
  const procs = tree(root).map((pid) => {
    let name = "?";
    try {
      name = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {}
    return { pid, name, rss_kb: kb(`/proc/${pid}/status`, "VmRSS:"), pss_kb: kb(`/proc/${pid}/smaps_rollup`, "Pss:") };
  });
  return {
    rss_kb: procs.reduce((a, p) => a + p.rss_kb, 0),
    pss_kb: procs.reduce((a, p) => a + p.pss_kb, 0),
    procs,
  };
}

// ---- the run ----

async function until(wd, what, script, timeoutMs) {
  return wd.waitFor(what, () => wd.exec(script), timeoutMs);
}

const work = opt.work;
mkdirSync(path.join(work, "app"), { recursive: true });
copyFileSync(path.join(opt.db, "deckhand.db"), path.join(work, "app", "deckhand.db"));
const serverDb = path.join(work, "server.db");
const token = addUser(serverDb, "bench");
const server = await startServer(serverDb, await freePort());
// --offline (diagnosis): the app's server does not answer, so nothing drains while it starts.
const env = { DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: opt.offline ? "http://127.0.0.1:9" : server.url, DECKHAND_TOKEN: token, DECKHAND_KEYCHAIN: "off" };
const app = await startApp(env, { application: APP });
const out = {};
try {
  const { wd } = app;
  const pid = findApp();
  if (!pid) throw new Error(`no running ${APP} found`);
  const t0 = startEpoch(pid);
  // P9: first cards painted (ui/src/perfmarks.ts), relative to the process start.
  const first = await until(wd, "first cards painted", "return window.__deckhandPerf && window.__deckhandPerf.firstCards", 60000);
  const perf0 = await wd.exec("const p = window.__deckhandPerf; return { timeOrigin: p.timeOrigin, longTaskSupported: p.longTaskSupported, steps: p.steps }");
  out.process_start_epoch = t0;
  out.steps_since_nav_ms = perf0.steps;
  out.first_cards_ms = first.epoch - t0;
  out.first_cards_since_nav_ms = first.now;
  out.nav_start_ms = perf0.timeOrigin - t0;
  out.long_task_supported = perf0.longTaskSupported;
  if (!opt.offline) await interact(wd, pid, t0);
} finally {
  await app.stop();
  await server.stop();
}
// Marked: tauri-driver and WebKit write to the same stdout.
console.log(`APPBENCH ${JSON.stringify(out)}`);

async function interact(wd, pid, t0) {
  out.pending_after_first_paint = await wd.exec("return window.__deckhandPerf && document.querySelector('.status-button .stat') ? document.querySelector('.status-button .stat').textContent : null");

  // P10, at once, while the ops drain: the list view, scrolled top to bottom, then a search typed.
  await wd.exec("window.__deckhandPerf.watchFrames()");
  await wd.clickCss('button.seg[data-view="list"]');
  await until(wd, "list rows", "return document.querySelectorAll('.list-scroll [data-card-id]').length > 0", 30000);
  out.pending_at_scroll = await wd.exec("return document.querySelector('.status-button .stat').textContent");
  // 180 frames: the first 120 scroll at a fast wheel/fling speed (120 px, ~2 rows, a frame: 7,200
  // px/s at 60 fps), then 60 jumps down the whole list (~1,700 rows each, as dragging the
  // scrollbar), each a frame apart: every jump lands on pages not loaded yet.
  // Started in the page and polled: a slow main thread must not hit WebDriver's script timeout.
  await wd.exec(
    `const s = document.querySelector('.list-scroll');
     const max = () => s.scrollHeight - s.clientHeight;
     let i = 0;
     const t0 = performance.now();
     window.__benchScroll = null;
     const step = () => {
       if (i < 120) s.scrollTop += 120;
       else s.scrollTop = Math.round(((i - 119) / 60) * max());
       i++;
       if (i < 180) requestAnimationFrame(step);
       else window.__benchScroll = { ms: performance.now() - t0, top: s.scrollTop, max: max() };
     };
     requestAnimationFrame(step);`,
  );
  const scroll = await until(wd, "the scroll to finish", "return window.__benchScroll", 300000);
  out.scroll = scroll;
  // Rows at the bottom painted with their cards (not placeholders).
  await until(wd, "last rows loaded", "return document.querySelectorAll('.list-scroll .placeholder').length === 0 && document.querySelectorAll('.list-scroll [data-card-id]').length > 0", 30000);
  out.pending_at_search = await wd.exec("return document.querySelector('.status-button .stat').textContent");
  // A search typed key by key (WebDriver sends real key events: input events, the debounce).
  const word = await wd.exec("return document.querySelector('.list-scroll [data-card-id]').getAttribute('aria-label').split(' ')[0]");
  const search = await wd.find("#search");
  const tSearch = Date.now();
  await wd.type(search, word);
  // Done when the list holds the matches only (its scroll area shrank) and they are painted.
  await until(wd, "search results", `const sp = document.querySelector('.list-spacer');
    return parseFloat(sp.style.height) < ${CARDS} * 56 && document.querySelectorAll('.list-scroll .placeholder').length === 0 && document.querySelectorAll('.list-scroll [data-card-id]').length > 0`, 30000);
  out.search_ms = Date.now() - tSearch;
  out.search_word = word;
  const frames = await wd.exec("return window.__deckhandPerf.stopFrames()");
  out.frames = { frames: frames.frames, gaps: frames.gaps, max_gap_ms: frames.maxGap, blocks: frames.blocks, max_block_ms: frames.maxBlock, window_ms: frames.last - frames.startedAt };
  out.long_tasks = await wd.exec("return window.__deckhandPerf.longTasks");
  out.pending_after_p10 = await wd.exec("return document.querySelector('.status-button .stat').textContent");
  out.mem_after_scroll = memory(pid);

  // P9 continued: synced (outbox empty while online, as the status bar shows it).
  const synced = await until(wd, "synced", "return window.__deckhandPerf.synced", 300000);
  out.synced_ms = synced.epoch - t0;
  out.status_text = await wd.exec("return document.querySelector('.status-button').textContent");
  out.mem_synced = memory(pid);
  out.cards = CARDS;
}
