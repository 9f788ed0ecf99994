//! `--only` with an existing `--out`: the rows that were not run again are kept from the
//! report already there, each marked with the date of the run it came from, so a partial run
//! updates its rows without wiping the others (and without passing old figures off as new).

/// The `Date:` of a report (`2026-11-30 19:38 UTC`), if it has one.
fn report_date(report: &str) -> Option<String> {
    let line = report.lines().find(|l| l.starts_with("Date: "))?;
    Some(line["Date: ".len()..].split(';').next()?.trim().to_string())
}

/// The first cell of a Results row (`| Q2 | …` → `Q2`).
pub fn row_id(line: &str) -> Option<&str> {
    let id = line.strip_prefix("| ")?.split(" |").next()?.trim();
    let mut chars = id.chars();
    let figure = matches!(chars.next(), Some('P' | 'Q')) && chars.next().is_some_and(|c| c.is_ascii_digit()) && chars.all(|c| c.is_ascii_digit());
    figure.then_some(id)
}

/// Rows of `old` whose id is not in `rerun`, each marked with the run it came from (rows already
/// marked keep their mark).
pub fn kept_rows(old: &str, rerun: &[String]) -> Vec<String> {
    let date = report_date(old).unwrap_or_else(|| "an earlier run".into());
    // The Results table only: the notes below it have tables of their own.
    let results = old.split_once("\n## Results").map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest)).unwrap_or("");
    results
        .lines()
        .filter(|l| row_id(l).is_some_and(|id| !rerun.iter().any(|r| r == id)))
        .map(|l| {
            // Marked already (by an earlier merge, or by hand: "(run <date>, commit …)").
            if l.contains("(row from the run of ") || l.contains("(run 20") {
                return l.to_string();
            }
            let body = l.trim_end().strip_suffix('|').unwrap_or(l).trim_end();
            format!("{body} (row from the run of {date}) |")
        })
        .collect()
}

/// `rows` ordered by `order` (ids not in it go last), stable within an id.
pub fn ordered(mut rows: Vec<String>, order: &[&str]) -> Vec<String> {
    let rank = |l: &String| row_id(l).and_then(|id| order.iter().position(|o| *o == id)).unwrap_or(order.len());
    rows.sort_by_key(rank);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "# Deckhand benchmarks\n\nDate: 2026-11-30 19:38 UTC; full run took 650 s.\n\n## Results\n\n| # | what |\n|---|---|\n\
| P1 | create | a | x |\n| P6 | search | e | w; (run 2026-11-30 22:44 UTC, commit a08b259) |\n| Q2 | upload | b | y |\n| Q4 | catch-up | c | z (row from the run of 2026-11-29 10:00 UTC) |\n| P10 | scroll | d | |\n\n## Notes\n\n| P1 create ratio | 1.2× |\n";

    #[test]
    fn keeps_the_rows_not_run_again_marked_with_their_run() {
        let kept = kept_rows(OLD, &["Q2".into()]);
        assert_eq!(
            kept,
            vec![
                "| P1 | create | a | x (row from the run of 2026-11-30 19:38 UTC) |",
                "| P6 | search | e | w; (run 2026-11-30 22:44 UTC, commit a08b259) |",
                "| Q4 | catch-up | c | z (row from the run of 2026-11-29 10:00 UTC) |",
                "| P10 | scroll | d | (row from the run of 2026-11-30 19:38 UTC) |",
            ]
        );
        assert_eq!(row_id("| # | what |"), None);
        assert_eq!(row_id("|---|---|"), None);
        assert_eq!(row_id("| P1 create ratio | 1.2× |"), None);
    }

    #[test]
    fn orders_rows_by_figure() {
        let rows = vec!["| Q2 | b |".to_string(), "| P10 | d |".into(), "| P1 | a |".into(), "| P1 | a2 |".into()];
        assert_eq!(ordered(rows, &["P1", "P10", "Q2"]), vec!["| P1 | a |", "| P1 | a2 |", "| P10 | d |", "| Q2 | b |"]);
    }
}
