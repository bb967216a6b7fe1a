//! model-pool: supervises a bounded number of model actors and feeds them
//! batches of partial utterances. Partials of concurrent requests share a batch
//! (one large matrix product is cheaper than several small ones), and a batch
//! whose model actor died goes back to the front of the queue, so a panic costs
//! time, never a request.

use super::intensity::Intensity;
use super::model_worker::{ModelWorker, ModelWorkerArgs, ModelWorkerMsg};
use super::{Ctx, died};
use crate::model::frontend::PARTIAL_FRAMES;
use crate::model::{self, EMBEDDING_DIM, SpeakerEncoder};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

/// Mel values per partial.
const PARTIAL_LEN: usize = PARTIAL_FRAMES * model::encoder::N_MELS;

pub enum ModelMsg {
    /// Per-partial embeddings (`[n, 256]`) for `n` partials of mel frames (`[n, 160, 40]`).
    Embed { mels: Vec<f32>, n: usize, reply: RpcReplyPort<Result<Vec<f32>, String>> },
    /// A model actor finished a batch.
    BatchDone { worker: ActorId, batch: u64, result: Result<Vec<f32>, String> },
}

impl super::instrument::Mailbox for ModelMsg {
    const ACTOR: &'static str = "model-pool";
}

pub struct ModelPool;

/// A run of partials of one request.
#[derive(Debug, Clone, Copy)]
struct Piece {
    request: u64,
    start: usize,
    count: usize,
}

struct Request {
    mels: Vec<f32>,
    out: Vec<f32>,
    remaining: usize,
    reply: RpcReplyPort<Result<Vec<f32>, String>>,
}

struct Slot {
    actor: ActorRef<ModelWorkerMsg>,
    batch: Option<(u64, Vec<Piece>)>,
}

pub struct ModelPoolState {
    ctx: Ctx,
    /// `None` when the model is disabled in the configuration.
    encoder: Option<Arc<SpeakerEncoder>>,
    slots: HashMap<ActorId, Slot>,
    requests: HashMap<u64, Request>,
    queue: VecDeque<Piece>,
    next_request: u64,
    next_batch: u64,
    panics: Arc<AtomicU32>,
    intensity: Intensity,
}

impl ModelPoolState {
    /// Gives every idle model actor a batch of up to `max_batch` queued partials.
    fn dispatch(&mut self) {
        let max = self.ctx.config.model.max_batch.max(1);
        loop {
            if self.queue.is_empty() {
                return;
            }
            let Some(slot) = self.slots.values_mut().find(|s| s.batch.is_none()) else {
                return;
            };
            let mut pieces = Vec::new();
            let mut mels = Vec::new();
            let mut total = 0;
            while total < max {
                let Some(mut piece) = self.queue.pop_front() else { break };
                let Some(req) = self.requests.get(&piece.request) else { continue };
                if piece.count > max - total {
                    let rest = Piece { start: piece.start + max - total, count: piece.count - (max - total), ..piece };
                    self.queue.push_front(rest);
                    piece.count = max - total;
                }
                mels.extend_from_slice(&req.mels[piece.start * PARTIAL_LEN..(piece.start + piece.count) * PARTIAL_LEN]);
                total += piece.count;
                pieces.push(piece);
            }
            if total == 0 {
                continue;
            }
            let batch = self.next_batch;
            self.next_batch += 1;
            metrics::histogram!(crate::telemetry::MODEL_BATCH).record(total as f64);
            if super::instrument::tell(&slot.actor, ModelWorkerMsg::Run { batch, mels, n: total }).is_err() {
                // The actor is dying; its supervision event will come. Keep the work.
                for p in pieces.into_iter().rev() {
                    self.queue.push_front(p);
                }
                return;
            }
            slot.batch = Some((batch, pieces));
        }
    }

    fn finish_batch(&mut self, pieces: Vec<Piece>, result: Result<Vec<f32>, String>) {
        match result {
            Ok(out) => {
                let mut offset = 0;
                for p in pieces {
                    let rows = &out[offset * EMBEDDING_DIM..(offset + p.count) * EMBEDDING_DIM];
                    offset += p.count;
                    let Some(req) = self.requests.get_mut(&p.request) else { continue };
                    req.out[p.start * EMBEDDING_DIM..(p.start + p.count) * EMBEDDING_DIM].copy_from_slice(rows);
                    req.remaining -= p.count;
                    if req.remaining == 0
                        && let Some(done) = self.requests.remove(&p.request)
                    {
                        let _ = done.reply.send(Ok(done.out));
                    }
                }
            }
            Err(e) => {
                for p in pieces {
                    if let Some(req) = self.requests.remove(&p.request) {
                        let _ = req.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}

async fn spawn_worker(
    pool: &ActorRef<ModelMsg>,
    encoder: &Arc<SpeakerEncoder>,
    panics: &Arc<AtomicU32>,
) -> Result<(ActorId, Slot), ActorProcessingErr> {
    let args = ModelWorkerArgs { encoder: encoder.clone(), pool: pool.clone(), panics: panics.clone() };
    let (actor, _) = Actor::spawn_linked(None, ModelWorker, args, pool.get_cell()).await?;
    Ok((actor.get_id(), Slot { actor, batch: None }))
}

impl Actor for ModelPool {
    type Msg = ModelMsg;
    type State = ModelPoolState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<ModelMsg>, ctx: Ctx) -> Result<ModelPoolState, ActorProcessingErr> {
        let cfg = &ctx.config.model;
        let panics = Arc::new(AtomicU32::new(ctx.config.faults.model_panics));
        let mut slots = HashMap::new();
        let encoder = if cfg.enabled {
            let weights = cfg.weights.clone();
            let encoder = tokio::task::spawn_blocking(move || model::load_encoder(&weights, &model::default_device()))
                .await
                .map_err(|e| format!("loading the model crashed: {e}"))??;
            let encoder = Arc::new(encoder);
            for _ in 0..cfg.instances {
                let (id, slot) = spawn_worker(&myself, &encoder, &panics).await?;
                slots.insert(id, slot);
            }
            tracing::info!(
                model = model::MODEL_NAME,
                version = model::MODEL_VERSION,
                instances = slots.len(),
                "model pool started"
            );
            Some(encoder)
        } else {
            tracing::info!("voice embeddings disabled (model.enabled = false)");
            None
        };
        let sup = &ctx.config.supervision;
        let intensity = Intensity::new(sup.max_restarts, Duration::from_secs(sup.period_seconds));
        Ok(ModelPoolState {
            ctx,
            encoder,
            slots,
            requests: HashMap::new(),
            queue: VecDeque::new(),
            next_request: 0,
            next_batch: 0,
            panics,
            intensity,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ModelMsg>,
        msg: ModelMsg,
        st: &mut ModelPoolState,
    ) -> Result<(), ActorProcessingErr> {
        super::instrument::handling(&myself)
            .run(async move {
                match msg {
                    ModelMsg::Embed { mels, n, reply } => {
                        if st.encoder.is_none() {
                            let _ = reply.send(Err("voice embeddings are disabled".into()));
                            return Ok(());
                        }
                        if n == 0 || mels.len() != n * PARTIAL_LEN {
                            let _ = reply.send(Err(format!("expected {n} partials of {PARTIAL_LEN} mel values")));
                            return Ok(());
                        }
                        let id = st.next_request;
                        st.next_request += 1;
                        st.requests
                            .insert(id, Request { mels, out: vec![0.0; n * EMBEDDING_DIM], remaining: n, reply });
                        st.queue.push_back(Piece { request: id, start: 0, count: n });
                        st.dispatch();
                    }
                    ModelMsg::BatchDone { worker, batch, result } => {
                        let Some(slot) = st.slots.get_mut(&worker) else { return Ok(()) };
                        match slot.batch.take() {
                            Some((b, pieces)) if b == batch => st.finish_batch(pieces, result),
                            other => slot.batch = other,
                        }
                        st.dispatch();
                    }
                }
                Ok(())
            })
            .await
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<ModelMsg>,
        evt: SupervisionEvent,
        st: &mut ModelPoolState,
    ) -> Result<(), ActorProcessingErr> {
        let Some((cell, reason)) = died(evt) else {
            return Ok(());
        };
        let Some(slot) = st.slots.remove(&cell.get_id()) else {
            return Ok(());
        };
        let held = slot.batch.as_ref().map_or(0, |(_, p)| p.iter().map(|p| p.count).sum::<usize>());
        tracing::error!(
            worker = %cell.get_id(),
            reason = %reason,
            held_partials = held,
            "model actor died; its batch is re-queued",
        );
        super::instrument::failed("model-worker");
        if let Some((_, pieces)) = slot.batch {
            for p in pieces.into_iter().rev() {
                st.queue.push_front(p);
            }
        }
        if !st.intensity.allow(Instant::now()) {
            return Err(format!(
                "model actors restarted more than {} times in {}s",
                st.ctx.config.supervision.max_restarts, st.ctx.config.supervision.period_seconds
            )
            .into());
        }
        if let Some(encoder) = st.encoder.clone() {
            let (id, slot) = spawn_worker(&myself, &encoder, &st.panics).await?;
            st.slots.insert(id, slot);
            metrics::counter!(crate::telemetry::ACTOR_RESTARTS, "actor" => "model-worker").increment(1);
        }
        st.dispatch();
        Ok(())
    }
}
