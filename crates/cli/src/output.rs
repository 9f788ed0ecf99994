//! Human lines or `--json`, one place for both.

use deckhand_core::model::{CardView, ConflictRecord, OutboxEntry, SyncState, SyncStatus};
use serde::Serialize;

pub struct Out {
    pub json: bool,
}

impl Out {
    pub fn value<T: Serialize>(&self, v: &T, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string(v).expect("output serialises"));
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
}

fn state(s: SyncState) -> &'static str {
    match s {
        SyncState::Synced => "synced",
        SyncState::Pending => "pending",
        SyncState::Failed => "failed",
        SyncState::Conflict => "conflict",
    }
}

pub fn card_line(c: &CardView) -> String {
    let tags = if c.tags.is_empty() { String::new() } else { format!(" #{}", c.tags.join(" #")) };
    let pin = if c.pinned { " (pinned)" } else { "" };
    format!("{}  [{}] {}{}{}  ({})", c.id, c.lane, c.title, tags, pin, state(c.sync_state))
}

pub fn card_detail(c: &CardView) -> String {
    let mut out = card_line(c);
    if let Some(url) = &c.url {
        out.push_str(&format!("\n  url: {url}"));
    }
    if let Some(m) = &c.link_meta {
        let about = [m.site_name.as_deref(), m.title.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" — ");
        out.push_str(&format!("\n  link: {:?} {about}", m.status));
        if let Some(d) = &m.description {
            out.push_str(&format!("\n    {d}"));
        }
        if let Some(e) = &m.error {
            out.push_str(&format!("\n    {e}"));
        }
    }
    out.push_str(&format!("\n  position: {}  confirmed version: {:?}", c.position, c.confirmed_version));
    if let Some(e) = &c.error {
        out.push_str(&format!("\n  error: {} ({})", e.message, e.code));
    }
    if !c.body.is_empty() {
        out.push_str(&format!("\n\n{}", c.body));
    }
    out
}

pub fn outbox_line(e: &OutboxEntry) -> String {
    let err = e.last_error.as_ref().map(|e| format!("  last error: {} ({})", e.message, e.code)).unwrap_or_default();
    format!(
        "{:>6}  {:?}  {:?}  {}  {:?}  attempts {}{}",
        e.op_id, e.kind, e.state, e.card_id, e.card_title, e.attempts, err
    )
}

pub fn conflict_line(c: &ConflictRecord) -> String {
    format!("{}  {:?}  fields: {}  theirs v{}", c.card_id, c.kind, c.fields.join(","), c.theirs.version)
}

pub fn status_text(s: &SyncStatus) -> String {
    format!(
        "connection: {:?}\nbreaker: {:?}\npending: {}  in flight: {}  failed: {}  conflicts: {}\nlast synced: {}",
        s.connection,
        s.breaker,
        s.pending,
        s.in_flight,
        s.failed,
        s.conflicts,
        s.last_synced_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
    ) + &s
        .last_resync
        .as_ref()
        // A full resync with a restored or reset server (docs/sync-engine.md, "Server restore").
        .map(|r| format!("\nserver restore: resynced {} ({}), {} card(s) offered again", r.at.to_rfc3339(), r.reason, r.reoffered))
        .unwrap_or_default()
}
