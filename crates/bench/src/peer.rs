//! The peer (crates/bench/peer: PouchDB 9 + express-pouchdb on Node) seen from the harness: the
//! shared card corpus as JSON lines, and one `node peer.js SCENARIO ...` process per sample whose
//! one JSON line on stdout is the result.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

use crate::data;

/// crates/bench/peer (compiled in: the harness always runs from this checkout).
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer")
}

/// Fails early, with the fix, when `npm ci` has not been run for the peer.
pub fn ensure_installed() -> Result<()> {
    if !dir().join("node_modules/pouchdb").is_dir() {
        return Err(anyhow!("the PouchDB peer is not installed: run `make bench-peer` (or scripts/setup.sh)"));
    }
    Ok(())
}

/// `n` cards of the bench corpus (data::card_fields, the fields Deckhand's rows write) as JSON
/// lines, cached under the data dir.
pub fn corpus(root: &Path, n: usize) -> Result<PathBuf> {
    let path = root.join(format!("peer-cards-{n}.jsonl"));
    if !path.exists() {
        let vocab = data::vocabulary();
        let mut s = String::with_capacity(n * 300);
        for i in 0..n {
            let c = data::card_fields(i, &vocab);
            let line = json!({ "id": c.id, "title": c.title, "body": c.body, "url": c.url, "tags": c.tags,
                               "lane": c.lane, "position": c.position, "pinned": c.pinned });
            s.push_str(&line.to_string());
            s.push('\n');
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, s)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

/// Run one scenario in a fresh Node process; its stdout's last line is the JSON result.
pub fn run(scenario: &str, args: &[(&str, String)]) -> Result<Value> {
    let mut cmd = Command::new("node");
    cmd.arg(dir().join("peer.js")).arg(scenario);
    for (k, v) in args {
        cmd.arg(format!("--{k}")).arg(v);
    }
    let out = cmd.output().with_context(|| format!("spawning node for peer {scenario}"))?;
    if !out.status.success() {
        return Err(anyhow!("peer {scenario} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().ok_or_else(|| anyhow!("peer {scenario} printed nothing"))?;
    serde_json::from_str(line).with_context(|| format!("peer {scenario} output"))
}

/// A JSON array of numbers (latencies in µs).
pub fn floats(v: &Value, key: &str) -> Result<Vec<f64>> {
    v[key].as_array().ok_or_else(|| anyhow!("peer result has no {key}"))?.iter().map(|x| x.as_f64().ok_or_else(|| anyhow!("{key}: not a number"))).collect()
}

pub fn num(v: &Value, key: &str) -> Result<f64> {
    v[key].as_f64().ok_or_else(|| anyhow!("peer result has no {key}: {v}"))
}
