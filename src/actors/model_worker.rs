//! model-worker: one model instance. Runs one batch of partials at a time on a
//! blocking thread and reports the embeddings (or the error) to the model pool.
//! A panic here is a supervision event for the pool, which re-queues the batch.

use super::model_pool::ModelMsg;
use crate::model::{SpeakerEncoder, embed_partials};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

pub enum ModelWorkerMsg {
    /// `n` partials of mel frames, `[n, 160, 40]` row-major.
    Run { batch: u64, mels: Vec<f32>, n: usize },
}

impl super::instrument::Mailbox for ModelWorkerMsg {
    const ACTOR: &'static str = "model-worker";
}

pub struct ModelWorker;

pub struct ModelWorkerArgs {
    pub encoder: Arc<SpeakerEncoder>,
    pub pool: ActorRef<ModelMsg>,
    /// Fault injection: batches still to panic on (shared by all instances).
    pub panics: Arc<AtomicU32>,
}

impl Actor for ModelWorker {
    type Msg = ModelWorkerMsg;
    type State = ModelWorkerArgs;
    type Arguments = ModelWorkerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<Self::Msg>,
        args: ModelWorkerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: ModelWorkerMsg,
        st: &mut ModelWorkerArgs,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                let ModelWorkerMsg::Run { batch, mels, n } = msg;
                if st.panics.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1)).is_ok() {
                    panic!("injected model panic on batch {batch}");
                }
                let encoder = st.encoder.clone();
                let started = std::time::Instant::now();
                let result = match tokio::task::spawn_blocking(move || embed_partials(&encoder, &mels, n, n)).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    // The forward pass panicked: fail this actor so the pool re-queues the batch.
                    Err(join) => return Err(format!("model forward pass crashed: {join}").into()),
                };
                tracing::debug!(batch, partials = n, ms = started.elapsed().as_millis() as u64, "model batch");
                let _ =
                    super::instrument::tell(&st.pool, ModelMsg::BatchDone { worker: myself.get_id(), batch, result });
                Ok(())
            })
            .await
    }
}
