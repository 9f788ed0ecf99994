//! Field-level three-way merge of card edits.
//!
//! When my local edit meets a newer server copy, `merge3(base, mine, theirs)` combines them:
//!
//! * a field changed on one side only takes that side's value;
//! * a field changed on both sides to the same value takes that value;
//! * a field changed on both sides to different values is a conflict, except:
//!   * `tags` merge as sets and never conflict (unless the union exceeds the protocol limit):
//!     a base tag survives only if both sides kept it, a new tag added by either side is kept;
//!     order is mine's order first, then theirs' new tags;
//!   * `body` merges line hunks with diffy's three-way merge; overlapping (or adjacent) hunks,
//!     or a result over the protocol limit, are a conflict.
//!
//! For a conflicting field `merged` holds mine's value (the UI lets the user choose).

use std::collections::HashSet;

use deckhand_protocol::limits::{BODY_MAX_CHARS, TAGS_MAX};
use deckhand_protocol::{Card, CardChanges, LinkMeta, NewCard};
use uuid::Uuid;

use crate::model::CardFields;

/// Result of [`merge3`].
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    /// Every field merged; conflicting fields hold mine's value.
    pub merged: CardFields,
    /// Fields that could not be merged, in protocol order
    /// (title, body, url, tags, lane, position, pinned). Empty means a clean merge.
    pub conflicting: Vec<String>,
}

impl MergeOutcome {
    pub fn is_clean(&self) -> bool {
        self.conflicting.is_empty()
    }
}

/// Positions compare by value, but NaN equals NaN so a (refused anyway) NaN is never "a change".
fn same_position(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Plain field rule: one-sided change wins, equal changes agree, different changes conflict.
/// Returns the merged value and whether it conflicts.
fn merge_value<T: Clone>(base: &T, mine: &T, theirs: &T, eq: impl Fn(&T, &T) -> bool) -> (T, bool) {
    if eq(mine, theirs) || eq(theirs, base) {
        (mine.clone(), false)
    } else if eq(mine, base) {
        (theirs.clone(), false)
    } else {
        (mine.clone(), true)
    }
}

/// Set merge of tags (see module docs). Returns the merged list and whether it conflicts
/// (only when a real two-sided merge goes over `TAGS_MAX`).
fn merge_tags(base: &[String], mine: &[String], theirs: &[String]) -> (Vec<String>, bool) {
    if mine == theirs || theirs == base {
        return (mine.to_vec(), false);
    }
    if mine == base {
        return (theirs.to_vec(), false);
    }
    let base_set: HashSet<&str> = base.iter().map(String::as_str).collect();
    let mine_set: HashSet<&str> = mine.iter().map(String::as_str).collect();
    let theirs_set: HashSet<&str> = theirs.iter().map(String::as_str).collect();

    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    // Mine's tags: a base tag stays only if theirs kept it too; mine's new tags always stay.
    for t in mine {
        let keep = !base_set.contains(t.as_str()) || theirs_set.contains(t.as_str());
        if keep && seen.insert(t.as_str()) {
            out.push(t.clone());
        }
    }
    // Theirs' new tags (not in base; base tags theirs kept are either in mine or removed by mine).
    for t in theirs {
        if !base_set.contains(t.as_str())
            && !mine_set.contains(t.as_str())
            && seen.insert(t.as_str())
        {
            out.push(t.clone());
        }
    }
    let over = out.len() > TAGS_MAX;
    if over {
        (mine.to_vec(), true)
    } else {
        (out, false)
    }
}

fn over_body_limit(s: &str) -> bool {
    // Bytes >= chars, so only count chars when the byte length could exceed the limit.
    s.len() > BODY_MAX_CHARS && s.chars().count() > BODY_MAX_CHARS
}

/// Whether merged fields still fit a request: the protocol's one definition (encoded size).
fn fits(f: &CardFields) -> bool {
    deckhand_protocol::card_fits(&f.to_new_card(Uuid::nil()))
}

/// Body merge: plain rule, and when both sides edited differently a line-hunk 3-way merge.
fn merge_body(base: &str, mine: &str, theirs: &str) -> (String, bool) {
    if mine == theirs || theirs == base {
        return (mine.to_string(), false);
    }
    if mine == base {
        return (theirs.to_string(), false);
    }
    match diffy::merge(base, mine, theirs) {
        Ok(merged) if !over_body_limit(&merged) => (merged, false),
        _ => (mine.to_string(), true),
    }
}

/// Three-way merge of a card's editable fields. Never fails: unmergeable fields are reported in
/// `conflicting` and hold mine's value in `merged`.
pub fn merge3(base: &CardFields, mine: &CardFields, theirs: &CardFields) -> MergeOutcome {
    let mut conflicting = Vec::new();
    let mut note = |name: &str, c: bool| {
        if c {
            conflicting.push(name.to_string());
        }
    };

    let (title, c) = merge_value(&base.title, &mine.title, &theirs.title, |a, b| a == b);
    note("title", c);
    let (body, c) = merge_body(&base.body, &mine.body, &theirs.body);
    note("body", c);
    let (url, c) = merge_value(&base.url, &mine.url, &theirs.url, |a, b| a == b);
    note("url", c);
    let (tags, c) = merge_tags(&base.tags, &mine.tags, &theirs.tags);
    note("tags", c);
    let (lane, c) = merge_value(&base.lane, &mine.lane, &theirs.lane, |a, b| a == b);
    note("lane", c);
    let (position, c) = merge_value(&base.position, &mine.position, &theirs.position, |a, b| {
        same_position(*a, *b)
    });
    note("position", c);
    let (pinned, c) = merge_value(&base.pinned, &mine.pinned, &theirs.pinned, |a, b| a == b);
    note("pinned", c);
    let link_meta = merge_link_meta(&base.link_meta, &mine.link_meta, &theirs.link_meta);

    let mut merged = CardFields { title, body, url, tags, lane, position, pinned, link_meta };
    // A merge of two cards that each fit can be larger than either: then the body is for the
    // user to shorten (a conflict), never a request the server must refuse.
    if !fits(&merged) && !conflicting.iter().any(|c| c == "body") {
        conflicting.push("body".to_string());
        conflicting.sort_by_key(|f| FIELD_ORDER.iter().position(|o| o == f));
        merged.body = mine.body.clone();
    }
    MergeOutcome { merged, conflicting }
}

const FIELD_ORDER: [&str; 8] = ["title", "body", "url", "tags", "lane", "position", "pinned", "link_meta"];

/// Link metadata is one value, written by fetchers, not people: a one-sided change wins like any
/// field, and two devices that both fetched never conflict, the later fetch wins (asking a user
/// to choose between two snapshots of a web page would be noise). Metadata fetched for another
/// URL than the merged card's is dropped by the caller when the URL changes (`Engine`).
fn merge_link_meta(base: &Option<LinkMeta>, mine: &Option<LinkMeta>, theirs: &Option<LinkMeta>) -> Option<LinkMeta> {
    let (v, conflict) = merge_value(base, mine, theirs, |a, b| a == b);
    if !conflict {
        return v;
    }
    match (mine, theirs) {
        (Some(m), Some(t)) if t.fetched_at > m.fetched_at => theirs.clone(),
        (Some(_), _) => mine.clone(),
        _ => theirs.clone(),
    }
}

/// The `CardChanges` that turn `from` into `to`: only the differing fields
/// (a cleared url is `Some(None)`). Equal inputs give an empty change.
pub fn diff(from: &CardFields, to: &CardFields) -> CardChanges {
    fn changed<T: Clone + PartialEq>(a: &T, b: &T) -> Option<T> {
        (a != b).then(|| b.clone())
    }
    CardChanges {
        title: changed(&from.title, &to.title),
        body: changed(&from.body, &to.body),
        url: changed(&from.url, &to.url),
        tags: changed(&from.tags, &to.tags),
        lane: changed(&from.lane, &to.lane),
        position: (!same_position(from.position, to.position)).then_some(to.position),
        pinned: changed(&from.pinned, &to.pinned),
        link_meta: changed(&from.link_meta, &to.link_meta),
    }
}

impl CardFields {
    /// The editable fields of a server card (version, timestamps and `deleted` dropped).
    pub fn from_card(c: &Card) -> CardFields {
        CardFields {
            title: c.title.clone(),
            body: c.body.clone(),
            url: c.url.clone(),
            tags: c.tags.clone(),
            lane: c.lane.clone(),
            position: c.position,
            pinned: c.pinned,
            link_meta: c.link_meta.clone(),
        }
    }

    pub fn from_new_card(c: &NewCard) -> CardFields {
        CardFields {
            title: c.title.clone(),
            body: c.body.clone(),
            url: c.url.clone(),
            tags: c.tags.clone(),
            lane: c.lane.clone(),
            position: c.position,
            pinned: c.pinned,
            link_meta: c.link_meta.clone(),
        }
    }

    /// The creation body for a card with these fields.
    pub fn to_new_card(&self, id: Uuid) -> NewCard {
        NewCard {
            id,
            title: self.title.clone(),
            body: self.body.clone(),
            url: self.url.clone(),
            tags: self.tags.clone(),
            lane: self.lane.clone(),
            position: self.position,
            pinned: self.pinned,
            link_meta: self.link_meta.clone(),
        }
    }

    /// These fields with `changes` applied (absent fields unchanged; `url: Some(None)` clears).
    pub fn apply(&self, changes: &CardChanges) -> CardFields {
        let mut out = self.clone();
        if let Some(v) = &changes.title {
            out.title = v.clone();
        }
        if let Some(v) = &changes.body {
            out.body = v.clone();
        }
        if let Some(v) = &changes.url {
            out.url = v.clone();
        }
        if let Some(v) = &changes.tags {
            out.tags = v.clone();
        }
        if let Some(v) = &changes.lane {
            out.lane = v.clone();
        }
        if let Some(v) = changes.position {
            out.position = v;
        }
        if let Some(v) = changes.pinned {
            out.pinned = v;
        }
        if let Some(v) = &changes.link_meta {
            out.link_meta = v.clone();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use proptest::prelude::*;

    const FIELDS: [&str; 7] = ["title", "body", "url", "tags", "lane", "position", "pinned"];

    fn base() -> CardFields {
        CardFields {
            title: "Title".into(),
            body: "one\ntwo\nthree\nfour\nfive\n".into(),
            url: Some("https://example.com".into()),
            tags: vec!["a".into(), "b".into(), "c".into()],
            lane: "inbox".into(),
            position: 1.0,
            pinned: false,
            link_meta: None,
        }
    }

    fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    // ---- plain field rules ----

    #[test]
    fn one_sided_change_takes_that_side() {
        let b = base();
        let mut m = b.clone();
        m.title = "Mine".into();
        m.pinned = true;
        let mut t = b.clone();
        t.lane = "done".into();
        t.url = None;
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean());
        assert_eq!(out.merged.title, "Mine");
        assert!(out.merged.pinned);
        assert_eq!(out.merged.lane, "done");
        assert_eq!(out.merged.url, None);
    }

    #[test]
    fn same_change_on_both_sides_is_clean() {
        let b = base();
        let mut m = b.clone();
        m.title = "Same".into();
        m.position = 7.5;
        let t = m.clone();
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean());
        assert_eq!(out.merged, m);
    }

    #[test]
    fn different_changes_conflict_and_keep_mine_in_protocol_order() {
        let b = base();
        let mut m = b.clone();
        let mut t = b.clone();
        m.pinned = true;
        t.pinned = false; // unchanged: not a conflict
        m.position = 2.0;
        t.position = 3.0;
        m.title = "M".into();
        t.title = "T".into();
        m.url = None;
        t.url = Some("https://other".into());
        m.lane = "doing".into();
        t.lane = "done".into();
        let out = merge3(&b, &m, &t);
        assert_eq!(out.conflicting, ["title", "url", "lane", "position"]);
        assert_eq!(out.merged.title, "M");
        assert_eq!(out.merged.url, None);
        assert_eq!(out.merged.lane, "doing");
        assert_eq!(out.merged.position, 2.0);
    }

    #[test]
    fn url_cleared_vs_changed_conflicts() {
        let b = base();
        let mut m = b.clone();
        m.url = None;
        let mut t = b.clone();
        t.url = Some("https://x".into());
        assert_eq!(merge3(&b, &m, &t).conflicting, ["url"]);
        // url set from None on one side only
        let mut b2 = base();
        b2.url = None;
        let mut m2 = b2.clone();
        m2.url = Some("https://new".into());
        let out = merge3(&b2, &m2, &b2);
        assert!(out.is_clean());
        assert_eq!(out.merged.url.as_deref(), Some("https://new"));
    }

    // ---- tags ----

    #[test]
    fn tags_merge_as_sets_with_stable_order() {
        let b = base(); // a b c
        let mut m = b.clone();
        m.tags = tags(&["c", "a", "m1", "b"]); // reorder + add m1
        let mut t = b.clone();
        t.tags = tags(&["a", "t1", "c"]); // remove b, add t1
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean());
        assert_eq!(out.merged.tags, tags(&["c", "a", "m1", "t1"]));
    }

    #[test]
    fn tag_removed_by_one_side_kept_by_other_is_removed() {
        let b = base();
        let mut m = b.clone();
        m.tags = tags(&["a", "c", "x"]); // removed b
        let mut t = b.clone();
        t.tags = tags(&["a", "b", "c", "y"]); // kept b
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean());
        assert_eq!(out.merged.tags, tags(&["a", "c", "x", "y"]));
    }

    #[test]
    fn tag_added_by_both_sides_appears_once() {
        let b = base();
        let mut m = b.clone();
        m.tags = tags(&["a", "b", "c", "new", "m"]);
        let mut t = b.clone();
        t.tags = tags(&["new", "a", "b", "c"]);
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean());
        assert_eq!(out.merged.tags, tags(&["a", "b", "c", "new", "m"]));
    }

    #[test]
    fn tag_removed_by_both_sides_stays_removed() {
        let b = base();
        let mut m = b.clone();
        m.tags = tags(&["b", "c", "m"]);
        let mut t = b.clone();
        t.tags = tags(&["c", "b"]);
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean());
        assert_eq!(out.merged.tags, tags(&["b", "c", "m"]));
    }

    #[test]
    fn merged_tags_over_limit_conflict() {
        let mut b = base();
        b.tags = vec![];
        let mut m = b.clone();
        m.tags = (0..20).map(|i| format!("m{i}")).collect();
        let mut t = b.clone();
        t.tags = (0..20).map(|i| format!("t{i}")).collect();
        let out = merge3(&b, &m, &t);
        assert_eq!(out.conflicting, ["tags"]);
        assert_eq!(out.merged.tags, m.tags);
        // exactly at the limit is fine
        t.tags.truncate(TAGS_MAX - 20);
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean());
        assert_eq!(out.merged.tags.len(), TAGS_MAX);
    }

    // ---- body ----

    #[test]
    fn body_disjoint_hunks_merge() {
        let b = base(); // one two three four five
        let mut m = b.clone();
        m.body = "ONE\ntwo\nthree\nfour\nfive\n".into();
        let mut t = b.clone();
        t.body = "one\ntwo\nthree\nfour\nFIVE\nsix\n".into();
        let out = merge3(&b, &m, &t);
        assert!(out.is_clean(), "{:?}", out.conflicting);
        assert_eq!(out.merged.body, "ONE\ntwo\nthree\nfour\nFIVE\nsix\n");
    }

    #[test]
    fn body_overlapping_hunks_conflict_and_keep_mine() {
        let b = base();
        let mut m = b.clone();
        m.body = "one\nTWO (mine)\nthree\nfour\nfive\n".into();
        let mut t = b.clone();
        t.body = "one\nTWO (theirs)\nthree\nfour\nfive\n".into();
        let out = merge3(&b, &m, &t);
        assert_eq!(out.conflicting, ["body"]);
        assert_eq!(out.merged.body, m.body);
    }

    #[test]
    fn body_delete_vs_edit_inside_conflicts() {
        // diffy < 0.4 missed this insert/delete conflict (bmwill/diffy#28).
        let mut b = base();
        b.body = "{\n    int a = 2;\n}\n".into();
        let mut m = b.clone();
        m.body = "{\n}\n".into();
        let mut t = b.clone();
        t.body = "{\n    int a = 2;\n    int b = 3;\n}\n".into();
        assert_eq!(merge3(&b, &m, &t).conflicting, ["body"]);
    }

    #[test]
    fn body_single_line_edited_both_sides_conflicts() {
        let mut b = base();
        b.body = "hello".into();
        let mut m = b.clone();
        m.body = "hello world".into();
        let mut t = b.clone();
        t.body = "hello there".into();
        assert_eq!(merge3(&b, &m, &t).conflicting, ["body"]);
    }

    #[test]
    fn body_merge_over_limit_conflicts() {
        let big = "x".repeat(BODY_MAX_CHARS / 2);
        let mut b = base();
        b.body = "head\nmiddle\ntail\n".into();
        let mut m = b.clone();
        m.body = format!("{big}\nhead\nmiddle\ntail\n");
        let mut t = b.clone();
        t.body = format!("head\nmiddle\ntail\n{big}\n");
        let out = merge3(&b, &m, &t);
        assert_eq!(out.conflicting, ["body"]);
        assert_eq!(out.merged.body, m.body);
    }

    #[test]
    fn conflicts_in_several_fields_keep_other_merges() {
        let b = base();
        let mut m = b.clone();
        m.title = "M".into();
        m.tags = tags(&["a", "b", "c", "m"]);
        m.body = "ONE\ntwo\nthree\nfour\nfive\n".into();
        let mut t = b.clone();
        t.title = "T".into();
        t.tags = tags(&["a", "c"]);
        t.body = "ONE!\ntwo\nthree\nfour\nfive\n".into();
        t.pinned = true;
        let out = merge3(&b, &m, &t);
        assert_eq!(out.conflicting, ["title", "body"]);
        assert_eq!(out.merged.tags, tags(&["a", "c", "m"]));
        assert!(out.merged.pinned);
    }

    // ---- conversions, diff, apply ----

    #[test]
    fn card_conversions_round_trip() {
        let f = base();
        let id = Uuid::nil();
        let nc = f.to_new_card(id);
        assert_eq!(nc.id, id);
        assert_eq!(CardFields::from_new_card(&nc), f);
        let now = Utc::now();
        let card = Card {
            id,
            title: f.title.clone(),
            body: f.body.clone(),
            url: f.url.clone(),
            tags: f.tags.clone(),
            lane: f.lane.clone(),
            position: f.position,
            pinned: f.pinned,
            version: 3,
            created_at: now,
            updated_at: now,
            deleted: false,
            link_meta: f.link_meta.clone(),
        };
        assert_eq!(CardFields::from_card(&card), f);
        assert_eq!(NewCard::from_card(&card), nc);
    }

    #[test]
    fn diff_contains_only_changed_fields() {
        let a = base();
        assert!(diff(&a, &a).is_empty());
        let mut b = a.clone();
        b.url = None;
        b.position = 4.0;
        let d = diff(&a, &b);
        assert_eq!(d.field_names(), ["url", "position"]);
        assert_eq!(d.url, Some(None));
        assert_eq!(a.apply(&d), b);
        // url None -> Some
        let d2 = diff(&b, &a);
        assert_eq!(d2.url, Some(a.url.clone()));
        assert_eq!(b.apply(&d2), a);
    }

    #[test]
    fn apply_leaves_absent_fields() {
        let a = base();
        let ch = CardChanges {
            title: Some("new".into()),
            url: Some(None),
            ..Default::default()
        };
        let out = a.apply(&ch);
        assert_eq!(out.title, "new");
        assert_eq!(out.url, None);
        assert_eq!(out.body, a.body);
        assert_eq!(out.tags, a.tags);
        assert_eq!(a.apply(&CardChanges::default()), a);
    }

    // ---- properties ----

    const TAG_POOL: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

    fn arb_tags() -> impl Strategy<Value = Vec<String>> {
        // Unique tags (the protocol refuses duplicates), in random order.
        proptest::sample::subsequence(TAG_POOL.to_vec(), 0..=TAG_POOL.len())
            .prop_shuffle()
            .prop_map(|v| v.into_iter().map(String::from).collect())
    }

    fn arb_body() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("one\ntwo\nthree\n".to_string()),
            Just("one\nTWO\nthree\n".to_string()),
            Just("one\ntwo\nthree\nfour\n".to_string()),
            Just("zero\none\ntwo\nthree\n".to_string()),
            Just("one\nthree\n".to_string()),
            Just("one\ntwo\nthree".to_string()),
            Just("other".to_string()),
        ]
    }

    fn arb_fields() -> impl Strategy<Value = CardFields> {
        (
            prop::sample::select(vec!["t1", "t2", "t3"]),
            arb_body(),
            prop::option::of(prop::sample::select(vec!["https://a", "https://b"])),
            arb_tags(),
            prop::sample::select(vec!["inbox", "doing", "done"]),
            prop::sample::select(vec![0.0f64, 1.0, 2.5]),
            any::<bool>(),
        )
            .prop_map(
                |(title, body, url, tags, lane, position, pinned)| CardFields {
                    title: title.into(),
                    body,
                    url: url.map(String::from),
                    tags,
                    lane: lane.into(),
                    position,
                    pinned,
                    link_meta: None,
                },
            )
    }

    /// Copy field `i` (protocol order) from `src` into `dst`.
    fn copy_field(dst: &mut CardFields, src: &CardFields, i: usize) {
        match i {
            0 => dst.title = src.title.clone(),
            1 => dst.body = src.body.clone(),
            2 => dst.url = src.url.clone(),
            3 => dst.tags = src.tags.clone(),
            4 => dst.lane = src.lane.clone(),
            5 => dst.position = src.position,
            6 => dst.pinned = src.pinned,
            _ => unreachable!(),
        }
    }

    fn set_of(v: &[String]) -> HashSet<String> {
        v.iter().cloned().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_unchanged_mine_takes_theirs(b in arb_fields(), t in arb_fields()) {
            let out = merge3(&b, &b, &t);
            prop_assert!(out.is_clean());
            prop_assert_eq!(out.merged, t);
        }

        #[test]
        fn prop_unchanged_theirs_keeps_mine(b in arb_fields(), m in arb_fields()) {
            let out = merge3(&b, &m, &b);
            prop_assert!(out.is_clean());
            prop_assert_eq!(out.merged, m);
        }

        #[test]
        fn prop_same_edit_both_sides(b in arb_fields(), x in arb_fields()) {
            let out = merge3(&b, &x, &x);
            prop_assert!(out.is_clean());
            prop_assert_eq!(out.merged, x);
        }

        #[test]
        fn prop_conflict_sets_symmetric(b in arb_fields(), m in arb_fields(), t in arb_fields()) {
            let mt = merge3(&b, &m, &t);
            let tm = merge3(&b, &t, &m);
            prop_assert_eq!(&mt.conflicting, &tm.conflicting);
            // Conflicting fields hold mine's value; names are valid and in protocol order.
            let order: Vec<usize> = mt.conflicting.iter()
                .map(|f| FIELDS.iter().position(|n| n == f).expect("known field"))
                .collect();
            prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
            let d = diff(&m, &mt.merged);
            for f in &mt.conflicting {
                prop_assert!(!d.field_names().contains(&f.as_str()), "{} not mine's value", f);
            }
            // Tag sets agree whichever side is "mine".
            prop_assert_eq!(set_of(&mt.merged.tags), set_of(&tm.merged.tags));
        }

        #[test]
        fn prop_disjoint_changes_never_conflict(
            b in arb_fields(), m in arb_fields(), t in arb_fields(), mask in 0u8..128,
        ) {
            let (mut m2, mut t2) = (b.clone(), b.clone());
            for i in 0..7 {
                if mask & (1 << i) != 0 { copy_field(&mut m2, &m, i) } else { copy_field(&mut t2, &t, i) }
            }
            let out = merge3(&b, &m2, &t2);
            prop_assert!(out.is_clean(), "{:?}", out.conflicting);
            // Each field comes from the side that owns it.
            let mut expected = b.clone();
            for i in 0..7 {
                copy_field(&mut expected, if mask & (1 << i) != 0 { &m2 } else { &t2 }, i);
            }
            prop_assert_eq!(out.merged, expected);
        }

        #[test]
        fn prop_tags_union_and_removal(bt in arb_tags(), mt in arb_tags(), tt in arb_tags()) {
            let mut b = base();
            b.tags = bt;
            let (mut m, mut t) = (b.clone(), b.clone());
            m.tags = mt;
            t.tags = tt;
            let out = merge3(&b, &m, &t);
            prop_assert!(out.is_clean());
            let merged = &out.merged.tags;
            let (bs, ms, ts) = (set_of(&b.tags), set_of(&m.tags), set_of(&t.tags));
            // No duplicates.
            prop_assert_eq!(set_of(merged).len(), merged.len());
            // Added by either side: kept. Base tag: kept iff both sides kept it.
            let expected: HashSet<String> = ms.union(&ts)
                .filter(|x| !bs.contains(*x) || (ms.contains(*x) && ts.contains(*x)))
                .cloned()
                .collect();
            prop_assert_eq!(set_of(merged), expected);
            // Stable order: mine's surviving tags first, in mine's order (when mine edited
            // tags; an untouched side takes the other side's list as is).
            prop_assume!(m.tags != b.tags);
            let mine_kept: Vec<&String> = m.tags.iter().filter(|x| merged.contains(x)).collect();
            let prefix: Vec<&String> = merged.iter().take(mine_kept.len()).collect();
            prop_assert_eq!(prefix, mine_kept);
        }

        #[test]
        fn prop_body_disjoint_line_edits_merge(
            n in 0usize..12, i in 0usize..10, gap in 2usize..6, trailing_newline in any::<bool>(),
        ) {
            // Lines i and j = i + gap (at least one untouched line between), n lines in all.
            let j = i + gap;
            let n = n.max(j + 1);
            let lines: Vec<String> = (0..n).map(|k| format!("line {k}")).collect();
            let join = |v: &[String]| {
                let s = v.join("\n");
                if trailing_newline { s + "\n" } else { s }
            };
            let mut b = base();
            b.body = join(&lines);
            let (mut m, mut t) = (b.clone(), b.clone());
            let mut ml = lines.clone();
            ml[i] = "mine edit".into();
            m.body = join(&ml);
            let mut tl = lines.clone();
            tl[j] = "their edit".into();
            t.body = join(&tl);
            let out = merge3(&b, &m, &t);
            prop_assert!(out.is_clean(), "{:?}", out.conflicting);
            prop_assert!(out.merged.body.contains("mine edit"));
            prop_assert!(out.merged.body.contains("their edit"));
            let mut both = lines.clone();
            both[i] = "mine edit".into();
            both[j] = "their edit".into();
            prop_assert_eq!(&out.merged.body, &join(&both));
            // Same result with the sides swapped.
            prop_assert_eq!(merge3(&b, &t, &m).merged.body, out.merged.body);
        }

        #[test]
        fn prop_diff_apply_round_trip(a in arb_fields(), b in arb_fields()) {
            let d = diff(&a, &b);
            prop_assert_eq!(a.apply(&d), b.clone());
            prop_assert_eq!(d.is_empty(), a == b);
        }
    }
}
