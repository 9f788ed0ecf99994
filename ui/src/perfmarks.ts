// Performance marks the app benchmark (crates/bench/app) reads through WebDriver on
// `window.__deckhandPerf`. Always on and cheap: two timestamps, a status listener, and a
// long-task observer where the engine has one. The frame-gap monitor (a requestAnimationFrame
// loop and a 20 ms timer) only runs between `watchFrames()` and `stopFrames()`: an idle app must not wake 60 times a
// second for it. Nothing here changes what the app does.
import { state, subscribe } from "./state";

interface Mark {
  /** performance.now(): ms since the webview's navigation start. */
  now: number;
  /** Date.now() at the same moment: relates the mark to the process start the harness measured. */
  epoch: number;
}

interface FrameWatch {
  frames: number;
  /** Gaps between consecutive animation frames longer than 50 ms, in ms. */
  gaps: number[];
  maxGap: number;
  /** Main-thread blocks: how late a 20 ms interval timer fired beyond its period, when > 50 ms
   * (a task, style/layout or paint on the main thread held it: the Long Tasks API's view). */
  blocks: number[];
  maxBlock: number;
  startedAt: number;
  last: number;
  running: boolean;
}

export interface DeckhandPerf {
  timeOrigin: number;
  /** Whether this engine reports PerformanceObserver 'longtask' entries (WebKitGTK: no). */
  longTaskSupported: boolean;
  longTasks: { start: number; duration: number }[];
  /** Start-up steps (performance.now()), named by main.ts: where the time before the first paint goes. */
  steps: Record<string, number>;
  /** The first frame painted with cards in the view (after the first render that had them). */
  firstCards: Mark | null;
  /** The first status with nothing pending or in flight while online. */
  synced: Mark | null;
  frames: FrameWatch | null;
  watchFrames(): void;
  stopFrames(): FrameWatch | null;
}

const mark = (): Mark => ({ now: performance.now(), epoch: Date.now() });

const perf: DeckhandPerf = {
  timeOrigin: performance.timeOrigin,
  longTaskSupported: typeof PerformanceObserver !== "undefined" && (PerformanceObserver.supportedEntryTypes ?? []).includes("longtask"),
  longTasks: [],
  steps: {},
  firstCards: null,
  synced: null,
  frames: null,
  watchFrames() {
    const w: FrameWatch = { frames: 0, gaps: [], maxGap: 0, blocks: [], maxBlock: 0, startedAt: performance.now(), last: 0, running: true };
    perf.frames = w;
    let lastTimer = performance.now();
    const timer = window.setInterval(() => {
      if (!w.running) return window.clearInterval(timer);
      const now = performance.now();
      const late = now - lastTimer - 20;
      lastTimer = now;
      if (late > w.maxBlock) w.maxBlock = late;
      if (late > 50) w.blocks.push(Math.round(late));
    }, 20);
    const tick = (t: number) => {
      if (!w.running) return;
      if (w.last) {
        const gap = t - w.last;
        if (gap > w.maxGap) w.maxGap = gap;
        if (gap > 50) w.gaps.push(Math.round(gap));
      }
      w.last = t;
      w.frames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  },
  stopFrames() {
    if (perf.frames) perf.frames.running = false;
    return perf.frames;
  },
};

export function step(name: string): void {
  perf.steps[name] = Math.round(performance.now());
}

/** Records the first paint with cards: the frame after the render that put them in the DOM. */
export function markFirstCards(): void {
  if (perf.firstCards || !document.querySelector("[data-card-id]")) return;
  // rAF runs before the paint; a task queued from it runs after that frame was painted.
  requestAnimationFrame(() => {
    step("frame");
    setTimeout(() => (perf.firstCards ??= mark()), 0);
  });
}

export function installPerfMarks(): void {
  (window as unknown as { __deckhandPerf: DeckhandPerf }).__deckhandPerf = perf;
  if (perf.longTaskSupported) {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) perf.longTasks.push({ start: Math.round(e.startTime), duration: Math.round(e.duration) });
    }).observe({ type: "longtask", buffered: true });
  }
  subscribe("status", () => {
    const s = state.status;
    if (!perf.synced && s && s.connection === "online" && s.pending === 0 && s.in_flight === 0) perf.synced = mark();
  });
}
