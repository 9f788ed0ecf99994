//! A Trello board export (Board menu → Print, export and share → Export as JSON): each open card
//! becomes a card in the lane named after its list, its labels become tags (a label without a
//! name goes by its colour), its description the body. Its first link attachment becomes the
//! card's URL; with more than one, all are listed under "Attachments" in the notes. Archived
//! cards are left out and reported. Keyed by the Trello card id.

use serde::Deserialize;

use super::{Item, Parsed, TransferError, key, tidy};

#[derive(Deserialize)]
struct Board {
    #[serde(default)]
    lists: Vec<List>,
    #[serde(default)]
    cards: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct List {
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrelloCard {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    desc: String,
    #[serde(default)]
    id_list: String,
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    pos: f64,
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

#[derive(Deserialize)]
struct Label {
    #[serde(default)]
    name: String,
    #[serde(default)]
    color: Option<String>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
}

fn is_link(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

pub fn parse(text: &str) -> Result<Parsed, TransferError> {
    let board: Board = serde_json::from_str(text)
        .map_err(|e| TransferError::Malformed { item: format!("line {}", e.line()), message: e.to_string() })?;
    let mut cards = Vec::with_capacity(board.cards.len());
    for (i, v) in board.cards.into_iter().enumerate() {
        let c: TrelloCard = serde_json::from_value(v).map_err(|e| TransferError::Malformed { item: format!("cards[{i}]"), message: e.to_string() })?;
        cards.push((i, c));
    }
    // Board order: by list (as the board shows them), then by Trello's position in the list.
    let list_index = |id: &str| board.lists.iter().position(|l| l.id == id).unwrap_or(usize::MAX);
    cards.sort_by(|(_, a), (_, b)| list_index(&a.id_list).cmp(&list_index(&b.id_list)).then(a.pos.total_cmp(&b.pos)));
    let mut parsed = Parsed::default();
    for (i, c) in cards {
        let label = format!("cards[{i}] {:?}", c.name);
        if c.closed {
            parsed.ignored.push(format!("{label}: archived"));
            continue;
        }
        let lane = board.lists.iter().find(|l| l.id == c.id_list).map(|l| l.name.clone()).unwrap_or_default();
        let links: Vec<&Attachment> = c.attachments.iter().filter(|a| is_link(&a.url)).collect();
        let mut body = c.desc.clone();
        if links.len() > 1 {
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            body.push_str("Attachments:\n");
            for a in &links {
                let name = if a.name.is_empty() || a.name == a.url { String::new() } else { format!("{} — ", a.name) };
                body.push_str(&format!("- {name}{}\n", a.url));
            }
        }
        let tags = c.labels.iter().map(|l| if l.name.trim().is_empty() { l.color.clone().unwrap_or_default() } else { l.name.clone() }).collect();
        parsed.items.push(tidy(Item {
            id: key("trello", &c.id),
            label,
            title: c.name,
            body,
            url: links.first().map(|a| a.url.clone()),
            tags,
            lane,
            position: None,
            pinned: false,
        }));
    }
    Ok(parsed)
}
