// Card Markdown: parsed by a CommonMark parser (micromark, through mdast-util-from-markdown, with
// GFM for task lists, tables, strikethrough and bare URLs) into a syntax tree, which this file
// turns into DOM nodes itself. No HTML string is ever injected: raw HTML in a card stays text,
// images stay their alt text, and links are kept only when they are http(s).
import type { Nodes, Parent, Root } from "mdast";
import { fromMarkdown } from "mdast-util-from-markdown";
import { gfmFromMarkdown } from "mdast-util-gfm";
import { toString } from "mdast-util-to-string";
import { gfm } from "micromark-extension-gfm";
import { safeHttpUrl } from "./safeurl";

export function parseMarkdown(src: string): Root {
  return fromMarkdown(src, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
}

export function renderMarkdown(src: string): DocumentFragment {
  const out = document.createDocumentFragment();
  children(out, parseMarkdown(src));
  return out;
}

const excerpts = new Map<string, string>();

/** The body as plain text (Markdown syntax gone), on one line: tile excerpts. Memoised: a board
 * re-renders its tiles on every change, the bodies rarely change. */
export function plainText(src: string, max = 140): string {
  const key = `${max}\u0000${src}`;
  const hit = excerpts.get(key);
  if (hit !== undefined) return hit;
  if (excerpts.size > 2000) excerpts.clear();
  // An excerpt needs the start of the body only: a huge body is not parsed whole for a tile.
  const text = excerpt(src.length > 4 * max + 1000 ? src.slice(0, 4 * max + 1000) : src, max);
  excerpts.set(key, text);
  return text;
}

// Markdown changes a body's text only through these characters, or through a line that starts
// with a list or underline sign ("- ", "+ ", "1. ", "==="): a body with none of them is its own
// plain text. Most bodies are, and skipping the parse for them took the board's first paint from
// ~0.5 ms of micromark per tile (250 tiles: most of P9's time after the data came, in
// docs/benchmarks.md) to nothing. tests/ui/markdown_excerpt.test.mjs checks both paths agree.
const MARKDOWN_SIGNS = /[\\`*_[\]#<>!|~&]|(^|\n)[ \t]*([-+=]|\d+[.)])/;

function excerpt(src: string, max: number): string {
  return MARKDOWN_SIGNS.test(src) ? parsedExcerpt(src, max) : clip(src, max);
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The excerpt through the parser (exported for the test that checks the fast path against it). */
export function parsedExcerpt(src: string, max: number): string {
  const blocks: string[] = [];
  // Leaf blocks each give their text; containers (lists, quotes) are walked, so list items and
  // quoted paragraphs stay separate words.
  const walk = (n: Nodes) => {
    if (n.type === "paragraph" || n.type === "heading" || n.type === "code" || n.type === "html" || n.type === "tableCell") {
      blocks.push(toString(n, { includeImageAlt: true }));
    } else if ("children" in n) {
      for (const c of n.children) walk(c as Nodes);
    }
  };
  walk(parseMarkdown(src));
  return clip(blocks.join(" "), max);
}

function children(parent: Node, node: Parent): void {
  for (const child of node.children) {
    const el = render(child as Nodes);
    if (el) parent.appendChild(el);
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, node: Parent | null): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (node) children(e, node);
  return e;
}

function render(node: Nodes): Node | null {
  switch (node.type) {
    case "text":
      return document.createTextNode(node.value);
    case "paragraph":
      return el("p", node);
    case "heading":
      // Card headings sit under the editor's own: start at h3.
      return el(`h${Math.min(node.depth + 2, 6)}` as "h3", node);
    case "emphasis":
      return el("em", node);
    case "strong":
      return el("strong", node);
    case "delete":
      return el("del", node);
    case "inlineCode": {
      const c = el("code", null);
      c.textContent = node.value;
      return c;
    }
    case "code": {
      const pre = el("pre", null);
      const c = el("code", null);
      c.textContent = node.value;
      pre.appendChild(c);
      return pre;
    }
    case "blockquote":
      return el("blockquote", node);
    case "list": {
      const list = el(node.ordered ? "ol" : "ul", node);
      if (node.ordered && node.start != null && node.start !== 1) list.setAttribute("start", String(node.start));
      return list;
    }
    case "listItem": {
      const li = el("li", null);
      if (node.checked != null) {
        li.className = "task";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.disabled = true;
        box.checked = node.checked;
        box.setAttribute("aria-label", node.checked ? "done" : "not done");
        li.appendChild(box);
        li.appendChild(document.createTextNode(" "));
      }
      // Tight list items hold their text directly, not in a paragraph.
      for (const child of node.children) {
        const r = child.type === "paragraph" && node.spread === false ? fragmentOf(child) : render(child);
        if (r) li.appendChild(r);
      }
      return li;
    }
    case "thematicBreak":
      return el("hr", null);
    case "break":
      return el("br", null);
    case "link":
      return linkOrText(node, node.url);
    case "linkReference":
    case "imageReference":
    case "definition":
    case "footnoteDefinition":
    case "footnoteReference":
      return node.type === "linkReference" ? fragmentOf(node) : null;
    case "image":
      // No remote images in cards: the alt text stands in.
      return node.alt ? document.createTextNode(node.alt) : null;
    case "html":
      // Raw HTML is shown as the text it is.
      return document.createTextNode(node.value);
    case "table": {
      const table = el("table", null);
      const head = el("thead", null);
      const body = el("tbody", null);
      node.children.forEach((row, i) => {
        const tr = el("tr", null);
        for (const cell of row.children) tr.appendChild(el(i === 0 ? "th" : "td", cell));
        (i === 0 ? head : body).appendChild(tr);
      });
      table.append(head, body);
      return table;
    }
    default:
      return "children" in node ? fragmentOf(node as Parent) : null;
  }
}

function fragmentOf(node: Parent): DocumentFragment {
  const f = document.createDocumentFragment();
  children(f, node);
  return f;
}

function linkOrText(node: Parent, href: string): Node {
  const safe = safeHttpUrl(href);
  if (!safe) {
    // Not http(s): show the label as plain text, never as a link.
    const span = el("span", node);
    span.className = "unsafe-link";
    span.title = "Link removed: only http and https links are allowed";
    return span;
  }
  const a = el("a", node);
  a.href = safe;
  a.rel = "noopener noreferrer";
  return a;
}
