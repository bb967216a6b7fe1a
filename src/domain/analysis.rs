//! What the analysis of a recording produces: the output contract of
//! `orakgaraki analyze --json` and of a COMPLETED record's `analysis`.
//!
//! Fields may be added; none is renamed (the web UI and clients rely on them).

use serde::{Deserialize, Serialize};

/// Measurements of one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Analysis {
    /// Length in seconds.
    pub duration_s: f64,
    /// Sample rate of the input file, Hz.
    pub sample_rate: u32,
    /// Channels in the input file.
    pub channels: u16,
    /// Container/codec the file was decoded from (e.g. `wav/pcm16`, `webm/opus`).
    pub format: String,
    /// Largest absolute sample value, 0..=1 of full scale (all channels).
    pub peak: f64,
    /// Peak in dBFS (null for digital silence).
    pub peak_dbfs: Option<f64>,
    /// Root-mean-square level over all samples and channels, 0..=1.
    pub rms: f64,
    /// RMS in dBFS (null for digital silence).
    pub rms_dbfs: Option<f64>,
    /// Integrated loudness, EBU R128 (null when the recording is too short or silent).
    pub loudness_lufs: Option<f64>,
    /// Tempo estimate (librosa `beat_track` semantics); null without onsets.
    pub tempo_bpm: Option<f64>,
    /// Beats found by the beat tracker.
    pub beat_count: usize,
    /// MFCC summary at librosa's defaults (22 050 Hz, n_fft 2048, hop 512, 128 mels).
    pub mfcc: MfccSummary,
    /// Vocal range (fmin C2, fmax C6) from the singer's frames of the pitch track.
    pub pitch: PitchSummary,
    /// Spectral shape, mean and standard deviation over frames.
    pub spectral: SpectralSummary,
    /// Pitch-class profile (librosa `chroma_stft`), mean and deviation per class.
    pub chroma: ChromaSummary,
    /// The F0 contour, decimated for plotting.
    pub pitch_contour: PitchContour,
    /// The voice embedding (model, version and, when asked for, the vector);
    /// null when the model was skipped or found no voice.
    pub embedding: Option<super::Embedding>,
    /// The whole F0 track, one value per frame (null = unvoiced); only when asked
    /// for (`orakgaraki analyze --track`), never stored with a record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pitch_track: Option<PitchContour>,
}

/// Mean and standard deviation per coefficient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MfccSummary {
    /// 20 means; the first 13 are the 13-coefficient MFCC means (same DCT).
    pub mean: Vec<f64>,
    /// 20 standard deviations (population).
    pub std: Vec<f64>,
}

/// Vocal range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PitchSummary {
    /// 5th percentile of voiced F0, Hz (robust lowest note).
    pub low_hz: Option<f64>,
    /// 95th percentile of voiced F0, Hz (robust highest note).
    pub high_hz: Option<f64>,
    pub median_hz: Option<f64>,
    pub mean_hz: Option<f64>,
    pub low_note: Option<String>,
    pub high_note: Option<String>,
    pub median_note: Option<String>,
    /// Comfortable range (tessitura): 25th–75th percentiles of voiced F0.
    pub comfort_low_hz: Option<f64>,
    pub comfort_high_hz: Option<f64>,
    pub comfort_low_note: Option<String>,
    pub comfort_high_note: Option<String>,
    /// Share of frames that are voiced, 0..=1.
    pub voiced_fraction: f64,
    /// Seconds of steady singing the range is computed from (accompaniment,
    /// stray notes and octave slips left out).
    pub singing_seconds: f64,
    /// Those frames over the whole recording, 0..=1.
    pub usable_fraction: f64,
    /// Set, in words, when the recording cannot support a range answer (too
    /// little singing, or mostly accompaniment); the figures are then a guess.
    pub range_warning: Option<String>,
    /// The pitch tracker the range comes from (`pyin` or `swiftf0`).
    pub tracker: String,
}

/// Mean and standard deviation of a per-frame quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
}

/// Spectral shape over the recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SpectralSummary {
    pub centroid_hz: Stat,
    pub bandwidth_hz: Stat,
    pub rolloff_hz: Stat,
    pub flatness: Stat,
    pub zero_crossing_rate: Stat,
    pub rms: Stat,
}

/// Chroma summary: 12 classes from C to B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ChromaSummary {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Deviation from A440 tuning, in semitones (librosa `estimate_tuning`).
    pub tuning: f64,
}

/// F0 over time at a fixed step; null where unvoiced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PitchContour {
    /// Seconds between points.
    pub step_s: f64,
    pub hz: Vec<Option<f64>>,
    /// Per point, whether the range counted it as the singer (the whole track
    /// only; empty on the stored contour).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub singer: Vec<bool>,
    /// Per point, the predominant melody's pitch (the whole track only, when the
    /// tracker is held to it; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub melody: Vec<Option<f64>>,
}

/// Full scale amplitude to dBFS; `None` for silence.
pub fn to_dbfs(amplitude: f64) -> Option<f64> {
    (amplitude > 0.0).then(|| 20.0 * amplitude.log10())
}

/// The note nearest to `hz` in scientific pitch notation with sharps (`A4` = 440 Hz).
pub fn note_name(hz: f64) -> Option<String> {
    if !(hz.is_finite() && hz > 0.0) {
        return None;
    }
    const NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
    let midi = (12.0 * (hz / 440.0).log2() + 69.0).round() as i64;
    let octave = midi.div_euclid(12) - 1;
    Some(format!("{}{}", NAMES[midi.rem_euclid(12) as usize], octave))
}

/// numpy's default (linear) percentile of sorted values; `q` in 0..=100.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 100.0) / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
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

    #[test]
    fn note_names() {
        assert_eq!(note_name(440.0).as_deref(), Some("A4"));
        assert_eq!(note_name(261.63).as_deref(), Some("C4"));
        assert_eq!(note_name(65.406).as_deref(), Some("C2"));
        assert_eq!(note_name(110.0).as_deref(), Some("A2"));
        assert_eq!(note_name(659.26).as_deref(), Some("E5"));
        assert_eq!(note_name(77.78).as_deref(), Some("D#2"));
        assert_eq!(note_name(0.0), None);
        assert_eq!(note_name(f64::NAN), None);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 50.0), Some(2.5));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
        assert!((percentile(&v, 5.0).unwrap() - 1.15).abs() < 1e-12);
        assert_eq!(percentile(&[], 5.0), None);
    }

    #[test]
    fn old_rows_still_parse() {
        let old = r#"{"duration_s":2.0,"sample_rate":16000,"channels":1,"format":"wav/pcm16","peak":0.5,"peak_dbfs":-6.0,"rms":0.3,"rms_dbfs":-10.0}"#;
        let a: Analysis = serde_json::from_str(old).unwrap();
        assert_eq!(a.sample_rate, 16000);
        assert!(a.mfcc.mean.is_empty());
    }
}
