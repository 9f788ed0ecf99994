// The real app starts in a real window under Xvfb and shows its UI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp, screenshot, tempDir } from "./harness.mjs";

test("the app window opens and renders the UI", async () => {
  const app = await startApp({ DECKHAND_DATA_DIR: tempDir("deckhand-e2e-smoke-") });
  try {
    const text = await app.wd.waitFor("UI text", async () => {
      const t = await app.wd.exec("return document.body.innerText");
      return t && t.length > 0 ? t : null;
    });
    assert.match(text, /Deckhand/);
    await screenshot(app.wd, "e2e-smoke");
  } finally {
    await app.stop();
  }
});
