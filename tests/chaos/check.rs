//! The invariants checked at quiescence. Each returns human-readable violations (empty = held).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use uuid::Uuid;

use crate::workload::{Ledger, marker_of};

const FIELDS: [&str; 8] = ["id", "title", "body", "url", "tags", "lane", "position", "pinned"];

/// The server's view, read over HTTP with the user's token (straight to the server, no proxy).
pub struct ServerView {
    /// Live cards from `GET /v1/cards`, all pages, in order.
    pub live: Vec<Value>,
    /// Latest state of every card ever written (tombstones included) from `/v1/changes?since=0`.
    pub all: BTreeMap<Uuid, Value>,
}

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().and_then(|s| s.parse().ok()).expect("card id")
}

pub async fn server_view(url: &str, token: &str) -> Result<ServerView, String> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{url}{path}");
        async move {
            let r = http.get(&url).bearer_auth(token).send().await.map_err(|e| format!("GET {url}: {e}"))?;
            if !r.status().is_success() {
                return Err(format!("GET {url}: {}", r.status()));
            }
            r.json::<Value>().await.map_err(|e| e.to_string())
        }
    };
    let mut live = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let path = match &cursor {
            Some(c) => format!("/v1/cards?limit=1000&cursor={c}"),
            None => "/v1/cards?limit=1000".to_string(),
        };
        let page = get(path).await?;
        live.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut all = BTreeMap::new();
    let mut since = 0i64;
    for _ in 0..10_000 {
        let page = get(format!("/v1/changes?since={since}&limit=1000")).await?;
        for ch in page["changes"].as_array().cloned().unwrap_or_default() {
            all.insert(id_of(&ch["card"]), ch["card"].clone());
        }
        since = page["next_since"].as_i64().unwrap_or(since);
        if !page["has_more"].as_bool().unwrap_or(false) {
            break;
        }
    }
    Ok(ServerView { live, all })
}

/// Every client's cards equal the server's, field by field, all synced at the server's version.
pub fn clients_equal_server(client: usize, local: &[Value], server: &ServerView) -> Vec<String> {
    let mut v = Vec::new();
    let srv: BTreeMap<Uuid, &Value> = server.live.iter().map(|c| (id_of(c), c)).collect();
    let loc: BTreeMap<Uuid, &Value> = local.iter().map(|c| (id_of(c), c)).collect();
    if loc.len() != local.len() {
        v.push(format!("client {client}: a card id appears twice in its local list"));
    }
    for (id, s) in &srv {
        match loc.get(id) {
            None => v.push(format!("client {client}: server card {id} ({}) missing locally", s["title"])),
            Some(l) => {
                for f in FIELDS {
                    if l[f] != s[f] {
                        v.push(format!("client {client}: card {id} field {f}: local {} != server {}", l[f], s[f]));
                    }
                }
                if l["sync_state"] != "synced" {
                    v.push(format!("client {client}: card {id} is {} at quiescence", l["sync_state"]));
                }
                if l["confirmed_version"] != s["version"] {
                    v.push(format!("client {client}: card {id} confirmed v{} but server has v{}", l["confirmed_version"], s["version"]));
                }
            }
        }
    }
    for (id, l) in &loc {
        if !srv.contains_key(id) {
            let why = match server.all.get(id) {
                Some(t) if t["deleted"] == true => "deleted on the server (resurrected locally)",
                Some(_) => "?",
                None => "never reached the server",
            };
            v.push(format!("client {client}: local card {id} ({}) is not live on the server: {why}", l["title"]));
        }
    }
    v
}

/// No duplicates, no resurrections, nothing lost, nothing invented.
pub fn ledger_holds(ledger: &Ledger, server: &ServerView) -> Vec<String> {
    let mut v = Vec::new();
    let live_ids: Vec<Uuid> = server.live.iter().map(id_of).collect();
    let live: BTreeSet<Uuid> = live_ids.iter().copied().collect();
    if live.len() != live_ids.len() {
        v.push("server: a card id is listed twice".into());
    }
    // One live card per marker: a restore brings the card back with its id, never a copy.
    let mut per_marker: BTreeMap<&str, u32> = BTreeMap::new();
    for c in &server.live {
        *per_marker.entry(marker_of(c["body"].as_str().unwrap_or(""))).or_default() += 1;
    }
    for (m, n) in &per_marker {
        if !m.starts_with("marker:") {
            v.push(format!("server: a card lost its marker line (body starts {m:?})"));
        } else if *n > 1 {
            v.push(format!("server: {n} live cards carry {m}: duplicated create (or a restore that made a copy)"));
        }
    }
    // Deleted stays deleted, unless a client restored it (an explicit restore op).
    for id in ledger.deleted.difference(&ledger.restored) {
        if live.contains(id) {
            v.push(format!("deleted card {id} is live on the server again"));
        }
        if let Some(c) = server.all.get(id)
            && c["deleted"] != true
        {
            v.push(format!("deleted card {id} is not a tombstone on the server"));
        }
    }
    // Every create is accounted for: live, or deleted by someone (tombstone or never sent).
    for (id, m) in &ledger.created {
        if !live.contains(id) && !ledger.deleted.contains(id) {
            let state = match server.all.get(id) {
                Some(c) if c["deleted"] == true => "a tombstone nobody here asked for",
                Some(_) => "known but not live",
                None => "never reached the server",
            };
            v.push(format!("created card {id} ({m}) is lost: {state}"));
        }
    }
    // No lost update: a card only one client ever wrote ends exactly as that client left it.
    for c in &server.live {
        let id = id_of(c);
        let (Some(w), Some(f)) = (ledger.writers.get(&id), ledger.expected.get(&id)) else { continue };
        if w.len() != 1 {
            continue;
        }
        for (k, want) in f {
            if &c[k.as_str()] != want {
                v.push(format!("card {id} written only by client {:?}: {k} is {} on the server, the client left {want}", w, c[k.as_str()]));
            }
        }
    }
    for c in &server.live {
        let id = id_of(c);
        let m = marker_of(c["body"].as_str().unwrap_or("")).to_string();
        if !ledger.created.contains_key(&id) && !ledger.restores.contains_key(&m) {
            v.push(format!("server card {id} ({m}) was created by nobody"));
        }
        let title = c["title"].as_str().unwrap_or("");
        if !ledger.titles.get(&m).is_some_and(|t| t.contains(title)) {
            v.push(format!("server card {id} ({m}) has title {title:?} that no client wrote for it"));
        }
    }
    v
}
