// ui/src/diff.ts in Node: Myers' diff keeps memory linear, so two 100,000-line bodies with a few
// changes diff without trouble. The LCS table it replaced needed n·m cells (40 GB here) and dies
// allocating it: this test is what fails when someone brings a quadratic diff back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { repoRoot } from "./helpers.mjs";

async function loadDiff() {
  const require = createRequire(join(repoRoot, "ui/node_modules/noop.js"));
  const esbuild = require("esbuild");
  const out = await esbuild.build({ entryPoints: [join(repoRoot, "ui/src/diff.ts")], bundle: true, format: "esm", platform: "node", write: false, logLevel: "silent" });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
}

test("lineDiff: 100,000 lines, three changes: exactly those, in order", async () => {
  const { lineDiff } = await loadDiff();
  const lines = Array.from({ length: 100_000 }, (_, i) => `line ${i}`);
  const before = lines.join("\n");
  const after = lines.map((l, i) => (i === 3 ? "three" : i === 50_000 ? "fifty thousand" : l)).concat(["appended"]).join("\n");
  const d = lineDiff(before, after);
  assert.deepEqual(d.filter((x) => x.op !== "same"), [
    { op: "del", text: "line 3" }, { op: "add", text: "three" },
    { op: "del", text: "line 50000" }, { op: "add", text: "fifty thousand" },
    { op: "add", text: "appended" },
  ]);
  assert.equal(d.filter((x) => x.op === "same").length, 99_998);
});

test("lineDiff: a last line without a newline is the same line as one with lines after it", async () => {
  const { lineDiff } = await loadDiff();
  assert.deepEqual(lineDiff("a\nb", "a\nb\nc"), [{ op: "same", text: "a" }, { op: "same", text: "b" }, { op: "add", text: "c" }]);
  assert.deepEqual(lineDiff("", "x"), [{ op: "del", text: "" }, { op: "add", text: "x" }]);
});
