//! Chroma as `librosa.feature.chroma_stft` computes it: the tuning estimated from
//! spectral peaks (`estimate_tuning` → `piptrack` + `pitch_tuning`), a filterbank
//! of Gaussian bumps per pitch class (`librosa.filters.chroma`, octave weighting
//! around C5, starting at C), applied to the power spectrum, each frame scaled so
//! its largest class is 1.

/// Pitch classes.
pub const N_CHROMA: usize = 12;

/// Spectral peaks of one power-spectrum frame as `piptrack` finds them: bins from
/// 150 Hz to 4 kHz that are local maxima above a tenth of the frame's maximum,
/// refined by parabolic interpolation. Pushes `(frequency Hz, magnitude)`.
pub fn piptrack_frame(power: &[f32], sr: f64, n_fft: usize, out: &mut Vec<(f64, f32)>) {
    let n = power.len();
    if n < 3 {
        return;
    }
    let max = super::lanes::max_abs(power);
    let thresh = 0.1 * max;
    let gated = |i: usize| if power[i] > thresh { power[i] } else { 0.0 };
    let bin_hz = sr / n_fft as f64;
    for i in 1..n {
        let f = i as f64 * bin_hz;
        if !(150.0..4000.0).contains(&f) {
            continue;
        }
        let x = gated(i);
        let is_max = if i == n - 1 { x > gated(i - 1) } else { x > gated(i - 1) && x >= gated(i + 1) };
        if !is_max {
            continue;
        }
        // Parabolic interpolation and the gradient, on the ungated spectrum.
        let (l, c, r) = (power[i - 1], power[i], power.get(i + 1).copied().unwrap_or(power[i]));
        let shift = if i == n - 1 {
            0.0
        } else {
            let a = r + l - 2.0 * c;
            let b = (r - l) / 2.0;
            if b.abs() >= a.abs() { 0.0 } else { -b / a }
        };
        let grad = if i == n - 1 { c - l } else { (r - l) / 2.0 };
        out.push(((i as f64 + f64::from(shift)) * bin_hz, c + 0.5 * grad * shift));
    }
}

/// `librosa.pitch_tuning` over the peaks whose magnitude is at least the median
/// magnitude (`estimate_tuning`), in fractions of a semitone, resolution 0.01.
pub fn estimate_tuning(peaks: &[(f64, f32)]) -> f64 {
    let mut mags: Vec<f32> = peaks.iter().filter(|p| p.0 > 0.0).map(|p| p.1).collect();
    if mags.is_empty() {
        return 0.0;
    }
    mags.sort_by(f32::total_cmp);
    let n = mags.len();
    // np.median: the mean of the middle two for an even count.
    let median = if n % 2 == 1 { mags[n / 2] } else { (mags[n / 2 - 1] + mags[n / 2]) / 2.0 };
    let mut counts = [0u32; 100];
    let mut any = false;
    for &(f, m) in peaks {
        if f <= 0.0 || m < median {
            continue;
        }
        any = true;
        let octs = (f / (440.0 / 16.0)).log2();
        let mut residual = (12.0 * octs).rem_euclid(1.0);
        if residual >= 0.5 {
            residual -= 1.0;
        }
        // np.histogram over linspace(−0.5, 0.5, 101): the last bin is closed.
        let bin = (((residual + 0.5) / 0.01).floor() as usize).min(99);
        counts[bin] += 1;
    }
    if !any {
        return 0.0;
    }
    let best = counts.iter().enumerate().fold(0, |b, (i, &c)| if c > counts[b] { i } else { b });
    -0.5 + best as f64 * 0.01
}

/// The chroma filterbank for a tuning (rows: C, C#, …, B; columns: FFT bins).
#[derive(Debug, Clone)]
pub struct ChromaBank {
    weights: Vec<[f32; N_CHROMA]>,
}

impl ChromaBank {
    /// `librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning)`.
    pub fn new(sr: f64, n_fft: usize, tuning: f64) -> Self {
        let nc = N_CHROMA as f64;
        let a440 = 440.0 * 2f64.powf(tuning / nc);
        let mut frqbins: Vec<f64> =
            (1..n_fft).map(|k| nc * (k as f64 * sr / n_fft as f64 / (a440 / 16.0)).log2()).collect();
        frqbins.insert(0, frqbins[0] - 1.5 * nc);
        let mut binwidth: Vec<f64> = frqbins.windows(2).map(|w| (w[1] - w[0]).max(1.0)).collect();
        binwidth.push(1.0);
        let half = (nc / 2.0).round();
        let mut cols: Vec<[f64; N_CHROMA]> = frqbins
            .iter()
            .zip(&binwidth)
            .map(|(&f, &w)| {
                let mut col = [0f64; N_CHROMA];
                for (c, v) in col.iter_mut().enumerate() {
                    let d = (f - c as f64 + half + 10.0 * nc).rem_euclid(nc) - half;
                    *v = (-0.5 * (2.0 * d / w).powi(2)).exp();
                }
                // Each column to unit L2 norm, then the octave weighting around C5.
                let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt();
                let oct = (-0.5 * ((f / nc - 5.0) / 2.0).powi(2)).exp();
                for v in col.iter_mut() {
                    *v = if norm > 0.0 { *v / norm * oct } else { 0.0 };
                }
                col
            })
            .collect();
        cols.truncate(n_fft / 2 + 1);
        // base_c: roll so that row 0 is C (the bank is built from A).
        let weights = cols
            .into_iter()
            .map(|col| {
                let mut rolled = [0f32; N_CHROMA];
                for (c, r) in rolled.iter_mut().enumerate() {
                    *r = col[(c + 3) % N_CHROMA] as f32;
                }
                rolled
            })
            .collect();
        ChromaBank { weights }
    }

    /// One frame of chroma from its power spectrum, scaled so the largest class is 1
    /// (all zeros for a silent frame).
    pub fn apply(&self, power: &[f32], out: &mut [f32; N_CHROMA]) {
        // Four interleaved sets of sums, so that consecutive bins do not wait on
        // each other's additions (see `lanes`).
        let mut sets = [[0f32; N_CHROMA]; 4];
        let n = self.weights.len().min(power.len());
        let (w4, p4) = (self.weights[..n].chunks_exact(4), power[..n].chunks_exact(4));
        for (w, &p) in w4.remainder().iter().zip(p4.remainder()) {
            for (a, &wc) in sets[0].iter_mut().zip(w) {
                *a += wc * p;
            }
        }
        for (w, p) in w4.zip(p4) {
            for (j, set) in sets.iter_mut().enumerate() {
                for (a, &wc) in set.iter_mut().zip(&w[j]) {
                    *a += wc * p[j];
                }
            }
        }
        let mut acc = [0f32; N_CHROMA];
        for set in &sets {
            for (a, &v) in acc.iter_mut().zip(set) {
                *a += v;
            }
        }
        let max = acc.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max < f32::MIN_POSITIVE { 1.0 } else { 1.0 / max };
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a * scale;
        }
    }
}
