//! Hidden `script FILE`: a JSON list of card operations applied in one process, through the same
//! engine calls as `cards add/edit/mv/rm` (a harness doing thousands of ops avoids one process
//! start per op). Output: one JSON line, an array with one result per op, in order:
//! `{"ok":true,"id":"…"}` or `{"ok":false,"error":"…"}`. A failing op does not stop the script.

use std::path::Path;

use deckhand_core::Engine;
use deckhand_core::model::NewCardInput;
use deckhand_protocol::CardChanges;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::journal::Journal;

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ScriptOp {
    Add(NewCardInput),
    Edit { id: Uuid, changes: CardChanges },
    Mv { id: Uuid, lane: String, position: Option<f64> },
    Rm { id: Uuid },
}

pub async fn run(engine: &Engine, journal: &mut Journal, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let ops: Vec<ScriptOp> = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not an op list: {e}", file.display()))?;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let r = match op {
            ScriptOp::Add(input) => journal.create(engine, input).await.map(|c| c.id),
            ScriptOp::Edit { id, changes } => journal.update(engine, id, changes, None, "edit").await.map(|c| c.id),
            ScriptOp::Mv { id, lane, position } => {
                journal.update(engine, id, CardChanges { lane: Some(lane), position, ..Default::default() }, None, "mv").await.map(|c| c.id)
            }
            ScriptOp::Rm { id } => journal.delete(engine, id).await.map(|_| id),
        };
        results.push(match r {
            Ok(id) => json!({ "ok": true, "id": id }),
            Err(e) => json!({ "ok": false, "error": e.to_string(), "kind": e.kind() }),
        });
    }
    println!("{}", serde_json::Value::Array(results));
    Ok(())
}

/// Persisted engine counters the chaos suite reports.
pub async fn metrics(engine: &Engine) -> anyhow::Result<()> {
    let mut out = serde_json::Map::new();
    for name in ["ops_succeeded", "ops_failed", "ops_retried", "version_conflicts", "auto_merges", "conflicts_detected"] {
        out.insert(name.to_string(), json!(engine.metric(name).await?));
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
