//! Undo/redo against a small reference model (proptest): random edits of a card's fields by the
//! user (recorded), changes not on the stack (another device's, pulled), undos and redos. After
//! each step the card, what was skipped and both stack depths match the model's rule: a field
//! goes back only while it still holds what the undone action set.

use std::collections::BTreeMap;

use deckhand_core::model::{NewCardInput, Priority};
use deckhand_core::store::{Store, writes};
use deckhand_core::undo::{UndoDirection, UndoEffect, apply, stack};
use deckhand_protocol::CardChanges;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// The user sets a field (recorded as an undo step).
    Edit(&'static str, u8),
    /// Someone else sets a field (not on the stack).
    Other(&'static str, u8),
    Undo,
    Redo,
}

fn step() -> impl Strategy<Value = Step> {
    let field = prop_oneof![Just("title"), Just("body"), Just("lane")];
    prop_oneof![
        3 => (field.clone(), 0u8..3).prop_map(|(f, v)| Step::Edit(f, v)),
        1 => (field, 0u8..3).prop_map(|(f, v)| Step::Other(f, v)),
        2 => Just(Step::Undo),
        1 => Just(Step::Redo),
    ]
}

type Fields = BTreeMap<&'static str, String>;
struct ModelStep {
    before: Fields,
    after: Fields,
}

#[derive(Default)]
struct Model {
    card: Fields,
    undo: Vec<ModelStep>,
    redo: Vec<ModelStep>,
}

impl Model {
    /// Undo/redo the top step of `from`; returns the fields skipped.
    fn run(&mut self, direction: UndoDirection) -> Option<Vec<&'static str>> {
        let st = match direction {
            UndoDirection::Undo => self.undo.pop()?,
            UndoDirection::Redo => self.redo.pop()?,
        };
        let (mut before, mut after, mut skipped) = (Fields::new(), Fields::new(), Vec::new());
        for (f, set) in &st.after {
            if &self.card[f] == set {
                before.insert(*f, set.clone());
                after.insert(*f, st.before[f].clone());
                self.card.insert(*f, st.before[f].clone());
            } else {
                skipped.push(*f);
            }
        }
        if !after.is_empty() {
            let done = ModelStep { before, after };
            match direction {
                UndoDirection::Undo => self.redo.push(done),
                UndoDirection::Redo => self.undo.push(done),
            }
        }
        Some(skipped)
    }
}

fn value(field: &str, v: u8) -> String {
    format!("{field}-{v}")
}

fn changes(field: &str, v: &str) -> CardChanges {
    let mut c = CardChanges::default();
    match field {
        "title" => c.title = Some(v.into()),
        "body" => c.body = Some(v.into()),
        _ => c.lane = Some(v.into()),
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn undo_follows_the_reference_model(steps in prop::collection::vec(step(), 1..40)) {
        let store = Store::open_in_memory().unwrap();
        let input = NewCardInput { title: value("title", 9), body: Some(value("body", 9)), lane: Some(value("lane", 9)), ..Default::default() };
        let id = store.write(|tx| writes::create(tx, &input)).unwrap();
        let mut m = Model::default();
        for f in ["title", "body", "lane"] {
            m.card.insert(f, value(f, 9));
        }
        for s in &steps {
            match s {
                Step::Edit(f, v) => {
                    let v = value(f, *v);
                    store.write(|tx| apply::tracked(tx, "edit", &[id], |tx| writes::update(tx, id, &changes(f, &v), Priority::Normal))).unwrap();
                    if m.card[f] != v {
                        m.undo.push(ModelStep { before: [(*f, m.card[f].clone())].into(), after: [(*f, v.clone())].into() });
                        m.redo.clear();
                        m.card.insert(*f, v);
                    }
                }
                Step::Other(f, v) => {
                    let v = value(f, *v);
                    store.write(|tx| writes::update(tx, id, &changes(f, &v), Priority::Normal)).unwrap();
                    m.card.insert(*f, v);
                }
                Step::Undo | Step::Redo => {
                    let d = if matches!(s, Step::Undo) { UndoDirection::Undo } else { UndoDirection::Redo };
                    let got = store.write(|tx| apply::run(tx, d)).unwrap();
                    let want = m.run(d);
                    match (got, want) {
                        (None, None) => {}
                        (Some(o), Some(skipped)) => {
                            let mut got_skipped: Vec<String> = o.skipped.iter().map(|k| k.field.clone().unwrap()).collect();
                            got_skipped.sort();
                            let mut want_skipped: Vec<String> = skipped.iter().map(|f| f.to_string()).collect();
                            want_skipped.sort();
                            prop_assert_eq!(got_skipped, want_skipped);
                            for a in &o.applied {
                                let edited = matches!(a.effect, UndoEffect::Edited { .. });
                                prop_assert!(edited, "{:?}", a);
                            }
                        }
                        (got, want) => prop_assert!(false, "engine {:?}, model {:?}", got, want),
                    }
                }
            }
            let local = store.read(|c| deckhand_core::store::cards::get_local(c, id)).unwrap().unwrap();
            prop_assert_eq!((&local.fields.title, &local.fields.body, &local.fields.lane), (&m.card["title"], &m.card["body"], &m.card["lane"]), "after {:?}", s);
            let st = store.read(stack::state).unwrap();
            prop_assert_eq!(st.redo_depth as usize, m.redo.len());
            prop_assert_eq!(st.undo_depth as usize, m.undo.len());
        }
    }
}
