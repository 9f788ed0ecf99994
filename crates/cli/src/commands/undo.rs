//! `deckhand-cli undo` / `redo`: one step of the engine's persisted undo stack, queued locally
//! like any write (`sync run` sends it). Nothing to undo is not an error: `null` in `--json`.

use deckhand_core::Engine;
use deckhand_core::undo::{UndoDirection, UndoEffect, UndoOutcome};

use crate::output::Out;

pub async fn run(engine: &Engine, out: &Out, direction: UndoDirection) -> anyhow::Result<()> {
    let outcome = match direction {
        UndoDirection::Undo => engine.undo().await?,
        UndoDirection::Redo => engine.redo().await?,
    };
    out.value(&outcome, || match &outcome {
        None => format!("nothing to {}", verb(direction)),
        Some(o) => human(o),
    });
    Ok(())
}

fn verb(d: UndoDirection) -> &'static str {
    match d {
        UndoDirection::Undo => "undo",
        UndoDirection::Redo => "redo",
    }
}

fn human(o: &UndoOutcome) -> String {
    let done = if o.applied.is_empty() { "nothing changed" } else { "done" };
    let mut s = format!("{}: {} ({done})", verb(o.direction), o.label);
    for a in &o.applied {
        let what = match &a.effect {
            UndoEffect::Edited { fields } => format!("put back {}", fields.join(", ")),
            UndoEffect::Deleted => "moved to the trash".into(),
            UndoEffect::Restored => "restored".into(),
        };
        s.push_str(&format!("\n  {}  {}: {what}", a.card_id, a.title));
    }
    for k in &o.skipped {
        s.push_str(&format!("\n  skipped: {}", k.message));
    }
    s
}
