#!/usr/bin/env python3
"""Writes bookmarks-10k.html: 10,000 bookmarks in the Netscape format, in nested folders
(three levels), with non-ASCII titles and entities. Deterministic (no randomness, no clock), so
the committed file is exactly what this script makes:

    python3 crates/core/tests/data/import/gen_bookmarks.py > crates/core/tests/data/import/bookmarks-10k.html
"""

import html

N = 10_000
TOPS = ["Work", "Reading", "Café ☕", "研究"]
SUBS = ["a", "b & c", "d"]

out = [
    "<!DOCTYPE NETSCAPE-Bookmark-file-1>",
    '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">',
    "<TITLE>Bookmarks</TITLE>",
    "<H1>Bookmarks</H1>",
    "<DL><p>",
]
i = 0
per_leaf = N // (len(TOPS) * len(SUBS) * 2)
for t, top in enumerate(TOPS):
    out.append(f"    <DT><H3>{html.escape(top)}</H3>")
    out.append("    <DL><p>")
    for s, sub in enumerate(SUBS):
        out.append(f"        <DT><H3>{html.escape(sub)}</H3>")
        out.append("        <DL><p>")
        for leaf in range(2):
            out.append(f"            <DT><H3>leaf {leaf}</H3>")
            out.append("            <DL><p>")
            for _ in range(per_leaf):
                url = f"https://example.com/{t}/{s}/{leaf}/page-{i}?ref=b&amp;n={i}"
                title = html.escape(f"Bookmark {i} — ünïcode 書籤 <{i}>")
                out.append(f'                <DT><A HREF="{url}" ADD_DATE="{1700000000 + i}">{title}</A>')
                i += 1
            out.append("            </DL><p>")
        out.append("        </DL><p>")
    out.append("    </DL><p>")
# The remainder at the top level.
while i < N:
    out.append(f'    <DT><A HREF="https://example.com/top/{i}">Top {i}</A>')
    i += 1
out.append("</DL><p>")
print("\n".join(out))
