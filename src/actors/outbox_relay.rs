//! outbox-relay (Kafka mode): produces the transactional outbox's rows to their
//! topics, oldest first, and deletes them once the broker acknowledged them. A
//! crash or broker outage between the two leaves the rows, which are sent again
//! (at least once; consumers claim records idempotently).

use super::Ctx;
use crate::store::kafka::{JobProducer, TopicAdmin};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Duration;

/// Rows produced per round.
const BATCH: i64 = 200;

pub enum RelayMsg {
    /// A status change wrote an outbox row.
    Wake,
    /// Periodic look (rows from other instances, failed rounds).
    Tick,
}

impl super::instrument::Mailbox for RelayMsg {
    const ACTOR: &'static str = "outbox-relay";
}

pub struct OutboxRelay;

pub struct RelayState {
    ctx: Ctx,
    producer: Arc<JobProducer>,
    /// Creates the topics; `None` when this service does not create them.
    admin: Option<TopicAdmin>,
    /// The topics exist (or this service does not create them).
    topics_ready: bool,
}

impl Actor for OutboxRelay {
    type Msg = RelayMsg;
    type State = RelayState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<RelayMsg>, ctx: Ctx) -> Result<RelayState, ActorProcessingErr> {
        let cfg = &ctx.config.kafka;
        let client_id = ctx.client_id();
        let producer = Arc::new(JobProducer::new(cfg, &client_id)?);
        let admin = if cfg.create_topics { Some(TopicAdmin::new(cfg, &client_id)?) } else { None };
        super::instrument::every(&myself, Duration::from_millis(cfg.outbox_interval_ms.max(10)), || RelayMsg::Tick);
        let topics_ready = admin.is_none();
        Ok(RelayState { ctx, producer, admin, topics_ready })
    }

    async fn handle(
        &self,
        myself: ActorRef<RelayMsg>,
        _msg: RelayMsg,
        st: &mut RelayState,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                if let (false, Some(admin)) = (st.topics_ready, &st.admin) {
                    // A broker that is down at start is waited for, not fatal: rows wait in the outbox.
                    match admin.ensure().await {
                        Ok(()) => st.topics_ready = true,
                        Err(e) => {
                            tracing::warn!(error = %e, "Kafka is not reachable yet; outbox rows wait");
                            return Ok(());
                        }
                    }
                }
                if !drain(st).await {
                    // The broker may have come back without the topics (a restarted broker
                    // that kept nothing) and without this idempotent producer's id and
                    // sequence numbers, which it then never accepts again: start afresh.
                    st.topics_ready = st.admin.is_none();
                    let fatal = st.producer.fatal_error();
                    tracing::warn!(
                        fatal = fatal.as_deref().unwrap_or("no"),
                        "replacing the Kafka producer after a failed round"
                    );
                    // The old one is destroyed on a thread of its own (`Detached`).
                    st.producer = Arc::new(JobProducer::new(&st.ctx.config.kafka, &st.ctx.client_id())?);
                }
                Ok(())
            })
            .await
    }
}

/// Produces rows until the outbox is empty (true) or a step fails (false).
async fn drain(st: &RelayState) -> bool {
    loop {
        let rows = match st.ctx.store.outbox_pending(BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reading the outbox failed");
                return true;
            }
        };
        if rows.is_empty() {
            return true;
        }
        // Sent together (librdkafka keeps their order per partition), confirmed each.
        let sends = rows.iter().map(|r| st.producer.send(&r.topic, &r.key, &r.payload));
        let results = futures_util::future::join_all(sends).await;
        let mut sent = Vec::with_capacity(rows.len());
        let mut failed = None;
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => sent.push(row.id),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if let Err(e) = st.ctx.store.outbox_done(&sent).await {
            tracing::warn!(error = %e, "could not delete produced outbox rows; they will be sent again");
            return true;
        }
        tracing::debug!(produced = sent.len(), "outbox rows produced");
        if let Some(e) = failed {
            tracing::warn!(error = %e, "producing outbox rows failed; retrying at the next tick");
            return false;
        }
    }
}
