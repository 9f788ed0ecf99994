//! Opt-in journal of what the user did (`--journal PATH` / `DECKHAND_JOURNAL`): one JSON line per
//! local edit and per conflict resolution, appended and fsynced before the command returns. The
//! chaos suite's oracle (tests/chaos/oracle.rs) reads the journals of all clients to prove that no
//! accepted edit was overwritten by someone who never saw it (docs/reliability.md, "The oracle").
//!
//! Each edit records the card as this client's local view showed it just before the edit
//! (`before`, read through `Engine::get`) and the fields it changed (`wrote`); each resolution
//! records what the conflict showed (`mine`, `theirs`, `base`) and what the user chose.
//!
//! Entries (all with `kind`, `card`, `at` = Unix ms, `pid`):
//! - `create`: `wrote` = every field.
//! - `edit` (also `cards mv`, `op` says which): `before` = all fields + `confirmed_version` +
//!   `sync_state` (+ `base_moved_to` when the engine based the edit on a newer confirmed copy than
//!   the read saw); `wrote` = only the fields whose value changed.
//! - `delete`: `before`.
//! - `resolve`: `conflict` (`fields`|`edit_vs_delete`), `queued` (the card's ops in the outbox, the
//!   parked one included), `choice` (`keep_mine`|`keep_theirs`|
//!   `merged`), `mine`, `theirs` (server card, a tombstone for edit-vs-delete), `base`, `local`
//!   (the local view at resolve time), `chosen` (fields, or null = the card stays deleted) and
//!   `restored_as` (the card's own id when an edit-vs-delete was resolved by restoring it —
//!   it keeps its id — else null).
//!
//! A journal that cannot be written does not undo the edit (the database is the truth); the
//! command fails at the end with the first journal error so a harness never trusts a partial one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use deckhand_core::Engine;
use deckhand_core::error::CoreError;
use deckhand_core::model::{CardFields, CardView, ConflictKind, NewCardInput, Resolution};
use deckhand_protocol::CardChanges;
use serde_json::{Map, Value, json};
use uuid::Uuid;

pub struct Journal {
    file: Option<File>,
    error: Option<String>,
}

fn fields_of_view(v: &CardView) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("title".into(), json!(v.title));
    m.insert("body".into(), json!(v.body));
    m.insert("url".into(), json!(v.url));
    m.insert("tags".into(), json!(v.tags));
    m.insert("lane".into(), json!(v.lane));
    m.insert("position".into(), json!(v.position));
    m.insert("pinned".into(), json!(v.pinned));
    m
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

impl Journal {
    /// No path: a journal that records nothing.
    pub fn open(path: Option<&Path>) -> anyhow::Result<Journal> {
        let file = match path {
            None => None,
            Some(p) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| anyhow::anyhow!("cannot open journal {}: {e}", p.display()))?,
            ),
        };
        Ok(Journal { file, error: None })
    }

    pub fn enabled(&self) -> bool {
        self.file.is_some()
    }

    /// Append one line (a single `write_all` on an O_APPEND file: lines of concurrent processes
    /// never interleave).
    fn record(&mut self, kind: &str, card: Uuid, mut entry: Map<String, Value>) {
        let Some(f) = self.file.as_mut() else { return };
        entry.insert("kind".into(), json!(kind));
        entry.insert("card".into(), json!(card));
        entry.insert("at".into(), json!(now_ms() as u64));
        entry.insert("pid".into(), json!(std::process::id()));
        let mut line = serde_json::to_vec(&Value::Object(entry)).expect("journal entry serialises");
        line.push(b'\n');
        if let Err(e) = f.write_all(&line)
            && self.error.is_none()
        {
            self.error = Some(format!("journal write failed: {e}"));
        }
    }

    /// fsync; the first error of this process, if any.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(f) = self.file.as_mut()
            && let Err(e) = f.sync_all()
            && self.error.is_none()
        {
            self.error = Some(format!("journal fsync failed: {e}"));
        }
        match self.error.take() {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => Ok(()),
        }
    }

    // ---- journaled engine calls (the same calls the commands made before) ----

    pub async fn create(&mut self, engine: &Engine, input: NewCardInput) -> Result<CardView, CoreError> {
        let view = engine.create(input).await?;
        self.record("create", view.id, Map::from_iter([("wrote".to_string(), Value::Object(fields_of_view(&view)))]));
        Ok(view)
    }

    /// `update_on` (op "edit", made on `base_version` if the user gave one) or `move_card` (op
    /// "mv", `changes` carries lane and position).
    pub async fn update(&mut self, engine: &Engine, id: Uuid, changes: CardChanges, base_version: Option<i64>, op: &str) -> Result<CardView, CoreError> {
        // What the user's view showed: read before the write.
        let before = if self.enabled() { engine.get(id).await? } else { None };
        let after = if op == "mv" {
            engine.move_card(id, changes.lane.clone().unwrap_or_default(), changes.position).await?
        } else {
            // A journaled edit is made on the version the read showed (unless the user named one):
            // another process of this client (a sync) may apply a remote change between the read
            // and the write, and the engine then merges it with the edit instead of overwriting it
            // — so `before` is really what the edit was made on.
            let base = base_version.or(before.as_ref().and_then(|b| b.confirmed_version));
            engine.update_on(id, changes, base).await?
        };
        if let Some(before) = before {
            let b = fields_of_view(&before);
            let a = fields_of_view(&after);
            let wrote: Map<String, Value> = a.into_iter().filter(|(k, v)| b.get(k) != Some(v)).collect();
            if !wrote.is_empty() {
                let mut before_rec = b;
                before_rec.insert("confirmed_version".into(), json!(before.confirmed_version));
                before_rec.insert("sync_state".into(), json!(before.sync_state));
                // The confirmed copy the engine based the edit on, when it is not the one the read
                // saw (a remote change or a confirmation landed in between): diagnostic for the
                // oracle until the engine takes the version an edit was made on.
                if after.confirmed_version != before.confirmed_version {
                    before_rec.insert("base_moved_to".into(), json!(after.confirmed_version));
                }
                self.record(
                    "edit",
                    id,
                    Map::from_iter([("op".to_string(), json!(op)), ("before".to_string(), Value::Object(before_rec)), ("wrote".to_string(), Value::Object(wrote))]),
                );
            }
        }
        Ok(after)
    }

    pub async fn delete(&mut self, engine: &Engine, id: Uuid) -> Result<(), CoreError> {
        let before = if self.enabled() { engine.get(id).await? } else { None };
        engine.delete(id).await?;
        if let Some(b) = before {
            let mut rec = fields_of_view(&b);
            rec.insert("confirmed_version".into(), json!(b.confirmed_version));
            self.record("delete", id, Map::from_iter([("before".to_string(), Value::Object(rec))]));
        }
        Ok(())
    }

    /// Resolve, recording what the conflict showed and what was chosen. Returns the id an
    /// edit-vs-delete restore created, if any.
    pub async fn resolve(&mut self, engine: &Engine, card_id: Uuid, resolution: Resolution) -> Result<Option<Uuid>, CoreError> {
        if !self.enabled() {
            engine.resolve(card_id, resolution).await?;
            return Ok(None);
        }
        let rec = engine.conflicts().await?.into_iter().find(|c| c.card_id == card_id);
        let local = engine.get(card_id).await?;
        let outbox = engine.outbox().await?;
        // The card's queued ops: the parked one plus edits made while the conflict was open.
        let queued = outbox.iter().filter(|o| o.card_id == card_id).count();
        engine.resolve(card_id, resolution.clone()).await?;
        let Some(rec) = rec else { return Ok(None) };
        let evd = rec.kind == ConflictKind::EditVsDelete;
        // The values the engine settles on, by the documented rules (docs/sync-engine.md,
        // "Conflicts"): keep_mine takes the record's `mine`, kept current with the edits made
        // while the conflict was open.
        let theirs_fields = CardFields {
            title: rec.theirs.title.clone(),
            body: rec.theirs.body.clone(),
            url: rec.theirs.url.clone(),
            tags: rec.theirs.tags.clone(),
            lane: rec.theirs.lane.clone(),
            position: rec.theirs.position,
            pinned: rec.theirs.pinned,
            link_meta: rec.theirs.link_meta.clone(),
        };
        let (choice, chosen) = match &resolution {
            Resolution::KeepTheirs if evd => ("keep_theirs", Value::Null),
            Resolution::KeepTheirs => ("keep_theirs", json!(theirs_fields)),
            Resolution::KeepMine => ("keep_mine", json!(rec.mine)),
            Resolution::Merged { fields } => ("merged", json!(fields)),
        };
        // An edit-vs-delete restore keeps the card's id (a restore op, then the chosen values).
        let restored_as = (evd && !chosen.is_null()).then_some(card_id);
        let kind = if evd { "edit_vs_delete" } else { "fields" };
        self.record(
            "resolve",
            card_id,
            Map::from_iter([
                ("conflict".to_string(), json!(kind)),
                ("choice".to_string(), json!(choice)),
                ("mine".to_string(), json!(rec.mine)),
                ("theirs".to_string(), json!(rec.theirs)),
                ("base".to_string(), json!(rec.base)),
                ("fields".to_string(), json!(rec.fields)),
                ("queued".to_string(), json!(queued)),
                ("local".to_string(), local.as_ref().map(|l| Value::Object(fields_of_view(l))).unwrap_or(Value::Null)),
                ("chosen".to_string(), chosen),
                ("restored_as".to_string(), json!(restored_as)),
            ]),
        );
        Ok(restored_as)
    }
}

