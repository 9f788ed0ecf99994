// Roving tabindex on the board: each lane is one tab stop (its current card); the arrow keys move
// between cards (Up/Down within a lane, Left/Right to the neighbouring lane, Home/End). The
// controls inside a tile are left out of the tab order: the card's own keys cover them (Enter
// opens, Space selects, Delete deletes).
const current = new Map<string, string>();
const INNER = "button, input, a[href], [tabindex]";

function cardsOf(lane: Element): HTMLElement[] {
  return [...lane.querySelectorAll<HTMLElement>(".lane-body [data-card-id]")];
}

/** After each render: one tab stop per lane, on the lane's current card (or its first). */
export function applyRoving(root: HTMLElement): void {
  for (const lane of root.querySelectorAll<HTMLElement>(".lane")) {
    const cards = cardsOf(lane);
    const want = current.get(lane.dataset.lane ?? "");
    const active = cards.find((c) => c.dataset.cardId === want) ?? cards[0];
    for (const card of cards) {
      card.tabIndex = card === active ? 0 : -1;
      for (const inner of card.querySelectorAll<HTMLElement>(INNER)) if (inner !== card) inner.tabIndex = -1;
    }
  }
}

function focusCard(root: HTMLElement, card: HTMLElement | undefined): void {
  if (!card) return;
  const lane = card.closest<HTMLElement>(".lane");
  if (lane?.dataset.lane) current.set(lane.dataset.lane, card.dataset.cardId ?? "");
  applyRoving(root);
  card.focus();
}

export function installRoving(root: HTMLElement): void {
  root.addEventListener("focusin", (e) => {
    const card = (e.target as HTMLElement).closest<HTMLElement>("[data-card-id]");
    const lane = card?.closest<HTMLElement>(".lane");
    if (card && lane?.dataset.lane && current.get(lane.dataset.lane) !== card.dataset.cardId) {
      current.set(lane.dataset.lane, card.dataset.cardId ?? "");
      applyRoving(root);
    }
  });
  root.addEventListener("keydown", (e) => {
    const card = e.target as HTMLElement;
    if (!card.matches?.("[data-card-id]") || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const lane = card.closest<HTMLElement>(".lane");
    if (!lane) return;
    const cards = cardsOf(lane);
    const i = cards.indexOf(card);
    const lanes = [...root.querySelectorAll<HTMLElement>(".lane")];
    const li = lanes.indexOf(lane);
    let next: HTMLElement | undefined;
    if (e.key === "ArrowDown") next = cards[i + 1];
    else if (e.key === "ArrowUp") next = cards[i - 1];
    else if (e.key === "Home") next = cards[0];
    else if (e.key === "End") next = cards[cards.length - 1];
    else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      const step = e.key === "ArrowLeft" ? -1 : 1;
      // The nearest lane that has cards, at the same row where it can.
      for (let j = li + step; j >= 0 && j < lanes.length && !next; j += step) {
        const other = cardsOf(lanes[j]);
        next = other[Math.min(i, other.length - 1)];
      }
    } else return;
    e.preventDefault();
    focusCard(root, next);
  });
}
