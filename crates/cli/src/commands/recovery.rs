use deckhand_core::Engine;

use crate::args::RecoveryCommand;
use crate::output::Out;

pub async fn run(engine: &Engine, out: &Out, cmd: RecoveryCommand) -> anyhow::Result<()> {
    match cmd {
        RecoveryCommand::List => {
            let report = engine.recovery().await?;
            let ops = engine.salvaged().await?;
            out.value(&serde_json::json!({ "recovery": report, "salvaged": ops }), || {
                let mut lines = Vec::new();
                match &report {
                    None => lines.push("no recovery: the local database was never found corrupt".to_string()),
                    Some(r) => lines.push(format!(
                        "recovered {}: {}; old database kept at {}; {} op(s) salvaged, {} unreadable",
                        r.at.format("%Y-%m-%d %H:%M:%S UTC"),
                        r.reason,
                        r.moved_to,
                        r.salvaged,
                        r.unreadable
                    )),
                }
                for o in &ops {
                    let title = o.payload.get("title").and_then(|t| t.as_str()).map(|t| format!(" {t:?}")).unwrap_or_default();
                    lines.push(format!("{}  {:?} {}{}  (queued {})", o.id, o.kind, o.card_id, title, o.created_at.format("%Y-%m-%d %H:%M:%S")));
                }
                lines.join("\n")
            });
        }
        RecoveryCommand::Requeue { ids, all } => {
            let ids = if all { Vec::new() } else { ids };
            let r = engine.requeue_salvaged(ids).await?;
            out.value(&r, || format!("{} op(s) queued again, {} skipped (no longer apply; see the history)", r.requeued, r.skipped));
        }
        RecoveryCommand::Discard { ids, all } => {
            let ids = if all { Vec::new() } else { ids };
            let n = engine.discard_salvaged(ids).await?;
            out.value(&serde_json::json!({ "discarded": n }), || format!("{n} salvaged op(s) discarded"));
        }
    }
    Ok(())
}
