//! URL normalisation for duplicate detection: two URLs that name the same page the same way
//! after normalising are one bookmark. Only what never changes the page is dropped: case of scheme
//! and host (the `url` crate lower-cases both and drops a default port), the fragment, a trailing
//! slash and tracking parameters. The scheme is kept (`http` and `https` may serve different
//! things) and so is the order of the other query parameters.

use url::Url;

/// Query parameters that only tell a site where a click came from.
const TRACKING_EXACT: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "twclid", "ttclid", "li_fat_id",
];

fn is_tracking(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_") || TRACKING_EXACT.contains(&n.as_str())
}

/// The normalised form of an http(s) URL, or `None` for anything else (unparsable, other scheme).
pub fn normalize_url(raw: &str) -> Option<String> {
    let mut u = Url::parse(raw.trim()).ok()?;
    if u.scheme() != "http" && u.scheme() != "https" || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    u.set_fragment(None);
    let kept: Vec<(String, String)> =
        u.query_pairs().filter(|(k, _)| !is_tracking(k)).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if kept.is_empty() {
        u.set_query(None);
    } else if kept.len() != u.query_pairs().count() {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    let path = u.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        u.set_path(path.trim_end_matches('/'));
    }
    Some(u.to_string())
}

#[cfg(test)]
mod tests {
    use super::normalize_url as n;

    #[test]
    fn scheme_and_host_case_and_default_port() {
        assert_eq!(n("HTTPS://Example.COM:443/Path").as_deref(), Some("https://example.com/Path"));
        assert_eq!(n("http://example.com:80/").as_deref(), Some("http://example.com/"));
        // A non-default port is part of the address.
        assert_eq!(n("http://example.com:8080/").as_deref(), Some("http://example.com:8080/"));
        // The path's case is the site's business.
        assert_ne!(n("https://example.com/A"), n("https://example.com/a"));
    }

    #[test]
    fn trailing_slash_and_fragment() {
        assert_eq!(n("https://example.com"), n("https://example.com/"));
        assert_eq!(n("https://example.com/docs/"), n("https://example.com/docs"));
        assert_eq!(n("https://example.com/docs#intro"), n("https://example.com/docs"));
    }

    #[test]
    fn tracking_parameters_go_others_stay_in_order() {
        assert_eq!(
            n("https://example.com/a?utm_source=x&b=2&fbclid=1&a=1&UTM_Medium=m&gclid=z").as_deref(),
            Some("https://example.com/a?b=2&a=1")
        );
        assert_eq!(n("https://example.com/a?utm_source=x").as_deref(), Some("https://example.com/a"));
        assert_ne!(n("https://example.com/a?b=2&a=1"), n("https://example.com/a?a=1&b=2"));
        // A parameter merely containing a tracking name is kept.
        assert_eq!(n("https://example.com/?my_gclid=1").as_deref(), Some("https://example.com/?my_gclid=1"));
    }

    #[test]
    fn scheme_is_kept_and_non_web_urls_have_no_form() {
        assert_ne!(n("http://example.com/"), n("https://example.com/"));
        assert_eq!(n("mailto:a@example.com"), None);
        assert_eq!(n("not a url"), None);
        assert_eq!(n("  https://example.com/x  ").as_deref(), Some("https://example.com/x"));
    }

    #[test]
    fn idempotent() {
        for u in ["HTTPS://Example.COM:443/a/?utm_x=1&q=%20y#f", "http://[::1]:80/", "https://bücher.example/ä"] {
            let once = n(u).unwrap();
            assert_eq!(n(&once).as_deref(), Some(once.as_str()), "{u}");
        }
    }
}
