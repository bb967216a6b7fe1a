//! Per-frame spectral and time-domain features with librosa's definitions
//! (`spectral_centroid`, `spectral_bandwidth` (p=2), `spectral_rolloff` (0.85),
//! `spectral_flatness`, `zero_crossing_rate`, `rms`). The spectral ones work on the
//! magnitude spectrum `|X|`, as librosa's do by default.

/// Spectral features of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpectralFrame {
    pub centroid_hz: f64,
    pub bandwidth_hz: f64,
    pub rolloff_hz: f64,
    pub flatness: f64,
}

/// Features of the magnitude spectrum `mag` whose bin `i` is at `i · bin_hz`.
pub fn spectral_frame(mag: &[f32], bin_hz: f64) -> SpectralFrame {
    let total: f64 = mag.iter().map(|&m| f64::from(m)).sum();
    if total <= 0.0 {
        return SpectralFrame::default();
    }
    let centroid = mag.iter().enumerate().map(|(i, &m)| i as f64 * bin_hz * f64::from(m)).sum::<f64>() / total;
    let bandwidth = (mag
        .iter()
        .enumerate()
        .map(|(i, &m)| f64::from(m) / total * (i as f64 * bin_hz - centroid).powi(2))
        .sum::<f64>())
    .sqrt();
    let threshold = 0.85 * total;
    let mut acc = 0.0;
    let mut rolloff = 0.0;
    for (i, &m) in mag.iter().enumerate() {
        acc += f64::from(m);
        if acc >= threshold {
            rolloff = i as f64 * bin_hz;
            break;
        }
    }
    // Flatness on the power spectrum with amin = 1e-10, as librosa does.
    let amin = 1e-10f64;
    let n = mag.len() as f64;
    let log_mean = mag.iter().map(|&m| (f64::from(m).powi(2)).max(amin).ln()).sum::<f64>() / n;
    let mean = mag.iter().map(|&m| (f64::from(m).powi(2)).max(amin)).sum::<f64>() / n;
    SpectralFrame {
        centroid_hz: centroid,
        bandwidth_hz: bandwidth,
        rolloff_hz: rolloff,
        flatness: log_mean.exp() / mean,
    }
}

/// Root-mean-square of a frame (librosa `rms` on centered frames).
pub fn rms(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    (frame.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / frame.len() as f64).sqrt() as f32
}

/// Fraction of adjacent sample pairs whose sign differs (librosa counts a zero as
/// positive, `zero_pos=True`).
pub fn zero_crossing_rate(frame: &[f32]) -> f32 {
    if frame.len() < 2 {
        return 0.0;
    }
    let crossings = frame.windows(2).filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0)).count();
    crossings as f32 / frame.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_bin_has_its_frequency_as_centroid_and_no_bandwidth() {
        let mut mag = vec![0.0f32; 100];
        mag[10] = 1.0;
        let f = spectral_frame(&mag, 10.0);
        assert!((f.centroid_hz - 100.0).abs() < 1e-9);
        assert!(f.bandwidth_hz.abs() < 1e-9);
        assert_eq!(f.rolloff_hz, 100.0);
        assert!(f.flatness < 1e-6);
    }

    #[test]
    fn white_spectrum_is_flat() {
        let f = spectral_frame(&[1.0; 64], 1.0);
        assert!((f.flatness - 1.0).abs() < 1e-9);
        assert!((f.centroid_hz - 31.5).abs() < 1e-9);
    }

    #[test]
    fn rms_and_zcr() {
        assert!((rms(&[1.0, -1.0, 1.0, -1.0]) - 1.0).abs() < 1e-6);
        assert_eq!(zero_crossing_rate(&[1.0, -1.0, 1.0, -1.0]), 0.75);
        assert_eq!(zero_crossing_rate(&[0.0, 0.0, 0.0]), 0.0);
    }
}
