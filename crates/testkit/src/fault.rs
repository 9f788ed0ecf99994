//! What the proxy can do to one request, and seeded plans that choose it.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Close the connection without forwarding: the server never sees the request.
    DropRequest,
    /// Forward, let the server commit, then close the connection: the client never hears.
    DropResponse,
    /// Wait, then forward.
    Delay(Duration),
    /// Answer 500 without forwarding.
    ServerError,
    /// Answer 503 with `Retry-After` without forwarding.
    Unavailable { retry_after: u64 },
    /// Answer 429 with `Retry-After` without forwarding.
    RateLimited { retry_after: u64 },
    /// Accept, read nothing more and reset the connection.
    Reset,
    /// Forward and stream the response, then cut the connection after this many body bytes
    /// (for SSE: mid-event).
    CutStream { after_bytes: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    DropRequest,
    DropResponse,
    Delay,
    ServerError,
    Unavailable,
    RateLimited,
    Reset,
    CutStream,
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::DropRequest => FaultKind::DropRequest,
            Fault::DropResponse => FaultKind::DropResponse,
            Fault::Delay(_) => FaultKind::Delay,
            Fault::ServerError => FaultKind::ServerError,
            Fault::Unavailable { .. } => FaultKind::Unavailable,
            Fault::RateLimited { .. } => FaultKind::RateLimited,
            Fault::Reset => FaultKind::Reset,
            Fault::CutStream { .. } => FaultKind::CutStream,
        }
    }
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::DropRequest => "drop_request",
            FaultKind::DropResponse => "drop_response",
            FaultKind::Delay => "delay",
            FaultKind::ServerError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::RateLimited => "429",
            FaultKind::Reset => "reset",
            FaultKind::CutStream => "cut_stream",
        }
    }
}

/// How the proxy treats requests.
#[derive(Debug)]
pub enum Plan {
    /// Forward everything untouched.
    Pass,
    /// Refuse every request (connection closed): the server looks unreachable.
    Offline,
    /// Each request gets a fault with `probability`, drawn from a seeded generator; SSE streams
    /// are cut mid-event instead of the request-level faults.
    Random { rng: StdRng, probability: f64, max_delay: Duration, stream_probability: f64 },
}

impl Plan {
    pub fn random(seed: u64, probability: f64) -> Plan {
        Plan::Random { rng: StdRng::seed_from_u64(seed), probability, max_delay: Duration::from_millis(300), stream_probability: probability }
    }

    /// A random plan that cuts SSE streams with its own probability (streams are few and long).
    pub fn with_stream_probability(self, p: f64) -> Plan {
        match self {
            Plan::Random { rng, probability, max_delay, .. } => Plan::Random { rng, probability, max_delay, stream_probability: p },
            other => other,
        }
    }

    pub(crate) fn choose(&mut self, is_stream: bool) -> Option<Fault> {
        match self {
            Plan::Pass => None,
            Plan::Offline => Some(Fault::DropRequest),
            Plan::Random { rng, probability, max_delay, stream_probability } => {
                let p = if is_stream { *stream_probability } else { *probability };
                if !rng.random_bool(p.clamp(0.0, 1.0)) {
                    return None;
                }
                if is_stream {
                    return Some(Fault::CutStream { after_bytes: rng.random_range(20..2_000) });
                }
                Some(match rng.random_range(0..7) {
                    0 => Fault::DropRequest,
                    1 => Fault::DropResponse,
                    2 => Fault::Delay(Duration::from_millis(rng.random_range(1..=max_delay.as_millis().max(1) as u64))),
                    3 => Fault::ServerError,
                    4 => Fault::Unavailable { retry_after: 1 },
                    5 => Fault::RateLimited { retry_after: 1 },
                    _ => Fault::Reset,
                })
            }
        }
    }
}
