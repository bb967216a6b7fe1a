//! Per-actor metrics and log context, labelled by actor name: messages sent
//! (`orak_actor_messages_sent_total`) and handled (`orak_actor_messages_total`),
//! the time each took (`orak_actor_handling_seconds`), mailbox depth
//! (`orak_actor_mailbox_depth`), and deaths (`orak_actor_failures_total`: a panic
//! or an error that ended the actor; restarts are counted by the supervisors).
//!
//! ractor does not expose the length of a mailbox, so depth is counted here: every
//! send goes through [`tell`], [`after`], [`every`] or `actors::ask` (+1), every
//! handled message through [`handling`] (−1), per actor instance; when an instance
//! dies its supervisor calls [`forget`], so messages lost with it do not count as
//! waiting forever. A pool's workers share one name: their depths add up.
//!
//! A handler starts with `instrument::handling(&myself).run(async move { … })`:
//! its log lines carry `actor` (the name), and its time is recorded when it returns.

use crate::telemetry;
use ractor::{ActorId, ActorRef, Message, MessagingErr};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// A message type, naming the actor that receives it.
pub trait Mailbox: Message {
    const ACTOR: &'static str;
}

#[derive(Default)]
struct Depths {
    by_instance: HashMap<ActorId, (&'static str, i64)>,
    by_name: HashMap<&'static str, i64>,
}

static DEPTHS: LazyLock<Mutex<Depths>> = LazyLock::new(Mutex::default);

fn adjust(id: ActorId, actor: &'static str, delta: i64) {
    let mut d = DEPTHS.lock().unwrap_or_else(|p| p.into_inner());
    d.by_instance.entry(id).or_insert((actor, 0)).1 += delta;
    let total = d.by_name.entry(actor).or_insert(0);
    *total += delta;
    metrics::gauge!(telemetry::ACTOR_MAILBOX, "actor" => actor).set((*total).max(0) as f64);
}

fn sent(id: ActorId, actor: &'static str) {
    metrics::counter!(telemetry::ACTOR_SENT, "actor" => actor).increment(1);
    adjust(id, actor, 1);
}

/// Counts a message about to be sent to `to` (for senders other than the helpers
/// here, e.g. `call`); `unsent` takes it back if the send failed.
pub fn sending<M: Mailbox>(to: &ActorRef<M>) {
    sent(to.get_id(), M::ACTOR);
}

/// Takes back a message [`sending`] counted that never arrived.
pub fn unsent<M: Mailbox>(to: &ActorRef<M>) {
    adjust(to.get_id(), M::ACTOR, -1);
}

/// An actor instance is gone: whatever was in its mailbox is not waiting any more.
pub fn forget(id: ActorId) {
    let mut d = DEPTHS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((actor, left)) = d.by_instance.remove(&id) {
        let total = d.by_name.entry(actor).or_insert(0);
        *total -= left;
        metrics::gauge!(telemetry::ACTOR_MAILBOX, "actor" => actor).set((*total).max(0) as f64);
    }
}

/// Sends `msg` to `to`, counted.
pub fn tell<M: Mailbox>(to: &ActorRef<M>, msg: M) -> Result<(), MessagingErr<M>> {
    sending(to);
    to.cast(msg).inspect_err(|_| unsent(to))
}

/// Sends `make()` to `to` after `delay`, counted when it is sent.
pub fn after<M: Mailbox>(to: &ActorRef<M>, delay: Duration, make: impl FnOnce() -> M + Send + 'static) {
    let target = to.clone();
    to.send_after(delay, move || {
        sending(&target);
        make()
    });
}

/// Sends `make()` to `to` every `period`, counted (a timer's message waits in the
/// mailbox like any other).
pub fn every<M: Mailbox>(to: &ActorRef<M>, period: Duration, make: impl Fn() -> M + Send + Sync + 'static) {
    let target = to.clone();
    to.send_interval(period, move || {
        sending(&target);
        make()
    });
}

/// One message being handled by an actor instance.
pub struct Handling {
    actor: &'static str,
    id: ActorId,
    started: Instant,
}

/// Starts handling a message of `myself`: it leaves the mailbox now.
pub fn handling<M: Mailbox>(myself: &ActorRef<M>) -> Handling {
    let id = myself.get_id();
    adjust(id, M::ACTOR, -1);
    Handling { actor: M::ACTOR, id, started: Instant::now() }
}

impl Handling {
    /// Runs the handler with `actor` (and the instance id) on its log lines.
    pub async fn run<R>(self, body: impl Future<Output = R>) -> R {
        let span = tracing::info_span!("actor", actor = self.actor, actor_id = %self.id);
        let out = body.instrument(span).await;
        drop(self);
        out
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        metrics::counter!(telemetry::ACTOR_MESSAGES, "actor" => self.actor).increment(1);
        metrics::histogram!(telemetry::ACTOR_HANDLING, "actor" => self.actor)
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// An actor of this name died.
pub fn failed(actor: &'static str) {
    metrics::counter!(telemetry::ACTOR_FAILURES, "actor" => actor).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::Actor;

    enum Ping {
        Hold(tokio::sync::oneshot::Receiver<()>),
        Noop,
    }

    impl Mailbox for Ping {
        const ACTOR: &'static str = "instrument-test";
    }

    struct Holder;

    impl Actor for Holder {
        type Msg = Ping;
        type State = ();
        type Arguments = ();
        async fn pre_start(&self, _: ActorRef<Ping>, _: ()) -> Result<(), ractor::ActorProcessingErr> {
            Ok(())
        }
        async fn handle(
            &self,
            myself: ActorRef<Ping>,
            msg: Ping,
            _: &mut (),
        ) -> Result<(), ractor::ActorProcessingErr> {
            handling(&myself)
                .run(async move {
                    if let Ping::Hold(rx) = msg {
                        let _ = rx.await;
                    }
                    Ok(())
                })
                .await
        }
    }

    fn depth() -> i64 {
        DEPTHS.lock().unwrap().by_name.get("instrument-test").copied().unwrap_or(0)
    }

    #[tokio::test]
    async fn depth_is_sent_minus_handled_and_forgotten_with_the_instance() {
        let (actor, handle) = Actor::spawn(None, Holder, ()).await.unwrap();
        let (release, rx) = tokio::sync::oneshot::channel();
        tell(&actor, Ping::Hold(rx)).unwrap();
        for _ in 0..5 {
            tell(&actor, Ping::Noop).unwrap();
        }
        // The first is being handled (held); five wait behind it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while depth() != 5 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(depth(), 5);
        release.send(()).unwrap();
        while depth() != 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(depth(), 0, "all handled");
        // Messages stuck in a dead instance's mailbox stop counting once it is forgotten.
        let (_never, rx) = tokio::sync::oneshot::channel();
        tell(&actor, Ping::Hold(rx)).unwrap();
        tell(&actor, Ping::Noop).unwrap();
        while depth() != 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(depth(), 1);
        actor.kill();
        let _ = handle.await;
        forget(actor.get_id());
        assert_eq!(depth(), 0);
        assert!(tell(&actor, Ping::Noop).is_err(), "a dead actor takes nothing");
        assert_eq!(depth(), 0, "a failed send is not counted");
    }
}
