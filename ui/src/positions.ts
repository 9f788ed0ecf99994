// Where a card lands when reordered, as its new neighbours: `before` is the card that will come
// before it, `after` the card that will follow it. The engine picks the position from them (and
// rebalances the lane when they leave no room), so the UI never does float arithmetic.
import type { CardView } from "./bindings/CardView";

export interface Neighbours {
  before: string | null;
  after: string | null;
}

/** The end of the lane (also beyond the cards loaded so far): the engine knows where that is. */
export const END_OF_LANE: Neighbours = { before: null, after: null };

/** Neighbours for moving `cards[index]` one step up (-1) or down (+1) in its lane, or undefined. */
export function stepNeighbours(cards: CardView[], index: number, dir: -1 | 1): Neighbours | undefined {
  const target = index + dir;
  if (target < 0 || target >= cards.length) return undefined;
  const others = cards.filter((_, i) => i !== index);
  // After removing the card, it should sit at `target` in `others`.
  return { before: others[target - 1]?.id ?? null, after: others[target]?.id ?? null };
}

/** Neighbours for dropping a card before `dropBefore` in a lane (null = end of lane). */
export function dropNeighbours(cards: CardView[], movingId: string, dropBefore: string | null): Neighbours {
  const others = cards.filter((c) => c.id !== movingId);
  const idx = dropBefore === null ? -1 : others.findIndex((c) => c.id === dropBefore);
  if (idx < 0) return END_OF_LANE;
  return { before: others[idx - 1]?.id ?? null, after: others[idx].id };
}
