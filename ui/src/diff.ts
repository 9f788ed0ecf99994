// Line diff of two card bodies for the conflict modal: jsdiff's Myers diff, O((n+m)·d) time and
// linear memory, so a 20,000-line body with a few changed lines costs next to nothing (the LCS
// table it replaces needed n·m cells: ~1.6 GB at that size).
import { diffLines, diffWordsWithSpace } from "diff";

export type DiffLine = { op: "same" | "add" | "del"; text: string };

export function lineDiff(before: string, after: string): DiffLine[] {
  const out: DiffLine[] = [];
  // Both end with a newline, so a last line is the same line whether or not it had one.
  for (const part of diffLines(`${before}\n`, `${after}\n`)) {
    const op = part.added ? "add" : part.removed ? "del" : "same";
    // A chunk is whole lines; a final line without "\n" is still one line.
    const lines = part.value.endsWith("\n") ? part.value.slice(0, -1).split("\n") : part.value.split("\n");
    for (const text of lines) out.push({ op, text });
  }
  return out;
}

export type WordPart = { op: "same" | "add" | "del"; text: string };

/** Word diff of two bodies for the history view (whitespace kept with its words). */
export function wordDiff(before: string, after: string): WordPart[] {
  return diffWordsWithSpace(before, after).map((p) => ({ op: p.added ? "add" : p.removed ? "del" : "same", text: p.value }));
}
