//! Import and export: cards in and out of the local store as files. One file per format; this
//! module holds what they share (the options, the reports, the parsed `Item`, format detection).
//!
//! An import parses and validates the WHOLE file first (a malformed file changes nothing and the
//! error names the item), then writes the items in chunks, one transaction each, every card a
//! normal create with its outbox op (`write`). Each item has a stable card id derived from the
//! source (`key`), so importing the same file twice creates no duplicates.

pub mod bookmarks;
pub mod csv;
pub mod error;
pub mod json;
pub mod markdown;
pub mod trello;
pub mod write;

use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

pub use error::TransferError;

/// Formats `Engine::import_file` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ImportFormat {
    /// Deckhand JSON (what `export --format json` writes).
    Json,
    Csv,
    /// A folder of Markdown files with YAML front matter (or one such file).
    Md,
    /// A Trello board export (board JSON).
    Trello,
    /// Browser bookmarks HTML (the Netscape format every browser exports).
    Bookmarks,
}

/// Formats `Engine::export_file` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ExportFormat {
    Json,
    Csv,
    Md,
}

/// Where bookmark folders go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FolderMapping {
    /// Every enclosing folder becomes a tag.
    #[default]
    Tags,
    /// The innermost folder becomes the card's lane.
    Lane,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportOptions {
    /// Detected from the file when absent (see `detect`).
    #[serde(default)]
    #[ts(optional)]
    pub format: Option<ImportFormat>,
    /// Bookmarks only.
    #[serde(default)]
    #[ts(optional)]
    pub folders: Option<FolderMapping>,
    /// Progress goes out as `ImportProgress` events with this id.
    #[serde(default)]
    #[ts(optional)]
    pub job_id: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportReport {
    pub format: ImportFormat,
    /// Items read from the file that can be cards.
    pub total: u32,
    /// Cards created now.
    pub created: u32,
    /// Items already in this store (imported before, or repeated in the file): left as they are.
    pub existing: u32,
    /// Items that are not cards and were left out (archived Trello cards, `place:` bookmarks), with why.
    pub ignored: Vec<String>,
    /// CSV columns that match no card field (their values were not imported).
    pub unknown_columns: Vec<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExportReport {
    pub format: ExportFormat,
    pub cards: u32,
    /// The file (json, csv) or folder (md) written.
    pub path: String,
}

/// One card to import, as read from a file. `position: None` = the end of its lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The stable card id (see `key`).
    pub id: Uuid,
    /// Where it came from, for errors: `row 4`, `cards[2]`, `notes/a.md`.
    pub label: String,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub lane: String,
    pub position: Option<f64>,
    pub pinned: bool,
}

/// What a format's parser hands to the writer.
#[derive(Debug, Default)]
pub struct Parsed {
    pub items: Vec<Item>,
    pub ignored: Vec<String>,
    pub unknown_columns: Vec<String>,
}

/// Ids of imported items without one of their own: a name-based uuid (v5) of the format and the
/// item's identity in its source (Trello card id, bookmark URL, file path, …). The same item gives
/// the same id on every import and on every device, so a second import finds it already there.
pub fn key(source: &str, identity: &str) -> Uuid {
    // uuid v5 of "deckhand-import" in the URL namespace: fixed forever (changing it would make
    // every earlier import look new).
    let ns = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"deckhand-import");
    Uuid::new_v5(&ns, format!("{source}\n{identity}").as_bytes())
}

/// The format of `path`: a folder is Markdown; otherwise the extension, and for `.json` what the
/// document says it is (Deckhand's `"format": "deckhand"` or a Trello board's `lists`+`cards`).
pub fn detect(path: &Path) -> Result<ImportFormat, TransferError> {
    if path.is_dir() {
        return Ok(ImportFormat::Md);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => return Ok(ImportFormat::Csv),
        "md" | "markdown" => return Ok(ImportFormat::Md),
        "html" | "htm" => return Ok(ImportFormat::Bookmarks),
        _ => {}
    }
    let text = read_text(path)?;
    let head = text.trim_start();
    if head.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| TransferError::Malformed { item: format!("line {}", e.line()), message: e.to_string() })?;
        if v.get("format").and_then(|f| f.as_str()) == Some(json::FORMAT) {
            return Ok(ImportFormat::Json);
        }
        if v.get("lists").is_some() && v.get("cards").is_some() {
            return Ok(ImportFormat::Trello);
        }
        return Err(TransferError::UnknownFormat("a JSON document that is neither a Deckhand export nor a Trello board".into()));
    }
    if head.get(..64).unwrap_or(head).to_ascii_uppercase().contains("NETSCAPE-BOOKMARK-FILE") {
        return Ok(ImportFormat::Bookmarks);
    }
    Err(TransferError::UnknownFormat(format!("no known extension ({ext:?}) and not JSON or bookmarks HTML")))
}

/// Parse `path` as `format` into validated items (nothing is written here).
pub fn parse(path: &Path, format: ImportFormat, folders: FolderMapping) -> Result<Parsed, TransferError> {
    let parsed = match format {
        ImportFormat::Json => json::parse(&read_text(path)?)?,
        ImportFormat::Csv => csv::parse(&read_text(path)?)?,
        ImportFormat::Md => markdown::parse(path)?,
        ImportFormat::Trello => trello::parse(&read_text(path)?)?,
        ImportFormat::Bookmarks => bookmarks::parse(&read_text(path)?, folders)?,
    };
    for item in &parsed.items {
        write::validate(item)?;
    }
    Ok(parsed)
}

pub(crate) fn read_text(path: &Path) -> Result<String, TransferError> {
    let bytes = std::fs::read(path).map_err(|e| TransferError::Read { path: path.display().to_string(), source: e })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes); // a BOM (spreadsheet CSV)
    String::from_utf8(bytes.to_vec()).map_err(|e| TransferError::Malformed {
        item: format!("byte {}", e.utf8_error().valid_up_to()),
        message: "the file is not UTF-8 text".into(),
    })
}

/// Foreign data made to fit a card's limits (docs/protocol.md): text trimmed, over-long values
/// cut at a character boundary, blank or repeated tags dropped. Deckhand's own formats are not
/// tidied: what they carry must already be valid, and an invalid value is reported.
pub(crate) fn tidy(mut item: Item) -> Item {
    use deckhand_protocol::limits::*;
    let cut = |s: &str, n: usize| s.trim().chars().take(n).collect::<String>();
    item.title = cut(&item.title, TITLE_MAX_CHARS);
    if item.title.is_empty() {
        item.title = item.url.clone().map(|u| cut(&u, TITLE_MAX_CHARS)).unwrap_or_else(|| "Untitled".into());
    }
    item.lane = cut(&item.lane, LANE_MAX_CHARS);
    if item.lane.is_empty() {
        item.lane = deckhand_protocol::DEFAULT_LANE.into();
    }
    let mut tags: Vec<String> = Vec::new();
    for t in item.tags.iter().map(|t| cut(t, TAG_MAX_CHARS)) {
        if !t.is_empty() && !tags.contains(&t) && tags.len() < TAGS_MAX {
            tags.push(t);
        }
    }
    item.tags = tags;
    item.url = item.url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    item
}

/// Cards to export: the whole store or what a list query matches, in board order.
pub(crate) fn sort_for_export(cards: &mut [crate::model::CardView]) {
    cards.sort_by(|a, b| a.lane.cmp(&b.lane).then(a.position.total_cmp(&b.position)).then(a.id.cmp(&b.id)));
}
