//! What the CLI suites share: run the real `deckhand-cli` binary on a data dir with a clean
//! environment, and read a successful run's stdout.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `deckhand-cli --data-dir DIR ARGS…` with none of the user's DECKHAND_* settings, plus `env`.
pub fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deckhand-cli"));
    c.arg("--data-dir").arg(dir).args(args).env_remove("RUST_LOG");
    for k in ["DECKHAND_SERVER", "DECKHAND_TOKEN", "DECKHAND_READ_ONLY", "DECKHAND_MAX_DB_BYTES", "DECKHAND_JOURNAL"] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The stdout of a run that must have succeeded (its output in the panic otherwise).
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A `--json` output, parsed (the text in the panic otherwise).
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}
