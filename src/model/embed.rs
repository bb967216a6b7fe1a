//! One utterance's embedding (resemblyzer's `embed_utterance`): the partials'
//! embeddings averaged and re-normalised.

use super::encoder::{HIDDEN, N_MELS, SpeakerEncoder};
use super::frontend::{self, PARTIAL_FRAMES};
use super::{EMBEDDING_DIM, Embedding, MODEL_NAME, MODEL_VERSION, ModelError};

/// Partials per forward pass unless configured. Each LSTM step's product
/// re-packs the 1 MB recurrent weight matrix whatever the batch, so bigger
/// batches amortise it (16 → 75 partials: 0.43 s → 0.27 s for a minute of
/// speech); each partial holds about 0.35 MB of layer activations on the CPU path.
pub const DEFAULT_BATCH: usize = 128;

/// Embeds `n` partials (`[n, 160, 40]` row-major) in batches of at most
/// `max_batch`; returns the per-partial embeddings `[n, 256]`.
pub fn embed_partials(enc: &SpeakerEncoder, mels: &[f32], n: usize, max_batch: usize) -> Result<Vec<f32>, ModelError> {
    let per = PARTIAL_FRAMES * N_MELS;
    let mut out = Vec::with_capacity(n * HIDDEN);
    for chunk in mels[..n * per].chunks(max_batch.max(1) * per) {
        out.extend(enc.forward_flat(chunk, chunk.len() / per, PARTIAL_FRAMES)?);
    }
    Ok(out)
}

/// The L2-normalised mean of per-partial embeddings.
pub fn average(partials: &[f32]) -> Result<Vec<f32>, ModelError> {
    let n = partials.len() / EMBEDDING_DIM;
    if n == 0 {
        return Err(ModelError::NoVoice("no partial utterances"));
    }
    let mut mean = vec![0f64; EMBEDDING_DIM];
    for p in partials.chunks_exact(EMBEDDING_DIM) {
        for (m, &v) in mean.iter_mut().zip(p) {
            *m += f64::from(v);
        }
    }
    let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return Err(ModelError::NoVoice("the partial embeddings average to zero"));
    }
    Ok(mean.iter().map(|v| (v / norm) as f32).collect())
}

/// The pretrained encoder and the whole recipe from 16 kHz samples to an embedding.
pub struct Embedder {
    encoder: SpeakerEncoder,
    max_batch: usize,
}

impl Embedder {
    pub fn new(encoder: SpeakerEncoder) -> Self {
        Embedder { encoder, max_batch: DEFAULT_BATCH }
    }

    /// Partials per forward pass.
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// `embed_utterance(preprocess_wav(wav))` for 16 kHz mono samples.
    pub fn embed_wav(&self, wav16k: &[f32]) -> Result<Embedding, ModelError> {
        let wav = frontend::preprocess(wav16k);
        let (mels, n) = frontend::partial_mels(&wav)?;
        let partials = embed_partials(&self.encoder, &mels, n, self.max_batch)?;
        Ok(Embedding { model: MODEL_NAME.into(), version: MODEL_VERSION.into(), vector: average(&partials)? })
    }
}
