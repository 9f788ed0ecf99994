//! P6: full-text search through `Engine::list { text }` (FTS5, first page of 100 plus the total)
//! over 100,000 cards. Query mix: one word, two words, a 3-letter prefix, a word plus a tag-ish
//! word, drawn from the corpus vocabulary (the "word search" row); and, as a second row, the
//! substring path: 4 letters from the middle of a word and a 2-character CJK term (both answered
//! through the vocabulary of indexed words, migration 0011).

use std::time::Instant;

use anyhow::Result;
use deckhand_core::model::ListQuery;
use deckhand_core::{Engine, EngineConfig};

use crate::Ctx;
use crate::data::{self, Rng};
use crate::stats::*;

/// Query kinds: 0-3 word search, 4 middle of a word, 5 short CJK.
const KINDS: usize = 6;

fn queries(n: usize) -> Vec<String> {
    let vocab = data::vocabulary();
    let mut rng = Rng::new(99);
    (0..n)
        .map(|i| {
            let w = &vocab[rng.below(vocab.len())];
            match i % KINDS {
                0 => w.clone(),
                1 => format!("{w} {}", vocab[rng.below(vocab.len())]),
                2 => w.chars().take(3).collect(),
                3 => format!("{w} {}", data::TAGS[rng.below(data::TAGS.len())]),
                4 => w.chars().skip(1).take(4).collect(),
                _ => ["同期", "設計", "メモ"][rng.below(3)].to_string(),
            }
        })
        .collect()
}

pub async fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let src = data::cached_db(&ctx.data_dir, "cards-100k-10k-pending", 100_000, 10_000)?;
    let d = tempfile::tempdir_in(&ctx.tmp)?;
    data::fresh_copy(&src, d.path())?;
    let engine = Engine::open(EngineConfig::new(d.path())).await?;
    let n = if ctx.quick { 150 } else { 600 };
    let qs = queries(n);
    // Warm-up: the first query of a fresh connection pays for loading the FTS index pages.
    for q in qs.iter().take(20) {
        engine.list(ListQuery { text: Some(q.clone()), ..Default::default() }).await?;
    }
    let mut runs = Runs::default();
    let mut sub_runs = Runs::default();
    let mut per_kind: [Vec<f64>; KINDS] = Default::default();
    let mut hits = Vec::new();
    let mut sub_hits = Vec::new();
    for run in 0..ctx.runs {
        eprintln!("  P6 run {}/{}", run + 1, ctx.runs);
        let (mut lat, mut sub) = (Vec::with_capacity(n), Vec::new());
        for (i, q) in qs.iter().enumerate() {
            let t0 = Instant::now();
            let page = engine.list(ListQuery { text: Some(q.clone()), ..Default::default() }).await?;
            let us = t0.elapsed().as_secs_f64() * 1e6;
            let kind = i % KINDS;
            if kind < 4 { lat.push(us) } else { sub.push(us) }
            per_kind[kind].push(us);
            if run == 0 {
                if kind < 4 { hits.push(page.total as f64) } else if kind == 4 { sub_hits.push(page.total as f64) }
            }
        }
        runs.push(RunStat::of(&lat));
        sub_runs.push(RunStat::of(&sub));
    }
    engine.shutdown().await;
    let mut row = Row::new("P6", "FTS search via Engine::list{text} over 100k cards");
    row.p50 = t(runs.p50());
    row.p99 = t(runs.p99());
    row.samples = runs.samples();
    row.spread = format!("p50 {}; p99 {}", trange(runs.p50_range()), trange(runs.p99_range()));
    row.target = "p99 < 10 ms".into();
    row.verdict = Verdict::of(runs.p99() < 10_000.0);
    let names = ["1 word", "2 words", "3-letter prefix", "word + tag", "middle of a word", "2-char CJK"];
    let kinds: Vec<String> = per_kind
        .iter_mut()
        .zip(names)
        .map(|(v, name)| format!("{name} p99 {}", t(pct(v, 99.0))))
        .collect();
    row.extra = format!(
        "{}; matches per query median {}, max {}; words of 4+ letters also match inside words (through the vocabulary)",
        kinds[..4].join(", "),
        thousands(median(&hits)),
        thousands(range(&hits).1)
    );
    let mut sub = Row::new("P6", "substring search and short CJK (vocabulary of words) via Engine::list{text}, 100k cards");
    sub.p50 = t(sub_runs.p50());
    sub.p99 = t(sub_runs.p99());
    sub.samples = sub_runs.samples();
    sub.spread = format!("p50 {}; p99 {}", trange(sub_runs.p50_range()), trange(sub_runs.p99_range()));
    sub.target = "report".into();
    sub.verdict = Verdict::Info;
    sub.extra = format!("{}; middle-of-word matches per query median {}", kinds[4..].join(", "), thousands(median(&sub_hits)));
    Ok(vec![row, sub])
}
