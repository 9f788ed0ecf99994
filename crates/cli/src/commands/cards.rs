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
        CardsCommand::Mv { id, lane, position } => {
            let card = journal.update(engine, id, CardChanges { lane: Some(lane), position, ..Default::default() }, None, "mv").await?;
            out.value(&card, || card_line(&card));
        }
        CardsCommand::List { lane, tag, limit, offset } => {
            let page = engine.list(ListQuery { lane, tag, text: None, limit: Some(limit), offset }).await?;
            out.value(&page.items, || page.items.iter().map(card_line).collect::<Vec<_>>().join("\n"));
        }
        CardsCommand::Show { id } => match engine.get(id).await? {
            Some(card) => out.value(&card, || card_detail(&card)),
            None => anyhow::bail!("no card {id}"),
        },
        CardsCommand::Search { query, limit } => {
            let page = engine.list(ListQuery { text: Some(query), limit: Some(limit), ..Default::default() }).await?;
            out.value(&page.items, || page.items.iter().map(card_line).collect::<Vec<_>>().join("\n"));
        }
    }
    Ok(())
}
