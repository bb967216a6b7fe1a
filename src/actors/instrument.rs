//! Per-actor metrics, labelled by actor name: messages handled
//! (`orak_actor_messages_total`), the time each took (`orak_actor_handling_seconds`),
//! and deaths (`orak_actor_failures_total`: a panic or an error that ended the
//! actor; restarts are counted by the supervisors). A handler starts a
//! [`Handling`] guard first thing; it records when the handler returns.

use crate::telemetry;
use std::time::Instant;

/// Records one message of `actor` when dropped.
pub struct Handling {
    actor: &'static str,
    started: Instant,
}

/// Starts timing a message of `actor`.
pub fn handling(actor: &'static str) -> Handling {
    Handling { actor, started: Instant::now() }
}

impl Drop for Handling {
    fn drop(&mut self) {
        metrics::counter!(telemetry::ACTOR_MESSAGES, "actor" => self.actor).increment(1);
        metrics::histogram!(telemetry::ACTOR_HANDLING, "actor" => self.actor).record(self.started.elapsed().as_secs_f64());
    }
}

/// An actor of this name died.
pub fn failed(actor: &'static str) {
    metrics::counter!(telemetry::ACTOR_FAILURES, "actor" => actor).increment(1);
}
