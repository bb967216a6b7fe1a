//! Mel filterbanks as `librosa.filters.mel` builds them (Slaney mel scale, Slaney
//! area normalisation), applied to power spectra.

/// Hz to mels on the Slaney scale: linear below 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if hz >= MIN_LOG_HZ { min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep } else { hz / F_SP }
}

/// Mels (Slaney) to Hz.
pub fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if mel >= min_log_mel { MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp() } else { F_SP * mel }
}

/// A bank of triangular mel filters over the bins of an `n_fft` spectrum.
#[derive(Debug, Clone)]
pub struct MelBank {
    /// Per filter: first bin and the weights from there on (non-zero span only).
    filters: Vec<(usize, Vec<f32>)>,
    bins: usize,
}

impl MelBank {
    /// `librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)`.
    pub fn new(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let bins = n_fft / 2 + 1;
        let fft_freqs: Vec<f64> = (0..bins).map(|i| i as f64 * sr / n_fft as f64).collect();
        let (mmin, mmax) = (hz_to_mel(fmin), hz_to_mel(fmax));
        let mel_f: Vec<f64> =
            (0..n_mels + 2).map(|i| mel_to_hz(mmin + (mmax - mmin) * i as f64 / (n_mels + 1) as f64)).collect();
        let filters = (0..n_mels)
            .map(|m| {
                let (lo, mid, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
                let enorm = 2.0 / (hi - lo);
                let w: Vec<f32> = fft_freqs
                    .iter()
                    .map(|&f| {
                        let lower = (f - lo) / (mid - lo);
                        let upper = (hi - f) / (hi - mid);
                        (lower.min(upper).max(0.0) * enorm) as f32
                    })
                    .collect();
                let first = w.iter().position(|&v| v > 0.0).unwrap_or(0);
                let last = w.iter().rposition(|&v| v > 0.0).map_or(first, |l| l + 1);
                (first, w[first..last.max(first)].to_vec())
            })
            .collect();
        MelBank { filters, bins }
    }

    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }

    /// Mel energies of one power spectrum.
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        debug_assert_eq!(power.len(), self.bins);
        for ((first, w), o) in self.filters.iter().zip(out.iter_mut()) {
            *o = super::lanes::dot_f32(w, &power[*first..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_is_linear_below_1khz() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn filters_are_triangles_with_unit_area_in_hz() {
        let bank = MelBank::new(22050.0, 2048, 128, 0.0, 11025.0);
        assert_eq!(bank.n_mels(), 128);
        // Slaney normalisation: each triangle has area 1 in Hz (sum · bin width ≈ 1).
        let df = 22050.0 / 2048.0;
        for (first, w) in &bank.filters[20..] {
            let area: f32 = w.iter().sum::<f32>() * df;
            assert!((area - 1.0).abs() < 0.05, "area {area} at bin {first}");
        }
    }
}
