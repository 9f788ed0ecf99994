//! P9, P10 and the whole app's memory: the real desktop app (the release Tauri binary beside this
//! one, built by `make bench-app`) under Xvfb, driven through tauri-driver + WebKitWebDriver by
//! crates/bench/app/app-bench.mjs (which reuses the e2e harness, tests/e2e/harness.mjs). One fresh
//! Node process, app and release `deckhand-server serve` per run, on a copy of P4's cached
//! database (100,000 cards, 10,000 pending creates). The UI's marks: ui/src/perfmarks.ts.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

use crate::Ctx;
use crate::data;
use crate::stats::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("app/app-bench.mjs")
}

/// The release binaries: the directory this bench runs from (target/release).
fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or_else(|| anyhow!("no directory for {}", exe.display()))?.to_path_buf();
    for b in ["deckhand", "deckhand-server"] {
        if !dir.join(b).is_file() {
            return Err(anyhow!("{} is missing: run `make bench-app` (release app and server)", dir.join(b).display()));
        }
    }
    Ok(dir)
}

fn one_run(db: &Path, work: &Path, bins: &Path) -> Result<Value> {
    let out = Command::new("node")
        .arg(script())
        .arg("--db")
        .arg(db)
        .arg("--work")
        .arg(work)
        .env("DECKHAND_BIN_DIR", bins)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("spawning node for the app bench")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find_map(|l| l.strip_prefix("APPBENCH "));
    match (out.status.success(), line) {
        (true, Some(l)) => serde_json::from_str(l).context("app bench output"),
        _ => Err(anyhow!("app bench run failed ({})", out.status)),
    }
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut x = v;
    for k in path {
        x = &x[*k];
    }
    x.as_f64().unwrap_or(f64::NAN)
}

fn ms(x: f64) -> String {
    t(x * 1000.0)
}

fn mib(kb: f64) -> String {
    format!("{:.0} MiB", kb / 1024.0)
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let bins = bin_dir()?;
    let src = data::cached_db(&ctx.data_dir, "cards-100k-10k-pending", 100_000, 10_000)?;
    let mut runs: Vec<Value> = Vec::new();
    for run in 0..ctx.runs {
        eprintln!("  P9/P10 app run {}/{}", run + 1, ctx.runs);
        let d = tempfile::tempdir_in(&ctx.tmp)?;
        let (src, work, bins) = (src.clone(), d.path().to_path_buf(), bins.clone());
        let v = tokio::task::spawn_blocking(move || one_run(&src, &work, &bins)).await??;
        eprintln!("  {v}");
        runs.push(v);
    }
    let col = |path: &[&str]| runs.iter().map(|v| f(v, path)).collect::<Vec<f64>>();
    let n = format!("{} app starts", runs.len());

    let first = col(&["first_cards_ms"]);
    let nav = col(&["nav_start_ms"]);
    let mut r1 = Row::new("P9", "real app: process start → first cards painted (100k cards, 10k ops)");
    r1.p50 = ms(median(&first));
    r1.p99 = format!("max {}", ms(range(&first).1));
    r1.samples = n.clone();
    r1.spread = format!("{}–{}", ms(range(&first).0), ms(range(&first).1));
    r1.extra = format!("webview navigation starts {} after the process (median)", ms(median(&nav)));
    r1.target = "cards on screen < 1 s".into();
    r1.verdict = Verdict::of(range(&first).1 < 1000.0);

    let synced = col(&["synced_ms"]);
    let mut r2 = Row::new("P9", "real app: process start → synced (10k ops drained to a live server)");
    r2.p50 = ms(median(&synced));
    r2.p99 = format!("max {}", ms(range(&synced).1));
    r2.samples = n.clone();
    r2.spread = format!("{}–{}", ms(range(&synced).0), ms(range(&synced).1));
    r2.extra = "while P10's scroll and search run".into();
    r2.target = "report".into();

    // WebKitGTK has no Long Tasks API (perfmarks.ts checks): the main thread's blocks are then
    // measured with a 20 ms timer (how late it fires), and frames with requestAnimationFrame.
    let lt_supported = runs.iter().all(|v| v["long_task_supported"].as_bool() == Some(true));
    let count = |key: &str| -> Vec<f64> { runs.iter().map(|v| v["frames"][key].as_array().map(|a| a.len() as f64).unwrap_or(f64::NAN)).collect() };
    let longest_task: Vec<f64> = runs
        .iter()
        .map(|v| v["long_tasks"].as_array().map(|a| a.iter().filter_map(|x| x["duration"].as_f64()).fold(0.0, f64::max)).unwrap_or(f64::NAN))
        .collect();
    let blocks = if lt_supported { longest_task } else { col(&["frames", "max_block_ms"]) };
    let search = col(&["search_ms"]);
    let mut r3 = Row::new(
        "P10",
        if lt_supported { "real app: scroll 100k-card list + type a search while draining: longest long task" } else { "real app: scroll 100k-card list + type a search while draining: longest main-thread block" },
    );
    r3.p50 = ms(median(&blocks));
    r3.p99 = format!("max {}", ms(range(&blocks).1));
    r3.samples = n.clone();
    r3.spread = format!("{}–{}", ms(range(&blocks).0), ms(range(&blocks).1));
    r3.extra = format!(
        "{} blocks > 50 ms per run (median); {}; search typed → results painted {}",
        median(&count("blocks")),
        if lt_supported { "Long Tasks API" } else { "no Long Tasks API in WebKitGTK: a 20 ms timer's lateness" },
        ms(median(&search))
    );
    r3.target = "no long task > 100 ms".into();
    r3.verdict = Verdict::of(range(&blocks).1 <= 100.0);

    let gaps = col(&["frames", "max_gap_ms"]);
    let frames = col(&["frames", "frames"]);
    let window = col(&["frames", "window_ms"]);
    let fps: Vec<f64> = frames.iter().zip(&window).map(|(f, w)| f / w * 1000.0).collect();
    let mut r3b = Row::new("P10", "real app: same scroll + search: longest frame gap (requestAnimationFrame)");
    r3b.p50 = ms(median(&gaps));
    r3b.p99 = format!("max {}", ms(range(&gaps).1));
    r3b.samples = n.clone();
    r3b.spread = format!("{}–{}", ms(range(&gaps).0), ms(range(&gaps).1));
    r3b.extra = format!("{} gaps > 50 ms per run (median), {:.0} frames/s over the phase (software rendering under Xvfb)", median(&count("gaps")), median(&fps));
    r3b.target = "report".into();

    let rss = col(&["mem_synced", "rss_kb"]);
    let pss = col(&["mem_synced", "pss_kb"]);
    let rss_scroll = col(&["mem_after_scroll", "rss_kb"]);
    let procs = runs.first().and_then(|v| v["mem_synced"]["procs"].as_array()).map(|a| a.len()).unwrap_or(0);
    let mut r4 = Row::new("P9", "whole app resident memory at 100k cards (app + WebKit processes)");
    r4.p50 = format!("PSS {}", mib(median(&pss)));
    r4.p99 = format!("RSS sum {}", mib(median(&rss)));
    r4.samples = n;
    r4.spread = format!("PSS {}–{}", mib(range(&pss).0), mib(range(&pss).1));
    r4.extra = format!("{procs} processes, synced, after P10's scroll; RSS sum right after the scroll {}", mib(median(&rss_scroll)));
    r4.target = "report".into();
    Ok(vec![r1, r2, r3, r3b, r4])
}
