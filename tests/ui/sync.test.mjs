// Sync state on cards, status bar, sync dashboard, conflict modal.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { done, eventually, launch, openApp, screenshot, serveDist, uuid } from "./helpers.mjs";

const T = "2026-11-24T11:00:00Z";
const CARDS = [
  { id: uuid(1), title: "Plan the offsite", body: "agenda\nrooms\nfood", lane: "inbox", tags: ["team"], position: 1 },
  { id: uuid(2), title: "Renew certificate", lane: "doing", position: 1 },
  { id: uuid(3), title: "Old idea", lane: "done", position: 1, body: "keep this" },
];

const baseCard = {
  id: uuid(1), title: "Plan the offsite", body: "agenda\nrooms\nfood", url: null, tags: ["team"], lane: "inbox",
  position: 1, pinned: false, version: 3, created_at: T, updated_at: T, deleted: false,
};
const FIELDS_CONFLICT = {
  card_id: uuid(1),
  kind: "fields",
  base: baseCard,
  mine: { title: "Plan the offsite (mine)", body: "agenda\nrooms: big one\nfood", url: null, tags: ["team", "q4"], lane: "inbox", position: 1, pinned: false },
  theirs: { ...baseCard, title: "Plan the offsite (theirs)", body: "agenda\nrooms: small one\nfood\ntransport", lane: "doing", position: 4, version: 4 },
  fields: ["title", "body"],
  suggested: { title: "Plan the offsite (mine)", body: "agenda\nrooms: big one\nfood", url: null, tags: ["team", "q4"], lane: "doing", position: 4, pinned: false },
  detected_at: T,
};
const DELETE_CONFLICT = {
  card_id: uuid(3),
  kind: "edit_vs_delete",
  base: { ...baseCard, id: uuid(3), title: "Old idea", body: "keep this", lane: "done" },
  mine: { title: "Old idea, revised", body: "keep this\nand this", url: null, tags: [], lane: "done", position: 1, pinned: false },
  theirs: { ...baseCard, id: uuid(3), title: "Old idea", body: "keep this", lane: "done", deleted: true, version: 5 },
  fields: [],
  suggested: { title: "Old idea, revised", body: "keep this\nand this", url: null, tags: [], lane: "done", position: 1, pinned: false },
  detected_at: T,
};

let browser, server;
before(async () => {
  browser = await launch();
  server = await serveDist();
});
after(async () => {
  await browser?.close();
  await server?.close();
});
const app = (cfg = {}) => openApp(browser, server.url, { cards: CARDS, ...cfg });
const card = (page, title) => page.locator(".board-view .card", { has: page.getByRole("button", { name: `Open ${title}`, exact: true }) });

describe("sync state", () => {
  test("a failed card shows the reason, and Retry / Discard act on its op", async () => {
    const page = await app();
    const opId = await page.evaluate((id) => window.__fake.failCard(id, { code: "validation_failed", message: "title is too long", status: 422 }), uuid(2));
    const c = card(page, "Renew certificate");
    await c.getByText("title is too long").waitFor();
    assert.equal(await c.locator("[data-sync-state]").getAttribute("data-sync-state"), "failed");
    // Errors are announced assertively.
    await page.getByRole("alert", { name: "Errors" }).getByText(/Sync failed for “Renew certificate”: title is too long/).waitFor();
    await c.getByRole("button", { name: "Retry" }).click();
    await eventually(async () => (await c.locator("[data-sync-state]").getAttribute("data-sync-state")) === "pending", { message: "pending after retry" });
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("outbox_retry")), [{ opId }]);
    // Fail again, then discard (with confirmation).
    const op2 = await page.evaluate((id) => window.__fake.failCard(id, { code: "conflict", message: "rejected", status: 409 }), uuid(2));
    await c.getByText("rejected").waitFor();
    await c.getByRole("button", { name: "Discard" }).click();
    await page.getByRole("dialog", { name: "Discard local change?" }).getByRole("button", { name: "Discard" }).click();
    await eventually(async () => (await c.locator("[data-sync-state]").getAttribute("data-sync-state")) === "synced", { message: "synced after discard" });
    const discards = await page.evaluate(() => window.__fake.callsOf("outbox_discard"));
    assert.deepEqual(discards, [{ opId: op2 }]);
    await done(page);
  });

  test("a slow reload begun before an op was confirmed does not bring back the pending badge", async () => {
    const page = await app();
    const c = card(page, "Renew certificate");
    const badge = () => c.locator("[data-sync-state]").getAttribute("data-sync-state");
    await page.evaluate((id) => window.__fake.makePending(id), uuid(2));
    await eventually(async () => (await badge()) === "pending", { message: "pending first" });
    // A lane change reloads the board: its read sees the card pending and answers late.
    await page.evaluate(() => { window.__fake.holdList = true; });
    const lists = await page.evaluate(() => window.__fake.callsOf("cards_list").length);
    await page.evaluate(() => window.__fake.emit({ type: "lanes_changed" }));
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("cards_list").length)) > lists, { message: "the reload started" });
    // Meanwhile the op is confirmed: the card's own refetch shows it synced.
    await page.evaluate((id) => window.__fake.confirm(id), uuid(2));
    await eventually(async () => (await badge()) === "synced", { message: "synced after the confirmation" });
    // The late answer of the older read must not put the stale copy back.
    const held = await page.evaluate(() => window.__fake.releaseList());
    assert.ok(held > 0, "the reload's reads were held");
    await eventually(() => page.evaluate((n) => window.__fake.heldListsAnswered === n, held), { message: "the held reads answered" });
    // Its continuation (a chain of promise jobs) has run once the next frames were drawn.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.equal(await badge(), "synced", "the stale page of the older read was dropped for this card");
    await done(page);
  });

  test("an empty cards_changed (a lane sync) does not stop later cards from refreshing", async () => {
    const page = await app();
    const c = card(page, "Renew certificate");
    await page.evaluate(() => window.__fake.emit({ type: "cards_changed", ids: [] }));
    await page.evaluate((id) => window.__fake.makePending(id), uuid(2));
    await eventually(async () => (await c.locator("[data-sync-state]").getAttribute("data-sync-state")) === "pending", { message: "the next change still refreshes the card" });
    await done(page);
  });

  test("a database recovered at start is reported, and its salvaged changes can be re-queued", async () => {
    const page = await app();
    const report = { moved_to: "/data/deckhand.db.corrupt-20261124T110000Z", reason: "database disk image is malformed", at: T, salvaged: 3, unreadable: 1 };
    await page.evaluate((r) => window.__fake.setStatus({ recovery: r }), report);
    const banner = page.getByRole("alert", { name: "Database recovered" });
    await banner.getByText("Your local database was damaged and has been rebuilt from the server.").waitFor();
    await banner.getByText(report.moved_to).waitFor();
    await banner.getByText(/3 unsynced changes could be read back from it \(1 could not\)/).waitFor();
    await banner.getByRole("button", { name: "Re-queue changes" }).click();
    await page.getByRole("status", { name: "Notifications" }).getByText("2 change(s) queued again, 1 no longer applied").waitFor();
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("recovery_requeue")), [{ ids: [] }]);
    await banner.waitFor({ state: "hidden" });
    await done(page);
  });

  test("status bar follows status events and opens the dashboard", async () => {
    const page = await app();
    const bar = page.getByRole("button", { name: /Sync status:/ });
    await bar.getByText("Online").waitFor();
    await page.evaluate(() => window.__fake.setStatus({ connection: "auth_required", failed: 2, conflicts: 1, pending: 3 }));
    await bar.getByText("Auth needed").waitFor();
    await bar.getByText("2 failed").waitFor();
    await bar.getByText("1 conflicts").waitFor();
    await page.evaluate(() => window.__fake.emit({ type: "breaker_changed", state: "open" }));
    await bar.getByText("Breaker open").waitFor();
    await page.evaluate(() => window.__fake.emit({ type: "connection_changed", state: "offline" }));
    await bar.getByText("Offline").waitFor();
    await bar.click();
    await page.getByRole("dialog", { name: "Sync dashboard" }).waitFor();
    assert.ok((await page.evaluate(() => window.__fake.callsOf("sync_status").length)) === 1, "status is loaded once, never polled");
    await done(page);
  });
});

describe("dashboard", () => {
  test("outbox table, retry all, retry one, pause/resume, sync now, health and history", async () => {
    const page = await app({
      outbox: [
        { op_id: 7, card_id: uuid(2), kind: "update", state: "failed", attempts: 5, priority: "high", next_attempt_at: null, last_error: { code: "timeout", message: "server timed out", status: null } },
        { op_id: 8, card_id: uuid(1), kind: "create", state: "pending", attempts: 0, priority: "normal", next_attempt_at: T },
        { op_id: 9, card_id: uuid(3), kind: "delete", state: "in_flight", attempts: 1, priority: "low" },
      ],
      status: { pending: 1, in_flight: 1, failed: 1, oldest_pending_age_ms: 125000 },
      history: [
        { id: 3, at: T, kind: "op.failed", card_id: uuid(2), message: "update of Renew certificate failed: server timed out" },
        { id: 2, at: T, kind: "breaker.open", card_id: null, message: "too many failures" },
        { id: 1, at: T, kind: "remote.card.updated", card_id: uuid(1), message: "Plan the offsite changed on the server" },
      ],
    });
    await page.keyboard.press("d");
    const dash = page.getByRole("dialog", { name: "Sync dashboard" });
    const table = dash.getByRole("table", { name: "Outbox" });
    await table.waitFor();
    const rows = table.locator("tbody tr");
    assert.equal(await rows.count(), 3);
    const failedRow = table.locator('tr[data-op-id="7"]');
    for (const text of ["Renew certificate", "update", "failed", "5", "server timed out", "high"]) await failedRow.getByText(text, { exact: true }).first().waitFor();
    await dash.getByRole("region", { name: "Connection health" }).getByText("connected").waitFor();
    await dash.getByText("3 created · 12 updated · 1 deleted").waitFor();
    await dash.getByRole("list", { name: "Recent sync history" }).getByText("too many failures").waitFor();
    await screenshot(page, "dashboard");

    await dash.getByRole("button", { name: "Retry all" }).click();
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("outbox_retry_all").length)) === 1, { message: "retry all" });
    await dash.getByRole("button", { name: "Retry Plan the offsite" }).click();
    await eventually(async () => JSON.stringify(await page.evaluate(() => window.__fake.callsOf("outbox_retry"))) === JSON.stringify([{ opId: 8 }]), { message: "retry one" });
    await dash.getByRole("button", { name: "Discard Renew certificate" }).click();
    await page.getByRole("dialog", { name: "Discard this change?" }).getByRole("button", { name: "Discard" }).click();
    await table.locator('tr[data-op-id="7"]').waitFor({ state: "detached" });
    assert.deepEqual(await page.evaluate(() => window.__fake.callsOf("outbox_discard")), [{ opId: 7 }]);
    await dash.getByRole("button", { name: "Pause sync" }).click();
    await dash.getByRole("button", { name: "Resume sync" }).waitFor();
    await page.getByRole("button", { name: /Sync status:/ }).getByText("Paused").waitFor();
    await dash.getByRole("button", { name: "Resume sync" }).click();
    await dash.getByRole("button", { name: "Pause sync" }).waitFor();
    await dash.getByRole("button", { name: "Sync now" }).click();
    await eventually(async () => (await page.evaluate(() => window.__fake.callsOf("sync_now").length)) === 1, { message: "sync now" });
    await page.keyboard.press("Escape");
    await dash.waitFor({ state: "detached" });
    await done(page);
  });
});

/** Opens the conflicts inbox from the status bar badge and the given conflict from its list. */
async function openFromInbox(page, label) {
  await page.getByRole("button", { name: /^Conflicts inbox/ }).click();
  await page.getByRole("region", { name: "Conflicts" }).getByRole("button", { name: label }).click();
}

describe("conflict modal", () => {
  async function openFieldsConflict() {
    const page = await app();
    await page.evaluate((c) => window.__fake.emitConflict(c), FIELDS_CONFLICT);
    await openFromInbox(page, "Plan the offsite (mine)");
    const dlg = page.getByRole("dialog", { name: "Conflict: Plan the offsite (mine)" });
    await dlg.waitFor();
    return { page, dlg };
  }
  const resolutions = (page) => page.evaluate(() => window.__fake.callsOf("conflict_resolve"));

  test("opens from the inbox with a field diff and a body line diff; keep mine", async () => {
    const { page, dlg } = await openFieldsConflict();
    assert.equal(await dlg.getAttribute("aria-modal"), "true");
    const table = dlg.getByRole("table", { name: "Field comparison" });
    const titleRow = table.locator('tr[data-field="title"]');
    await titleRow.getByText("Plan the offsite (theirs)").waitFor();
    assert.match(await titleRow.getAttribute("class"), /differs/);
    assert.match(await titleRow.getAttribute("class"), /unmerged/);
    assert.doesNotMatch(await table.locator('tr[data-field="url"]').getAttribute("class"), /differs/);
    const diff = dlg.getByRole("region", { name: "Body differences" });
    await diff.locator(".diff-add", { hasText: "rooms: big one" }).waitFor();
    await diff.locator(".diff-del", { hasText: "rooms: small one" }).waitFor();
    await diff.locator(".diff-del", { hasText: "transport" }).waitFor();
    assert.equal(await diff.locator(".diff-same").count(), 2);
    // The board marks the card too.
    assert.equal(await card(page, "Plan the offsite").locator("[data-sync-state]").getAttribute("data-sync-state"), "conflict");
    await screenshot(page, "conflict");
    await dlg.getByRole("button", { name: "Keep mine" }).click();
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await resolutions(page), [{ cardId: uuid(1), resolution: { choice: "keep_mine" } }]);
    await page.getByRole("status", { name: "Notifications" }).getByText(/resolved/).first().waitFor();
    // Resolved: the inbox is empty and its badge gone.
    await page.getByRole("button", { name: /^Conflicts inbox/ }).waitFor({ state: "hidden" });
    await done(page);
  });

  test("keep theirs", async () => {
    const { page, dlg } = await openFieldsConflict();
    await dlg.getByRole("button", { name: "Keep theirs" }).click();
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await resolutions(page), [{ cardId: uuid(1), resolution: { choice: "keep_theirs" } }]);
    await done(page);
  });

  test("merge per field starts from suggested; edited body is sent", async () => {
    const { page, dlg } = await openFieldsConflict();
    assert.equal(await dlg.getByRole("radio", { name: "Title: mine" }).isChecked(), true);
    assert.equal(await dlg.getByRole("radio", { name: "Lane: theirs" }).isChecked(), true);
    assert.equal(await dlg.getByRole("radio", { name: "Tags: mine" }).isChecked(), true);
    await dlg.getByRole("radio", { name: "Title: theirs" }).check();
    await dlg.getByRole("radio", { name: "Body: theirs" }).check();
    const body = dlg.getByRole("textbox", { name: "Merged body" });
    assert.equal(await body.inputValue(), "agenda\nrooms: small one\nfood\ntransport");
    await body.fill("agenda\nrooms: both\nfood\ntransport");
    await dlg.getByRole("button", { name: "Merge", exact: true }).click();
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await resolutions(page), [{
      cardId: uuid(1),
      resolution: {
        choice: "merged",
        fields: { title: "Plan the offsite (theirs)", body: "agenda\nrooms: both\nfood\ntransport", url: null, tags: ["team", "q4"], lane: "doing", position: 4, pinned: false },
      },
    }]);
    await done(page);
  });

  test("edit_vs_delete: restore my card, from the card's button", async () => {
    const page = await app({ conflicts: [DELETE_CONFLICT], cards: CARDS.map((c) => (c.id === uuid(3) ? { ...c, sync_state: "conflict" } : c)) });
    await card(page, "Old idea").getByRole("button", { name: "Resolve conflict" }).click();
    const dlg = page.getByRole("dialog", { name: "Card deleted on the server" });
    await dlg.getByText("Old idea, revised").waitFor();
    await dlg.getByRole("button", { name: "Accept delete" }).waitFor();
    await dlg.getByRole("button", { name: "Restore my card" }).click();
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await resolutions(page), [{ cardId: uuid(3), resolution: { choice: "keep_mine" } }]);
    await done(page);
  });

  test("edit_vs_delete: accept delete; Escape closes without resolving", async () => {
    const page = await app();
    await page.evaluate((c) => window.__fake.emitConflict(c), DELETE_CONFLICT);
    await openFromInbox(page, "Old idea, revised (deleted on the server)");
    const dlg = page.getByRole("dialog", { name: "Card deleted on the server" });
    await dlg.waitFor();
    await page.keyboard.press("Escape");
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await resolutions(page), []);
    await card(page, "Old idea").getByRole("button", { name: "Resolve conflict" }).click();
    await dlg.getByRole("button", { name: "Accept delete" }).click();
    await dlg.waitFor({ state: "detached" });
    assert.deepEqual(await resolutions(page), [{ cardId: uuid(3), resolution: { choice: "keep_theirs" } }]);
    await done(page);
  });

  test("background conflicts fill the inbox, never a modal; conflict_resolved elsewhere closes the open one", async () => {
    const page = await app();
    await page.evaluate((c) => window.__fake.emitConflict(c), FIELDS_CONFLICT);
    await page.evaluate((c) => window.__fake.emitConflict(c), DELETE_CONFLICT);
    const badge = page.getByRole("button", { name: "Conflicts inbox: 2 conflicts" });
    await badge.waitFor();
    assert.equal(await page.getByRole("dialog").count(), 0, "a background conflict opened a modal");
    await screenshot(page, "conflicts-inbox-badge");
    await badge.click();
    const inbox = page.getByRole("region", { name: "Conflicts" });
    assert.deepEqual(await inbox.getByRole("button").allTextContents(), ["Plan the offsite (mine)", "Old idea, revised (deleted on the server)"]);
    await screenshot(page, "conflicts-inbox");
    await inbox.getByRole("button", { name: "Plan the offsite (mine)" }).click();
    const first = page.getByRole("dialog", { name: "Conflict: Plan the offsite (mine)" });
    await first.waitFor();
    assert.equal(await page.getByRole("dialog").count(), 1);
    // Resolved on another path (e.g. the CLI): the engine says so and the modal goes away.
    await page.evaluate((id) => window.__fake.emit({ type: "conflict_resolved", card_id: id }), uuid(1));
    await first.waitFor({ state: "detached" });
    await page.getByRole("status", { name: "Notifications" }).getByText(/resolved elsewhere/).waitFor();
    // Focus went back to the badge, which now counts one.
    await page.getByRole("button", { name: "Conflicts inbox: 1 conflict" }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.className), "inbox-button");
    await openFromInbox(page, "Old idea, revised (deleted on the server)");
    const second = page.getByRole("dialog", { name: "Card deleted on the server" });
    await second.waitFor();
    await second.getByRole("button", { name: "Restore my card" }).click();
    await second.waitFor({ state: "detached" });
    assert.deepEqual(await resolutions(page), [{ cardId: uuid(3), resolution: { choice: "keep_mine" } }]);
    await done(page);
  });

  test("a conflict detected while typing never steals focus", async () => {
    const page = await app();
    await page.getByRole("button", { name: "Open Plan the offsite", exact: true }).click();
    const body = page.locator("#ed-body");
    await body.click();
    await page.keyboard.type("typing along ");
    await page.evaluate((c) => window.__fake.emitConflict(c), FIELDS_CONFLICT);
    await page.getByRole("button", { name: "Conflicts inbox: 1 conflict" }).waitFor();
    await page.keyboard.type("and still typing");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "ed-body");
    assert.match(await body.inputValue(), /typing along and still typing$/);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await done(page);
  });
});

describe("status bar", () => {
  test("Last synced follows realtime changes, not only pulls", async () => {
    const page = await app({ status: { last_synced_at: "2026-11-24T12:00:00Z" } });
    const last = page.locator(".statusbar .last-synced");
    const before = await last.textContent();
    const status = await page.evaluate(() => window.__fake.callsOf("sync_status").length);
    assert.ok(status >= 1);
    // A change arrives over the stream an hour later; no pull happened.
    await page.evaluate(() => window.__fake.setStatus({ stream: { state: "connected", connected_since: "2026-11-24T12:00:00Z", events_created: 0, events_updated: 13, events_deleted: 1, last_event_at: "2026-11-24T13:05:00Z", last_event_id: 43 } }));
    await eventually(async () => (await last.textContent()) !== before, { message: "last synced moved" });
    assert.equal(await last.textContent(), `Last synced ${await page.evaluate(() => (() => { const d = new Date("2026-11-24T13:05:00Z"); return new Date().toDateString() === d.toDateString() ? d.toLocaleTimeString() : d.toLocaleString(); })())}`);
    await done(page);
  });
});
