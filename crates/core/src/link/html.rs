//! What a page says about itself: decoding its bytes (charset from the header, a BOM or a
//! `<meta>` in the first KiB, else UTF-8 with replacement characters) and reading Open Graph,
//! `<title>`, `<meta name=description>` and `<link rel=icon>` out of it.

use deckhand_protocol::link::{LINK_DESCRIPTION_MAX_CHARS, LINK_SITE_MAX_CHARS, LINK_TITLE_MAX_CHARS};
use dom_query::Document;
use encoding_rs::{Encoding, UTF_8};

/// Decode a page. `header_charset` is the `charset` parameter of its Content-Type, if any.
/// Never fails: undecodable bytes become U+FFFD (a page that lies about its charset still
/// gives a readable title).
pub fn decode(bytes: &[u8], header_charset: Option<&str>) -> String {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return enc.decode_without_bom_handling(&bytes[bom_len..]).0.into_owned();
    }
    let enc = header_charset
        .and_then(|c| Encoding::for_label(c.trim().trim_matches('"').as_bytes()))
        .or_else(|| prescan_charset(bytes))
        .unwrap_or(UTF_8);
    // A page cannot really be UTF-16 without a BOM; the HTML standard says to read it as UTF-8.
    let enc = if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE { UTF_8 } else { enc };
    enc.decode_without_bom_handling(bytes).0.into_owned()
}

/// A `<meta charset=...>` or `<meta http-equiv=content-type content="...; charset=...">` in the
/// first 1024 bytes (a simplified form of the HTML standard's prescan).
fn prescan_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(i) = rest.find("<meta") {
        rest = &rest[i + 5..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(j) = tag.find("charset") {
            let v = tag[j + 7..].trim_start().strip_prefix('=')?.trim_start();
            let v = v.trim_start_matches(['"', '\'']);
            let end = v.find(|c: char| c == '"' || c == '\'' || c == ';' || c == '/' || c.is_whitespace()).unwrap_or(v.len());
            if let Some(enc) = Encoding::for_label(v[..end].as_bytes()) {
                return Some(enc);
            }
        }
    }
    None
}

/// The metadata found in a page, before any icon is fetched.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageMeta {
    pub title: Option<String>,
    pub description: Option<String>,
    pub site_name: Option<String>,
    /// `href` of the best `<link rel=icon>`, unresolved.
    pub icon_href: Option<String>,
}

pub fn parse(html: &str) -> PageMeta {
    let doc = Document::from(html);
    let meta = |attr: &str, names: &[&str]| -> Option<String> {
        names.iter().find_map(|n| {
            let sel = doc.select(&format!("meta[{attr}=\"{n}\" i]"));
            sel.iter().find_map(|m| m.attr("content").map(|c| c.to_string())).and_then(clean)
        })
    };
    let title = meta("property", &["og:title"])
        .or_else(|| meta("name", &["twitter:title"]))
        .or_else(|| clean(doc.select("title").first().text().to_string()));
    let description = meta("property", &["og:description"]).or_else(|| meta("name", &["description", "twitter:description"]));
    let site_name = meta("property", &["og:site_name"]).or_else(|| meta("name", &["application-name"]));
    PageMeta {
        title: title.map(|t| cut(t, LINK_TITLE_MAX_CHARS)),
        description: description.map(|t| cut(t, LINK_DESCRIPTION_MAX_CHARS)),
        site_name: site_name.map(|t| cut(t, LINK_SITE_MAX_CHARS)),
        icon_href: icon_href(&doc),
    }
}

/// Prefer `rel="icon"` / `"shortcut icon"` over `apple-touch-icon` (smaller), first one wins.
fn icon_href(doc: &Document) -> Option<String> {
    let mut touch = None;
    for link in doc.select("link[rel][href]").iter() {
        let rel = link.attr("rel").map(|r| r.to_ascii_lowercase()).unwrap_or_default();
        let href = link.attr("href").map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
        let Some(href) = href else { continue };
        let tokens: Vec<&str> = rel.split_ascii_whitespace().collect();
        if tokens.contains(&"icon") {
            return Some(href);
        }
        if touch.is_none() && tokens.iter().any(|t| t.starts_with("apple-touch-icon")) {
            touch = Some(href);
        }
    }
    touch
}

/// Whitespace collapsed; empty is absent.
fn clean(s: String) -> Option<String> {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() { None } else { Some(s) }
}

fn cut(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn og_wins_over_title_and_name_description() {
        let m = parse(r#"<html><head><title>Plain</title>
            <meta property="og:title" content="  Open
              Graph ">
            <meta name="description" content="named">
            <meta property="og:description" content="og desc">
            <meta property="og:site_name" content="Site">
            <link rel="apple-touch-icon" href="/touch.png"><link rel="Shortcut Icon" href="/fav.ico">
            </head></html>"#);
        assert_eq!(m.title.as_deref(), Some("Open Graph"));
        assert_eq!(m.description.as_deref(), Some("og desc"));
        assert_eq!(m.site_name.as_deref(), Some("Site"));
        assert_eq!(m.icon_href.as_deref(), Some("/fav.ico"));
    }

    #[test]
    fn title_only_and_no_icon() {
        let m = parse("<title>Only &amp; this</title><p>hi");
        assert_eq!(m, PageMeta { title: Some("Only & this".into()), ..Default::default() });
    }

    #[test]
    fn charset_from_header_meta_bom_or_utf8() {
        assert_eq!(decode(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode(b"<meta charset='latin1'><title>caf\xe9</title>", None), "<meta charset='latin1'><title>café</title>");
        let equiv = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">\x93q\x94";
        assert!(decode(equiv, None).ends_with("\u{201c}q\u{201d}"));
        assert_eq!(decode(b"\xef\xbb\xbfcaf\xc3\xa9", Some("latin1")), "café");
        // Broken UTF-8 is replaced, not refused.
        assert_eq!(decode(b"caf\xe9 ok", None), "caf\u{fffd} ok");
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let m = parse(&format!("<title>{}</title>", "é".repeat(LINK_TITLE_MAX_CHARS + 10)));
        assert_eq!(m.title.unwrap().chars().count(), LINK_TITLE_MAX_CHARS);
    }
}
