//! Model-based test of the outbox against a reference server (docs/sync-engine.md, "Rules").
//!
//! Random sequences of local edits, sends, lost answers, refused connections, remote edits,
//! pulls and conflict resolutions (including edits made while a conflict is open and resolutions
//! made while later edits are queued) run against the real store code and a model server that
//! applies requests exactly as the protocol says (base version check, 409 with `current`,
//! idempotent replay by key). At quiescence the oracle checks:
//! - convergence: the local card equals the server's, nothing is queued, no conflict is open;
//! - no silent overwrite: every change a request of this device made to a field (each body line
//!   counts as a field) is what the user last decided for that field when the request was made,
//!   and the value it replaced is one the user was shown (the edit was made on it, or a conflict
//!   showed it).
//!
//! `oracle_catches_a_request_that_overrides_a_resolution` shows the oracle failing on a planted
//! history (the lost update of issue scenario 1).

use std::collections::HashMap;

use chrono::Utc;
use deckhand_protocol::{Card, CardChanges};
use proptest::prelude::*;
use rusqlite::Connection;
use uuid::Uuid;

use super::apply::{self, ConflictOutcome};
use super::outbox::{self, Op, OpPayload, Prepared};
use super::{Store, cards, conflicts, remote, writes};
use crate::merge::diff;
use crate::model::{CardFields, OpError, OpState, Priority, Resolution};

const LINES: usize = 4;
/// Field slots the oracle tracks: title, lane, pinned, and each body line.
const SLOTS: usize = 3 + LINES;

fn slots_of(f: &CardFields) -> [String; SLOTS] {
    let lines: Vec<&str> = f.body.split_terminator('\n').collect();
    let line = |i: usize| lines.get(i).map(|s| s.to_string()).unwrap_or_default();
    [f.title.clone(), f.lane.clone(), f.pinned.to_string(), line(0), line(1), line(2), line(3)]
}

/// One field change: slot and the index of the value in that slot's small pool (small pools make
/// equal values — and ABA histories — likely).
#[derive(Debug, Clone)]
struct Change {
    slot: usize,
    value: u8,
}

fn value_for(slot: usize, v: u8) -> String {
    match slot {
        0 => format!("title {v}"),
        1 => ["inbox", "doing", "done"][v as usize % 3].to_string(),
        2 => (v % 2 == 1).to_string(),
        _ => format!("line {} v{v}", slot - 3),
    }
}

/// `changes` applied to `f` (the slots they name).
fn with(f: &CardFields, changes: &[Change]) -> CardFields {
    let mut s = slots_of(f);
    for c in changes {
        s[c.slot] = value_for(c.slot, c.value);
    }
    CardFields {
        title: s[0].clone(),
        lane: s[1].clone(),
        pinned: s[2] == "true",
        body: s[3..].iter().map(|l| format!("{l}\n")).collect(),
        ..f.clone()
    }
}

#[derive(Debug, Clone)]
enum Action {
    Edit(Vec<Change>),
    /// Claim the card's head op and send it; the answer arrives.
    Send,
    /// Sent; the server applied it; the answer was lost.
    SendLostAnswer,
    /// Connection refused: the request never left.
    SendRefused,
    RemoteEdit(Vec<Change>),
    Pull,
    /// 0 keep mine, 1 keep theirs, 2 merged (per slot: mine or theirs by the bit).
    Resolve(u8, u8),
}

fn changes() -> impl Strategy<Value = Vec<Change>> {
    prop::collection::vec((0..SLOTS, 0u8..3).prop_map(|(slot, value)| Change { slot, value }), 1..3)
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => changes().prop_map(Action::Edit),
        3 => Just(Action::Send),
        1 => Just(Action::SendLostAnswer),
        1 => Just(Action::SendRefused),
        2 => changes().prop_map(Action::RemoteEdit),
        2 => Just(Action::Pull),
        2 => (0u8..3, any::<u8>()).prop_map(|(c, m)| Action::Resolve(c, m)),
    ]
}

/// What the user of this device did, for the oracle.
#[derive(Debug, Clone)]
struct UserAct {
    step: usize,
    /// Slots the act decided (an edit: the slots it changed; a resolution: every slot).
    decided: Vec<usize>,
    /// Values the user saw for each slot (an edit: the card as shown; a resolution: mine, theirs).
    saw: Vec<[String; SLOTS]>,
    after: [String; SLOTS],
}

/// A change a request of this device made on the server.
#[derive(Debug, Clone)]
struct Transition {
    slot: usize,
    from: String,
    to: String,
    /// When the request's content was decided (its first claim).
    decided_at: usize,
}

/// The reference server: one card, versions, idempotent replay by key.
struct ModelServer {
    card: Card,
    replies: HashMap<String, Result<Card, Card>>,
    transitions: Vec<Transition>,
}

impl ModelServer {
    /// A request: `Ok(new card)` or `Err(current)` (409). Replays under the same key.
    fn apply(&mut self, key: &str, base_version: i64, changes: &CardChanges, decided_at: usize) -> Result<Card, Card> {
        if let Some(r) = self.replies.get(key) {
            return r.clone();
        }
        let r = if base_version != self.card.version {
            Err(self.card.clone())
        } else {
            let before = slots_of(&CardFields::from_card(&self.card));
            changes.apply_to(&mut self.card);
            self.card.version += 1;
            let after = slots_of(&CardFields::from_card(&self.card));
            for slot in 0..SLOTS {
                if before[slot] != after[slot] {
                    self.transitions.push(Transition { slot, from: before[slot].clone(), to: after[slot].clone(), decided_at });
                }
            }
            Ok(self.card.clone())
        };
        // Refusals are not stored under the key (protocol: they re-evaluate on retry).
        if r.is_ok() {
            self.replies.insert(key.to_string(), r.clone());
        }
        r
    }

    fn remote_edit(&mut self, changes: &[Change]) {
        let f = with(&CardFields::from_card(&self.card), changes);
        diff(&CardFields::from_card(&self.card), &f).apply_to(&mut self.card);
        self.card.version += 1;
    }
}

struct World {
    store: Store,
    id: Uuid,
    server: ModelServer,
    acts: Vec<UserAct>,
    /// Idempotency key → the step its request got its content, and that content (a request that
    /// never left may still change under its key; one that may have left never does).
    decided: HashMap<String, (usize, String)>,
    step: usize,
}

fn initial_card(id: Uuid) -> Card {
    let f = with(
        &CardFields { title: String::new(), body: String::new(), url: None, tags: vec![], lane: "inbox".into(), position: 1.0, pinned: false, link_meta: None },
        &(0..SLOTS).map(|slot| Change { slot, value: 0 }).collect::<Vec<_>>(),
    );
    Card {
        id,
        title: f.title,
        body: f.body,
        url: None,
        tags: vec![],
        lane: f.lane,
        position: 1.0,
        pinned: f.pinned,
        version: 1,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        deleted: false,
        link_meta: None,
    }
}

impl World {
    fn new() -> World {
        let store = Store::open_in_memory().unwrap();
        let id = Uuid::now_v7();
        let card = initial_card(id);
        store.write(|tx| remote::apply_remote(tx, &card, Some(1)).map(|_| ())).unwrap();
        World { store, id, server: ModelServer { card, replies: HashMap::new(), transitions: Vec::new() }, acts: Vec::new(), decided: HashMap::new(), step: 0 }
    }

    fn local(&self) -> CardFields {
        self.store.read(|c| cards::get_local(c, self.id)).unwrap().unwrap().fields
    }

    fn edit(&mut self, ch: &[Change]) {
        let before = self.local();
        let after = with(&before, ch);
        let changes = diff(&before, &after);
        if changes.is_empty() {
            return;
        }
        let id = self.id;
        self.store.write(|tx| writes::update(tx, id, &changes, Priority::Normal)).unwrap();
        let (b, a) = (slots_of(&before), slots_of(&after));
        let decided = (0..SLOTS).filter(|s| b[*s] != a[*s]).collect();
        self.acts.push(UserAct { step: self.step, decided, saw: vec![b], after: a });
    }

    /// Claim the head op the way the drain does (prepare + mark in flight). `None`: nothing to send.
    fn claim(&mut self) -> Option<Op> {
        let id = self.id;
        let step = self.step;
        let op = self
            .store
            .write(|tx| {
                let Some(mut op) = outbox::ready_heads(tx, i64::MAX, 10)?.into_iter().find(|o| o.card_id == id) else { return Ok(None) };
                let conf = remote::confirmed(tx, id)?;
                match outbox::prepare(tx, &mut op, conf.as_ref())? {
                    Prepared::Send => {
                        outbox::mark_in_flight(tx, op.op_id)?;
                        Ok(Some(op))
                    }
                    Prepared::Done | Prepared::Conflict(_) => Ok(None),
                }
            })
            .unwrap()?;
        let content = format!("{:?} @ {:?}", op.payload, op.base_version);
        let entry = self.decided.entry(op.idempotency_key.clone()).or_insert((step, content.clone()));
        if entry.1 != content {
            *entry = (step, content);
        }
        Some(op)
    }

    fn request(&mut self, op: &Op) -> Result<Card, Card> {
        let decided_at = self.decided[&op.idempotency_key].0;
        match &op.payload {
            OpPayload::Update(ch) => self.server.apply(&op.idempotency_key, op.base_version.expect("a pinned base"), ch, decided_at),
            other => panic!("the model only edits: {other:?}"),
        }
    }

    fn answer(&mut self, op: &Op, answer: Result<Card, Card>) {
        self.store
            .write(|tx| {
                match &answer {
                    Ok(card) => {
                        apply::succeeded(tx, op, card)?;
                    }
                    Err(current) => {
                        let _: ConflictOutcome = apply::version_conflict(tx, op, current)?;
                    }
                }
                Ok(())
            })
            .unwrap();
    }

    fn retry_later(&mut self, op: &Op, never_left: bool) {
        let err = OpError { code: "x".into(), message: "x".into(), status: None };
        self.store.write(|tx| apply::retry_later(tx, op, 0, &err, never_left)).unwrap();
    }

    fn pull(&mut self) {
        let card = self.server.card.clone();
        self.store.write(|tx| remote::apply_remote(tx, &card, None).map(|_| ())).unwrap();
    }

    fn resolve(&mut self, choice: u8, mask: u8) {
        let id = self.id;
        let Some((rec, _)) = self.store.read(|c| conflicts::get(c, id)).unwrap() else { return };
        let (mine, theirs) = (slots_of(&rec.mine), slots_of(&CardFields::from_card(&rec.theirs)));
        let (resolution, after) = match choice {
            0 => (Resolution::KeepMine, mine.clone()),
            1 => (Resolution::KeepTheirs, theirs.clone()),
            _ => {
                // Per slot, theirs where the mask's bit is set, else mine.
                let picks: Vec<Change> = Vec::new();
                let mut s = mine.clone();
                for slot in 0..SLOTS {
                    if mask & (1 << slot) != 0 {
                        s[slot] = theirs[slot].clone();
                    }
                }
                let f = CardFields { title: s[0].clone(), lane: s[1].clone(), pinned: s[2] == "true", body: s[3..].iter().map(|l| format!("{l}\n")).collect(), ..with(&rec.mine, &picks) };
                (Resolution::Merged { fields: f }, s)
            }
        };
        self.store.write(|tx| writes::resolve(tx, id, &resolution).map(|_| ())).unwrap();
        self.acts.push(UserAct { step: self.step, decided: (0..SLOTS).collect(), saw: vec![mine, theirs], after });
    }

    fn run(&mut self, a: &Action) {
        self.step += 1;
        match a {
            Action::Edit(ch) => self.edit(ch),
            Action::Send => {
                if let Some(op) = self.claim() {
                    let r = self.request(&op);
                    self.answer(&op, r);
                }
            }
            Action::SendLostAnswer => {
                if let Some(op) = self.claim() {
                    let _ = self.request(&op);
                    self.retry_later(&op, false);
                }
            }
            Action::SendRefused => {
                if let Some(op) = self.claim() {
                    self.retry_later(&op, true);
                }
            }
            Action::RemoteEdit(ch) => self.server.remote_edit(ch),
            Action::Pull => self.pull(),
            Action::Resolve(c, m) => self.resolve(*c, *m),
        }
    }

    /// No more faults: pull, send, resolve (keep mine) until nothing is left.
    fn quiesce(&mut self) {
        for _ in 0..200 {
            self.step += 1;
            self.pull();
            if self.store.read(|c| conflicts::count(c)).unwrap() > 0 {
                self.resolve(0, 0);
                continue;
            }
            match self.claim() {
                Some(op) => {
                    let r = self.request(&op);
                    self.answer(&op, r);
                }
                None => {
                    let id = self.id;
                    let left = self.store.read(|c| outbox::for_card(c, id)).unwrap();
                    if left.is_empty() {
                        return;
                    }
                    assert!(left.iter().all(|o| o.state != OpState::InFlight), "an op stuck in flight: {left:?}");
                }
            }
        }
        panic!("no quiescence after 200 rounds");
    }
}

/// The oracle (see the module doc). Returns the violations, each with the slot and the writes.
/// A request may write any value the user decided for the field since their last conflict
/// resolution (queued edits replay the user's history in order); it may never write a value a
/// resolution (or a later edit after it) replaced, and the value it replaces must be one the user
/// was shown.
fn violations(transitions: &[Transition], acts: &[UserAct]) -> Vec<String> {
    let mut out = Vec::new();
    for t in transitions {
        let known: Vec<&UserAct> = acts.iter().filter(|a| a.step <= t.decided_at && a.decided.contains(&t.slot)).collect();
        if known.is_empty() {
            out.push(format!("slot {}: {:?} -> {:?} sent with no user decision on it", t.slot, t.from, t.to));
            continue;
        }
        // Since the last resolution (which decides every field), or all of them.
        let since = known.iter().rposition(|a| a.saw.len() > 1).unwrap_or(0);
        let live = &known[since..];
        if !live.iter().any(|a| a.after[t.slot] == t.to) {
            let last = known.last().expect("not empty");
            out.push(format!(
                "slot {}: request decided at step {} wrote {:?}, which the user replaced (last decision, step {}: {:?})",
                t.slot, t.decided_at, t.to, last.step, last.after[t.slot]
            ));
        }
        if !known.iter().any(|a| a.saw.iter().any(|s| s[t.slot] == t.from)) {
            out.push(format!("slot {}: {:?} overwritten by {:?} though the user was never shown it (silent overwrite)", t.slot, t.from, t.to));
        }
    }
    out
}

fn check(actions: &[Action]) -> Result<(), TestCaseError> {
    let mut w = World::new();
    for a in actions {
        w.run(a);
    }
    w.quiesce();
    let local = w.local();
    prop_assert_eq!(&local, &CardFields::from_card(&w.server.card), "converged");
    let id = w.id;
    prop_assert!(w.store.read(|c: &Connection| outbox::for_card(c, id)).unwrap().is_empty());
    let v = violations(&w.server.transitions, &w.acts);
    prop_assert!(v.is_empty(), "violations: {:#?}\nactions: {:#?}", v, actions);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 2000, ..ProptestConfig::default() })]
    #[test]
    fn the_outbox_never_loses_an_edit(actions in prop::collection::vec(action(), 1..40)) {
        check(&actions)?;
    }
}

/// A history another run found (a lost answer, then edits and remote edits around it).
#[test]
fn a_lost_answer_between_remote_edits_loses_nothing() {
    let c = |slot: usize, value: u8| vec![Change { slot, value }];
    let actions = [
        Action::Edit(c(5, 1)),
        Action::RemoteEdit(c(0, 0)),
        Action::SendLostAnswer,
        Action::Edit(c(1, 2)),
        Action::RemoteEdit(c(1, 1)),
        Action::Send,
        Action::Edit(c(5, 0)),
        Action::RemoteEdit(c(6, 1)),
    ];
    check(&actions).unwrap();
}

#[test]
fn oracle_catches_a_request_that_overrides_a_resolution() {
    // Scenario 1 as a history: the user saw B1 (theirs) and chose it; a request decided after
    // that still wrote the earlier "A2".
    let s = |t: &str| -> [String; SLOTS] { std::array::from_fn(|i| if i == 0 { t.to_string() } else { String::new() }) };
    let acts = vec![
        UserAct { step: 1, decided: vec![0], saw: vec![s("v1")], after: s("A1") },
        UserAct { step: 3, decided: vec![0], saw: vec![s("A1")], after: s("A2") },
        UserAct { step: 4, decided: (0..SLOTS).collect(), saw: vec![s("A2"), s("B1")], after: s("B1") },
    ];
    let bad = [Transition { slot: 0, from: "B1".into(), to: "A2".into(), decided_at: 5 }];
    assert_eq!(violations(&bad, &acts).len(), 1, "{:?}", violations(&bad, &acts));
    // A silent overwrite: a request replaced a value the user never saw.
    let unseen = [Transition { slot: 0, from: "B1".into(), to: "A1".into(), decided_at: 2 }];
    assert!(violations(&unseen, &acts).iter().any(|v| v.contains("silent overwrite")));
    // What the engine does: the resolution's choice (nothing sent), or mine after being shown B1.
    let ok = [Transition { slot: 0, from: "B1".into(), to: "A2".into(), decided_at: 4 }];
    assert_eq!(violations(&ok, &acts[..2]).len(), 1, "without the resolution B1 was never shown");
    let keep_mine = vec![acts[0].clone(), acts[1].clone(), UserAct { after: s("A2"), ..acts[2].clone() }];
    assert!(violations(&ok, &keep_mine).is_empty());
}
