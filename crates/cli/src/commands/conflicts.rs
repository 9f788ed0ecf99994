use deckhand_core::Engine;
use deckhand_core::model::{CardFields, Resolution};

use crate::args::{ConflictsCommand, Keep};
use crate::journal::Journal;
use crate::output::{Out, conflict_line};

pub async fn run(engine: &Engine, journal: &mut Journal, out: &Out, cmd: ConflictsCommand) -> anyhow::Result<()> {
    match cmd {
        ConflictsCommand::List => {
            let list = engine.conflicts().await?;
            out.value(&list, || list.iter().map(conflict_line).collect::<Vec<_>>().join("\n"));
        }
        ConflictsCommand::Resolve { card_id, keep, merged } => {
            let resolution = match (keep, merged) {
                (Some(Keep::Mine), _) => Resolution::KeepMine,
                (Some(Keep::Theirs), _) => Resolution::KeepTheirs,
                (None, Some(file)) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                    let fields: CardFields = serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("{} is not a card JSON: {e}", file.display()))?;
                    Resolution::Merged { fields }
                }
                (None, None) => anyhow::bail!("pass --keep mine|theirs or --merged FILE"),
            };
            let restored_as = journal.resolve(engine, card_id, resolution).await?;
            let mut v = serde_json::json!({ "resolved": card_id });
            if let Some(new_id) = restored_as {
                v["restored_as"] = serde_json::json!(new_id);
            }
            out.value(&v, || format!("resolved {card_id}"));
        }
    }
    Ok(())
}
