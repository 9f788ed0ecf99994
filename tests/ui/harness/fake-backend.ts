// A stand-in for the Rust side in browser tests: implements the commands of docs/commands.md over
// in-memory data and emits `engine-event`s through @tauri-apps/api's mockIPC. Tests drive it via
// `window.__fake` (trigger events, inspect calls). Bundled by esbuild in tests/ui/helpers.mjs.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type { AppSettings } from "../../../ui/src/bindings/AppSettings";
import type { BulkAction } from "../../../ui/src/bindings/BulkAction";
import type { CardChanges } from "../../../ui/src/bindings/CardChanges";
import type { CardView } from "../../../ui/src/bindings/CardView";
import type { ConflictRecord } from "../../../ui/src/bindings/ConflictRecord";
import type { EngineEvent } from "../../../ui/src/bindings/EngineEvent";
import type { HistoryEntry } from "../../../ui/src/bindings/HistoryEntry";
import type { ListQuery } from "../../../ui/src/bindings/ListQuery";
import type { OpError } from "../../../ui/src/bindings/OpError";
import type { OutboxEntry } from "../../../ui/src/bindings/OutboxEntry";
import type { SyncStatus } from "../../../ui/src/bindings/SyncStatus";
import type { CommandError, CommandName, Commands } from "../../../ui/src/bindings/ipc";
import type { Capture } from "../../../ui/src/bindings/Capture";
import type { DesktopState } from "../../../ui/src/bindings/DesktopState";
import type { TokenStorageInfo } from "../../../ui/src/bindings/TokenStorageInfo";
import type { ErrorKind } from "../../../ui/src/bindings/ErrorKind";
import type { Card } from "../../../ui/src/bindings/Card";
import type { CardVersion } from "../../../ui/src/bindings/CardVersion";
import type { UndoOutcome } from "../../../ui/src/bindings/UndoOutcome";
import type { ImportOptions } from "../../../ui/src/bindings/ImportOptions";
import type { ImportReport } from "../../../ui/src/bindings/ImportReport";
import type { LinkMeta } from "../../../ui/src/bindings/LinkMeta";

type Args = Record<string, unknown>;
interface FakeConfig {
  cards?: Partial<CardView>[];
  generate?: number;
  lanes?: string[];
  settings?: Partial<AppSettings>;
  status?: Partial<SyncStatus>;
  outbox?: Partial<OutboxEntry>[];
  conflicts?: ConflictRecord[];
  history?: HistoryEntry[];
  holdBulk?: boolean;
  /** `cards_import` stops after its first chunk until `releaseImport()`. */
  holdImport?: boolean;
  /** Items the fake import reports (default 1,200: three chunks of at most 500). */
  importTotal?: number;
  /** `cards_import` fails with this validation message (after reporting 0 of N). */
  importError?: string;
  tokenStorage?: TokenStorageInfo;
  /** A capture waiting when the UI starts (the app was started by a deckhand:// link). */
  capture?: Capture;
  /** Cards already in the Trash. */
  trash?: Partial<Card>[];
  /** Card id → its server versions, newest first (default: the card as it is, v1). */
  versions?: Record<string, CardVersion[]>;
  /** `card_history` and `trash_empty` fail as without a server. */
  offline?: boolean;
  /** What "refresh metadata" finds, by URL (absent: the page answers 404). */
  pages?: Record<string, Omit<LinkMeta, "url" | "fetched_at">>;
}

const config: FakeConfig = (window as unknown as { __FAKE_CONFIG__?: FakeConfig }).__FAKE_CONFIG__ ?? {};
const NOW = "2026-11-24T12:00:00Z";
let seq = 0;
const uuid = () => `00000000-0000-7000-8000-${(++seq).toString(16).padStart(12, "0")}`;

function makeCard(p: Partial<CardView>, i: number): CardView {
  return {
    id: p.id ?? uuid(),
    title: p.title ?? `Card ${i + 1}`,
    body: p.body ?? "",
    url: p.url ?? null,
    tags: p.tags ?? [],
    lane: p.lane ?? "inbox",
    position: p.position ?? i + 1,
    pinned: p.pinned ?? false,
    confirmed_version: p.confirmed_version ?? 1,
    created_at: p.created_at ?? NOW,
    updated_at: p.updated_at ?? NOW,
    sync_state: p.sync_state ?? "synced",
    error: p.error ?? null,
    link_meta: p.link_meta ?? null,
  };
}

/** The engine's URL normal form (crates/core/src/link/normalize.rs), for the duplicate check. */
function normalUrl(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return null;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return null;
  u.hash = "";
  for (const k of [...u.searchParams.keys()]) {
    if (/^utm_/i.test(k) || ["fbclid", "gclid", "dclid", "msclkid"].includes(k.toLowerCase())) u.searchParams.delete(k);
  }
  if (u.pathname.length > 1) u.pathname = u.pathname.replace(/\/+$/, "");
  return u.toString().replace(/\?$/, "");
}

function fetchMeta(card: CardView): LinkMeta {
  const page = config.pages?.[card.url ?? ""];
  const base = { url: card.url ?? "", fetched_at: NOW };
  return page ? { ...page, ...base } : { ...base, status: "broken", http_status: 404, error_code: "http_status", error: "the server answered HTTP 404" };
}

const lanesOrder = config.lanes ?? ["inbox", "doing", "done"];
let cards: CardView[] = (config.cards ?? []).map(makeCard);
if (config.generate) {
  for (let i = 0; i < config.generate; i++) {
    cards.push(makeCard({ title: `Generated card ${i + 1}`, lane: lanesOrder[i % lanesOrder.length], tags: i % 7 === 0 ? ["seven"] : [] }, i));
  }
}
let settings: AppSettings = {
  server_url: "https://sync.example.test",
  token: null,
  token_set: true,
  sync_enabled: true,
  drain_window: 8,
  theme: "light",
  first_run_done: true,
  ...config.settings,
};
let status: SyncStatus = {
  connection: "online",
  breaker: "closed",
  pending: 0,
  in_flight: 0,
  failed: 0,
  conflicts: 0,
  oldest_pending_age_ms: null,
  last_synced_at: NOW,
  stream: {
    state: "connected",
    connected_since: NOW,
    events_created: 3,
    events_updated: 12,
    events_deleted: 1,
    last_event_at: NOW,
    last_event_id: 42,
  },
  recovery: null,
  last_resync: null,
  ...config.status,
};
let nextOp = 100;
const outbox: OutboxEntry[] = (config.outbox ?? []).map((o) => ({
  op_id: o.op_id ?? nextOp++,
  card_id: o.card_id ?? cards[0]?.id ?? uuid(),
  card_title: o.card_title ?? "",
  kind: o.kind ?? "update",
  state: o.state ?? "pending",
  priority: o.priority ?? "normal",
  idempotency_key: o.idempotency_key ?? `key-${nextOp}`,
  attempts: o.attempts ?? 0,
  created_at: o.created_at ?? NOW,
  next_attempt_at: o.next_attempt_at ?? null,
  last_error: o.last_error ?? null,
}));
const conflicts: ConflictRecord[] = [...(config.conflicts ?? [])];
const history: HistoryEntry[] = config.history ?? [
  { id: 1, at: NOW, kind: "op.sent", card_id: null, message: "update sent" },
  { id: 2, at: NOW, kind: "remote.card.updated", card_id: null, message: "a card changed on the server" },
];
const calls: { cmd: string; args: Args }[] = [];
/** A card as the server keeps it (what the Trash and the history list). */
function serverCard(c: CardView, version: number, deleted: boolean): Card {
  const { confirmed_version: _v, sync_state: _s, error: _e, link_meta, ...fields } = c;
  // The wire type leaves out an absent link_meta; the view has it as null.
  return { ...fields, ...(link_meta ? { link_meta } : {}), version, deleted };
}
let trash: Card[] = (config.trash ?? []).map((p, i) => ({ ...serverCard(makeCard(p, i), p.version ?? 2, true), ...p, deleted: true }));
const versions: Record<string, CardVersion[]> = config.versions ?? {};
const needServer = () => err("invalid_state", "history unavailable (offline?): cannot connect");
let desktop: DesktopState = { settings: { capture_shortcut: "CmdOrCtrl+Shift+Space", notifications: true }, shortcut_error: null };
let pendingCapture: Capture | null = config.capture ?? null;
let bulkGate: (() => void) | null = null;
let listGates: (() => void)[] = [];
let importGate: (() => void) | null = null;

/** The engine's import in small: progress at 0 and per chunk of 500, then a card per chunk. */
async function importCards(path: string, options: ImportOptions): Promise<ImportReport> {
  const total = config.importTotal ?? 1200;
  const jobId = options.job_id ?? "";
  await fire({ type: "import_progress", job_id: jobId, done: 0, total });
  if (config.importError) throw err("validation", config.importError);
  const ids: string[] = [];
  for (let done = Math.min(500, total); ; done = Math.min(done + 500, total)) {
    const card = makeCard({ title: `Imported ${done}`, lane: "imported", sync_state: "pending", confirmed_version: null }, cards.length);
    cards.push(card);
    ids.push(card.id);
    await fire({ type: "import_progress", job_id: jobId, done, total });
    if (done === Math.min(500, total) && fake.holdImport) await new Promise<void>((r) => (importGate = r));
    if (done >= total) break;
  }
  await changed(...ids);
  return { format: path.endsWith(".html") ? "bookmarks" : "json", total, created: total - 3, existing: 3, ignored: ["bookmark 7: a place: link, not a web page"], unknown_columns: [] };
}

function fire(ev: EngineEvent): Promise<void> {
  return emit("engine-event", JSON.parse(JSON.stringify(ev)));
}
const changed = (...ids: string[]) => fire({ type: "cards_changed", ids });
const err = (kind: ErrorKind, message: string): CommandError => ({ kind, message });
const find = (id: unknown) => cards.find((c) => c.id === id);

function order(a: CardView, b: CardView): number {
  const laneAt = (l: string) => lanesOrder.findIndex((n) => n.toLowerCase() === l.toLowerCase());
  const la = laneAt(a.lane);
  const lb = laneAt(b.lane);
  if (la !== lb) return (la < 0 ? 99 : la) - (lb < 0 ? 99 : lb) || a.lane.localeCompare(b.lane);
  // Ties by id, as the engine lists them.
  return a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The engine's `move_card_between` in small: a position between the neighbours, or a rebalance. */
function place(card: CardView, lane: string, before: string | null, after: string | null): string[] {
  const others = cards.filter((c) => c.lane === lane && c !== card).sort(order);
  const bi = others.findIndex((c) => c.id === before);
  const ai = others.findIndex((c) => c.id === after);
  const at = bi >= 0 ? bi + 1 : ai >= 0 ? ai : others.length;
  const prev = others[at - 1]?.position;
  const next = others[at]?.position;
  const p = prev !== undefined && next !== undefined ? prev + (next - prev) / 2 : prev !== undefined ? Math.floor(prev) + 1 : next !== undefined ? Math.ceil(next) - 1 : 1;
  card.lane = lane;
  if ((prev === undefined || prev < p) && (next === undefined || p < next)) {
    card.position = p;
    return [];
  }
  others.splice(at, 0, card);
  const moved: string[] = [];
  others.forEach((c, i) => {
    if (c.position !== i + 1 && c !== card) moved.push(c.id);
    c.position = i + 1;
  });
  return moved;
}

function list(q: ListQuery) {
  const text = q.text?.trim().toLowerCase();
  const matched = cards
    .filter((c) => !q.lane || c.lane.toLowerCase() === q.lane.toLowerCase())
    .filter((c) => !q.tag || c.tags.includes(q.tag))
    .filter((c) => !text || [c.title, c.body, c.url ?? "", ...c.tags].join(" ").toLowerCase().includes(text))
    .sort(order);
  const offset = q.offset ?? 0;
  const limit = q.limit ?? 1000;
  return { items: matched.slice(offset, offset + limit), total: matched.length };
}

function touch(card: CardView): CardView {
  card.updated_at = new Date().toISOString();
  card.sync_state = "pending";
  card.error = null;
  return card;
}

function applyChanges(card: CardView, ch: CardChanges): void {
  if (ch.title !== undefined) card.title = ch.title;
  if (ch.body !== undefined) card.body = ch.body;
  if (ch.url !== undefined) card.url = ch.url;
  if (ch.tags !== undefined) card.tags = ch.tags;
  if (ch.lane !== undefined) card.lane = ch.lane;
  if (ch.position !== undefined) card.position = ch.position;
  if (ch.pinned !== undefined) card.pinned = ch.pinned;
}

async function bulk(ids: string[], action: BulkAction, jobId: string): Promise<number> {
  let done = 0;
  for (const id of ids) {
    const card = find(id);
    if (card) {
      if (action.action === "move") card.lane = action.lane;
      else if (action.action === "add_tag") card.tags = [...new Set([...card.tags, action.tag])];
      else if (action.action === "remove_tag") card.tags = card.tags.filter((t) => t !== action.tag);
      else if (action.action === "delete") cards = cards.filter((c) => c.id !== id);
      else applyChanges(card, action.changes);
      if (action.action !== "delete") touch(card);
    }
    done++;
    await fire({ type: "bulk_progress", job_id: jobId, done, total: ids.length });
    if (done === 1 && fake.holdBulk) await new Promise<void>((r) => (bulkGate = r));
  }
  await changed(...ids);
  return ids.length;
}

// Undo / redo in small, with the engine's rule: a field goes back only while it still holds what
// the action set; otherwise it is skipped and reported (crates/core/src/undo).
const FIELDS = ["title", "body", "url", "tags", "lane", "position", "pinned"] as const;
type Fields = Partial<Record<(typeof FIELDS)[number], unknown>>;
type Change = { kind: "edit"; id: string; before: Fields; after: Fields } | { kind: "removed"; card: CardView } | { kind: "appeared"; id: string };
type Step = { label: string; changes: Change[] };
const undoStack: Step[] = [];
const redoStack: Step[] = [];
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function editChange(id: string, before: CardView, after: CardView): Change | null {
  const b: Fields = {};
  const a: Fields = {};
  for (const f of FIELDS) {
    if (!same(before[f], after[f])) {
      b[f] = before[f];
      a[f] = after[f];
    }
  }
  return Object.keys(a).length ? { kind: "edit", id, before: b, after: a } : null;
}

function record(label: string, change: Change | null): void {
  if (!change) return;
  undoStack.push({ label, changes: [change] });
  redoStack.length = 0;
}

function undoRedo(direction: "undo" | "redo"): UndoOutcome | null {
  const [from, to] = direction === "undo" ? [undoStack, redoStack] : [redoStack, undoStack];
  const step = from.pop();
  if (!step) return null;
  const out: UndoOutcome = { direction, label: step.label, applied: [], skipped: [], undo_depth: 0, redo_depth: 0 };
  const done: Change[] = [];
  for (const ch of step.changes) {
    if (ch.kind === "edit") {
      const card = find(ch.id);
      if (!card) continue;
      const before = { ...card };
      const back: Fields = {};
      for (const [f, v] of Object.entries(ch.after)) {
        if (same(card[f as keyof CardView], v)) back[f as keyof Fields] = ch.before[f as keyof Fields];
        else out.skipped.push({ card_id: ch.id, field: f, reason: "changed_since", message: `"${card.title}": ${f} was changed since (now ${JSON.stringify(card[f as keyof CardView])}); kept` });
      }
      if (Object.keys(back).length === 0) continue;
      applyChanges(card, back as CardChanges);
      touch(card);
      out.applied.push({ card_id: ch.id, title: card.title, effect: "edited", fields: Object.keys(back) });
      done.push(editChange(ch.id, before, card)!);
      void changed(ch.id);
    } else if (ch.kind === "removed") {
      cards.push(touch({ ...ch.card }));
      out.applied.push({ card_id: ch.card.id, title: ch.card.title, effect: "restored" });
      done.push({ kind: "appeared", id: ch.card.id });
      void changed(ch.card.id);
    } else {
      const card = find(ch.id);
      if (!card) continue;
      cards = cards.filter((c) => c.id !== ch.id);
      out.applied.push({ card_id: ch.id, title: card.title, effect: "deleted" });
      done.push({ kind: "removed", card });
      void changed(ch.id);
    }
  }
  if (done.length) to.push({ label: step.label, changes: done });
  out.undo_depth = undoStack.length;
  out.redo_depth = redoStack.length;
  return out;
}

type Handlers = { [K in CommandName]: (a: Commands[K]["args"]) => Commands[K]["result"] | Promise<Commands[K]["result"]> };

// One handler per command of the generated `Commands` map: tsc fails when a command is missing,
// an argument is misnamed or a result has the wrong shape (`npm run typecheck` in tests/).
const handlers: Handlers = {
  cards_list: async (a) => {
    // The page as it is now; with `holdList` it is answered only on `releaseList()` (a slow read).
    const page = JSON.parse(JSON.stringify(list(a.query)));
    if (fake.holdList) {
      await new Promise<void>((r) => listGates.push(r));
      fake.heldListsAnswered++;
    }
    return page;
  },
  card_get: (a) => find(a.id) ?? null,
  lanes_list: () => {
    // Lane records in order, then lanes only cards name; names match case-insensitively.
    const key = (s: string) => s.trim().toLowerCase();
    const extra = [...new Set(cards.map((c) => c.lane).filter((l) => !lanesOrder.some((n) => key(n) === key(l))))];
    return [...lanesOrder, ...extra].map((lane, i) => ({
      lane,
      count: cards.filter((c) => key(c.lane) === key(lane)).length,
      id: i < lanesOrder.length ? `00000000-0000-7000-9000-${(i + 1).toString(16).padStart(12, "0")}` : null,
      position: i < lanesOrder.length ? i + 1 : null,
      pending: false,
    }));
  },
  lane_add: (a) => {
    const key = (s: string) => s.trim().toLowerCase();
    if (lanesOrder.some((n) => key(n) === key(a.name))) throw err("lane_name_taken", `a lane named "${a.name}" exists already`);
    lanesOrder.push(a.name.trim());
    return { lane: a.name.trim(), count: 0, id: uuid(), position: lanesOrder.length, pending: true };
  },
  lane_rename: (a) => {
    const key = (s: string) => s.trim().toLowerCase();
    const at = lanesOrder.findIndex((n) => key(n) === key(a.name));
    if (lanesOrder.some((n, i) => i !== at && key(n) === key(a.newName))) throw err("lane_name_taken", `a lane named "${a.newName}" exists already`);
    if (at >= 0) lanesOrder[at] = a.newName;
    else lanesOrder.push(a.newName);
    const moved = cards.filter((c) => key(c.lane) === key(a.name));
    for (const c of moved) {
      c.lane = a.newName;
      touch(c);
    }
    void changed(...moved.map((c) => c.id));
    return moved.map((c) => c.id);
  },
  lane_move: (a) => {
    const key = (s: string) => s.trim().toLowerCase();
    const from = lanesOrder.findIndex((n) => key(n) === key(a.name));
    if (from < 0) throw err("not_found", `no lane "${a.name}"`);
    const [moving] = lanesOrder.splice(from, 1);
    const after = a.after === null ? -1 : lanesOrder.findIndex((n) => key(n) === key(a.after as string));
    const before = a.before === null ? -1 : lanesOrder.findIndex((n) => key(n) === key(a.before as string));
    const to = before >= 0 ? before + 1 : after >= 0 ? after : lanesOrder.length;
    lanesOrder.splice(to, 0, moving);
    return null;
  },
  lane_delete: (a) => {
    const key = (s: string) => s.trim().toLowerCase();
    const at = lanesOrder.findIndex((n) => key(n) === key(a.name));
    if (at >= 0) lanesOrder.splice(at, 1);
    const touched = cards.filter((c) => key(c.lane) === key(a.name));
    if (a.cardsGo.to === "trash") cards = cards.filter((c) => !touched.includes(c));
    else for (const c of touched) (c.lane = a.cardsGo.lane), touch(c);
    void changed(...touched.map((c) => c.id));
    return touched.map((c) => c.id);
  },
  tags_list: () => [...new Set(cards.flatMap((c) => c.tags))].sort(),
  card_create: (a) => {
    const input = a.input;
    if (!input.title?.trim()) throw err("validation", "title must not be empty");
    const lane = input.lane ?? "inbox";
    const max = Math.max(0, ...cards.filter((c) => c.lane === lane).map((c) => c.position));
    const card = makeCard({ ...input, lane, position: input.position ?? max + 1, sync_state: "pending", confirmed_version: null } as Partial<CardView>, cards.length);
    cards.push(card);
    record(`create "${card.title}"`, { kind: "appeared", id: card.id });
    void changed(card.id);
    return card;
  },
  card_update: (a) => {
    const card = find(a.id);
    if (!card) throw err("not_found", "no such card");
    const before = { ...card };
    applyChanges(card, a.changes);
    touch(card);
    record(`edit "${before.title}"`, editChange(card.id, before, card));
    void changed(card.id);
    return card;
  },
  card_move: (a) => {
    const card = find(a.id);
    if (!card) throw err("not_found", "no such card");
    const before = { ...card };
    const rebalanced = place(card, a.lane, a.before, a.after);
    touch(card);
    record(`move "${card.title}" to ${a.lane}`, editChange(card.id, before, card));
    void changed(card.id, ...rebalanced);
    return card;
  },
  card_delete: (a) => {
    const card = find(a.id);
    if (!card) throw err("not_found", "no such card");
    record(`delete "${card.title}"`, { kind: "removed", card: { ...card } });
    cards = cards.filter((c) => c.id !== a.id);
    trash.unshift({ ...serverCard(card, (card.confirmed_version ?? 0) + 1, true), updated_at: new Date().toISOString() });
    void changed(a.id);
    return null;
  },
  trash_list: () => trash,
  card_restore: (a) => {
    const t = trash.find((c) => c.id === a.id);
    if (!t) throw err("not_found", "card is not in the trash");
    trash = trash.filter((c) => c.id !== a.id);
    const { version, deleted: _d, ...fields } = t;
    const card = touch(makeCard({ ...fields, confirmed_version: version }, cards.length));
    cards.push(card);
    void changed(card.id);
    return card;
  },
  trash_empty: () => {
    if (config.offline) throw err("invalid_state", "emptying the trash needs the server: cannot connect");
    const n = trash.length;
    trash = [];
    return n;
  },
  card_history: (a) => {
    if (config.offline) throw needServer();
    const card = find(a.id);
    const list = versions[a.id] ?? (card ? [{ card: serverCard(card, card.confirmed_version ?? 1, false), writer: "0123456789abcdef" }] : []);
    return list.slice(0, a.limit);
  },
  card_revert: (a) => {
    const card = find(a.id);
    if (!card) throw err("not_found", "card not found (restore it from the trash first)");
    const v = (versions[a.id] ?? []).find((x) => x.card.version === a.version);
    if (!v) throw err("not_found", `card has no version ${a.version}`);
    const { title, body, url, tags, lane, pinned } = v.card;
    applyChanges(card, { title, body, url, tags, lane, pinned });
    touch(card);
    void changed(card.id);
    return card;
  },
  cards_bulk: (a) => bulk(a.ids, a.action, a.jobId),
  card_create_checked: (a) => {
    const norm = a.input.url ? normalUrl(a.input.url) : null;
    const existing = norm ? cards.find((c) => c.url && normalUrl(c.url) === norm) : undefined;
    if (existing) return { outcome: "duplicate", existing };
    return { outcome: "created", card: handlers.card_create(a) as CardView };
  },
  card_refresh_meta: (a) => {
    const card = find(a.id);
    if (!card) throw err("not_found", "no such card");
    if (!card.url) throw err("invalid_state", `card ${a.id} has no URL`);
    card.link_meta = fetchMeta(card);
    touch(card);
    void changed(card.id);
    return card;
  },
  cards_refresh_meta: () => {
    const sum = { refreshed: 0, ok: 0, broken: 0, failed: 0, skipped: 0 };
    for (const card of cards.filter((c) => c.url)) {
      card.link_meta = fetchMeta(card);
      sum.refreshed++;
      sum[card.link_meta.status]++;
      touch(card);
    }
    void changed(...cards.filter((c) => c.url).map((c) => c.id));
    return sum;
  },
  cards_broken: () => cards.filter((c) => c.link_meta?.status === "broken" && c.link_meta.url === c.url),
  outbox_list: () => outbox.map((o) => ({ ...o, card_title: o.card_title || find(o.card_id)?.title || "" })),
  outbox_retry: (a) => outboxOp(a.opId, false),
  outbox_discard: (a) => outboxOp(a.opId, true),
  outbox_retry_all: () => {
    const failed = outbox.filter((o) => o.state === "failed");
    failed.forEach((o) => Object.assign(o, { state: "pending", last_error: null }));
    return failed.length;
  },
  recovery_report: () => status.recovery,
  recovery_list: () => [],
  recovery_requeue: () => ({ requeued: 2, skipped: 1, kept: 0 }),
  recovery_discard: () => 3,
  conflicts_list: () => conflicts,
  conflict_resolve: (a) => {
    const i = conflicts.findIndex((c) => c.card_id === a.cardId);
    if (i < 0) throw err("not_found", "no conflict for this card");
    conflicts.splice(i, 1);
    const card = find(a.cardId);
    if (card) card.sync_state = "pending";
    void fire({ type: "conflict_resolved", card_id: a.cardId }).then(() => changed(a.cardId));
    return null;
  },
  sync_pause: () => {
    void fake.setStatus({ connection: "paused" });
    return null;
  },
  sync_resume: () => {
    void fake.setStatus({ connection: "online" });
    return null;
  },
  sync_now: () => null,
  ui_ready: () => null,
  sync_status: () => status,
  sync_history: (a) => history.slice(0, a.limit ?? 50),
  settings_get: () => ({ ...settings, token: null }),
  settings_set: (a) => {
    const next = a.settings;
    const tokenSet = next.token === null ? settings.token_set : next.token !== "";
    settings = { ...next, token: null, token_set: tokenSet };
    return settings;
  },
  open_logs_folder: () => null,
  desktop_settings_get: () => desktop,
  desktop_settings_set: (a) => {
    desktop = { settings: a.settings, shortcut_error: a.settings.capture_shortcut === "Refused+Key" ? "HotKey already registered" : null };
    return desktop;
  },
  capture_take: () => {
    const c = pendingCapture;
    pendingCapture = null;
    return c;
  },
  undo: () => undoRedo("undo"),
  redo: () => undoRedo("redo"),
  undo_state: () => ({
    undo: undoStack[undoStack.length - 1]?.label ?? null,
    redo: redoStack[redoStack.length - 1]?.label ?? null,
    undo_depth: undoStack.length,
    redo_depth: redoStack.length,
  }),
  cards_import: (a) => importCards(a.path, a.options),
  cards_export: (a) => ({ format: a.format, cards: list({ ...a.query, limit: 100000 }).total, path: a.path }),
  import_pick: (a) => (a.folder ? "/home/user/notes" : "/home/user/bookmarks.html"),
  export_pick: (a) => (a.format === "md" ? "/home/user/export" : `/home/user/deckhand-cards.${a.format}`),
  token_storage: () => config.tokenStorage ?? { storage: "keychain", fallback_reason: null, file: null },
};

function outboxOp(opId: number, discard: boolean): null {
  const i = outbox.findIndex((o) => o.op_id === opId);
  if (i < 0) throw err("not_found", "no such operation");
  const op = outbox[i];
  const card = find(op.card_id);
  if (discard) {
    outbox.splice(i, 1);
    if (card) Object.assign(card, { sync_state: "synced", error: null });
  } else {
    Object.assign(op, { state: "pending", last_error: null });
    if (card) Object.assign(card, { sync_state: "pending", error: null });
  }
  if (card) void changed(card.id);
  return null;
}

async function handle(cmd: string, a: Args): Promise<unknown> {
  // tauri-plugin-opener's command: the real one hands the URL to the user's browser.
  if (cmd === "plugin:opener|open_url") return null;
  if (!(cmd in handlers)) throw err("invalid_state", `fake backend: unknown command ${cmd}`);
  const handler = handlers[cmd as CommandName] as (a: Args) => unknown;
  return handler(a);
}

const fake = {
  calls,
  holdBulk: config.holdBulk ?? false,
  holdImport: config.holdImport ?? false,
  get cards() {
    return cards;
  },
  callsOf(cmd: string) {
    return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
  },
  emit: fire,
  changed,
  /** Another device changed the card (pulled here): not an action of this user, nothing to undo. */
  async remoteEdit(id: string, ch: CardChanges) {
    applyChanges(find(id)!, ch);
    await changed(id);
  },
  releaseImport() {
    importGate?.();
    importGate = null;
  },
  releaseBulk() {
    bulkGate?.();
    bulkGate = null;
  },
  /** While set, `cards_list` answers with what it read at once, but only on `releaseList()`. */
  holdList: false,
  heldListsAnswered: 0,
  /** Answers every held `cards_list`; returns how many there were. */
  releaseList() {
    fake.holdList = false;
    const gates = listGates;
    listGates = [];
    for (const g of gates) g();
    return gates.length;
  },
  /** The engine recorded the server's answer to the card's op: synced, announced. */
  async confirm(id: string) {
    Object.assign(find(id)!, { sync_state: "synced", error: null });
    await changed(id);
  },
  /** The card has an op waiting (as after an edit made elsewhere in this app). */
  async makePending(id: string) {
    find(id)!.sync_state = "pending";
    await changed(id);
  },
  /** What the shell does on a shortcut, tray click or link: keep the capture, poke the UI. */
  capture(c: Capture) {
    pendingCapture = c;
    return emit("quick-capture", c);
  },
  setStatus(p: Partial<SyncStatus>) {
    status = { ...status, ...p };
    return fire({ type: "status_changed", status });
  },
  async emitConflict(record: ConflictRecord) {
    conflicts.push(record);
    const card = find(record.card_id);
    if (card) card.sync_state = "conflict";
    await fire({ type: "conflict_detected", conflict: record });
    await changed(record.card_id);
  },
  async failCard(id: string, error: OpError) {
    const card = find(id)!;
    card.sync_state = "failed";
    card.error = error;
    const op: OutboxEntry = {
      op_id: nextOp++, card_id: id, card_title: card.title, kind: "update", state: "failed", priority: "normal",
      idempotency_key: `key-${nextOp}`, attempts: 3, created_at: NOW, next_attempt_at: null, last_error: error,
    };
    outbox.push(op);
    await fire({ type: "op_failed", op_id: op.op_id, card_id: id, error });
    await changed(id);
    return op.op_id;
  },
};

mockWindows("main");
mockIPC(
  async (cmd, args) => {
    const a = (args ?? {}) as Args;
    calls.push({ cmd, args: JSON.parse(JSON.stringify(a)) });
    // Like real IPC, results cross a serialisation boundary: never hand out live objects.
    const result = await handle(cmd, a);
    return result === undefined ? null : JSON.parse(JSON.stringify(result));
  },
  { shouldMockEvents: true },
);
(window as unknown as { __fake: typeof fake }).__fake = fake;
