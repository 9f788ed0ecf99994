// Where a card lands when reordered: a position between its new neighbours (presentation only;
// Rust stores whatever position it is given).
import type { CardView } from "./bindings/CardView";

export function between(before: CardView | undefined, after: CardView | undefined): number | null {
  if (before && after) return (before.position + after.position) / 2;
  if (after) return after.position - 1;
  if (before) return before.position + 1;
  return null;
}

/** Position for moving `ids[index]` one step up (-1) or down (+1) in its lane, or undefined. */
export function stepPosition(cards: CardView[], index: number, dir: -1 | 1): number | null | undefined {
  const target = index + dir;
  if (target < 0 || target >= cards.length) return undefined;
  const others = cards.filter((_, i) => i !== index);
  // After removing the card, it should sit at `target` in `others`.
  return between(others[target - 1], others[target]);
}

/** Position for dropping a card before `beforeId` in a lane (null = end of lane). */
export function dropPosition(cards: CardView[], movingId: string, beforeId: string | null): number | null {
  const others = cards.filter((c) => c.id !== movingId);
  if (beforeId === null) return null;
  const idx = others.findIndex((c) => c.id === beforeId);
  if (idx < 0) return null;
  return between(others[idx - 1], others[idx]);
}
