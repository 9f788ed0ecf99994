//! Browser bookmarks HTML, the Netscape format every browser exports: `<DT><H3>` names a folder
//! whose `<DL>` holds its entries, `<DT><A HREF>` is a bookmark, a `<DD>` after it its note.
//! Parsed by html5ever (through `dom_query`, the one HTML crate in core: link metadata uses it
//! too) like a browser would — the format is tag soup with unclosed `<DT>` and `<p>` — then
//! walked in document order. Folders become tags (every
//! enclosing folder) or, with `FolderMapping::Lane`, the innermost folder is the lane. Keyed by
//! URL: the same page bookmarked twice is one card. Non-web entries (`place:`, `javascript:`) are
//! left out and reported.

use dom_query::{Document, NodeRef};

use super::{FolderMapping, Item, Parsed, TransferError, key, tidy};

struct Walk {
    folders: FolderMapping,
    /// The name of the last `<H3>` seen: the folder of the next `<DL>`.
    pending: Option<String>,
    /// Whether the last entry was a bookmark (a `<DD>` then is its note, not a folder's).
    after_bookmark: bool,
    parsed: Parsed,
    seen: u32,
}

fn text(el: &NodeRef<'_>) -> String {
    el.text().split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Walk {
    fn element(&mut self, el: &NodeRef<'_>, path: &[String]) {
        let name = el.node_name().unwrap_or_default();
        match &*name {
            "h3" => {
                self.pending = Some(text(el));
                self.after_bookmark = false;
            }
            "dl" => {
                let mut inner = path.to_vec();
                if let Some(name) = self.pending.take().filter(|n| !n.is_empty()) {
                    inner.push(name);
                }
                self.after_bookmark = false;
                self.children(el, &inner);
            }
            "a" => self.bookmark(el, path),
            "dd" => {
                if self.after_bookmark
                    && let Some(item) = self.parsed.items.last_mut()
                {
                    item.body = text(el);
                }
                self.after_bookmark = false;
                // A `<DD>` may hold the next entries (tag soup); walk on.
                self.children(el, path);
            }
            _ => self.children(el, path),
        }
    }

    fn children(&mut self, el: &NodeRef<'_>, path: &[String]) {
        for child in el.element_children() {
            self.element(&child, path);
        }
    }

    fn bookmark(&mut self, a: &NodeRef<'_>, path: &[String]) {
        self.seen += 1;
        let label = format!("bookmark {}", self.seen);
        let href = a.attr("href").unwrap_or_default();
        let href = href.trim();
        if href.is_empty() {
            self.parsed.ignored.push(format!("{label}: no HREF"));
            self.after_bookmark = false;
            return;
        }
        let lower = href.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            let scheme = href.split(':').next().unwrap_or(href);
            self.parsed.ignored.push(format!("{label} {:?}: a {scheme}: link, not a web page", text(a)));
            self.after_bookmark = false;
            return;
        }
        let (tags, lane) = match self.folders {
            FolderMapping::Tags => (path.to_vec(), String::new()),
            FolderMapping::Lane => (Vec::new(), path.last().cloned().unwrap_or_default()),
        };
        self.parsed.items.push(tidy(Item {
            id: key("url", href),
            label,
            title: text(a),
            body: String::new(),
            url: Some(href.to_string()),
            tags,
            lane,
            position: None,
            pinned: false,
        }));
        self.after_bookmark = true;
    }
}

pub fn parse(html: &str, folders: FolderMapping) -> Result<Parsed, TransferError> {
    if !html.to_ascii_uppercase().contains("<A ") && !html.to_ascii_uppercase().contains("<DL") {
        return Err(TransferError::Malformed { item: "document".into(), message: "no bookmarks (<DL>/<A>) in this HTML".into() });
    }
    let doc = Document::from(html);
    let mut walk = Walk { folders, pending: None, after_bookmark: false, parsed: Parsed::default(), seen: 0 };
    walk.element(&doc.html_root(), &[]);
    Ok(walk.parsed)
}
