//! Restart intensity, as in Erlang/OTP: at most `max` restarts within `period`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A sliding window of recent restarts.
#[derive(Debug, Clone)]
pub struct Intensity {
    max: usize,
    period: Duration,
    hits: VecDeque<Instant>,
}

impl Intensity {
    pub fn new(max: usize, period: Duration) -> Self {
        Intensity { max, period, hits: VecDeque::new() }
    }

    /// Counts a restart at `now`; `false` when it would pass the limit.
    pub fn allow(&mut self, now: Instant) -> bool {
        while self.hits.front().is_some_and(|t| now.duration_since(*t) > self.period) {
            self.hits.pop_front();
        }
        if self.hits.len() >= self.max {
            return false;
        }
        self.hits.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_within_period_then_refuses_then_recovers() {
        let mut i = Intensity::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        assert!(i.allow(t0));
        assert!(i.allow(t0 + Duration::from_secs(1)));
        assert!(i.allow(t0 + Duration::from_secs(2)));
        assert!(!i.allow(t0 + Duration::from_secs(3)));
        assert!(i.allow(t0 + Duration::from_secs(32)));
    }
}
