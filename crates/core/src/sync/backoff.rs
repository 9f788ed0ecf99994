//! Capped exponential backoff with full jitter: `sleep = random(0, min(cap, base * 2^attempt))`,
//! never below a server-given `Retry-After`.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap: cap.max(base) }
    }

    /// Upper bound of the delay before retry number `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Full-jitter delay for `attempt`, floored by `retry_after` when the server gave one.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceil = self.ceiling(attempt).as_millis() as u64;
        let jittered = Duration::from_millis(rand::rng().random_range(0..=ceil));
        match retry_after {
            Some(floor) => jittered.max(floor),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(3), Duration::from_secs(8));
        assert_eq!(b.ceiling(9), Duration::from_secs(300));
        assert_eq!(b.ceiling(1000), Duration::from_secs(300));
    }

    #[test]
    fn delay_is_jittered_within_the_ceiling_and_floored_by_retry_after() {
        let b = Backoff::new(Duration::from_millis(10), Duration::from_millis(200));
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = b.delay(4, None);
            assert!(d <= Duration::from_millis(160));
            distinct.insert(d);
        }
        assert!(distinct.len() > 10, "full jitter spreads delays");
        for _ in 0..50 {
            assert!(b.delay(0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        }
    }
}
