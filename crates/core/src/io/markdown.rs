//! A folder of Markdown files, one card each: YAML front matter for the fields, the body below
//! it. Export names files `<slug of the title>-<first 8 of the id>.md`. Import reads `*.md` in
//! the folder (sorted by name; subfolders are not walked); a file without front matter becomes a
//! card titled by its first `# heading` or its file name, keyed by its path in the folder.

use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Item, Parsed, TransferError, key, tidy};
use crate::model::CardView;

#[derive(Serialize, Deserialize, Default)]
struct FrontMatter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<Uuid>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    lane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<f64>,
    #[serde(default)]
    pinned: bool,
}

/// A file name for a card: its title's letters and digits (any script), dashes between words.
fn file_name(c: &CardView) -> String {
    let mut slug = String::new();
    for ch in c.title.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            slug.push(ch);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.chars().count() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "card" } else { slug };
    format!("{slug}-{}.md", &c.id.simple().to_string()[..8])
}

fn render(c: &CardView) -> Result<String, TransferError> {
    let fm = FrontMatter {
        id: Some(c.id),
        title: Some(c.title.clone()),
        url: c.url.clone(),
        tags: c.tags.clone(),
        lane: Some(c.lane.clone()),
        position: Some(c.position),
        pinned: c.pinned,
    };
    let yaml = serde_yaml_ng::to_string(&fm).map_err(|e| TransferError::Malformed { item: c.id.to_string(), message: e.to_string() })?;
    Ok(format!("---\n{yaml}---\n{}", c.body))
}

/// Write one file per card into `dir` (created when missing). Returns the files written.
pub fn export(cards: &[CardView], dir: &Path) -> Result<u32, TransferError> {
    let werr = |p: &Path, e| TransferError::Write { path: p.display().to_string(), source: e };
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
    for c in cards {
        let path = dir.join(file_name(c));
        std::fs::write(&path, render(c)?).map_err(|e| werr(&path, e))?;
    }
    Ok(cards.len() as u32)
}

/// Split `---\n<yaml>---\n<body>`; text without an opening `---` line has no front matter. The
/// body is kept byte for byte.
fn split(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n"))?;
    let mut at = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            return Some((&rest[..at], &rest[at + line.len()..]));
        }
        at += line.len();
    }
    None
}

fn parse_file(text: &str, rel: &str) -> Result<Item, TransferError> {
    let (fm, body) = match split(text) {
        Some((yaml, body)) => {
            let fm: Option<FrontMatter> = serde_yaml_ng::from_str(yaml)
                .map_err(|e| TransferError::Malformed { item: rel.to_string(), message: format!("front matter: {e}") })?;
            (fm.unwrap_or_default(), body)
        }
        None => (FrontMatter::default(), text),
    };
    let heading = || body.lines().find_map(|l| l.strip_prefix("# ")).map(str::to_string);
    let stem = || Path::new(rel).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let title = fm.title.clone().or_else(heading).unwrap_or_else(stem);
    let item = Item {
        id: fm.id.unwrap_or_else(|| key("md", rel)),
        label: rel.to_string(),
        title,
        body: body.to_string(),
        url: fm.url,
        tags: fm.tags,
        lane: fm.lane.unwrap_or_default(),
        position: fm.position,
        pinned: fm.pinned,
    };
    // A file with our front matter is Deckhand's own: taken as it is (and validated). A file
    // from elsewhere is tidied to fit.
    Ok(if fm.id.is_some() { item } else { tidy(item) })
}

/// `path` is a folder of `.md` files, or one `.md` file.
pub fn parse(path: &Path) -> Result<Parsed, TransferError> {
    let rerr = |p: &Path, e| TransferError::Read { path: p.display().to_string(), source: e };
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let mut v = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| rerr(path, e))? {
            let p = entry.map_err(|e| rerr(path, e))?.path();
            if p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown")) {
                v.push(p);
            }
        }
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut items = Vec::with_capacity(files.len());
    for f in files {
        let rel = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = super::read_text(&f).map_err(|e| match e {
            TransferError::Malformed { message, .. } => TransferError::Malformed { item: rel.clone(), message },
            e => e,
        })?;
        items.push(parse_file(&text, &rel)?);
    }
    Ok(Parsed { items, ..Default::default() })
}
