//! Retry policy: exponential backoff with full jitter.
//!
//! The jitter is drawn by the caller (a number in `0..1`) so that this stays pure.

use std::time::Duration;

/// When to try again, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Backoff before the first retry.
    pub base: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Largest backoff.
    pub cap: Duration,
    /// Retries after the first attempt; attempt `max_retries + 1` is the last.
    pub max_retries: u32,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryDecision {
    /// Try again after this long.
    RetryAfter(Duration),
    /// Out of attempts (or the error is permanent): dead letter.
    GiveUp,
}

impl RetryPolicy {
    /// The ceiling of the backoff after attempt `attempt` (1-based) failed.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(64) as i32;
        let secs = self.base.as_secs_f64() * self.factor.max(1.0).powi(exp);
        Duration::from_secs_f64(secs.min(self.cap.as_secs_f64()))
    }

    /// Decides after attempt `attempt` (1-based) failed. `jitter` in `0..1` picks a
    /// delay uniformly below the ceiling ("full jitter").
    pub fn decide(&self, attempt: u32, permanent: bool, jitter: f64) -> RetryDecision {
        if permanent || attempt > self.max_retries {
            return RetryDecision::GiveUp;
        }
        let ceiling = self.ceiling(attempt).as_secs_f64();
        RetryDecision::RetryAfter(Duration::from_secs_f64(ceiling * jitter.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { base: Duration::from_secs(5), factor: 2.0, cap: Duration::from_secs(300), max_retries: 3 }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = policy();
        assert_eq!(p.ceiling(1), Duration::from_secs(5));
        assert_eq!(p.ceiling(2), Duration::from_secs(10));
        assert_eq!(p.ceiling(3), Duration::from_secs(20));
        assert_eq!(p.ceiling(20), Duration::from_secs(300));
    }

    #[test]
    fn full_jitter_stays_below_ceiling() {
        let p = policy();
        assert_eq!(p.decide(2, false, 0.5), RetryDecision::RetryAfter(Duration::from_secs(5)));
        assert_eq!(p.decide(1, false, 0.0), RetryDecision::RetryAfter(Duration::ZERO));
        assert_eq!(p.decide(1, false, 7.0), RetryDecision::RetryAfter(Duration::from_secs(5)));
    }

    #[test]
    fn gives_up_after_max_retries_or_when_permanent() {
        let p = policy();
        assert!(matches!(p.decide(3, false, 1.0), RetryDecision::RetryAfter(_)));
        assert_eq!(p.decide(4, false, 1.0), RetryDecision::GiveUp);
        assert_eq!(p.decide(1, true, 1.0), RetryDecision::GiveUp);
    }
}
