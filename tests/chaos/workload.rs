//! Seeded card operations over a shared set of cards, and the ledger of what every client did
//! (the invariants are checked against it).

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

pub const LANES: [&str; 3] = ["inbox", "doing", "done"];
pub const TAGS: [&str; 5] = ["red", "green", "blue", "urgent", "later"];
/// Cards most picks go to (the oldest ids every client knows): this is where conflicts come from.
const HOT: usize = 10;

/// The first line of every body: unique per created card (restored copies share it).
pub fn marker_of(body: &str) -> &str {
    body.lines().next().unwrap_or("")
}

/// What one client knows and does.
pub struct ClientGen {
    pub idx: usize,
    pub rng: StdRng,
    /// Card id → marker line, as of the last `cards list` plus this client's own writes.
    pub known: BTreeMap<Uuid, String>,
    /// Cards whose conflict this client left open this round (CHAOS_DEFER): 15% of its picks go
    /// to them, so edits queue behind the parked op and the resolution comes after them.
    pub open_conflicts: Vec<Uuid>,
    n: u64,
}

/// One planned op with what the ledger needs to account for it.
pub struct Planned {
    pub kind: &'static str,
    pub id: Option<Uuid>,
    pub marker: Option<String>,
    pub title: Option<String>,
    pub json: Value,
}

impl ClientGen {
    pub fn new(seed: u64, idx: usize) -> ClientGen {
        ClientGen { idx, rng: StdRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(idx as u64 + 1)), known: BTreeMap::new(), open_conflicts: Vec::new(), n: 0 }
    }

    fn next(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    pub fn title(&mut self) -> String {
        let n = self.next();
        format!("t-{}-{n}", self.idx)
    }

    fn pick(&mut self) -> Option<(Uuid, String)> {
        if self.known.is_empty() {
            return None;
        }
        if !self.open_conflicts.is_empty() && self.rng.random_bool(0.15) {
            let id = self.open_conflicts[self.rng.random_range(0..self.open_conflicts.len())];
            if let Some(m) = self.known.get(&id) {
                return Some((id, m.clone()));
            }
        }
        let len = self.known.len();
        let i = if self.rng.random_bool(0.6) { self.rng.random_range(0..len.min(HOT)) } else { self.rng.random_range(0..len) };
        self.known.iter().nth(i).map(|(k, v)| (*k, v.clone()))
    }

    fn tags(&mut self) -> Vec<String> {
        TAGS.iter().filter(|_| self.rng.random_bool(0.3)).map(|t| t.to_string()).collect()
    }

    fn lane(&mut self) -> String {
        LANES[self.rng.random_range(0..LANES.len())].to_string()
    }

    /// A body edit keeps the marker line.
    fn body(&mut self, marker: &str) -> String {
        let n = self.next();
        let lines = self.rng.random_range(1..4);
        let mut b = marker.to_string();
        for l in 0..lines {
            b.push_str(&format!("\nline {l} by {} #{n}", self.idx));
        }
        b
    }

    pub fn plan(&mut self) -> Planned {
        let roll = self.rng.random_range(0..100);
        let target = self.pick();
        match (roll, target) {
            (0..22, _) | (_, None) => {
                let n = self.next();
                let marker = format!("marker:{}-{n}", self.idx);
                let title = self.title();
                let body = self.body(&marker);
                let mut add = json!({ "op": "add", "title": title, "body": body, "tags": self.tags(), "lane": self.lane(), "pinned": self.rng.random_bool(0.2) });
                if self.rng.random_bool(0.1) {
                    add["url"] = json!(format!("https://example.com/{}/{n}", self.idx));
                }
                Planned { kind: "create", id: None, marker: Some(marker), title: Some(title), json: add }
            }
            (22..70, Some((id, marker))) => {
                let mut ch = serde_json::Map::new();
                let mut title = None;
                while ch.is_empty() {
                    if self.rng.random_bool(0.4) {
                        let t = self.title();
                        ch.insert("title".into(), json!(t));
                        title = Some(t);
                    }
                    if self.rng.random_bool(0.3) {
                        ch.insert("body".into(), json!(self.body(&marker)));
                    }
                    if self.rng.random_bool(0.3) {
                        ch.insert("tags".into(), json!(self.tags()));
                    }
                    if self.rng.random_bool(0.2) {
                        ch.insert("lane".into(), json!(self.lane()));
                    }
                    if self.rng.random_bool(0.2) {
                        ch.insert("pinned".into(), json!(self.rng.random_bool(0.5)));
                    }
                    if self.rng.random_bool(0.05) {
                        let url = if self.rng.random_bool(0.5) { Value::Null } else { json!(format!("https://example.org/{}", self.next())) };
                        ch.insert("url".into(), url);
                    }
                }
                Planned { kind: "edit", id: Some(id), marker: Some(marker), title, json: json!({ "op": "edit", "id": id, "changes": ch }) }
            }
            (70..86, Some((id, marker))) => {
                let lane = self.lane();
                let position = if self.rng.random_bool(0.5) { json!(self.rng.random_range(0..10_000) as f64 / 8.0) } else { Value::Null };
                Planned { kind: "move", id: Some(id), marker: Some(marker), title: None, json: json!({ "op": "mv", "id": id, "lane": lane, "position": position }) }
            }
            (_, Some((id, marker))) => Planned { kind: "delete", id: Some(id), marker: Some(marker), title: None, json: json!({ "op": "rm", "id": id }) },
        }
    }
}

/// Everything the clients did that the end state must account for.
#[derive(Default)]
pub struct Ledger {
    /// Created card id → its marker.
    pub created: BTreeMap<Uuid, String>,
    /// Ids whose local delete was accepted.
    pub deleted: BTreeSet<Uuid>,
    /// Marker → every title any client wrote for that card.
    pub titles: BTreeMap<String, BTreeSet<String>>,
    /// Marker → how many times an edit-vs-delete was settled by restoring (the card keeps its id).
    pub restores: BTreeMap<String, u32>,
    /// Ids brought back from a delete by such a restore (a restore op is the only way back).
    pub restored: BTreeSet<Uuid>,
    /// Ops by kind as applied locally; `refused:<kind>` when the engine refused them (card gone).
    pub ops: BTreeMap<String, u64>,
    /// Conflict resolutions by "kind/choice".
    pub resolutions: BTreeMap<String, u64>,
    /// Card id → the clients that ever wrote it (create, edit, move, delete).
    pub writers: BTreeMap<Uuid, BTreeSet<usize>>,
    /// Card id → title/body/url/tags/lane/pinned as its writes left them, in the order each
    /// client made them: exact for a card only one client ever wrote (no lost update).
    pub expected: BTreeMap<Uuid, serde_json::Map<String, Value>>,
}

impl Ledger {
    pub fn record(&mut self, g: &mut ClientGen, p: &Planned, result: &Value) {
        let ok = result["ok"].as_bool().unwrap_or(false);
        if !ok {
            let kind = result["kind"].as_str().unwrap_or("?");
            assert_eq!(kind, "not_found", "the engine refused a well-formed {} op: {result}", p.kind);
            *self.ops.entry(format!("refused:{}", p.kind)).or_default() += 1;
            if let Some(id) = p.id {
                g.known.remove(&id);
            }
            return;
        }
        *self.ops.entry(p.kind.to_string()).or_default() += 1;
        let id: Uuid = result["id"].as_str().and_then(|s| s.parse().ok()).expect("result id");
        let marker = p.marker.clone().unwrap_or_default();
        if let Some(t) = &p.title {
            self.titles.entry(marker.clone()).or_default().insert(t.clone());
        }
        self.writers.entry(id).or_default().insert(g.idx);
        match p.kind {
            "create" => {
                self.created.insert(id, marker.clone());
                g.known.insert(id, marker);
                let mut f = serde_json::Map::new();
                for k in ["title", "body", "tags", "lane", "pinned"] {
                    f.insert(k.into(), p.json[k].clone());
                }
                f.insert("url".into(), p.json.get("url").cloned().unwrap_or(Value::Null));
                self.expected.insert(id, f);
            }
            "edit" => {
                if let Some(f) = self.expected.get_mut(&id) {
                    for (k, v) in p.json["changes"].as_object().into_iter().flatten() {
                        f.insert(k.clone(), v.clone());
                    }
                }
            }
            "move" => {
                if let Some(f) = self.expected.get_mut(&id) {
                    f.insert("lane".into(), p.json["lane"].clone());
                }
            }
            "delete" => {
                self.deleted.insert(id);
                g.known.remove(&id);
            }
            _ => {}
        }
    }
}
