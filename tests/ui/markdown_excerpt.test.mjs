// The tile excerpt's fast path (ui/src/markdown.ts): a body without Markdown signs is taken as
// its own plain text, without the parser. Checked against the parser on thousands of generated
// bodies, most of them on the fast path; and the same check is shown to catch a sign set that
// misses a rule (a planted gap), so its green means something.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle, repoRoot } from "./helpers.mjs";

/** ui/src/markdown.ts bundled for Node. */
async function loadMarkdown() {
  const source = await bundle(join(repoRoot, "ui/src/markdown.ts"), { format: "esm", platform: "node" });
  const dir = mkdtempSync(join(tmpdir(), "deckhand-md-"));
  const file = join(dir, "markdown.mjs");
  writeFileSync(file, source);
  try {
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Words, spaces, line breaks, digits and the punctuation plain notes have, plus (rarely) every
// sign Markdown reacts to, at line starts as well as inside lines.
const PIECES = [
  "note", "meeting", "Zoë", "東京", "www.example.com", "a@b.io", "https://x.io/a", "3", "12", "2026",
  " ", " ", "  ", "\t", "\n", "\n", "\n\n", "    ", ".", ",", ":", ";", "?", "'", "\"", "(", ")", "%", "$", "/", "@",
];
const SIGNS = ["\\", "`", "*", "_", "[", "]", "#", "<", ">", "!", "|", "~", "&amp;", "-", "+", "=", "1.", "2)", "---", "==="];

function bodies(n, seed = 20261201) {
  let s = seed;
  const rnd = (k) => ((s = (s * 1103515245 + 12345) % 2147483648), s % k);
  const out = [];
  for (let i = 0; i < n; i++) {
    let b = "";
    const len = 1 + rnd(40);
    for (let j = 0; j < len; j++) b += rnd(12) === 0 ? SIGNS[rnd(SIGNS.length)] : PIECES[rnd(PIECES.length)];
    out.push(b);
  }
  return out;
}

const naive = (src, max) => {
  const one = src.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
};

test("a tile excerpt is the same with and without the parser", async () => {
  const md = await loadMarkdown();
  let fast = 0;
  for (const [i, b] of bodies(4000).entries()) {
    const max = i % 3 === 0 ? 20 : 140;
    const viaParser = md.parsedExcerpt(b, max);
    assert.equal(md.plainText(b, max), viaParser, `body ${JSON.stringify(b)}`);
    if (naive(b, max) === viaParser) fast++;
  }
  // Over a third of the generated bodies read the same as plain text: the fast path was compared.
  assert.ok(fast > 1000, `only ${fast} of 4000 bodies are plain`);
});

test("the check catches a sign set that misses a rule", async () => {
  const md = await loadMarkdown();
  // The sign set without its line-start rule ("- ", "1. ", "===" lines) or without "&".
  for (const planted of [/[\\`*_[\]#<>!|~&]/, /[\\`*_[\]#<>!|~]|(^|\n)[ \t]*([-+=]|\d+[.)])/]) {
    const missed = bodies(4000).find((b) => !planted.test(b) && naive(b, 140) !== md.parsedExcerpt(b, 140));
    assert.ok(missed !== undefined, `the planted gap in ${planted} went unnoticed`);
  }
});
