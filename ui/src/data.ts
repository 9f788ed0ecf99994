// Loading and refreshing what the views show. Loads once at start, then only what events name.
import { api } from "./api";
import type { CardView } from "./bindings/CardView";
import type { ListQuery } from "./bindings/ListQuery";
import { BOARD_PAGE, LIST_PAGE, boardLaneOf, laneNames, notify, state } from "./state";

// Bumped whenever the query (search / filters) changes, so late answers to an older query are dropped.
let generation = 0;

function baseQuery(): ListQuery {
  const q: ListQuery = {};
  if (state.filter.text.trim()) q.text = state.filter.text.trim();
  if (state.filter.tag) q.tag = state.filter.tag;
  if (state.filter.lane) q.lane = state.filter.lane;
  return q;
}

// Reads of cards overlap (a board reload, a list page, the refetch of a card an event named).
// Each is stamped when it starts, and a card is only replaced by a read that started after the
// one that last set it: a slow reload begun before an op was confirmed must not put the stale
// "pending" copy back over the fresh one (the badge would stay "pending" until the next change).
let readClock = 0;
const readAt = new Map<string, number>();

function startRead(): number {
  return ++readClock;
}

function put(card: CardView, at: number): void {
  if ((readAt.get(card.id) ?? 0) > at) return;
  readAt.set(card.id, at);
  state.cards.set(card.id, card);
}

/** A card a write just returned: newer than any read already under way. */
export function rememberCard(card: CardView): void {
  put(card, startRead());
}

function remember(items: CardView[], at: number): string[] {
  for (const c of items) put(c, at);
  return items.map((c) => c.id);
}

export async function loadLanes(): Promise<void> {
  state.lanes = await api.lanesList();
  notify("lanes");
}

export async function loadTags(): Promise<void> {
  state.tags = await api.tagsList();
  notify("tags");
}

export async function loadStatus(): Promise<void> {
  state.status = await api.syncStatus();
  notify("status");
}

/** Lanes the board shows under the current filter. */
export function boardLanes(): string[] {
  return state.filter.lane ? [state.filter.lane] : laneNames();
}

export async function loadBoardLane(lane: string, limit?: number): Promise<void> {
  const prev = state.board.get(lane);
  const lim = limit ?? prev?.limit ?? BOARD_PAGE;
  const gen = generation;
  const at = startRead();
  const page = await api.cardsList({ ...baseQuery(), lane, limit: lim, offset: 0 });
  if (gen !== generation) return;
  state.board.set(lane, { ids: remember(page.items, at), total: page.total, limit: lim });
}

export async function loadBoard(): Promise<void> {
  const lanes = boardLanes();
  await Promise.all(lanes.map((l) => loadBoardLane(l)));
  for (const lane of [...state.board.keys()]) if (!lanes.includes(lane)) state.board.delete(lane);
  notify("board");
}

export async function showMore(lane: string): Promise<void> {
  const cur = state.board.get(lane);
  await loadBoardLane(lane, (cur?.limit ?? BOARD_PAGE) + BOARD_PAGE);
  notify("board");
}

/** Fetches one page of the (virtualised) list view if it isn't loaded or loading. */
export async function loadListPage(index: number): Promise<void> {
  const list = state.list;
  if (list.pages.has(index) || list.loading.has(index)) return;
  list.loading.add(index);
  const gen = generation;
  try {
    const at = startRead();
    const page = await api.cardsList({ ...baseQuery(), limit: LIST_PAGE, offset: index * LIST_PAGE });
    if (gen !== generation) return;
    list.total = page.total;
    list.pages.set(index, remember(page.items, at));
  } finally {
    if (gen === generation) list.loading.delete(index);
  }
  notify("list");
}

/** The list holds only the pages around what it shows (`from`..`to`), and cards no view shows are
 * forgotten: scrolling through 100,000 cards kept every page it passed, so the JS heap grew with
 * every page, and each `cards_changed` that changed the list's shape refetched all of them (a
 * drain then refetched thousands of cards per event: the P10 benchmark). The read stamps stay, so
 * a slow read that started before the card was last set still cannot put a stale copy back. */
export function keepListPages(from: number, to: number): void {
  const list = state.list;
  let dropped = false;
  for (const p of [...list.pages.keys()]) {
    if (p < from || p > to) {
      list.pages.delete(p);
      dropped = true;
    }
  }
  if (!dropped) return;
  const shown = new Set<string>(state.selection);
  if (state.editingId) shown.add(state.editingId);
  for (const ids of list.pages.values()) for (const id of ids) shown.add(id);
  for (const lane of state.board.values()) for (const id of lane.ids) shown.add(id);
  for (const id of [...state.cards.keys()]) if (!shown.has(id)) state.cards.delete(id);
}

export async function resetList(): Promise<void> {
  state.list.pages.clear();
  state.list.loading.clear();
  await loadListPage(0);
  notify("list", { reset: true });
}

/** Refetches the list pages loaded now (the same query: no reset, no jump to the top). */
async function reloadListPages(): Promise<void> {
  const pages = [...state.list.pages.keys()];
  state.list.pages.clear();
  await Promise.all((pages.length ? pages : [0]).map((p) => loadListPage(p)));
}

/** Re-runs the current query for every view (filters changed). */
export async function reloadViews(): Promise<void> {
  generation++;
  await Promise.all([loadBoard(), resetList()]);
}

function listContains(id: string): boolean {
  for (const ids of state.list.pages.values()) if (ids.includes(id)) return true;
  return false;
}

function laneOf(id: string): string | null {
  for (const [lane, data] of state.board) if (data.ids.includes(id)) return lane;
  return null;
}

/** Views whose data changed while another view was shown: reloaded when shown (`viewShown`),
 * not on every change. A drain names cards hundreds at a time; reloading the hidden board's
 * lanes for each burst cost the visible list its frames (the P10 benchmark). */
const stale = { board: false, list: false };

/** The user switched to `view`: bring it up to date if changes arrived while it was hidden. */
export async function viewShown(view: string): Promise<void> {
  if (view === "board" && stale.board) {
    stale.board = false;
    await loadBoard();
  } else if (view === "list" && stale.list) {
    stale.list = false;
    await reloadListPages();
    notify("list");
  }
}

/** `cards_changed`: refetch the named cards, then only the lanes/pages whose shape changed. */
export async function refreshCards(ids: string[]): Promise<void> {
  if (ids.length > 200) {
    // Too many to fetch one by one: reload what is shown, in place (the list keeps its scroll
    // position: a drain confirming hundreds of ops at once must not throw the reader to the top).
    const board = state.view === "board" ? loadBoard() : ((stale.board = true), Promise.resolve());
    const list = state.view === "list" ? reloadListPages() : ((stale.list = true), Promise.resolve());
    await Promise.all([board, list, loadLanes(), loadTags()]);
    notify("list");
    return;
  }
  const at = startRead();
  // Only the cards a view holds are fetched one by one. The others (a drain names hundreds the
  // views never loaded) are covered by reloading the shown lanes and list pages below, whatever
  // happened to them; fetching each first, only to learn that, flooded the main thread with
  // IPC replies (the P10 benchmark).
  const known = ids.filter((id) => state.cards.has(id));
  const fresh = await Promise.all(known.map((id) => api.cardGet(id)));
  const lanesToReload = new Set<string>();
  const filtered = Boolean(state.filter.text.trim() || state.filter.tag);
  let listShapeChanged = known.length < ids.length;
  let tagsChanged = known.length < ids.length;
  if (known.length < ids.length) for (const lane of state.board.keys()) lanesToReload.add(lane);
  known.forEach((id, i) => {
    const card = fresh[i];
    const old = state.cards.get(id);
    const oldLane = laneOf(id);
    if (!card) {
      if ((readAt.get(id) ?? 0) > at) return;
      readAt.set(id, at);
      state.cards.delete(id);
      state.selection.delete(id);
      if (oldLane) lanesToReload.add(oldLane);
      listShapeChanged ||= listContains(id) || !old;
      return;
    }
    put(card, at);
    if (!old || old.tags.join("\n") !== card.tags.join("\n")) tagsChanged = true;
    // Also against where the board shows it: the editor may have stored the saved card already,
    // so `old` can be the new copy while the card still sits in its old column.
    const shownElsewhere = oldLane !== null && oldLane !== boardLaneOf(card.lane);
    const moved = !old || shownElsewhere || old.lane !== card.lane || old.position !== card.position || old.pinned !== card.pinned;
    if (!oldLane || moved || filtered) {
      if (oldLane) lanesToReload.add(oldLane);
      lanesToReload.add(boardLaneOf(card.lane));
    }
    if (!listContains(id) || moved || filtered) listShapeChanged = true;
  });
  const shown = new Set(state.filter.lane ? [state.filter.lane] : [...state.board.keys(), ...fresh.map((c) => (c ? boardLaneOf(c.lane) : ""))]);
  const boardLanes = [...lanesToReload].filter((l) => l && shown.has(l));
  if (state.view !== "board" && boardLanes.length > 0) stale.board = true;
  const jobs: Promise<unknown>[] = state.view === "board" ? boardLanes.map((l) => loadBoardLane(l)) : [];
  if (lanesToReload.size > 0 || known.length < ids.length) jobs.push(loadLanes());
  if (tagsChanged) jobs.push(loadTags());
  await Promise.all(jobs);
  if (listShapeChanged && state.list.pages.size > 0) {
    if (state.view === "list") {
      const visible = [...state.list.pages.keys()];
      state.list.pages.clear();
      await Promise.all(visible.map((p) => loadListPage(p)));
    } else {
      stale.list = true;
    }
  }
  notify("board");
  notify("list");
  notify("card", ids);
}
