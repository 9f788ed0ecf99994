//! Conversions between protocol cards, `CardFields` and `CardChanges`, as free functions for the
//! store and sync code. One implementation: they delegate to `CardFields`' methods and
//! `merge::diff` in `crate::merge`.

use deckhand_protocol::{Card, CardChanges, NewCard};
use uuid::Uuid;

use crate::model::CardFields;

pub fn of_card(c: &Card) -> CardFields {
    CardFields::from_card(c)
}

pub fn of_new(c: &NewCard) -> CardFields {
    CardFields::from_new_card(c)
}

pub fn to_new(id: Uuid, f: &CardFields) -> NewCard {
    f.to_new_card(id)
}

pub fn apply(f: &mut CardFields, ch: &CardChanges) {
    *f = CardFields::apply(f, ch);
}

/// The changes that turn `from` into `to` (only differing fields).
pub fn diff(from: &CardFields, to: &CardFields) -> CardChanges {
    crate::merge::diff(from, to)
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
