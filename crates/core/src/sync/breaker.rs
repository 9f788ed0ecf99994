//! Circuit breaker over transient server failures: `threshold` consecutive failures open it;
//! after `reset` one half-open probe is let through; its success closes it, its failure re-opens.

use std::time::{Duration, Instant};

use crate::model::BreakerState;

#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    reset: Duration,
    failures: u32,
    state: BreakerState,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
}

impl Breaker {
    pub fn new(threshold: u32, reset: Duration) -> Breaker {
        Breaker { threshold: threshold.max(1), reset, failures: 0, state: BreakerState::Closed, opened_at: None, probe_in_flight: false }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May a request go out now? Moves Open → HalfOpen when the reset time has passed and then
    /// admits exactly one probe. Returns the new state when it changed.
    pub fn try_acquire(&mut self, now: Instant) -> (bool, Option<BreakerState>) {
        match self.state {
            BreakerState::Closed => (true, None),
            BreakerState::Open => {
                if self.opened_at.is_some_and(|t| now.duration_since(t) >= self.reset) {
                    self.state = BreakerState::HalfOpen;
                    self.probe_in_flight = true;
                    (true, Some(BreakerState::HalfOpen))
                } else {
                    (false, None)
                }
            }
            BreakerState::HalfOpen => {
                if self.probe_in_flight {
                    (false, None)
                } else {
                    self.probe_in_flight = true;
                    (true, None)
                }
            }
        }
    }

    /// When an open breaker will admit its probe.
    pub fn retry_at(&self) -> Option<Instant> {
        match self.state {
            BreakerState::Open => self.opened_at.map(|t| t + self.reset),
            _ => None,
        }
    }

    pub fn on_success(&mut self) -> Option<BreakerState> {
        self.failures = 0;
        self.probe_in_flight = false;
        if self.state != BreakerState::Closed {
            self.state = BreakerState::Closed;
            self.opened_at = None;
            return Some(BreakerState::Closed);
        }
        None
    }

    pub fn on_failure(&mut self, now: Instant) -> Option<BreakerState> {
        self.failures += 1;
        self.probe_in_flight = false;
        let open = match self.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => self.failures >= self.threshold,
            BreakerState::Open => false,
        };
        if open {
            self.state = BreakerState::Open;
            self.opened_at = Some(now);
            return Some(BreakerState::Open);
        }
        None
    }

    /// A request admitted as the probe ended without telling anything (e.g. auth, cancelled).
    pub fn release_probe(&mut self) {
        self.probe_in_flight = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_after_reset_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(30));
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(b.on_failure(t0), Some(BreakerState::Open));
        assert_eq!(b.try_acquire(t0 + Duration::from_secs(29)), (false, None));
        assert_eq!(b.try_acquire(t0 + Duration::from_secs(30)), (true, Some(BreakerState::HalfOpen)));
        assert!(!b.try_acquire(t0 + Duration::from_secs(30)).0, "one probe only");
        assert_eq!(b.on_failure(t0 + Duration::from_secs(31)), Some(BreakerState::Open));
        assert_eq!(b.try_acquire(t0 + Duration::from_secs(61)), (true, Some(BreakerState::HalfOpen)));
        assert_eq!(b.on_success(), Some(BreakerState::Closed));
        assert_eq!(b.try_acquire(t0 + Duration::from_secs(61)), (true, None));
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(1));
        b.on_failure(t0);
        b.on_success();
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
