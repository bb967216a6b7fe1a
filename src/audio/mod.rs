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
pub mod salience;
pub mod sniff;
pub mod spectral;
pub mod stft;
pub mod vocal_range;

pub use analyze::{Limits, PitchModel, PitchTracker, analyze, analyze_with_voice};

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
    /// More audio than the budget allows (a permanent failure): `seconds` is its
    /// declared length when the file says, `limit_s` the longest analysed at its
    /// rate and channel count.
    #[error("too long: {}, the limit is {}", length(*seconds), human_duration(*limit_s))]
    TooLong { seconds: Option<f64>, limit_s: f64 },
    /// The analysis was told to stop (its deadline passed).
    #[error("the analysis was stopped")]
    Cancelled,
}

/// A recording's length when the file declares it.
fn length(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "over the limit".to_owned(), human_duration)
}

/// A duration as a person says it: "4 h", "1 h 30 min", "12 min", "45 s".
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, min, 0) => format!("{min} min"),
        (0, min, sec) => format!("{min} min {sec} s"),
        (h, 0, _) => format!("{h} h"),
        (h, min, _) => format!("{h} h {min} min"),
    }
}

impl AudioError {
    /// Whether trying again cannot help.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, AudioError::Io(_))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_people_say_them() {
        let h = super::human_duration;
        assert_eq!(
            [h(0.4), h(45.0), h(600.0), h(225.0), h(3600.0), h(5400.0), h(7260.0)],
            ["0 s", "45 s", "10 min", "3 min 45 s", "1 h", "1 h 30 min", "2 h 1 min"]
        );
    }
}
