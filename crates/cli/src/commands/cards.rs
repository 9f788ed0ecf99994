use deckhand_core::Engine;
use deckhand_core::model::{ListQuery, NewCardInput};
use deckhand_protocol::CardChanges;

use crate::args::{AddArgs, CardsCommand, EditArgs};
use crate::journal::Journal;
use crate::output::{Out, card_detail, card_line};

fn changes_of(a: EditArgs) -> CardChanges {
    CardChanges {
        title: a.title,
        body: a.body,
        url: a.url.map(|u| if u.is_empty() { None } else { Some(u) }),
        tags: if a.clear_tags { Some(Vec::new()) } else if a.tags.is_empty() { None } else { Some(a.tags) },
        lane: a.lane,
        position: a.position,
        pinned: a.pinned,
        link_meta: None,
    }
}

fn input_of(a: AddArgs) -> NewCardInput {
    NewCardInput {
        title: a.title,
        body: a.body,
        url: a.url,
        tags: (!a.tags.is_empty()).then_some(a.tags),
        lane: a.lane,
        position: None,
        pinned: a.pinned.then_some(true),
    }
}

pub async fn run(engine: &Engine, journal: &mut Journal, out: &Out, cmd: CardsCommand) -> anyhow::Result<()> {
    match cmd {
        CardsCommand::Add(a) => {
            if a.unique_url {
                if let Some(existing) = engine.find_duplicate(a.url.as_deref().unwrap_or_default()).await? {
                    out.value(&serde_json::json!({ "duplicate": existing }), || format!("duplicate of {}", card_line(&existing)));
                    std::process::exit(3);
                }
            }
            let card = journal.create(engine, input_of(a)).await?;
            out.value(&card, || card_line(&card));
        }
        CardsCommand::Edit(a) => {
            let (id, base_version) = (a.id, a.base_version);
            let changes = changes_of(a);
            if changes.is_empty() {
                anyhow::bail!("nothing to change: pass at least one of --title --body --url --tag --lane --position --pinned");
            }
            let card = journal.update(engine, id, changes, base_version, "edit").await?;
            out.value(&card, || card_line(&card));
        }
        CardsCommand::Rm { id } => {
            journal.delete(engine, id).await?;
            out.value(&serde_json::json!({ "deleted": id }), || format!("deleted {id}"));
        }
        CardsCommand::Trash { empty: true } => {
            let n = engine.empty_trash().await?;
            out.value(&serde_json::json!({ "purged": n }), || format!("trash emptied: {n} card(s) purged"));
        }
        CardsCommand::Trash { empty: false } => {
            let cards = engine.trash().await?;
            out.value(&cards, || cards.iter().map(|c| format!("{}  {}  [{}]  deleted {}", c.id, c.title, c.lane, c.updated_at.to_rfc3339())).collect::<Vec<_>>().join("\n"));
        }
        CardsCommand::Restore { id } => {
            let card = engine.restore(id).await?;
            out.value(&card, || card_line(&card));
        }
        CardsCommand::History { id, limit } => {
            let versions = engine.card_history(id, limit).await?;
            out.value(&versions, || {
                versions
                    .iter()
                    .map(|v| {
                        let c = &v.card;
                        let what = if c.deleted { "deleted".to_string() } else { format!("{}  [{}]", c.title, c.lane) };
                        format!("v{}  {}  {}  by {}", c.version, c.updated_at.to_rfc3339(), what, v.writer.as_deref().unwrap_or("?"))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        CardsCommand::Revert { id, version } => {
            let card = engine.revert(id, version).await?;
            out.value(&card, || card_line(&card));
        }
        CardsCommand::Mv { id, lane, position } => {
            let card = journal.update(engine, id, CardChanges { lane: Some(lane), position, ..Default::default() }, None, "mv").await?;
            out.value(&card, || card_line(&card));
        }
        CardsCommand::List { lane, tag, limit, offset, query } => {
            let page = engine.list(ListQuery { lane, tag, text: query, limit: Some(limit), offset }).await?;
            out.value(&page.items, || page.items.iter().map(card_line).collect::<Vec<_>>().join("\n"));
        }
        CardsCommand::Show { id } => match engine.get(id).await? {
            Some(card) => out.value(&card, || card_detail(&card)),
            None => anyhow::bail!("no card {id}"),
        },
        CardsCommand::RefreshMeta { id: Some(id), .. } => {
            let card = engine.refresh_link_meta(id).await?;
            out.value(&card, || card_detail(&card));
        }
        CardsCommand::RefreshMeta { id: None, stale, .. } => {
            let s = engine.refresh_all_link_meta(stale).await?;
            out.value(&s, || format!("refreshed {}: {} ok, {} broken, {} failed ({} skipped)", s.refreshed, s.ok, s.broken, s.failed, s.skipped));
        }
        CardsCommand::Broken => {
            let cards = engine.broken_links().await?;
            out.value(&cards, || {
                cards
                    .iter()
                    .map(|c| {
                        let m = c.link_meta.as_ref();
                        let why = m.and_then(|m| m.error.clone()).unwrap_or_default();
                        let at = m.map(|m| m.fetched_at.to_rfc3339()).unwrap_or_default();
                        format!("{}  {}  {}  {}  (checked {})", c.id, c.title, c.url.as_deref().unwrap_or(""), why, at)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        CardsCommand::Search { query, limit } => {
            let page = engine.list(ListQuery { text: Some(query), limit: Some(limit), ..Default::default() }).await?;
            out.value(&page.items, || page.items.iter().map(card_line).collect::<Vec<_>>().join("\n"));
        }
    }
    Ok(())
}
