// End to end in the real app (tauri-driver + WebKitWebDriver under Xvfb) against a real
// deckhand-server (issue 12, lanes): add a lane, rename one (its cards follow, on the server too),
// move one by keyboard (Alt+Left on its header), delete one choosing the lane that takes its
// cards. Every step is checked in the app and then on the server, which sees the lanes and cards
// only through the outbox; after a rename and a delete the moved cards' own badges must come back
// to "synced" in the app too (they once stayed "Pending": an empty cards_changed from the lane
// sync stalled the UI's refresh queue). Screenshot: target/screenshots/e2e-lanes.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { addUser, freePort, noDialog, screenshot, SEL, serverCard, settle, startApp, startServer, tempDir, waitSynced } from "./harness.mjs";

const ALT = "\uE00A";
const LEFT = "\uE012";
const RELEASE = "\uE000";

/** The board's columns, left to right. */
const columns = (wd) => wd.exec("return [...document.querySelectorAll('.lane')].map((e) => e.getAttribute('data-lane'))");

async function waitColumns(wd, expected) {
  await wd.waitFor(`columns ${expected.join(",")}`, async () => ((await columns(wd)).join() === expected.join() ? true : null));
}

/** The lane (board column) a card is shown in. */
const laneOfCard = (wd, title) => wd.exec("const c = document.querySelector(arguments[0]); return c ? c.closest('.lane').getAttribute('data-lane') : null", SEL(title));

async function waitLane(wd, title, lane) {
  await wd.waitFor(`card "${title}" in ${lane}`, async () => ((await laneOfCard(wd, title)) === lane ? true : null));
}

async function serverLanes(url, token) {
  const res = await fetch(`${url}/v1/lanes`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return (await res.json()).items.map((l) => l.name);
}

async function waitServer(wd, what, probe) {
  await wd.waitFor(`server: ${what}`, async () => ((await probe()) ? true : null), 60000);
}

/** Sends keys to an element; sync events re-render the board, so a header found a moment ago
 * may be replaced before the keys land: a stale one (nothing was sent) is looked up again. */
async function pressOn(wd, css, keys) {
  await wd.waitFor(`keys to ${css}`, async () => {
    try {
      await wd.type(await wd.find(css), keys);
      return true;
    } catch (e) {
      if (e.code === "stale element reference") return null;
      throw e;
    }
  });
}

test("lanes: add, rename (cards follow), Alt+Left, delete moving the cards — in the app and on the server", async () => {
  const work = tempDir("deckhand-e2e-lanes-");
  const db = path.join(work, "server.db");
  const token = addUser(db, "e2e");
  const server = await startServer(db, await freePort());
  const { url } = server;
  const app = await startApp({ DECKHAND_DATA_DIR: path.join(work, "app"), DECKHAND_SERVER: url, DECKHAND_TOKEN: token });
  try {
    const { wd } = app;
    const input = await wd.waitFor("quick add", () => wd.find('input[aria-label="New card title"]'));
    await wd.type(input, "Draft the agenda\uE007");
    await waitSynced(wd, "Draft the agenda");
    const quick = await wd.find('input[aria-label="New card title"]');
    await wd.type(quick, "Book the venue\uE007");
    await waitSynced(wd, "Book the venue");
    const ids = await wd.exec("return [arguments[0], arguments[1]].map((s) => document.querySelector(s).getAttribute('data-card-id'))", SEL("Draft the agenda"), SEL("Book the venue"));
    await waitColumns(wd, ["Inbox", "Doing", "Done"]);
    await waitServer(wd, "the default lanes", async () => (await serverLanes(url, token)).join() === "Inbox,Doing,Done");

    // 1. Add a lane: it is the last column, and the server gets it.
    await wd.clickText("button.lane-add", "+ Add lane");
    const name = await wd.waitFor("lane name field", () => wd.find('dialog[open] input[aria-label="Name"]'));
    await wd.type(name, "Review\uE007");
    await waitColumns(wd, ["Inbox", "Doing", "Done", "Review"]);
    await noDialog(wd);
    await waitServer(wd, "Review added", async () => (await serverLanes(url, token)).join() === "Inbox,Doing,Done,Review");

    // 2. Rename Inbox: its cards follow it, here and on the server (card PATCHes of `lane`).
    await wd.clickCss('button[aria-label="Rename lane Inbox"]');
    const rename = await wd.waitFor("new name field", () => wd.find('dialog[open] input[aria-label="New name"]'));
    await wd.clear(rename);
    await wd.type(rename, "Backlog\uE007");
    await waitColumns(wd, ["Backlog", "Doing", "Done", "Review"]);
    await noDialog(wd);
    await waitLane(wd, "Draft the agenda", "Backlog");
    await waitLane(wd, "Book the venue", "Backlog");
    await waitServer(wd, "Inbox renamed", async () => (await serverLanes(url, token)).join() === "Backlog,Doing,Done,Review");
    for (const id of ids) {
      await waitServer(wd, `card ${id} in Backlog`, async () => (await serverCard(url, token, id)).body.lane === "Backlog");
    }
    await waitSynced(wd, "Draft the agenda");
    await waitSynced(wd, "Book the venue");

    // 3. Alt+Left on Review's header, twice: it moves two places left and keeps the focus.
    for (const expected of [["Backlog", "Doing", "Review", "Done"], ["Backlog", "Review", "Doing", "Done"]]) {
      await pressOn(wd, '.lane[data-lane="Review"] .lane-handle', ALT + LEFT + RELEASE);
      await waitColumns(wd, expected);
      await wd.waitFor("focus on the moved lane", async () => ((await wd.exec("return document.activeElement?.getAttribute('aria-label')")) === "Move lane Review" ? true : null));
    }
    await waitServer(wd, "Review moved", async () => (await serverLanes(url, token)).join() === "Backlog,Review,Doing,Done");

    // 4. Delete Backlog, choosing Done (not the proposed Review) for its cards.
    await wd.clickCss('button[aria-label="Delete lane Backlog"]');
    await wd.waitFor("delete dialog", () => wd.find("dialog[open] select.lane-target").catch(() => null));
    await wd.clickCss('dialog[open] select.lane-target option[value="Done"]');
    assert.equal(await wd.exec("return document.querySelector('dialog[open] select.lane-target').value"), "Done");
    await settle(wd);
    await screenshot(wd, "e2e-lanes-delete");
    await wd.clickText("dialog[open] button", "Delete lane");
    await waitColumns(wd, ["Review", "Doing", "Done"]);
    await noDialog(wd);
    await waitLane(wd, "Draft the agenda", "Done");
    await waitLane(wd, "Book the venue", "Done");
    await waitServer(wd, "Backlog deleted", async () => (await serverLanes(url, token)).join() === "Review,Doing,Done");
    for (const id of ids) {
      const card = await serverCard(url, token, id);
      assert.equal(card.status, 200, "moved, not trashed");
      assert.equal(card.body.lane, "Done");
    }
    await waitSynced(wd, "Draft the agenda");
    await waitSynced(wd, "Book the venue");
    await settle(wd);
    await screenshot(wd, "e2e-lanes");
  } finally {
    await app.stop();
    await server.stop();
  }
});
