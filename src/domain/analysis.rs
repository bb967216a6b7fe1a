//! What the analysis of a recording produces.
//!
//! This stage measures the signal itself; the voice features (range, timbre, tempo)
//! and the embedding grow into this type as the analysis grows.

use serde::{Deserialize, Serialize};

/// Measurements of one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Length in seconds.
    pub duration_s: f64,
    /// Sample rate of the file, Hz.
    pub sample_rate: u32,
    /// Channels in the file.
    pub channels: u16,
    /// Container/codec the file was decoded from (e.g. `wav/pcm16`).
    pub format: String,
    /// Largest absolute sample value, 0..=1 of full scale.
    pub peak: f64,
    /// Peak in dBFS (−inf is reported as null).
    pub peak_dbfs: Option<f64>,
    /// Root-mean-square level over all samples and channels, 0..=1.
    pub rms: f64,
    /// RMS in dBFS (null for digital silence).
    pub rms_dbfs: Option<f64>,
}

/// Full scale amplitude to dBFS; `None` for silence.
pub fn to_dbfs(amplitude: f64) -> Option<f64> {
    (amplitude > 0.0).then(|| 20.0 * amplitude.log10())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbfs() {
        assert_eq!(to_dbfs(1.0), Some(0.0));
        assert!((to_dbfs(0.5).unwrap() + 6.0206).abs() < 1e-3);
        assert_eq!(to_dbfs(0.0), None);
    }
}
