use deckhand_core::Engine;

use crate::args::OutboxCommand;
use crate::output::{Out, outbox_line};

pub async fn run(engine: &Engine, out: &Out, cmd: OutboxCommand) -> anyhow::Result<()> {
    match cmd {
        OutboxCommand::List => {
            let ops = engine.outbox().await?;
            out.value(&ops, || ops.iter().map(outbox_line).collect::<Vec<_>>().join("\n"));
        }
        OutboxCommand::Retry { all: true, .. } => {
            let n = engine.retry_all().await?;
            out.value(&serde_json::json!({ "retried": n }), || format!("{n} operation(s) queued again"));
        }
        OutboxCommand::Retry { op, .. } => {
            let op = op.expect("clap requires op without --all");
            engine.retry(op).await?;
            out.value(&serde_json::json!({ "retried": op }), || format!("operation {op} queued again"));
        }
        OutboxCommand::Discard { op } => {
            engine.discard(op).await?;
            out.value(&serde_json::json!({ "discarded": op }), || format!("operation {op} discarded"));
        }
    }
    Ok(())
}
