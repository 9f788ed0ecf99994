// Lane actions: add, rename (its cards move with it), delete (asks where its cards go), reorder
// by drag and by keyboard. Each is one command; the engine decides positions and syncs.
import { api } from "./api";
import { attempt } from "./actions";
import { loadBoard, loadLanes } from "./data";
import { laneNames } from "./state";

async function reload(): Promise<void> {
  await loadLanes();
  await loadBoard();
}

export async function addLane(name: string): Promise<boolean> {
  const ok = await attempt("Add lane", () => api.laneAdd(name, null));
  await reload();
  return ok !== undefined;
}

export async function renameLane(name: string, newName: string): Promise<boolean> {
  const ok = await attempt("Rename lane", () => api.laneRename(name, newName));
  await reload();
  return ok !== undefined;
}

/** `moveTo`: the lane that takes the cards, or null for the Trash. */
export async function deleteLane(name: string, moveTo: string | null): Promise<boolean> {
  const cardsGo = moveTo === null ? ({ to: "trash" } as const) : ({ to: "move_to", lane: moveTo } as const);
  const ok = await attempt("Delete lane", () => api.laneDelete(name, cardsGo));
  await reload();
  return ok !== undefined;
}

/** Drop `name` just before `target` on the board (null: to the end). */
export async function dropLane(name: string, target: string | null): Promise<void> {
  if (name === target) return;
  const lanes = laneNames().filter((l) => l !== name);
  const at = target === null ? lanes.length : lanes.indexOf(target);
  const before = at > 0 ? lanes[at - 1] : null;
  const after = target;
  await attempt("Move lane", () => api.laneMove(name, before, after));
  await reload();
}

/** Alt+Left/Right on a lane's title: one place to the left or right. */
export async function moveLaneByKey(name: string, key: string): Promise<boolean> {
  const lanes = laneNames();
  const at = lanes.indexOf(name);
  if (at < 0) return false;
  if (key === "ArrowLeft" && at > 0) {
    await dropLane(name, lanes[at - 1]);
    return true;
  }
  if (key === "ArrowRight" && at < lanes.length - 1) {
    await dropLane(name, lanes[at + 2] ?? null);
    return true;
  }
  return false;
}
