//! Audio analysis: pure functions from bytes to measurements.
//!
//! Nothing here touches the network, the database or the clock; callers hand in a
//! reader and get an [`Analysis`](crate::domain::Analysis) or an [`AudioError`].

pub mod acf;
pub mod analyze;
pub mod capture;
pub mod chroma;
pub mod decode;
pub mod frames;
pub mod lanes;
pub mod mel;
pub mod mfcc;
pub mod pyin;
pub mod report;
pub mod resample;
pub mod rfft;
pub mod rhythm;
pub mod sniff;
pub mod spectral;
pub mod stft;

pub use analyze::{Limits, analyze, analyze_with_voice};

/// Why a recording could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The bytes are not audio we can decode (a permanent failure).
    #[error("not a valid audio file: {0}")]
    Invalid(String),
    /// The file decodes but holds no samples (a permanent failure).
    #[error("no audio: the recording is empty")]
    Empty,
    /// The encoding is recognised but not supported (a permanent failure).
    #[error("unsupported audio format: {0}")]
    Unsupported(String),
    /// Reading the bytes failed (a transient failure: try again).
    #[error("could not read the recording: {0}")]
    Io(#[from] std::io::Error),
}

impl AudioError {
    /// Whether trying again cannot help.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, AudioError::Io(_))
    }
}
