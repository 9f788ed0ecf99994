//! Types the engine shows to its faces (desktop app, CLI). Exported to TypeScript with ts-rs,
//! so the UI never copies a shape by hand. Wire types live in `deckhand-protocol`.

use chrono::{DateTime, Utc};
use deckhand_protocol::{Card, CardChanges, LinkMeta};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// Where a card stands with the server, derived from the database (never from UI state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SyncState {
    Synced,
    Pending,
    Failed,
    Conflict,
}

/// The editable fields of a card, complete. Used for creation input and merged resolutions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CardFields {
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub lane: String,
    pub position: f64,
    pub pinned: bool,
    /// Machine-written (the link fetcher), merged as one value: see `merge::merge3`.
    #[serde(default)]
    #[ts(optional)]
    pub link_meta: Option<LinkMeta>,
}

/// Input of `Engine::create`: lane defaults to "inbox", position to the end of the lane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NewCardInput {
    pub title: String,
    #[serde(default)]
    #[ts(optional)]
    pub body: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub url: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[ts(optional)]
    pub lane: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub position: Option<f64>,
    #[serde(default)]
    #[ts(optional)]
    pub pinned: Option<bool>,
}

/// A failure reported by the server (problem `code`) or the transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OpError {
    /// Problem `code` from the server (e.g. `validation_failed`) or a transport code (`timeout`, `connect`).
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
}

/// A card as the user sees it: the optimistic local value plus its sync state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CardView {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub lane: String,
    pub position: f64,
    pub pinned: bool,
    /// Version of the last server-confirmed copy; `None` until the create is confirmed.
    #[ts(type = "number | null")]
    pub confirmed_version: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync_state: SyncState,
    /// Set when `sync_state` is `failed`: why, as the server said it.
    pub error: Option<OpError>,
    /// The URL's metadata (title, description, site, data-URI icon, or why it failed).
    pub link_meta: Option<LinkMeta>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ListQuery {
    #[serde(default)]
    #[ts(optional)]
    pub lane: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub tag: Option<String>,
    /// Full-text query over title, body, url and tags (FTS5); empty or absent lists everything.
    #[serde(default)]
    #[ts(optional)]
    pub text: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[ts(optional)]
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CardPage {
    pub items: Vec<CardView>,
    /// Total matching cards (for a virtualised list's scroll height).
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LaneSummary {
    /// The lane's name (a card's `lane` matches it case-insensitively).
    pub lane: String,
    pub count: u32,
    /// The lane record; `None` for a lane only cards name (shown after the records, by name).
    pub id: Option<Uuid>,
    /// Board order (lanes sort by position, then id).
    pub position: Option<f64>,
    /// A change of this lane is queued for the server.
    pub pending: bool,
}

/// Where the cards of a deleted lane go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "to", rename_all = "snake_case")]
#[ts(export)]
pub enum LaneCards {
    /// Into another lane (after its cards, keeping their order).
    MoveTo { lane: String },
    /// To the Trash (restorable like any deleted card).
    Trash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum OpKind {
    Create,
    Update,
    Delete,
    /// Brings a deleted card back from the Trash (`POST /v1/cards/{id}/restore`).
    Restore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum OpState {
    Pending,
    InFlight,
    Failed,
    Conflict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Priority {
    High,
    Normal,
    Low,
}

/// One queued operation, for the sync dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OutboxEntry {
    #[ts(type = "number")]
    pub op_id: i64,
    pub card_id: Uuid,
    pub card_title: String,
    pub kind: OpKind,
    pub state: OpState,
    pub priority: Priority,
    pub idempotency_key: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<OpError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ConflictKind {
    /// Both sides changed the same field(s) and they could not be merged.
    Fields,
    /// The server deleted the card while it had local edits: restore or accept the delete.
    EditVsDelete,
}

/// A conflict waiting for the user. `theirs` is a tombstone for `edit_vs_delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConflictRecord {
    pub card_id: Uuid,
    pub kind: ConflictKind,
    /// The fields the edit was made on (the merge base); `None` when unknown.
    pub base: Option<CardFields>,
    pub mine: CardFields,
    pub theirs: Card,
    /// Fields that could not be merged (empty for `edit_vs_delete`).
    pub fields: Vec<String>,
    /// What a resolution with `merged` would start from: every auto-mergeable field merged.
    pub suggested: CardFields,
    pub detected_at: DateTime<Utc>,
}

/// How the user settled a conflict. For `edit_vs_delete`, `keep_mine` restores the card
/// (re-created with my values) and `keep_theirs` accepts the delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "choice", rename_all = "snake_case")]
#[ts(export)]
pub enum Resolution {
    KeepMine,
    KeepTheirs,
    Merged { fields: CardFields },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ConnectionState {
    /// No server configured: working offline by choice.
    Disabled,
    Paused,
    Connecting,
    Online,
    Offline,
    AuthRequired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StreamState {
    Connecting,
    Connected,
    Disconnected,
    Error,
}

/// Health of the realtime (SSE) stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StreamHealth {
    pub state: StreamState,
    pub connected_since: Option<DateTime<Utc>>,
    #[ts(type = "number")]
    pub events_created: u64,
    #[ts(type = "number")]
    pub events_updated: u64,
    #[ts(type = "number")]
    pub events_deleted: u64,
    pub last_event_at: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub last_event_id: Option<i64>,
}

/// Everything the status bar and dashboard header show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncStatus {
    pub connection: ConnectionState,
    pub breaker: BreakerState,
    pub pending: u32,
    pub in_flight: u32,
    pub failed: u32,
    pub conflicts: u32,
    #[ts(type = "number | null")]
    pub oldest_pending_age_ms: Option<u64>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub stream: StreamHealth,
    /// The last time the local database was found corrupt and rebuilt (see `Engine::recovery`).
    pub recovery: Option<RecoveryReport>,
    /// The last full resync with a restored or reset server (docs/sync-engine.md, "Server restore").
    pub last_resync: Option<ResyncReport>,
}

/// A full resync: the server's database had another identity (epoch) or was behind this
/// client's cursor (restored from a backup, or reset), so everything was pulled again from 0 and
/// what the server lacked was offered again through the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResyncReport {
    pub at: DateTime<Utc>,
    /// The server epoch synced to.
    pub epoch: String,
    /// Why: `new_epoch` or `cursor_ahead`.
    pub reason: String,
    /// Cards whose local values were queued again (re-created or updated on the server).
    pub reoffered: u32,
}

/// Why a face should reload everything (`EngineEvent::Resync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ResyncReason {
    /// The face fell behind the engine's events and missed some.
    EventsLagged,
    /// The engine resynced with a restored or reset server.
    ServerRestored,
}

/// The local database was found corrupt or unreadable at open: it was moved aside (kept, never
/// deleted), a fresh one was rebuilt from the server, and what could be read of the old outbox
/// was kept as salvaged ops (`Engine::salvaged`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RecoveryReport {
    /// Where the old database file now is (`.../deckhand.db.corrupt-<timestamp>`, with its -wal/-shm).
    pub moved_to: String,
    /// Why it was judged corrupt (the SQLite error or the first `quick_check` finding).
    pub reason: String,
    pub at: DateTime<Utc>,
    /// Outbox ops read back from the old file (offered for re-queueing).
    pub salvaged: u32,
    /// Outbox rows that could not be read.
    pub unreadable: u32,
}

/// An op read back from a corrupt database's outbox, waiting for `requeue_salvaged` or
/// `discard_salvaged`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SalvagedOp {
    #[ts(type = "number")]
    pub id: i64,
    pub card_id: Uuid,
    pub kind: OpKind,
    /// `NewCard` (create), `CardChanges` (update) or null (delete), as it was queued.
    #[ts(type = "unknown")]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// What `requeue_salvaged` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RequeueReport {
    /// Ops queued again (they sync like new local edits).
    pub requeued: u32,
    /// Ops dropped because they no longer apply (create of a card the server already has, edit or
    /// delete of a card that no longer exists, invalid payload); each is noted in the history.
    pub skipped: u32,
    /// Edits kept as salvaged (not queued) because the card changed on the server since and the
    /// copy they were made on is unknown: applying them blind could overwrite that change.
    pub kept: u32,
}

/// One line of the bounded, persisted sync history (dashboard "recent events").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HistoryEntry {
    #[ts(type = "number")]
    pub id: i64,
    pub at: DateTime<Utc>,
    /// e.g. `op.sent`, `op.failed`, `conflict.detected`, `remote.card.updated`, `breaker.open`.
    pub kind: String,
    pub card_id: Option<Uuid>,
    pub message: String,
}

/// Pushed to the faces; the UI never polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum EngineEvent {
    /// Local view of these cards changed (local write, remote change, sync state change).
    CardsChanged { ids: Vec<Uuid> },
    StatusChanged { status: SyncStatus },
    ConflictDetected { conflict: ConflictRecord },
    /// An open conflict's "mine" changed (an edit made while it was open folded into it).
    ConflictUpdated { conflict: ConflictRecord },
    ConflictResolved { card_id: Uuid },
    OpFailed {
        #[ts(type = "number")]
        op_id: i64,
        card_id: Uuid,
        error: OpError,
    },
    BreakerChanged { state: BreakerState },
    ConnectionChanged { state: ConnectionState },
    /// Progress of a bulk action started with a `job_id`.
    BulkProgress { job_id: String, done: u32, total: u32 },
    /// Progress of an import started with a `job_id`: items written (or found already there)
    /// of those the file holds; sent at 0, after each committed chunk, and at the end.
    ImportProgress { job_id: String, done: u32, total: u32 },
    /// The local database was corrupt: it was moved aside and rebuilt (sent once, at open).
    DatabaseRecovered { report: RecoveryReport },
    /// Anything may have changed: reload every card and the status.
    Resync { reason: ResyncReason },
    /// The lanes (names, order, records) changed: reload `lanes()`.
    LanesChanged,
}

/// Bulk action over many cards; progress is reported as `BulkProgress` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
#[ts(export)]
pub enum BulkAction {
    Move { lane: String },
    AddTag { tag: String },
    RemoveTag { tag: String },
    Delete,
    Update { changes: CardChanges },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// What the desktop app keeps in its settings store. `server_url: None` means "work offline".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppSettings {
    pub server_url: Option<String>,
    /// Never sent back to the UI in full: `settings_get` masks it (see `token_set`).
    pub token: Option<String>,
    pub token_set: bool,
    pub sync_enabled: bool,
    pub drain_window: u32,
    pub theme: Theme,
    /// False until the first-run dialog was answered (connect or work offline).
    pub first_run_done: bool,
    /// Fetch link previews (title, description, icon) when a card gets a URL. Absent = off.
    #[serde(default)]
    #[ts(optional)]
    pub link_previews: Option<bool>,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            server_url: None,
            token: None,
            token_set: false,
            sync_enabled: true,
            drain_window: 8,
            theme: Theme::System,
            first_run_done: false,
            link_previews: None,
        }
    }
}

/// The error every face command returns: the UI branches on `kind`, shows `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ErrorBody {
    pub kind: String,
    pub message: String,
}
