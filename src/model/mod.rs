//! The learned voice embedding: resemblyzer's GE2E speaker encoder run in burn.
//!
//! `frontend` turns 16 kHz mono samples into what the network eats (volume
//! normalisation, WebRTC-VAD silence trimming, 40-band mel frames, 1.6 s
//! partials); `encoder` is the network (3 × LSTM 256 → linear → ReLU → L2);
//! `weights` loads the converted pretrained tensors; `embed` puts them together
//! into one utterance embedding. `swiftf0` is the neural pitch tracker the
//! vocal range can come from (`[analysis] pitch`). Pure computation: no I/O
//! beyond reading a weights file named in the configuration.

pub mod embed;
pub mod encoder;
pub mod frontend;
pub mod lstm_cpu;
pub mod packed_gemm;
pub mod swiftf0;
pub mod weights;

pub use embed::{Embedder, embed_partials};
pub use encoder::SpeakerEncoder;

/// The model's name as stored with every embedding.
pub const MODEL_NAME: &str = "resemblyzer-ge2e";
/// The weights' version (the resemblyzer release they come from).
pub const MODEL_VERSION: &str = "0.1.4";
/// Length of an embedding.
pub const EMBEDDING_DIM: usize = 256;
/// The rate the model's front end works at.
pub const SAMPLE_RATE: u32 = 16_000;

/// The CPU device the model runs on unless configured otherwise: burn's ndarray
/// backend (deprecated in burn 0.22 in favour of `flex`, but the one the model
/// was validated on; a GPU device runs the same code).
#[allow(deprecated)]
pub fn default_device() -> burn::tensor::Device {
    burn::tensor::Device::ndarray()
}

/// The encoder with the weights `path` names, or the bundled ones when `path` is empty.
pub fn load_encoder(path: &std::path::Path, device: &burn::tensor::Device) -> Result<SpeakerEncoder, ModelError> {
    if path.as_os_str().is_empty() {
        return SpeakerEncoder::pretrained(device);
    }
    let bytes = std::fs::read(path).map_err(|e| ModelError::Weights(format!("{}: {e}", path.display())))?;
    SpeakerEncoder::from_safetensors(&bytes, device)
}

/// The pitch model the analysis runs beside pYIN for `tracker` (once `auto` is
/// resolved), or `None` when the range comes from pYIN itself.
pub fn pitch_model(
    tracker: crate::audio::PitchTracker,
) -> Result<Option<Box<dyn crate::audio::PitchModel>>, ModelError> {
    match tracker.resolved() {
        crate::audio::PitchTracker::Swiftf0 => swiftf0::tracker().map(Some),
        _ => Ok(None),
    }
}

/// Why an embedding could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The weights file is missing, unreadable or of the wrong layout.
    #[error("model weights: {0}")]
    Weights(String),
    /// Nothing left to embed (no samples, or only silence after trimming).
    #[error("no voice to embed: {0}")]
    NoVoice(&'static str),
    /// The backend failed to produce a result.
    #[error("model backend: {0}")]
    Backend(String),
}

pub use crate::domain::Embedding;
