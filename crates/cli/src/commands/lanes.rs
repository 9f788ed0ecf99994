//! `deckhand-cli lanes list|add|rename|move|rm`: the engine's lane calls, one transaction each.

use deckhand_core::Engine;
use deckhand_core::model::{LaneCards, LaneSummary};

use crate::args::LanesCommand;
use crate::output::Out;

fn lane_line(l: &LaneSummary) -> String {
    let mut line = format!("{}  ({} card{})", l.lane, l.count, if l.count == 1 { "" } else { "s" });
    if l.id.is_none() {
        line.push_str("  [no record]");
    } else if l.pending {
        line.push_str("  [pending]");
    }
    line
}

pub async fn run(engine: &Engine, out: &Out, cmd: LanesCommand) -> anyhow::Result<()> {
    match cmd {
        LanesCommand::List => {
            let lanes = engine.lanes().await?;
            out.value(&lanes, || lanes.iter().map(lane_line).collect::<Vec<_>>().join("\n"));
        }
        LanesCommand::Add { name, position } => {
            let lane = engine.add_lane(name, position).await?;
            out.value(&lane, || format!("added {}", lane.lane));
        }
        LanesCommand::Rename { name, new_name } => {
            let moved = engine.rename_lane(name.clone(), new_name.clone()).await?;
            out.value(&serde_json::json!({ "renamed": name, "to": new_name, "moved": moved }), || {
                format!("renamed {name} to {new_name}; {} card(s) moved", moved.len())
            });
        }
        LanesCommand::Move { name, after, before } => {
            // "after X" = X precedes it (the engine's `before` neighbour); "before Y" = Y follows it.
            engine.move_lane(name.clone(), after, before).await?;
            let lanes = engine.lanes().await?;
            out.value(&lanes, || lanes.iter().map(lane_line).collect::<Vec<_>>().join("\n"));
        }
        LanesCommand::Rm { name, move_to, trash } => {
            let go = match (move_to, trash) {
                (Some(lane), false) => LaneCards::MoveTo { lane },
                _ => LaneCards::Trash,
            };
            let touched = engine.delete_lane(name.clone(), go.clone()).await?;
            let verb = if matches!(go, LaneCards::Trash) { "moved to the Trash" } else { "moved" };
            out.value(&serde_json::json!({ "removed": name, "cards": touched, "cards_go": go }), || {
                format!("removed {name}; {} card(s) {verb}", touched.len())
            });
        }
    }
    Ok(())
}
