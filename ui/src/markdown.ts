// A deliberately small Markdown renderer that builds DOM nodes directly (never an HTML string),
// so card content can only ever become text, a whitelist of elements, and http(s) links.
// Supported: # headings, paragraphs, - / * / 1. lists, > quotes, ``` fences, ---,
// inline `code`, **bold**, *italic*, [text](http(s) url) and bare http(s) URLs.
import { safeHttpUrl } from "./safeurl";

export function renderMarkdown(src: string): DocumentFragment {
  const out = document.createDocumentFragment();
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) {
      i++;
      continue;
    }
    if (/^```/.test(line)) {
      const code: string[] = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
      i++; // closing fence (or end of input)
      const pre = document.createElement("pre");
      const c = document.createElement("code");
      c.textContent = code.join("\n");
      pre.appendChild(c);
      out.appendChild(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const el = document.createElement(`h${Math.min(heading[1].length + 2, 6)}`);
      inline(el, heading[2]);
      out.appendChild(el);
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      out.appendChild(document.createElement("hr"));
      i++;
      continue;
    }
    if (/^>\s?/.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quoted.push(lines[i++].replace(/^>\s?/, ""));
      const bq = document.createElement("blockquote");
      bq.appendChild(renderMarkdown(quoted.join("\n")));
      out.appendChild(bq);
      continue;
    }
    const listRe = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
    const first = listRe.exec(line);
    if (first) {
      const ordered = /\d/.test(first[1]);
      const list = document.createElement(ordered ? "ol" : "ul");
      while (i < lines.length) {
        const m = listRe.exec(lines[i]);
        if (!m || /\d/.test(m[1]) !== ordered) break;
        const li = document.createElement("li");
        const task = /^\[([ xX])\]\s+(.*)$/.exec(m[2]);
        if (task) {
          li.className = "task";
          const box = document.createElement("input");
          box.type = "checkbox";
          box.disabled = true;
          box.checked = task[1] !== " ";
          box.setAttribute("aria-label", task[1] !== " " ? "done" : "not done");
          li.appendChild(box);
          inline(li, " " + task[2]);
        } else {
          inline(li, m[2]);
        }
        list.appendChild(li);
        i++;
      }
      out.appendChild(list);
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      !/^\s*$/.test(lines[i]) &&
      !/^(```|#{1,6}\s|>)/.test(lines[i]) &&
      !listRe.test(lines[i])
    ) {
      para.push(lines[i++]);
    }
    const p = document.createElement("p");
    inline(p, para.join("\n"));
    out.appendChild(p);
  }
  return out;
}

const INLINE =
  /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*|_[^_\n]+_)|(\[[^\]\n]*\]\([^)\s]*\))|(https?:\/\/[^\s<>()]+)|(\n)/;

/** Appends `text` to `parent`, turning the inline syntax above into elements. */
export function inline(parent: Node, text: string): void {
  let rest = text;
  while (rest.length > 0) {
    const m = INLINE.exec(rest);
    if (!m) {
      parent.appendChild(document.createTextNode(rest));
      return;
    }
    if (m.index > 0) parent.appendChild(document.createTextNode(rest.slice(0, m.index)));
    const tok = m[0];
    if (m[1]) {
      const c = document.createElement("code");
      c.textContent = tok.slice(1, -1);
      parent.appendChild(c);
    } else if (m[2]) {
      const b = document.createElement("strong");
      inline(b, tok.slice(2, -2));
      parent.appendChild(b);
    } else if (m[3]) {
      const em = document.createElement("em");
      inline(em, tok.slice(1, -1));
      parent.appendChild(em);
    } else if (m[4]) {
      const link = /^\[([^\]]*)\]\(([^)\s]*)\)$/.exec(tok)!;
      parent.appendChild(linkOrText(link[1] || link[2], link[2]));
    } else if (m[5]) {
      parent.appendChild(linkOrText(tok, tok));
    } else {
      parent.appendChild(document.createElement("br"));
    }
    rest = rest.slice(m.index + tok.length);
  }
}

function linkOrText(label: string, href: string): Node {
  const safe = safeHttpUrl(href);
  if (!safe) {
    // Not http(s): show the label as plain text, never as a link.
    const span = document.createElement("span");
    span.className = "unsafe-link";
    span.title = "Link removed: only http and https links are allowed";
    span.textContent = label;
    return span;
  }
  const a = document.createElement("a");
  a.href = safe;
  a.rel = "noopener noreferrer";
  a.textContent = label;
  return a;
}
