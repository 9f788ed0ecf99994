//! Percentiles, per-run summaries and the result rows of the report.

/// Nearest-rank percentile of `v` (sorted in place). `q` in 0..=100.
pub fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((q / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub fn median(v: &[f64]) -> f64 {
    let mut c = v.to_vec();
    pct(&mut c, 50.0)
}

/// p50 and p99 of one run's samples.
#[derive(Debug, Clone, Copy)]
pub struct RunStat {
    pub p50: f64,
    pub p99: f64,
    pub n: usize,
}

impl RunStat {
    pub fn of(samples: &[f64]) -> RunStat {
        let mut c = samples.to_vec();
        RunStat { p50: pct(&mut c, 50.0), p99: pct(&mut c, 99.0), n: samples.len() }
    }
}

/// Several runs of one figure.
#[derive(Debug, Clone, Default)]
pub struct Runs(pub Vec<RunStat>);

impl Runs {
    pub fn push(&mut self, s: RunStat) {
        self.0.push(s);
    }
    pub fn p50(&self) -> f64 {
        median(&self.0.iter().map(|r| r.p50).collect::<Vec<_>>())
    }
    pub fn p99(&self) -> f64 {
        median(&self.0.iter().map(|r| r.p99).collect::<Vec<_>>())
    }
    pub fn p50_range(&self) -> (f64, f64) {
        range(&self.0.iter().map(|r| r.p50).collect::<Vec<_>>())
    }
    pub fn p99_range(&self) -> (f64, f64) {
        range(&self.0.iter().map(|r| r.p99).collect::<Vec<_>>())
    }
    pub fn samples(&self) -> String {
        let n = self.0.first().map(|r| r.n).unwrap_or(0);
        if self.0.iter().all(|r| r.n == n) {
            format!("{} × {}", self.0.len(), thousands(n as f64))
        } else {
            format!("{} runs, {} total", self.0.len(), thousands(self.0.iter().map(|r| r.n).sum::<usize>() as f64))
        }
    }
}

pub fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// Human time from microseconds.
pub fn t(us: f64) -> String {
    if !us.is_finite() {
        "—".into()
    } else if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub fn trange(r: (f64, f64)) -> String {
    format!("{}–{}", t(r.0), t(r.1))
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub what: String,
    pub p50: String,
    pub p99: String,
    pub extra: String,
    pub baseline: String,
    pub ratio: String,
    pub samples: String,
    pub spread: String,
    pub target: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    Info,
}

impl Verdict {
    pub fn of(ok: bool) -> Verdict {
        if ok { Verdict::Met } else { Verdict::Missed }
    }
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "**MISSED**",
            Verdict::Info => "—",
        }
    }
}

impl Row {
    pub fn new(id: &str, what: impl Into<String>) -> Row {
        Row {
            id: id.into(),
            what: what.into(),
            p50: "—".into(),
            p99: "—".into(),
            extra: String::new(),
            baseline: "—".into(),
            ratio: "—".into(),
            samples: "—".into(),
            spread: "—".into(),
            target: "—".into(),
            verdict: Verdict::Info,
        }
    }

    pub fn print(&self) {
        println!(
            "{:<4} {:<52} p50 {:>10}  p99 {:>10}  base {:<22} ratio {:<18} n {:<14} spread {:<34} target {:<26} {} {}",
            self.id,
            self.what,
            self.p50,
            self.p99,
            self.baseline,
            self.ratio,
            self.samples,
            self.spread,
            self.target,
            self.verdict.label(),
            self.extra
        );
    }
}
