//! Field validation shared by the server (422 on failure) and the client (refused before queueing).

use crate::limits::*;
use crate::link::*;
use crate::{CardChanges, FieldError, LinkMeta, NewCard};

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_string(), message: message.into() }
}

fn check_title(v: &str, out: &mut Vec<FieldError>) {
    let n = v.chars().count();
    if v.trim().is_empty() {
        out.push(err("title", "must not be blank"));
    } else if n > TITLE_MAX_CHARS {
        out.push(err("title", format!("must be at most {TITLE_MAX_CHARS} characters (got {n})")));
    }
}

fn check_body(v: &str, out: &mut Vec<FieldError>) {
    let n = v.chars().count();
    if n > BODY_MAX_CHARS {
        out.push(err("body", format!("must be at most {BODY_MAX_CHARS} characters (got {n})")));
    }
}

fn check_url(v: Option<&str>, out: &mut Vec<FieldError>) {
    let Some(v) = v else { return };
    if v.chars().count() > URL_MAX_CHARS {
        out.push(err("url", format!("must be at most {URL_MAX_CHARS} characters")));
        return;
    }
    match url::Url::parse(v) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.has_host() => {}
        Ok(u) => out.push(err("url", format!("scheme must be http or https (got {})", u.scheme()))),
        Err(e) => out.push(err("url", format!("must be an absolute URL: {e}"))),
    }
}

fn check_tags(v: &[String], out: &mut Vec<FieldError>) {
    if v.len() > TAGS_MAX {
        out.push(err("tags", format!("at most {TAGS_MAX} tags (got {})", v.len())));
        return;
    }
    for (i, t) in v.iter().enumerate() {
        let n = t.chars().count();
        if n == 0 || n > TAG_MAX_CHARS {
            out.push(err(&format!("tags[{i}]"), format!("must be 1 to {TAG_MAX_CHARS} characters")));
        } else if v[..i].contains(t) {
            out.push(err(&format!("tags[{i}]"), format!("duplicate tag {t:?}")));
        }
    }
}

/// Link metadata is written by devices, not typed by users, but still bounded: every text within
/// its limit and the icon a `data:image/` URI (a remote address would be a tracking pixel and is
/// not allowed by the app's CSP anyway).
fn check_link_meta(m: Option<&LinkMeta>, out: &mut Vec<FieldError>) {
    let Some(m) = m else { return };
    let texts: [(&str, Option<&str>, usize); 6] = [
        ("link_meta.title", m.title.as_deref(), LINK_TITLE_MAX_CHARS),
        ("link_meta.description", m.description.as_deref(), LINK_DESCRIPTION_MAX_CHARS),
        ("link_meta.site_name", m.site_name.as_deref(), LINK_SITE_MAX_CHARS),
        ("link_meta.error", m.error.as_deref(), LINK_ERROR_MAX_CHARS),
        ("link_meta.error_code", m.error_code.as_deref(), LINK_ERROR_CODE_MAX_CHARS),
        ("link_meta.url", Some(m.url.as_str()), URL_MAX_CHARS),
    ];
    for (field, v, max) in texts {
        if v.is_some_and(|v| v.chars().count() > max) {
            out.push(err(field, format!("must be at most {max} characters")));
        }
    }
    if let Some(icon) = &m.icon {
        if !icon.starts_with("data:image/") {
            out.push(err("link_meta.icon", "must be a data:image/ URI"));
        } else if icon.chars().count() > LINK_ICON_URI_MAX_CHARS {
            out.push(err("link_meta.icon", format!("must be at most {LINK_ICON_URI_MAX_CHARS} characters")));
        }
    }
}

/// Bytes of link metadata's text, for `card_fits`'s quick estimate.
fn link_meta_text_len(m: Option<&LinkMeta>) -> usize {
    m.map_or(0, |m| {
        [&m.title, &m.description, &m.site_name, &m.icon, &m.error, &m.error_code].iter().map(|v| v.as_ref().map_or(0, String::len)).sum::<usize>()
            + m.url.len()
            + 256
    })
}

fn check_lane(v: &str, out: &mut Vec<FieldError>) {
    let n = v.chars().count();
    if v.trim().is_empty() || n > LANE_MAX_CHARS {
        out.push(err("lane", format!("must be 1 to {LANE_MAX_CHARS} characters, not blank")));
    }
}

fn check_position(v: f64, out: &mut Vec<FieldError>) {
    if !v.is_finite() {
        out.push(err("position", "must be a finite number"));
    }
}

/// The encoded size of a card as a create body (see `CARD_MAX_ENCODED_BYTES`).
pub fn encoded_len(c: &NewCard) -> usize {
    serde_json::to_vec(c).map(|v| v.len()).unwrap_or(usize::MAX)
}

/// Whether a card fits a request (`CARD_MAX_ENCODED_BYTES`): the one definition of "fits".
pub fn card_fits(c: &NewCard) -> bool {
    // JSON escaping at most sextuples a byte (`\u0000`): a card whose text is small enough fits
    // without being encoded (every write checks this; most cards are a few hundred bytes).
    let text = c.title.len() + c.body.len() + c.url.as_ref().map_or(0, String::len) + c.lane.len()
        + c.tags.iter().map(|t| t.len() + 3).sum::<usize>()
        + link_meta_text_len(c.link_meta.as_ref());
    text * 6 + 512 <= CARD_MAX_ENCODED_BYTES || encoded_len(c) <= CARD_MAX_ENCODED_BYTES
}

pub fn validate_new_card(c: &NewCard) -> Result<(), Vec<FieldError>> {
    let mut out = Vec::new();
    check_title(&c.title, &mut out);
    check_body(&c.body, &mut out);
    check_url(c.url.as_deref(), &mut out);
    check_tags(&c.tags, &mut out);
    check_lane(&c.lane, &mut out);
    check_position(c.position, &mut out);
    check_link_meta(c.link_meta.as_ref(), &mut out);
    // Only worth encoding when every field is within its own limit (each alone fits).
    if out.is_empty() && !card_fits(c) {
        let n = encoded_len(c);
        out.push(err("body", format!("the card is {n} bytes encoded; at most {CARD_MAX_ENCODED_BYTES} bytes fit a request (shorten the notes)")));
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

pub fn validate_changes(c: &CardChanges) -> Result<(), Vec<FieldError>> {
    let mut out = Vec::new();
    if let Some(v) = &c.title {
        check_title(v, &mut out);
    }
    if let Some(v) = &c.body {
        check_body(v, &mut out);
    }
    if let Some(v) = &c.url {
        check_url(v.as_deref(), &mut out);
    }
    if let Some(v) = &c.tags {
        check_tags(v, &mut out);
    }
    if let Some(v) = &c.lane {
        check_lane(v, &mut out);
    }
    if let Some(v) = c.position {
        check_position(v, &mut out);
    }
    if let Some(v) = &c.link_meta {
        check_link_meta(v.as_ref(), &mut out);
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn card(title: &str) -> NewCard {
        NewCard {
            id: Uuid::now_v7(),
            title: title.into(),
            body: String::new(),
            url: None,
            tags: vec![],
            lane: "inbox".into(),
            position: 0.0,
            pinned: false,
            link_meta: None,
        }
    }

    #[test]
    fn accepts_a_plain_card() {
        assert!(validate_new_card(&card("hello")).is_ok());
    }

    #[test]
    fn rejects_each_bad_field_by_name() {
        let mut c = card(" ");
        c.url = Some("javascript:alert(1)".into());
        c.tags = vec!["a".into(), "a".into(), "".into()];
        c.lane = "x".repeat(65);
        c.position = f64::NAN;
        let fields: Vec<String> = validate_new_card(&c).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["title", "url", "tags[1]", "tags[2]", "lane", "position"]);
    }

    #[test]
    fn title_limit_counts_characters_not_bytes() {
        assert!(validate_new_card(&card(&"é".repeat(500))).is_ok());
        assert!(validate_new_card(&card(&"é".repeat(501))).is_err());
    }

    #[test]
    fn a_card_that_passes_validation_fits_a_request() {
        // 90,000 CJK characters pass the character limit but are ~270 KB of UTF-8.
        let mut c = card("big");
        c.body = "同".repeat(90_000);
        let e = validate_new_card(&c).unwrap_err();
        assert_eq!(e[0].field, "body");
        c.body = "同".repeat(80_000);
        assert!(validate_new_card(&c).is_ok());
        assert!(serde_json::to_vec(&c).unwrap().len() <= REQUEST_BODY_MAX_BYTES);
    }

    #[test]
    fn url_must_be_absolute_http() {
        let ok = CardChanges { url: Some(Some("https://example.com/a".into())), ..Default::default() };
        assert!(validate_changes(&ok).is_ok());
        let rel = CardChanges { url: Some(Some("/relative".into())), ..Default::default() };
        assert!(validate_changes(&rel).is_err());
        let clear = CardChanges { url: Some(None), ..Default::default() };
        assert!(validate_changes(&clear).is_ok());
    }
}
