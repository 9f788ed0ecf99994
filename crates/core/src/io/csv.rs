//! CSV: one card a row, with a header. Export writes `id,title,body,url,tags,lane,position,pinned`
//! (tags comma-separated in one field). Import maps columns by header, case-insensitively and
//! with the usual other names (`name`, `description`, `link`, `labels`, `list`, …); columns that
//! match no field are reported, not guessed at.

use uuid::Uuid;

use super::{Item, Parsed, TransferError, key, tidy};
use crate::model::CardView;

const HEADER: [&str; 8] = ["id", "title", "body", "url", "tags", "lane", "position", "pinned"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Id,
    Title,
    Body,
    Url,
    Tags,
    Lane,
    Position,
    Pinned,
}

fn field(header: &str) -> Option<Field> {
    Some(match header.trim().to_lowercase().as_str() {
        "id" | "uuid" => Field::Id,
        "title" | "name" => Field::Title,
        "body" | "description" | "desc" | "notes" | "note" => Field::Body,
        "url" | "link" | "href" => Field::Url,
        "tags" | "tag" | "labels" => Field::Tags,
        "lane" | "list" | "column" | "status" => Field::Lane,
        "position" | "pos" => Field::Position,
        "pinned" | "pin" | "starred" => Field::Pinned,
        _ => return None,
    })
}

pub fn export(cards: &[CardView]) -> Result<Vec<u8>, TransferError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let wr = |e: ::csv::Error| TransferError::Malformed { item: "csv".into(), message: e.to_string() };
    w.write_record(HEADER).map_err(wr)?;
    for c in cards {
        w.write_record([
            c.id.to_string(),
            c.title.clone(),
            c.body.clone(),
            c.url.clone().unwrap_or_default(),
            c.tags.join(", "),
            c.lane.clone(),
            c.position.to_string(),
            c.pinned.to_string(),
        ])
        .map_err(wr)?;
    }
    w.into_inner().map_err(|e| TransferError::Malformed { item: "csv".into(), message: e.to_string() })
}

pub fn parse(text: &str) -> Result<Parsed, TransferError> {
    let mut r = ::csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let line = |e: &::csv::Error| e.position().map(|p| format!("line {}", p.line())).unwrap_or_else(|| "header".into());
    let headers = r.headers().map_err(|e| TransferError::Malformed { item: line(&e), message: e.to_string() })?.clone();
    let mut columns: Vec<Option<Field>> = Vec::new();
    let mut unknown_columns = Vec::new();
    for h in headers.iter() {
        let f = field(h);
        // The first column of a field wins; a second one of the same meaning is reported.
        if f.is_none() || columns.contains(&f) {
            unknown_columns.push(h.to_string());
            columns.push(None);
        } else {
            columns.push(f);
        }
    }
    if !columns.contains(&Some(Field::Title)) && !columns.contains(&Some(Field::Url)) {
        return Err(TransferError::Malformed { item: "header".into(), message: "needs a title (or name) or url (or link) column".into() });
    }
    let mut items = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| TransferError::Malformed { item: line(&e), message: e.to_string() })?;
        let label = format!("line {}", rec.position().map_or(0, |p| p.line()));
        let bad = |m: String| TransferError::Malformed { item: label.clone(), message: m };
        let mut item = Item {
            id: Uuid::nil(),
            label: label.clone(),
            title: String::new(),
            body: String::new(),
            url: None,
            tags: Vec::new(),
            lane: String::new(),
            position: None,
            pinned: false,
        };
        let mut id_text = String::new();
        for (col, value) in columns.iter().zip(rec.iter()) {
            match col {
                None => {}
                Some(Field::Id) => id_text = value.trim().to_string(),
                Some(Field::Title) => item.title = value.to_string(),
                Some(Field::Body) => item.body = value.to_string(),
                Some(Field::Url) => item.url = Some(value.to_string()),
                Some(Field::Tags) => item.tags = value.split([',', ';']).map(str::to_string).collect(),
                Some(Field::Lane) => item.lane = value.to_string(),
                Some(Field::Position) if value.trim().is_empty() => {}
                Some(Field::Position) => {
                    item.position = Some(value.trim().parse().map_err(|_| bad(format!("position {value:?} is not a number")))?)
                }
                Some(Field::Pinned) => {
                    item.pinned = match value.trim().to_lowercase().as_str() {
                        "" | "false" | "no" | "0" => false,
                        "true" | "yes" | "1" => true,
                        v => return Err(bad(format!("pinned {v:?} is not true or false"))),
                    }
                }
            }
        }
        let mut item = tidy(item);
        // A row's stable key: its Deckhand id when it has one (an exported file), else its own
        // id column, else its URL, else its text.
        item.id = match (Uuid::parse_str(&id_text), &item.url) {
            (Ok(id), _) => id,
            (Err(_), _) if !id_text.is_empty() => key("csv-id", &id_text),
            (Err(_), Some(url)) => key("url", url),
            (Err(_), None) => key("csv", &format!("{}\n{}", item.title, item.body)),
        };
        items.push(item);
    }
    Ok(Parsed { items, ignored: Vec::new(), unknown_columns })
}
