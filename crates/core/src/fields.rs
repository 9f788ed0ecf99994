//! Conversions between protocol cards, `CardFields` and `CardChanges`. Free functions (not
//! inherent methods) so they never clash with helpers the merge module adds to `CardFields`.

use deckhand_protocol::{Card, CardChanges, NewCard};
use uuid::Uuid;

use crate::model::CardFields;

pub fn of_card(c: &Card) -> CardFields {
    CardFields {
        title: c.title.clone(),
        body: c.body.clone(),
        url: c.url.clone(),
        tags: c.tags.clone(),
        lane: c.lane.clone(),
        position: c.position,
        pinned: c.pinned,
    }
}

pub fn of_new(c: &NewCard) -> CardFields {
    CardFields {
        title: c.title.clone(),
        body: c.body.clone(),
        url: c.url.clone(),
        tags: c.tags.clone(),
        lane: c.lane.clone(),
        position: c.position,
        pinned: c.pinned,
    }
}

pub fn to_new(id: Uuid, f: &CardFields) -> NewCard {
    NewCard {
        id,
        title: f.title.clone(),
        body: f.body.clone(),
        url: f.url.clone(),
        tags: f.tags.clone(),
        lane: f.lane.clone(),
        position: f.position,
        pinned: f.pinned,
    }
}

pub fn apply(f: &mut CardFields, ch: &CardChanges) {
    if let Some(v) = &ch.title {
        f.title = v.clone();
    }
    if let Some(v) = &ch.body {
        f.body = v.clone();
    }
    if let Some(v) = &ch.url {
        f.url = v.clone();
    }
    if let Some(v) = &ch.tags {
        f.tags = v.clone();
    }
    if let Some(v) = &ch.lane {
        f.lane = v.clone();
    }
    if let Some(v) = ch.position {
        f.position = v;
    }
    if let Some(v) = ch.pinned {
        f.pinned = v;
    }
}

/// The changes that turn `from` into `to` (only differing fields).
pub fn diff(from: &CardFields, to: &CardFields) -> CardChanges {
    CardChanges {
        title: (from.title != to.title).then(|| to.title.clone()),
        body: (from.body != to.body).then(|| to.body.clone()),
        url: (from.url != to.url).then(|| to.url.clone()),
        tags: (from.tags != to.tags).then(|| to.tags.clone()),
        lane: (from.lane != to.lane).then(|| to.lane.clone()),
        position: (from.position != to.position).then_some(to.position),
        pinned: (from.pinned != to.pinned).then_some(to.pinned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(title: &str) -> CardFields {
        CardFields {
            title: title.into(),
            body: String::new(),
            url: Some("https://a.example".into()),
            tags: vec![],
            lane: "inbox".into(),
            position: 1.0,
            pinned: false,
        }
    }

    #[test]
    fn diff_then_apply_round_trips() {
        let a = f("a");
        let mut b = f("b");
        b.url = None;
        b.pinned = true;
        let d = diff(&a, &b);
        assert_eq!(d.field_names(), ["title", "url", "pinned"]);
        let mut c = a.clone();
        apply(&mut c, &d);
        assert_eq!(c, b);
        assert!(diff(&a, &a).is_empty());
    }
}
