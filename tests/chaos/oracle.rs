//! The model-checking oracle for "never lose an edit" (docs/reliability.md, "The oracle").
//!
//! Input: every client's journal (`deckhand-cli --journal`, one JSON line per create, edit,
//! delete and conflict resolution; see crates/cli/src/journal.rs) and the server's final state of
//! every card (tombstones included). At quiescence, per card and field:
//!
//! (a) explained: the final value is a value some client created, wrote or chose for that card —
//!     or, for `body`, a clean 3-way text merge (every line comes from a journaled body of the
//!     card), for `tags`, a set merge (every tag comes from a journaled tag set of the card);
//! (b) no silent overwrite: every journaled write w of value v on field f either survives in the
//!     final value (scalar: equal; body: v's added lines are all there and its removed lines are
//!     not; tags: the same with tags), or someone saw v before replacing it: an edit (any client)
//!     made on a view whose f held v and writing something that drops it, or a resolution that
//!     showed v as mine or theirs and chose something that drops it. Otherwise: a violation,
//!     printed with the card, the field, the lost write and the write that explains the final value.
//!     A removed tag or line that is back is fine when a write that had not seen w added it (the
//!     merges keep what either side added): w's removal was outvoted, not lost.
//!
//! Writes a client superseded itself before syncing (coalescing) are covered by the same rule: the
//! client's later edit was made on a view holding its own earlier value — or its later delete was
//! (the engine folds unsent edits into a delete; a delete sees only its own client's writes).
//!
//! Deleted cards: the server's tombstone must be explained by a journaled delete of that card.
//! Edits on a card that ends deleted are superseded by the delete by the documented rules
//! (docs/sync-engine.md: a delete answered 409 is retried against the current version — delete
//! wins; an edit that reaches a deleted card becomes an edit_vs_delete conflict for its author,
//! whose keep_mine/merged restores the card with its id). So the oracle does not require the
//! deleter to have seen them; it counts them.
//!
//! Lives: a restore (an edit_vs_delete resolution with `restored_as` = the card's own id) starts
//! the card's next life. A card that ends live after a restore is checked for its current life
//! only: writes journaled before the last delete that preceded the last restore were superseded
//! by that delete (counted, not required to survive; "before" is journal order within one client
//! — an edit and a delete in one CLI run share a millisecond, and the engine folds the unsent
//! edit into the delete — and the shared clock across clients); writes after it, and the restore
//! itself (a write of the chosen values on top of the tombstone it was shown), must survive or have been
//! seen — so a restore that drops the user's chosen values is a silent overwrite. An
//! edit_vs_delete resolution is also a sight: its author saw `mine` and `theirs` (the tombstone's
//! fields) and chose `chosen`, or the deletion (keep_theirs: nothing of `mine` kept). A restore
//! under a new id (older engines) is checked like a create with the chosen values.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use uuid::Uuid;

pub const FIELDS: [&str; 7] = ["title", "body", "url", "tags", "lane", "position", "pinned"];

/// One journal line, with where it came from.
#[derive(Clone, Debug)]
pub struct Entry {
    pub client: usize,
    /// 1-based line number in that client's journal.
    pub line: usize,
    pub v: Value,
}

impl Entry {
    fn kind(&self) -> &str {
        self.v["kind"].as_str().unwrap_or("?")
    }
    fn card(&self) -> Option<Uuid> {
        self.v["card"].as_str().and_then(|s| s.parse().ok())
    }
    fn at(&self) -> String {
        format!("client {} journal line {}", self.client, self.line)
    }
    fn ms(&self) -> u64 {
        self.v["at"].as_u64().unwrap_or(0)
    }
    fn pos(&self) -> Pos {
        Pos { ms: self.ms(), client: self.client, line: self.line }
    }
}

pub fn load(client: usize, path: &Path) -> Result<Vec<Entry>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map(|v| Entry { client, line: i + 1, v }).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1)))
        .collect()
}

/// A write of one field: the value, and what the writer's view held before (to tell what the
/// write added and removed).
#[derive(Clone, Debug)]
struct Write {
    value: Value,
    before: Option<Value>,
    by: String,
    what: &'static str,
    /// Where it was journaled: names the likely overwriter in a violation, and places the write
    /// before or after a delete.
    pos: Pos,
}

/// A journal entry's place in time: Unix ms (one machine clock for all clients), client, line.
/// One client's journal is in order, but its lines share a ms (an edit and a delete in one CLI
/// run: the delete supersedes the edit, which the engine then never sends).
#[derive(Clone, Copy, Debug)]
struct Pos {
    ms: u64,
    client: usize,
    line: usize,
}

impl Pos {
    /// Journaled before `o`: the same client's journal order, else (one machine clock for all
    /// clients) an earlier ms; a tie across clients is not "before" (the write is then checked).
    fn before(self, o: Pos) -> bool {
        if self.client == o.client { self.line < o.line } else { self.ms < o.ms }
    }
}

/// Something a client saw on field f and what it put there instead (`None`: it chose the card's
/// deletion, keeping nothing of what it saw).
struct Sight {
    shown: Vec<Value>,
    replaced_by: Option<Value>,
    /// A delete sees only its own client's writes: the unsent edits the engine folds into it.
    /// Another client's write it saw reached the server, so the tombstone carries it and whoever
    /// restores is shown it (an edit_vs_delete resolution); a blind overwrite of it before the
    /// delete stays a violation.
    only_client: Option<usize>,
}

impl Sight {
    fn drops(&self, f: &str, w: &Write) -> bool {
        self.only_client.is_none_or(|c| c == w.pos.client)
            && self.shown.iter().any(|v| preserves(f, w, v)) && self.replaced_by.as_ref().is_none_or(|r| !preserves(f, w, r))
    }
}

fn elems(f: &str, v: &Value) -> BTreeSet<String> {
    match f {
        "body" => v.as_str().unwrap_or("").lines().map(str::to_string).collect(),
        _ => v.as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect(),
    }
}

/// Does `x` (a value of field f) still carry the effect of write `w`?
fn preserves(f: &str, w: &Write, x: &Value) -> bool {
    match f {
        "body" | "tags" => {
            let v = elems(f, &w.value);
            let before = w.before.as_ref().map(|b| elems(f, b)).unwrap_or_default();
            let have = elems(f, x);
            v.difference(&before).all(|e| have.contains(e)) && before.difference(&v).all(|e| !have.contains(e))
        }
        _ => &w.value == x,
    }
}

/// Does `x` carry w's effect once concurrent adds are allowed for? The tag and body merges keep
/// an element that either side added (docs: "a new tag added by either side is kept"), so w's
/// removal of e may be outvoted by a write that added e without having seen w: one journaled at or
/// after w, or one whose effect w's view did not hold (a queued op, sent after w). Every element w
/// added must still be there, and every removed element that is back must have such an adder.
fn survives_concurrent_adds(f: &str, w: &Write, x: &Value, all: &[Write]) -> bool {
    if !matches!(f, "body" | "tags") {
        return false;
    }
    let Some(w_before) = w.before.as_ref() else { return false };
    let v = elems(f, &w.value);
    let before = elems(f, w_before);
    let have = elems(f, x);
    let is_w = |o: &Write| o.pos.client == w.pos.client && o.pos.line == w.pos.line;
    let added_blind = |e: &String| {
        all.iter().any(|o| {
            let Some(ob) = o.before.as_ref() else { return false };
            !is_w(o)
                && !elems(f, ob).contains(e)
                && elems(f, &o.value).contains(e)
                && (!o.pos.before(w.pos) || !preserves(f, o, w_before))
        })
    };
    v.difference(&before).all(|e| have.contains(e)) && before.difference(&v).filter(|e| have.contains(*e)).all(added_blind)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 90 { format!("{}…", s.chars().take(90).collect::<String>()) } else { s }
}

fn describe(w: &Write) -> String {
    let made_on = w.before.as_ref().map(|b| format!(" (made on {})", short(b))).unwrap_or_default();
    format!("{} {} {}{made_on}", w.by, w.what, short(&w.value))
}

#[derive(Default, Debug)]
pub struct Report {
    pub entries: usize,
    pub creates: usize,
    pub edits: usize,
    pub edits_while_conflict_open: usize,
    /// Edits whose confirmed base moved between the journal's read and the write (see
    /// docs/reliability.md: the journal's blind spot until the engine takes the edit's version).
    pub edits_base_moved: usize,
    pub deletes: usize,
    pub resolutions: BTreeMap<String, usize>,
    /// Resolutions made after their client edited the card while the conflict was open.
    pub resolutions_after_edits_in_conflict: usize,
    /// ... of which the card still had more than the parked op queued (engines that do not fold
    /// such edits into the conflict's `mine`).
    pub resolutions_with_queued_edits: usize,
    pub restores: usize,
    pub live_cards_checked: usize,
    pub field_writes_checked: usize,
    pub field_writes_surviving: usize,
    pub field_writes_seen_and_replaced: usize,
    /// Writes whose removal of a tag or line was outvoted by a concurrent add of it (the set and
    /// line merges keep what either side added); everything else of the write survives.
    pub field_writes_removal_outvoted: usize,
    pub writes_superseded_by_delete: usize,
    pub tombstones_checked: usize,
    pub violations: Vec<String>,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "journal entries {} (creates {}, edits {} of which {} made while the card's conflict was open and {} with a base that moved under the read, deletes {}, resolutions {:?} of which {} made after edits while the conflict was open ({} with those edits queued as separate ops), restores {}); \
             live cards checked {}, field writes checked {} (surviving {}, seen and replaced {}, a removal outvoted by a concurrent add {}), writes superseded by a delete {}, tombstones checked {}; violations {}",
            self.entries,
            self.creates,
            self.edits,
            self.edits_while_conflict_open,
            self.edits_base_moved,
            self.deletes,
            self.resolutions,
            self.resolutions_after_edits_in_conflict,
            self.resolutions_with_queued_edits,
            self.restores,
            self.live_cards_checked,
            self.field_writes_checked,
            self.field_writes_surviving,
            self.field_writes_seen_and_replaced,
            self.field_writes_removal_outvoted,
            self.writes_superseded_by_delete,
            self.tombstones_checked,
            self.violations.len()
        )
    }
}

static NULL: Value = Value::Null;

fn field<'a>(m: &'a Value, f: &str) -> &'a Value {
    m.get(f).unwrap_or(&NULL)
}

/// Check the journals of all clients against the server's final state of every card
/// (`/v1/changes?since=0`, tombstones included).
pub fn check(journals: &[Vec<Entry>], server: &BTreeMap<Uuid, Value>) -> Report {
    let mut r = Report::default();
    let mut writes: BTreeMap<(Uuid, &str), Vec<Write>> = BTreeMap::new();
    let mut sights: BTreeMap<(Uuid, &str), Vec<Sight>> = BTreeMap::new();
    let mut deleted_by: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    // Card → journal places of its deletes and of its restores (same id).
    let mut delete_times: BTreeMap<Uuid, Vec<Pos>> = BTreeMap::new();
    let mut restore_times: BTreeMap<Uuid, Vec<Pos>> = BTreeMap::new();
    let mut journaled: BTreeSet<Uuid> = BTreeSet::new();

    // (client, card) → edited while its conflict was open, since the client's last resolution.
    let mut edited_in_conflict: BTreeSet<(usize, Uuid)> = BTreeSet::new();
    for e in journals.iter().flatten() {
        r.entries += 1;
        let Some(card) = e.card() else {
            r.violations.push(format!("{}: journal entry without a card id: {}", e.at(), e.v));
            continue;
        };
        journaled.insert(card);
        match e.kind() {
            "create" => {
                r.creates += 1;
                for f in FIELDS {
                    writes.entry((card, f)).or_default().push(Write { value: field(&e.v["wrote"], f).clone(), before: None, by: e.at(), what: "created", pos: e.pos() });
                }
            }
            "edit" => {
                r.edits += 1;
                if e.v["before"]["sync_state"] == "conflict" {
                    r.edits_while_conflict_open += 1;
                    edited_in_conflict.insert((e.client, card));
                }
                r.edits_base_moved += usize::from(e.v["before"].get("base_moved_to").is_some());
                for (f, v) in e.v["wrote"].as_object().into_iter().flatten() {
                    let Some(f) = FIELDS.iter().copied().find(|x| *x == f.as_str()) else { continue };
                    let before = field(&e.v["before"], f).clone();
                    writes.entry((card, f)).or_default().push(Write { value: v.clone(), before: Some(before.clone()), by: e.at(), what: "wrote", pos: e.pos() });
                    sights.entry((card, f)).or_default().push(Sight { shown: vec![before], replaced_by: Some(v.clone()), only_client: None });
                }
            }
            "delete" => {
                r.deletes += 1;
                deleted_by.entry(card).or_default().push(e.at());
                delete_times.entry(card).or_default().push(e.pos());
                // The deleter saw its view and chose the deletion: its own edits in that view are
                // seen and dropped, even when the delete meets a tombstone (410: done) and a
                // restore made elsewhere brings the card back without them.
                for f in FIELDS {
                    sights.entry((card, f)).or_default().push(Sight { shown: vec![field(&e.v["before"], f).clone()], replaced_by: None, only_client: Some(e.client) });
                }
            }
            "resolve" => {
                let choice = format!("{}/{}", e.v["conflict"].as_str().unwrap_or("?"), e.v["choice"].as_str().unwrap_or("?"));
                *r.resolutions.entry(choice).or_default() += 1;
                if edited_in_conflict.remove(&(e.client, card)) {
                    r.resolutions_after_edits_in_conflict += 1;
                    r.resolutions_with_queued_edits += usize::from(e.v["queued"].as_u64().unwrap_or(0) > 1);
                }
                let chosen = &e.v["chosen"];
                let theirs = &e.v["theirs"];
                let restored: Option<Uuid> = e.v["restored_as"].as_str().and_then(|s| s.parse().ok());
                match restored {
                    // The card's next life: the chosen values written on top of the tombstone.
                    Some(same) if same == card => {
                        r.restores += 1;
                        restore_times.entry(card).or_default().push(e.pos());
                        for f in FIELDS {
                            let before = Some(field(theirs, f).clone());
                            writes.entry((card, f)).or_default().push(Write { value: field(chosen, f).clone(), before, by: e.at(), what: "restored", pos: e.pos() });
                        }
                    }
                    // An older engine's restore: a create under a new id with the chosen values.
                    Some(new_id) => {
                        r.restores += 1;
                        journaled.insert(new_id);
                        for f in FIELDS {
                            writes.entry((new_id, f)).or_default().push(Write { value: field(chosen, f).clone(), before: None, by: e.at(), what: "restored", pos: e.pos() });
                        }
                    }
                    None => {}
                }
                if e.v["conflict"] == "edit_vs_delete" {
                    // The resolver saw its own values and the tombstone's, and kept `chosen` (or
                    // nothing: the card stays deleted).
                    let kept = if chosen.is_object() { Some(chosen) } else { None };
                    for f in FIELDS {
                        let shown = vec![field(&e.v["mine"], f).clone(), field(theirs, f).clone()];
                        sights.entry((card, f)).or_default().push(Sight { shown, replaced_by: kept.map(|c| field(c, f).clone()), only_client: None });
                    }
                }
                if e.v["conflict"] == "fields" && chosen.is_object() {
                    for f in FIELDS {
                        let c = field(chosen, f);
                        // What the resolver re-sends: chosen fields that differ from theirs.
                        if c != field(theirs, f) {
                            writes.entry((card, f)).or_default().push(Write { value: c.clone(), before: Some(field(theirs, f).clone()), by: e.at(), what: "chose", pos: e.pos() });
                        }
                        sights.entry((card, f)).or_default().push(Sight { shown: vec![field(&e.v["mine"], f).clone(), field(theirs, f).clone()], replaced_by: Some(c.clone()), only_client: None });
                    }
                }
            }
            other => r.violations.push(format!("{}: unknown journal entry kind {other:?}", e.at())),
        }
    }

    for (id, card) in server {
        if card["deleted"] == true {
            r.tombstones_checked += 1;
            if !deleted_by.contains_key(id) {
                r.violations.push(format!("card {id}: deleted on the server but no client journaled a delete of it"));
            }
            r.writes_superseded_by_delete += FIELDS.iter().filter_map(|f| writes.get(&(*id, *f))).map(Vec::len).sum::<usize>();
            continue;
        }
        if !journaled.contains(id) {
            r.violations.push(format!("card {id}: live on the server but in no client's journal"));
            continue;
        }
        r.live_cards_checked += 1;
        // This life began at the last delete before the last restore; earlier writes were
        // superseded by that delete.
        let last_restore = restore_times.get(id).and_then(|rs| rs.iter().copied().max_by_key(|r| (r.ms, r.line)));
        let life_start = last_restore.and_then(|last| delete_times.get(id)?.iter().copied().filter(|d| !last.before(*d)).max_by_key(|d| (d.ms, d.line)));
        for f in FIELDS {
            let s = field(card, f);
            let all = writes.get(&(*id, f)).map(Vec::as_slice).unwrap_or(&[]);
            let (old, ws): (Vec<&Write>, Vec<&Write>) = all.iter().partition(|w| life_start.is_some_and(|d| w.pos.before(d)) && w.what != "restored");
            let superseded = old.iter().filter(|w| !preserves(f, w, s)).count();
            r.writes_superseded_by_delete += superseded;
            r.field_writes_checked += old.len() - superseded;
            r.field_writes_surviving += old.len() - superseded;
            let seen = sights.get(&(*id, f)).map(Vec::as_slice).unwrap_or(&[]);
            // (a) explained.
            let exact = all.iter().find(|w| &w.value == s);
            let explained = exact.is_some()
                || match f {
                    "body" | "tags" => {
                        let pool: BTreeSet<String> = all.iter().flat_map(|w| elems(f, &w.value)).collect();
                        elems(f, s).iter().all(|x| pool.contains(x))
                    }
                    _ => false,
                };
            if !explained {
                r.violations.push(format!("card {id} field {f}: final value {} is explained by no journal (no client created, wrote or chose it)", short(s)));
            }
            let explainer = exact.map(describe).unwrap_or_else(|| format!("a merge giving {}", short(s)));
            // (b) no silent overwrite.
            for &w in &ws {
                r.field_writes_checked += 1;
                if preserves(f, w, s) {
                    r.field_writes_surviving += 1;
                    continue;
                }
                if seen.iter().any(|x| x.drops(f, w)) {
                    r.field_writes_seen_and_replaced += 1;
                    continue;
                }
                if survives_concurrent_adds(f, w, s, all) {
                    r.field_writes_removal_outvoted += 1;
                    continue;
                }
                // The overwriter candidates: writes that drop w, made on a view without it — those
                // after w in time (first three), else (a queued op sent late) the last one before.
                let blind = |x: &&&Write| x.by != w.by && x.before.as_ref().is_some_and(|b| !preserves(f, w, b)) && !preserves(f, w, &x.value);
                let mut after: Vec<&Write> = ws.iter().filter(blind).filter(|x| x.pos.ms >= w.pos.ms).copied().collect();
                after.sort_by_key(|x| x.pos.ms);
                if after.is_empty() {
                    after.extend(ws.iter().filter(blind).max_by_key(|x| x.pos.ms).copied());
                }
                let over = match after.len() {
                    0 => String::new(),
                    1 => format!("; overwritten by {}", describe(after[0])),
                    n => format!(
                        "; overwritten by one of {}{}",
                        after.iter().take(3).map(|x| describe(x)).collect::<Vec<_>>().join(" | "),
                        if n > 3 { format!(" (+{} more)", n - 3) } else { String::new() }
                    ),
                };
                r.violations.push(format!(
                    "card {id} field {f}: silent overwrite: {} is lost, and nobody who replaced it saw it{over}; final {} is from {explainer}",
                    describe(w),
                    short(s)
                ));
            }
        }
    }
    r
}

/// Build a map id → final card from `ServerView::all`-like values (helper for the unit tests).
#[cfg(test)]
fn server_of(cards: &[Value]) -> BTreeMap<Uuid, Value> {
    cards.iter().map(|c| (c["id"].as_str().unwrap().parse().unwrap(), c.clone())).collect()
}

#[cfg(test)]
mod tests {
    //! The checker on hand-made journals: it must flag a silent overwrite and accept the same
    //! history when a resolution showed both values.
    use super::*;
    use serde_json::{Map, json};

    const ID: &str = "01900000-0000-7000-8000-000000000001";

    fn fields(title: &str, body: &str) -> Value {
        json!({ "title": title, "body": body, "url": null, "tags": ["red"], "lane": "inbox", "position": 1.0, "pinned": false })
    }

    fn card(title: &str, body: &str, version: i64) -> Value {
        let mut c = fields(title, body);
        let m: &mut Map<String, Value> = c.as_object_mut().unwrap();
        m.insert("id".into(), json!(ID));
        m.insert("version".into(), json!(version));
        m.insert("deleted".into(), json!(false));
        c
    }

    fn entries(client: usize, lines: Vec<Value>) -> Vec<Entry> {
        lines.into_iter().enumerate().map(|(i, v)| Entry { client, line: i + 1, v }).collect()
    }

    fn edit(before: Value, wrote: Value) -> Value {
        json!({ "kind": "edit", "card": ID, "op": "edit", "before": before, "wrote": wrote })
    }

    /// A creates "t0"; A writes "a" on t0; B writes "b" on t0 and B's value is final: A's write
    /// was accepted (it was on the server in between) and nobody who replaced it saw it.
    fn lost_update() -> (Vec<Entry>, Vec<Entry>, BTreeMap<Uuid, Value>) {
        let a = entries(0, vec![json!({ "kind": "create", "card": ID, "wrote": fields("t0", "m\nx") }), edit(fields("t0", "m\nx"), json!({ "title": "a" }))]);
        let b = entries(1, vec![edit(fields("t0", "m\nx"), json!({ "title": "b" }))]);
        (a, b, server_of(&[card("b", "m\nx", 3)]))
    }

    #[test]
    fn a_silent_overwrite_is_a_violation() {
        let (a, b, server) = lost_update();
        let r = check(&[a, b], &server);
        assert_eq!(r.violations.len(), 1, "{:#?}", r.violations);
        let v = &r.violations[0];
        assert!(v.contains("field title") && v.contains("client 0 journal line 2 wrote \"a\""), "{v}");
        assert!(v.contains("overwritten by client 1 journal line 1 wrote \"b\" (made on \"t0\")"), "{v}");
    }

    #[test]
    fn the_same_history_with_a_resolution_showing_both_is_clean() {
        let (a, b, server) = lost_update();
        // B's edit met A's on the server: a conflict showed mine "b" and theirs "a"; B kept mine.
        let mut b = b;
        b.push(Entry {
            client: 1,
            line: 2,
            v: json!({ "kind": "resolve", "card": ID, "conflict": "fields", "choice": "keep_mine", "queued": 1,
                       "mine": fields("b", "m\nx"), "theirs": card("a", "m\nx", 2), "base": card("t0", "m\nx", 1),
                       "chosen": fields("b", "m\nx"), "restored_as": null }),
        });
        let r = check(&[a, b], &server);
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert!(r.field_writes_seen_and_replaced >= 2, "t0 and a were both seen and replaced: {r:?}");
    }

    #[test]
    fn a_clean_body_merge_keeps_both_writes_and_an_invented_value_is_unexplained() {
        let base = "m\nx\ny";
        let a = entries(0, vec![json!({ "kind": "create", "card": ID, "wrote": fields("t0", base) }), edit(fields("t0", base), json!({ "body": "m\nX\ny" }))]);
        let b = entries(1, vec![edit(fields("t0", base), json!({ "body": "m\nx\nY" }))]);
        let r = check(&[a.clone(), b.clone()], &server_of(&[card("t0", "m\nX\nY", 3)]));
        assert!(r.violations.is_empty(), "a clean 3-way merge loses nothing: {:#?}", r.violations);
        // The merge dropping A's line is a lost update of A's body write.
        let r = check(&[a.clone(), b.clone()], &server_of(&[card("t0", "m\nx\nY", 3)]));
        assert_eq!(r.violations.len(), 1, "{:#?}", r.violations);
        assert!(r.violations[0].contains("field body"), "{}", r.violations[0]);
        // A title nobody wrote.
        let r = check(&[a, b], &server_of(&[card("zz", "m\nX\nY", 3)]));
        assert!(r.violations.iter().any(|v| v.contains("field title") && v.contains("explained by no journal")), "{:#?}", r.violations);
    }

    #[test]
    fn a_tombstone_needs_a_journaled_delete() {
        let a = entries(0, vec![json!({ "kind": "create", "card": ID, "wrote": fields("t0", "m") })]);
        let mut gone = card("t0", "m", 2);
        gone["deleted"] = json!(true);
        let r = check(std::slice::from_ref(&a), &server_of(std::slice::from_ref(&gone)));
        assert_eq!(r.violations.len(), 1, "{:#?}", r.violations);
        let b = entries(1, vec![json!({ "kind": "delete", "card": ID, "before": fields("t0", "m") })]);
        let r = check(&[a, b], &server_of(&[gone]));
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert_eq!(r.writes_superseded_by_delete, 7);
    }

    /// A creates; B retitles "b"; C deletes; A, offline, retitles "a" and meets the tombstone
    /// (edit_vs_delete) and restores with its values: the card keeps its id and starts its next
    /// life. `restore_final` is the title the server ends with.
    fn restored(restore_final: &str) -> (Vec<Vec<Entry>>, BTreeMap<Uuid, Value>) {
        let at = |mut v: Value, ms: u64| {
            v["at"] = json!(ms);
            v
        };
        let mut tomb = card("b", "m", 3);
        tomb["deleted"] = json!(true);
        let a = entries(0, vec![
            at(json!({ "kind": "create", "card": ID, "wrote": fields("t0", "m") }), 1),
            at(edit(fields("t0", "m"), json!({ "title": "a" })), 12),
            at(json!({ "kind": "resolve", "card": ID, "conflict": "edit_vs_delete", "choice": "keep_mine", "queued": 1,
                       "mine": fields("a", "m"), "theirs": tomb, "base": card("t0", "m", 1),
                       "chosen": fields("a", "m"), "restored_as": ID }), 20),
        ]);
        let b = entries(1, vec![at(edit(fields("t0", "m"), json!({ "title": "b" })), 5)]);
        let c = entries(2, vec![at(json!({ "kind": "delete", "card": ID, "before": fields("b", "m") }), 10)]);
        (vec![a, b, c], server_of(&[card(restore_final, "m", 5)]))
    }

    #[test]
    fn a_restore_keeps_the_id_and_starts_the_cards_next_life() {
        let (journals, server) = restored("a");
        let r = check(&journals, &server);
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert_eq!(r.restores, 1);
        // The create's "t0" and B's "b" came before the delete the restore undid.
        assert_eq!(r.writes_superseded_by_delete, 2, "{r:?}");
    }

    /// The planted bug: the restore revives the tombstone but drops the values the user chose.
    #[test]
    fn a_restore_that_drops_the_users_changes_is_a_violation() {
        let (journals, server) = restored("b");
        let r = check(&journals, &server);
        assert!(!r.violations.is_empty(), "a restore that lost the user's title went unnoticed: {r:?}");
        assert!(r.violations.iter().all(|v| v.contains("field title") && v.contains("silent overwrite")), "{:#?}", r.violations);
        assert!(r.violations.iter().any(|v| v.contains("client 0 journal line 3 restored \"a\"")), "{:#?}", r.violations);
    }

    /// Chaos seed 8: A edits "a" and deletes the card in one CLI run (journal lines 2 and 3, the
    /// same millisecond; the engine folds the edit into the delete and never sends it); B's "b"
    /// reaches the server first, the delete wins, B meets the tombstone and restores with "b2".
    /// A's "a" belongs to the life the delete ended. `edit_by` = the client journaling "a".
    fn edit_then_delete_in_one_ms(edit_by: usize, restore_final: &str) -> Report {
        let at = |mut v: Value, ms: u64| {
            v["at"] = json!(ms);
            v
        };
        let mut tomb = card("b", "m", 3);
        tomb["deleted"] = json!(true);
        let mut a = vec![at(json!({ "kind": "create", "card": ID, "wrote": fields("t0", "m") }), 1)];
        let mut c = Vec::new();
        if edit_by == 0 { &mut a } else { &mut c }.push(at(edit(fields("t0", "m"), json!({ "title": "a" })), 10));
        a.push(at(json!({ "kind": "delete", "card": ID, "before": fields("a", "m") }), 10));
        let b = vec![
            at(edit(fields("t0", "m"), json!({ "title": "b" })), 11),
            at(json!({ "kind": "resolve", "card": ID, "conflict": "edit_vs_delete", "choice": "merged", "queued": 1,
                       "mine": fields("b", "m"), "theirs": tomb, "base": card("t0", "m", 1),
                       "chosen": fields("b2", "m"), "restored_as": ID }), 20),
        ];
        check(&[entries(0, a), entries(1, b), entries(2, c)], &server_of(&[card(restore_final, "m", 5)]))
    }

    #[test]
    fn an_edit_journaled_in_the_same_ms_before_its_clients_delete_is_superseded_by_it() {
        let r = edit_then_delete_in_one_ms(0, "b2");
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        // The create's "t0" and A's "a" (the delete's life); B's "b" was seen by its resolution.
        assert_eq!(r.writes_superseded_by_delete, 2, "{r:?}");
        // Planted bug: the restore drops the chosen title — still a silent overwrite.
        let r = edit_then_delete_in_one_ms(0, "b");
        assert!(r.violations.iter().any(|v| v.contains("field title") && v.contains("client 1 journal line 2 restored \"b2\"")), "{:#?}", r.violations);
        // Another client's write in the delete's millisecond is not known to precede it: it
        // must survive or have been seen, and here nobody saw it.
        let r = edit_then_delete_in_one_ms(2, "b2");
        assert!(r.violations.iter().any(|v| v.contains("field title") && v.contains("client 2 journal line 1 wrote \"a\"")), "{:#?}", r.violations);
    }

    /// Chaos seed 9: B edits and deletes (folded: the tombstone has "t0"); C, behind, retitles
    /// "c" and then deletes the card, its delete meets the tombstone (410: done); A, whose move
    /// met the tombstone, restores with its values. C chose to delete "c": seen, not lost — but
    /// only by C's own delete (`c_deletes` false: C's "c" is silently lost).
    fn own_edit_then_delete_after_anothers_delete(c_deletes: bool) -> Report {
        let at = |mut v: Value, ms: u64| {
            v["at"] = json!(ms);
            v
        };
        let mut tomb = card("t0", "m", 2);
        tomb["deleted"] = json!(true);
        let a = vec![
            at(json!({ "kind": "create", "card": ID, "wrote": fields("t0", "m") }), 1),
            at(json!({ "kind": "resolve", "card": ID, "conflict": "edit_vs_delete", "choice": "keep_mine", "queued": 1,
                       "mine": fields("t0", "m"), "theirs": tomb, "base": card("t0", "m", 1),
                       "chosen": fields("t0", "m"), "restored_as": ID }), 30),
        ];
        let b = vec![
            at(edit(fields("t0", "m"), json!({ "title": "b" })), 10),
            at(json!({ "kind": "delete", "card": ID, "before": fields("b", "m") }), 11),
        ];
        let mut c = vec![at(edit(fields("t0", "m"), json!({ "title": "c" })), 12)];
        if c_deletes {
            c.push(at(json!({ "kind": "delete", "card": ID, "before": fields("c", "m") }), 31));
        }
        check(&[entries(0, a), entries(1, b), entries(2, c)], &server_of(&[card("t0", "m", 3)]))
    }

    #[test]
    fn a_clients_delete_sees_its_own_unsent_edits_and_only_those() {
        let r = own_edit_then_delete_after_anothers_delete(true);
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        let r = own_edit_then_delete_after_anothers_delete(false);
        assert!(r.violations.iter().any(|v| v.contains("field title") && v.contains("client 2 journal line 1 wrote \"c\"")), "{:#?}", r.violations);
    }

    /// Chaos seed 42 in CI: A tags the card "red" (on "urgent"); B sees "red" and writes "blue",
    /// "later"; C, whose view still had "urgent", writes "red", "green" and meets B's write: the set
    /// merge keeps C's new "red". B's removal of "red" is outvoted by C's concurrent add, not lost.
    /// `c_ms`: when C journaled its write; `c_saw_red`: C's view already had "red".
    fn concurrent_tag_add(c_ms: u64, c_saw_red: bool, fin: &[&str]) -> Report {
        let at = |mut v: Value, ms: u64| {
            v["at"] = json!(ms);
            v
        };
        let tagged = |tags: &[&str]| {
            let mut f = fields("t0", "m");
            f["tags"] = json!(tags);
            f
        };
        let a = vec![
            at(json!({ "kind": "create", "card": ID, "wrote": tagged(&["urgent"]) }), 1),
            at(edit(tagged(&["urgent"]), json!({ "tags": ["red"] })), 10),
        ];
        let b = vec![at(edit(tagged(&["red"]), json!({ "tags": ["blue", "later"] })), 20)];
        let c_view = if c_saw_red { tagged(&["urgent", "red"]) } else { tagged(&["urgent"]) };
        let c = vec![at(edit(c_view, json!({ "tags": ["red", "green"] })), c_ms)];
        let mut fin_card = card("t0", "m", 5);
        fin_card["tags"] = json!(fin);
        check(&[entries(0, a), entries(1, b), entries(2, c)], &server_of(&[fin_card]))
    }

    #[test]
    fn a_removal_outvoted_by_a_concurrent_add_is_not_a_lost_write() {
        let merged = ["red", "green", "blue", "later"];
        // C wrote after B, or before B while offline (its view never had "red"): add wins.
        for c_ms in [30, 15] {
            let r = concurrent_tag_add(c_ms, false, &merged);
            assert!(r.violations.is_empty(), "C at {c_ms}: {:#?}", r.violations);
            assert_eq!(r.field_writes_removal_outvoted, 1, "{r:?}");
        }
        // Planted bug: "red" comes back with nobody adding it concurrently (C's view had it).
        let r = concurrent_tag_add(30, true, &merged);
        assert!(r.violations.iter().any(|v| v.contains("field tags") && v.contains("client 1 journal line 1 wrote [\"blue\",\"later\"]")), "{:#?}", r.violations);
        // Planted bug: the merge drops B's added "later".
        let r = concurrent_tag_add(30, false, &["red", "green", "blue"]);
        assert!(r.violations.iter().any(|v| v.contains("field tags") && v.contains("client 1 journal line 1")), "{:#?}", r.violations);
    }

    /// Choosing the deletion (keep_theirs) is seeing one's edit and dropping it, not a lost
    /// write, even when another client restores the card afterwards.
    #[test]
    fn keep_theirs_on_an_edit_vs_delete_sees_the_edit_it_drops() {
        let at = |mut v: Value, ms: u64| {
            v["at"] = json!(ms);
            v
        };
        let mut tomb = card("t0", "m", 2);
        tomb["deleted"] = json!(true);
        let evd = |mine: &str, choice: &str, chosen: Value, ms: u64| {
            at(json!({ "kind": "resolve", "card": ID, "conflict": "edit_vs_delete", "choice": choice, "queued": 1, "mine": fields(mine, "m"),
                       "theirs": tomb, "base": card("t0", "m", 1), "chosen": chosen, "restored_as": if chosen.is_null() { Value::Null } else { json!(ID) } }), ms)
        };
        let a = entries(0, vec![
            at(json!({ "kind": "create", "card": ID, "wrote": fields("t0", "m") }), 1),
            at(edit(fields("t0", "m"), json!({ "title": "a" })), 12),
            evd("a", "keep_theirs", Value::Null, 14),
        ]);
        let b = entries(1, vec![at(edit(fields("t0", "m"), json!({ "title": "b" })), 11), evd("b", "keep_mine", fields("b", "m"), 20)]);
        let c = entries(2, vec![at(json!({ "kind": "delete", "card": ID, "before": fields("t0", "m") }), 10)]);
        let r = check(&[a.clone(), b.clone(), c.clone()], &server_of(&[card("b", "m", 4)]));
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert!(r.field_writes_seen_and_replaced >= 1, "{r:?}");
        // Without A's resolution nobody saw A's "a" go.
        let mut a = a;
        a.pop();
        let r = check(&[a, b, c], &server_of(&[card("b", "m", 4)]));
        assert!(r.violations.iter().any(|v| v.contains("client 0 journal line 2 wrote \"a\"")), "{:#?}", r.violations);
    }
}

