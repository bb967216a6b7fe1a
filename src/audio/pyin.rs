//! Probabilistic YIN (pYIN) with librosa's semantics (`librosa.pyin`, 0.11):
//! per frame, the cumulative mean normalised difference function, its troughs,
//! the beta prior over thresholds and the Boltzmann prior over troughs give a
//! sparse observation over pitch bins; a hidden Markov model over (pitch bin ×
//! voiced/unvoiced) decoded by Viterbi gives the F0 track.
//!
//! librosa's Viterbi is dense (every state to every state, `O(S²)` per frame).
//! Its transition matrix is a triangular band of ±`max_transition_rate` and tiny
//! elsewhere, so here the decoder visits the band only and stands for everything
//! outside it with the single best state times the tiny probability — the same
//! maximum, at a fraction of the cost.

use super::acf::FrameAcf;
use super::lanes;

/// `librosa.pyin` parameters (its defaults, but `fmin`/`fmax`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyinParams {
    pub sr: f64,
    pub fmin: f64,
    pub fmax: f64,
    pub frame_length: usize,
    pub hop_length: usize,
    pub n_thresholds: usize,
    pub beta: (u32, u32),
    pub boltzmann: f64,
    pub resolution: f64,
    pub max_transition_rate: f64,
    pub switch_prob: f64,
    pub no_trough_prob: f64,
}

impl PyinParams {
    /// librosa's defaults at 22 050 Hz with the given pitch range.
    pub fn new(fmin: f64, fmax: f64) -> Self {
        PyinParams {
            sr: 22050.0,
            fmin,
            fmax,
            frame_length: 2048,
            hop_length: 512,
            n_thresholds: 100,
            beta: (2, 18),
            boltzmann: 2.0,
            resolution: 0.1,
            max_transition_rate: 35.92,
            switch_prob: 0.01,
            no_trough_prob: 0.01,
        }
    }

    fn bins_per_semitone(&self) -> usize {
        (1.0 / self.resolution).ceil() as usize
    }

    /// Pitch bins from `fmin` to `fmax`.
    pub fn n_pitch_bins(&self) -> usize {
        (12.0 * self.bins_per_semitone() as f64 * (self.fmax / self.fmin).log2()).floor() as usize + 1
    }

    /// Centre frequency of pitch bin `b`.
    pub fn bin_hz(&self, b: usize) -> f64 {
        self.fmin * 2f64.powf(b as f64 / (12 * self.bins_per_semitone()) as f64)
    }
}

/// What one frame says about pitch: probability mass on a few pitch bins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameObservation {
    /// (pitch bin, probability), at most one entry per bin.
    pub candidates: Vec<(u16, f32)>,
    /// Total voiced probability, clipped to 0..=1.
    pub voiced_prob: f32,
}

/// Regularised incomplete beta function `I_x(a, b)` for integer `a, b` (the beta
/// CDF), by its binomial sum.
fn beta_cdf(x: f64, a: u32, b: u32) -> f64 {
    let n = a + b - 1;
    let mut sum = 0.0;
    let mut binom = 1.0f64; // C(n, 0)
    for j in 0..=n {
        if j >= a {
            sum += binom * x.powi(j as i32) * (1.0 - x).powi((n - j) as i32);
        }
        binom = binom * f64::from(n - j) / f64::from(j + 1);
    }
    sum
}

/// `scipy.stats.boltzmann.pmf(k, lambda, n)`.
#[cfg(test)]
fn boltzmann_pmf(k: usize, lambda: f64, n: usize) -> f64 {
    (1.0 - (-lambda).exp()) * (-lambda * k as f64).exp() / (1.0 - (-lambda * n as f64).exp())
}

/// Turns frames into [`FrameObservation`]s (the per-frame half of pYIN).
pub struct YinObserver {
    p: PyinParams,
    min_period: usize,
    max_period: usize,
    n_bins: usize,
    beta_probs: Vec<f64>,
    thresholds: Vec<f64>,
    acf: FrameAcf,
    /// Per-frame scratch: the autocorrelation, the difference function and the
    /// normalised difference (periods `min..=max`).
    lags: Vec<f32>,
    diff: Vec<f32>,
    yin: Vec<f32>,
    /// `exp(−λ·k)` for the Boltzmann prior, grown on demand.
    decay: Vec<f64>,
    /// Per-frame scratch: troughs under each threshold, earlier troughs under each
    /// threshold, and the per-threshold weight.
    below: Vec<usize>,
    rank: Vec<usize>,
    weight: Vec<f64>,
    /// Per-frame scratch: the troughs' lags, heights, lowest thresholds above them
    /// and prior probabilities.
    troughs: Vec<usize>,
    heights: Vec<f64>,
    t0: Vec<usize>,
    probs: Vec<f64>,
}

impl YinObserver {
    pub fn new(p: PyinParams) -> Self {
        let min_period = (p.sr / p.fmax).floor() as usize;
        let max_period = ((p.sr / p.fmin).ceil() as usize).min(p.frame_length - 1);
        let thresholds: Vec<f64> = (0..=p.n_thresholds).map(|i| i as f64 / p.n_thresholds as f64).collect();
        let cdf: Vec<f64> = thresholds.iter().map(|&t| beta_cdf(t, p.beta.0, p.beta.1)).collect();
        let beta_probs = cdf.windows(2).map(|w| w[1] - w[0]).collect();
        let acf = FrameAcf::new(p.frame_length, p.hop_length, max_period);
        YinObserver {
            min_period,
            max_period,
            n_bins: p.n_pitch_bins(),
            beta_probs,
            thresholds,
            lags: vec![0.0; acf.max_lag() + 1],
            acf,
            diff: Vec::new(),
            yin: Vec::new(),
            decay: Vec::new(),
            below: Vec::new(),
            rank: Vec::new(),
            weight: Vec::new(),
            troughs: Vec::new(),
            heights: Vec::new(),
            t0: Vec::new(),
            probs: Vec::new(),
            p,
        }
    }

    pub fn params(&self) -> &PyinParams {
        &self.p
    }

    /// The cumulative mean normalised difference for periods `min..=max` (librosa's
    /// `_cumulative_mean_normalized_difference`, in float32 as there).
    fn cmnd(&mut self, frame: &[f32]) {
        self.acf.compute(frame, &mut self.lags);
        let acf0 = self.lags[0];
        let maxp = self.max_period;
        // d(k) = 2·(acf(0) − acf(k)) − Σ_{m<k} y(m)²
        let mut energy = 0f32;
        let diff = &mut self.diff;
        diff.clear();
        diff.push(0f32);
        for k in 1..=maxp {
            energy += frame[k - 1] * frame[k - 1];
            diff.push(2.0 * (acf0 - self.lags[k]) - energy);
        }
        self.yin.clear();
        let mut cum = 0f32;
        for (k, &d) in self.diff.iter().enumerate().skip(1) {
            cum += d;
            if k >= self.min_period {
                let mean = cum / k as f32;
                self.yin.push(d / (mean + f32::MIN_POSITIVE));
            }
        }
    }

    /// The pitch evidence of one frame (`frame_length` samples).
    pub fn observe(&mut self, frame: &[f32]) -> FrameObservation {
        self.cmnd(frame);
        let y = &self.yin;
        let n = y.len();
        if n < 2 {
            return FrameObservation::default();
        }
        // Troughs: local minima (strictly below the left, not above the right), with
        // librosa's edge rules.
        self.troughs.clear();
        self.troughs.extend((0..n).filter(|&i| {
            if i == 0 {
                y[0] < y[1]
            } else if i == n - 1 {
                y[n - 1] < y[n - 2]
            } else {
                y[i] < y[i - 1] && y[i] <= y[i + 1]
            }
        }));
        let troughs = &self.troughs;
        if troughs.is_empty() {
            return FrameObservation::default();
        }
        let nt = self.beta_probs.len();
        self.heights.clear();
        self.heights.extend(troughs.iter().map(|&i| f64::from(y[i])));
        let heights = &self.heights;
        let lambda = self.p.boltzmann;
        while self.decay.len() <= troughs.len() {
            self.decay.push((-lambda * self.decay.len() as f64).exp());
        }
        let head = 1.0 - (-lambda).exp();
        // Trough m lies below thresholds t0(m)..nt (thresholds[t + 1] > height). Its
        // prior at threshold t is Boltzmann(rank, λ, below(t)), where below(t) counts the
        // troughs under threshold t and rank the earlier ones among them. Walking the
        // troughs in order and counting, per threshold, how many earlier troughs are
        // under it gives every term without a branch.
        self.t0.clear();
        // `!(h < thr)` rather than `h >= thr`: a NaN height sits above every
        // threshold, as in librosa's comparison.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        self.t0.extend(heights.iter().map(|&h| self.thresholds[1..].partition_point(|&thr| !(h < thr))));
        let t0 = &self.t0;
        self.below.clear();
        self.below.resize(nt + 1, 0);
        for &t in t0 {
            self.below[t] += 1;
        }
        let mut acc = 0;
        for b in self.below.iter_mut() {
            acc += *b;
            *b = acc;
        }
        // weight[t] = head / (1 − e^{−λ·below(t)}) · beta[t]
        self.weight.clear();
        self.weight.extend((0..nt).map(|t| {
            let below = self.below[t];
            if below == 0 { 0.0 } else { head / (1.0 - self.decay[below]) * self.beta_probs[t] }
        }));
        self.rank.clear();
        self.rank.resize(nt, 0);
        self.probs.clear();
        self.probs.resize(troughs.len(), 0.0);
        let probs = &mut self.probs;
        for (m, &start) in t0.iter().enumerate() {
            let mut p = 0.0;
            for t in start..nt {
                p += self.decay[self.rank[t]] * self.weight[t];
                self.rank[t] += 1;
            }
            probs[m] = p;
        }
        let global_min = heights.iter().enumerate().fold(0, |best, (i, &h)| if h < heights[best] { i } else { best });
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let n_below_min = self.thresholds[1..].iter().filter(|&&thr| !(heights[global_min] < thr)).count();
        probs[global_min] += self.p.no_trough_prob * self.beta_probs[..n_below_min].iter().sum::<f64>();

        // Candidates: parabolic refinement of each trough's period, then its pitch bin.
        let mut obs: Vec<(u16, f32)> = Vec::new();
        let bins_per_octave = (12 * self.p.bins_per_semitone()) as f64;
        for (m, &i) in troughs.iter().enumerate() {
            if probs[m] == 0.0 {
                continue;
            }
            let shift = if i == 0 || i == n - 1 {
                0.0
            } else {
                let a = y[i + 1] + y[i - 1] - 2.0 * y[i];
                let b = (y[i + 1] - y[i - 1]) / 2.0;
                if b.abs() >= a.abs() { 0.0 } else { f64::from(-b / a) }
            };
            let period = (self.min_period + i) as f64 + shift;
            let f0 = self.p.sr / period;
            let bin = (bins_per_octave * (f0 / self.p.fmin).log2()).round_ties_even().clamp(0.0, self.n_bins as f64);
            let bin = bin as usize;
            if bin >= self.n_bins {
                // librosa writes it into the first unvoiced row, then overwrites that row.
                continue;
            }
            let p = probs[m] as f32;
            match obs.iter_mut().find(|(b, _)| usize::from(*b) == bin) {
                Some(slot) => slot.1 = p, // a later candidate in the same bin replaces it
                None => obs.push((bin as u16, p)),
            }
        }
        let voiced_prob = obs.iter().map(|(_, p)| f64::from(*p)).sum::<f64>().clamp(0.0, 1.0) as f32;
        FrameObservation { candidates: obs, voiced_prob }
    }
}

/// The F0 track decoded from observations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PitchTrack {
    /// Hz per frame; `None` where unvoiced.
    pub f0: Vec<Option<f64>>,
    pub voiced_prob: Vec<f32>,
}

/// The largest `f(i)` for `i` in `0..n` and its first index (numpy's argmax), in
/// four interleaved lanes so that each comparison does not wait on the one before.
/// `(−∞, 0)` when nothing is larger than −∞.
#[inline(always)]
fn first_max(n: usize, f: impl Fn(usize) -> f64) -> (f64, usize) {
    let mut best = [f64::NEG_INFINITY; 4];
    let mut at = [0usize; 4];
    let whole = n / 4 * 4;
    for i in (0..whole).step_by(4) {
        for l in 0..4 {
            let x = f(i + l);
            let better = x > best[l];
            best[l] = if better { x } else { best[l] };
            at[l] = if better { i + l } else { at[l] };
        }
    }
    // The rest, one per lane: later than everything in that lane, so again only a
    // strictly larger value moves it.
    for (l, i) in (whole..n).enumerate() {
        let x = f(i);
        if x > best[l] {
            (best[l], at[l]) = (x, i);
        }
    }
    // The lanes' winners: the largest value, the lowest index among equals.
    let mut win = (f64::NEG_INFINITY, 0);
    for l in 0..4 {
        if best[l] > win.0 || (best[l] == win.0 && best[l] > f64::NEG_INFINITY && at[l] < win.1) {
            win = (best[l], at[l]);
        }
    }
    win
}

/// Source ranges at least this long are scanned in two passes: the maximum in
/// vector lanes, then its first position. Shorter ones in one scalar pass.
const LONG: usize = 8;

/// Buffers for [`BandedViterbi::band_max`].
#[derive(Default)]
struct BandScratch {
    shifted: Vec<f64>,
}

/// Viterbi over (pitch bin × voicing) with a banded transition matrix.
///
/// Within a voicing half the transition is `T[a][b] = tri(b − a) / S_a` (a triangle
/// of ±`half` bins, each row normalised by its own sum). Its log is concave in
/// `b − a`, so the matrix `v[a] + ln T[a][b]` is (inverse) Monge and the leftmost
/// best source is non-decreasing in the target: a divide-and-conquer search finds
/// every row's maximum — the same one, ties to the lowest index as numpy's argmax —
/// in `O(n log n)` instead of `O(n · width)`.
pub struct BandedViterbi {
    n: usize,
    half: usize,
    /// `ln tri[k]` for offset `k = b − a + half`.
    log_tri: Vec<f64>,
    /// The smallest of `log_tri` (the band's edges).
    log_tri_min: f64,
    /// `ln S_a`, the row normaliser of source `a`.
    log_norm: Vec<f64>,
    log_stay: f64,
    log_switch: f64,
    log_tiny: f64,
}

impl BandedViterbi {
    pub fn new(p: &PyinParams) -> Self {
        let n = p.n_pitch_bins();
        let max_semitones = (p.max_transition_rate * 12.0 * p.hop_length as f64 / p.sr).round() as usize;
        let width = max_semitones * p.bins_per_semitone() + 1;
        // The band is ±half around each source, and `band_max` reads the triangle
        // forwards as well as backwards: both need an odd width (librosa's 0.1-semitone
        // resolution gives 10·k + 1).
        assert!(width % 2 == 1, "pYIN transition width {width} must be odd");
        let half = width / 2;
        // scipy.signal.windows.triang(width, sym=True)
        let tri: Vec<f64> = (0..width)
            .map(|k| {
                let m = width as f64;
                if width % 2 == 1 {
                    1.0 - ((k as f64) - (m - 1.0) / 2.0).abs() / ((m + 1.0) / 2.0)
                } else {
                    1.0 - ((2.0 * (k as f64 + 1.0) - (m + 1.0)).abs()) / m
                }
            })
            .collect();
        let log_norm = (0..n)
            .map(|a| {
                let lo = a.saturating_sub(half);
                let hi = (a + half).min(n - 1);
                (lo..=hi).map(|b| tri[b + half - a]).sum::<f64>().ln()
            })
            .collect();
        BandedViterbi {
            n,
            half,
            log_tri: tri.iter().map(|t| t.ln()).collect(),
            log_tri_min: tri.iter().map(|t| t.ln()).fold(f64::INFINITY, f64::min),
            log_norm,
            log_stay: (1.0 - p.switch_prob).ln(),
            log_switch: p.switch_prob.ln(),
            log_tiny: f64::MIN_POSITIVE.ln(),
        }
    }

    /// [`Self::band_max`] over only the sources whose best move can reach `floor`
    /// (the others are dominated); targets no live source reaches get −∞. Sources
    /// below `weak` (after their row normaliser) are also dominated on the targets
    /// `covered`, which a move from the best state reaches with more: there they
    /// are not visited either.
    fn sparse_band_max(
        &self,
        v: &[f64],
        floor: f64,
        weak: f64,
        covered: (usize, usize),
        out: &mut [f64],
        arg: &mut [u16],
    ) {
        out.fill(f64::NEG_INFINITY);
        for (a, (&va, &norm)) in v.iter().zip(&self.log_norm).enumerate() {
            let va = va - norm;
            // ln tri peaks at 0 (the centre of the triangle).
            if va < floor {
                continue;
            }
            let lo = a.saturating_sub(self.half);
            let hi = (a + self.half).min(self.n - 1);
            let a16 = a as u16;
            // Sources come in increasing order, so only a strictly better one moves
            // the argmax: the lowest index wins ties, as in numpy.
            let mut visit = |from: usize, to: usize| {
                let tri = &self.log_tri[from + self.half - a..];
                for ((o, g), &t) in out[from..=to].iter_mut().zip(&mut arg[from..=to]).zip(tri) {
                    let cand = va + t;
                    let better = cand > *o;
                    *o = if better { cand } else { *o };
                    *g = if better { a16 } else { *g };
                }
            };
            if va < weak {
                // Only the targets on either side of the covered ones.
                if lo < covered.0 {
                    visit(lo, hi.min(covered.0 - 1));
                }
                if hi > covered.1 {
                    visit(lo.max(covered.1 + 1), hi);
                }
            } else {
                visit(lo, hi);
            }
        }
    }

    /// `max_a v[a] + ln T[a][b]` over the band, for every target `b`, with the
    /// leftmost argmax. `scratch` is reused between calls.
    ///
    /// The divide-and-conquer search in level order: target 0 first, then the
    /// targets at odd multiples of `s` for `s` = the largest power of two below `n`,
    /// …, 2, 1. Each one's best source lies between those of its neighbours `b − s`
    /// and `b + s`, found at the level above (the argmax is monotone), so no stack of
    /// ranges is kept and the per-target bookkeeping is a few instructions.
    fn band_max(&self, v: &[f64], out: &mut [f64], arg: &mut [u16], scratch: &mut BandScratch) {
        let (n, half) = (self.n, self.half);
        // v'[a] = v[a] − ln S_a, then a Toeplitz concave kernel.
        scratch.shifted.clear();
        scratch.shifted.extend(v.iter().zip(&self.log_norm).map(|(v, s)| v - s));
        let v = &scratch.shifted[..n];
        let out = &mut out[..n];
        let arg = &mut arg[..n];
        // The leftmost best source for target `b` among `lo..=hi` (clamped to its band).
        let best_source = |b: usize, lo: usize, hi: usize| -> (f64, usize) {
            let band = (b.saturating_sub(half), (b + half).min(n - 1));
            let (mut lo, mut hi) = (lo.max(band.0), hi.min(band.1));
            if lo > hi {
                // Cannot happen for a Monge matrix; scan the whole band rather than trust it.
                (lo, hi) = band;
            }
            // Source a pairs with ln tri[b + half − a], which is ln tri[a − b + half]
            // (the triangle is symmetric, bit for bit), so both are read forwards.
            let (vs, ts) = (&v[lo..=hi], &self.log_tri[lo + half - b..=hi + half - b]);
            if vs.len() >= LONG {
                // The maximum in lanes, then its first position (numpy's argmax).
                let best = lanes::max_sum_f64(vs, ts);
                let at = vs.iter().zip(ts).position(|(&va, &t)| va + t == best).unwrap_or(0);
                return (best, lo + at);
            }
            let (mut best, mut at) = (f64::NEG_INFINITY, 0);
            for (i, (&va, &t)) in vs.iter().zip(ts).enumerate() {
                let cand = va + t;
                if cand > best {
                    (best, at) = (cand, i);
                }
            }
            (best, lo + at)
        };
        let (best, at) = best_source(0, 0, n - 1);
        (out[0], arg[0]) = (best, at as u16);
        if n == 1 {
            return;
        }
        let mut s = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
        while s > 0 {
            for b in (s..n).step_by(2 * s) {
                let lo = usize::from(arg[b - s]);
                let hi = if b + s < n { usize::from(arg[b + s]) } else { n - 1 };
                let (best, at) = best_source(b, lo, hi);
                (out[b], arg[b]) = (best, at as u16);
            }
            s /= 2;
        }
    }

    /// Decodes the most likely state sequence; states `0..n` are voiced pitch bins,
    /// `n..2n` unvoiced.
    pub fn decode(&self, frames: &[FrameObservation]) -> Vec<usize> {
        let n = self.n;
        let s = 2 * n;
        if frames.is_empty() {
            return Vec::new();
        }
        let tiny = f64::MIN_POSITIVE;
        let log_obs = |f: &FrameObservation, out: &mut Vec<f64>| {
            out.clear();
            out.resize(n, (0.0 + tiny).ln());
            for &(b, p) in &f.candidates {
                out[usize::from(b)] = (f64::from(p) + tiny).ln();
            }
            let unvoiced = ((1.0 - f64::from(f.voiced_prob)) / n as f64 + tiny).ln();
            out.resize(s, unvoiced);
        };
        let mut obs = Vec::with_capacity(s);
        log_obs(&frames[0], &mut obs);
        let init = (1.0 / s as f64 + tiny).ln();
        let mut value: Vec<f64> = obs.iter().map(|o| o + init).collect();
        let mut next = vec![0f64; s];
        let mut ptr: Vec<u16> = vec![0; frames.len() * s];
        let (mut mv, mut mu) = (vec![0f64; n], vec![0f64; n]);
        let (mut av, mut au) = (vec![0u16; n], vec![0u16; n]);
        let mut scratch = BandScratch::default();
        let first_max_of = |v: &[f64]| first_max(v.len(), |i| v[i]);
        // The best state of the previous frame (the first one on a tie).
        let (mut gmax, mut gi) = first_max_of(&value);
        for (t, f) in frames.iter().enumerate().skip(1) {
            log_obs(f, &mut obs);
            // Voiced states only live on the bins where the previous frame had pitch
            // candidates: every other voiced state took a `ln tiny` observation and
            // mostly sits below `gmax + ln tiny`, so it can never beat the move from
            // the best state (in band or out of it). Only the live ones are visited.
            // Every target within the band of the best state gets at least the move
            // from it: gmax − ln S_g + ln tri(edge) + ln switch. A voiced source
            // whose best move (ln tri = 0, ln stay) stays below that (with a margin
            // far above rounding) need not visit those targets.
            let g_bin = gi % n;
            let from_best = gmax - self.log_norm[g_bin] + self.log_tri_min + self.log_switch;
            let covered = (g_bin.saturating_sub(self.half), (g_bin + self.half).min(n - 1));
            self.sparse_band_max(
                &value[..n],
                gmax + self.log_tiny,
                from_best - self.log_stay - 1e-6,
                covered,
                &mut mv,
                &mut av,
            );
            self.band_max(&value[n..], &mut mu, &mut au, &mut scratch);
            let row = &mut ptr[t * s..(t + 1) * s];
            // Everything outside the band has transition probability ~0 (tiny): the
            // best such move is the best state overall, times tiny.
            let oob = gmax + self.log_tiny;
            let (ls, lw, half) = (self.log_stay, self.log_switch, self.half);
            let (next_v, next_u) = next.split_at_mut(n);
            let (row_v, row_u) = row.split_at_mut(n);
            let (obs_v, obs_u) = obs.split_at(n);
            let (mv, mu, av, au) = (&mv[..n], &mu[..n], &av[..n], &au[..n]);
            let (next_v, next_u, row_v, row_u, obs_v, obs_u) =
                (&mut next_v[..n], &mut next_u[..n], &mut row_v[..n], &mut row_u[..n], &obs_v[..n], &obs_u[..n]);
            let (gi16, n16) = (gi as u16, n as u16);
            for b in 0..n {
                let (v_stay, v_sw) = (mv[b] + ls, mv[b] + lw);
                let (u_stay, u_sw) = (mu[b] + ls, mu[b] + lw);
                let (av_b, au_b) = (av[b], au[b] + n16);
                // To voiced b: from voiced (stay) or unvoiced (switch); on a tie numpy's
                // argmax takes the lower index, the voiced source.
                let from_u = u_sw > v_stay;
                let (mut bv, mut pv) = (if from_u { u_sw } else { v_stay }, if from_u { au_b } else { av_b });
                // To unvoiced b: from unvoiced (stay) or voiced (switch, preferred on a tie).
                let from_v = v_sw >= u_stay;
                let (mut bu, mut pu) = (if from_v { v_sw } else { u_stay }, if from_v { av_b } else { au_b });
                // Everything outside the band: the best state overall, times tiny.
                let outside = g_bin.abs_diff(b) > half;
                let (oob_v, oob_u) = (outside && oob > bv, outside && oob > bu);
                bv = if oob_v { oob } else { bv };
                pv = if oob_v { gi16 } else { pv };
                bu = if oob_u { oob } else { bu };
                pu = if oob_u { gi16 } else { pu };
                next_v[b] = bv + obs_v[b];
                next_u[b] = bu + obs_u[b];
                row_v[b] = pv;
                row_u[b] = pu;
            }
            std::mem::swap(&mut value, &mut next);
            (gmax, gi) = first_max_of(&value);
        }
        let mut state = gi;
        let mut states = vec![0usize; frames.len()];
        for t in (0..frames.len()).rev() {
            states[t] = state;
            if t > 0 {
                state = usize::from(ptr[t * s + state]);
            }
        }
        states
    }
}

/// pYIN over a whole set of observations.
pub fn decode_track(p: &PyinParams, frames: &[FrameObservation]) -> PitchTrack {
    let n = p.n_pitch_bins();
    let states = BandedViterbi::new(p).decode(frames);
    PitchTrack {
        f0: states.iter().map(|&s| (s < n).then(|| p.bin_hz(s))).collect(),
        voiced_prob: frames.iter().map(|f| f.voiced_prob).collect(),
    }
}

/// Frames decoded together; longer recordings are decoded in overlapping windows
/// so that the back-pointers (2 bytes per state per frame) stay bounded.
const WINDOW: usize = 8192;
const OVERLAP: usize = 512;

/// [`decode_track`] in bounded memory: windows of [`WINDOW`] frames, each decoded
/// with [`OVERLAP`] frames of context on both sides (the Viterbi path converges well
/// within that), keeping the middle. Exact for recordings under ~3 minutes.
pub fn decode_track_windowed(p: &PyinParams, frames: &[FrameObservation]) -> PitchTrack {
    decode_track_windowed_until(p, frames, &|| false).unwrap_or_default()
}

/// [`decode_track_windowed`], asking `stop` before each window: `None` once it
/// says stop (a long recording's decode then ends within one window's work).
pub fn decode_track_windowed_until(
    p: &PyinParams,
    frames: &[FrameObservation],
    stop: &dyn Fn() -> bool,
) -> Option<PitchTrack> {
    if frames.len() <= WINDOW + 2 * OVERLAP {
        return Some(decode_track(p, frames));
    }
    let n = p.n_pitch_bins();
    let viterbi = BandedViterbi::new(p);
    let mut f0 = Vec::with_capacity(frames.len());
    let mut start = 0;
    while start < frames.len() {
        if stop() {
            return None;
        }
        let end = (start + WINDOW).min(frames.len());
        let lo = start.saturating_sub(OVERLAP);
        let hi = (end + OVERLAP).min(frames.len());
        let states = viterbi.decode(&frames[lo..hi]);
        f0.extend(states[start - lo..end - lo].iter().map(|&s| (s < n).then(|| p.bin_hz(s))));
        start = end;
    }
    Some(PitchTrack { f0, voiced_prob: frames.iter().map(|f| f.voiced_prob).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_cdf_matches_scipy() {
        // scipy.stats.beta.cdf([0.05, 0.1, 0.5], 2, 18)
        assert!((beta_cdf(0.05, 2, 18) - 0.2452).abs() < 1e-3);
        assert!((beta_cdf(0.1, 2, 18) - 0.5797).abs() < 1e-3);
        assert!((beta_cdf(0.5, 2, 18) - 0.99996185).abs() < 1e-6);
        assert_eq!(beta_cdf(0.0, 2, 18), 0.0);
        assert!((beta_cdf(1.0, 2, 18) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn boltzmann_pmf_sums_to_one() {
        let total: f64 = (0..5).map(|k| boltzmann_pmf(k, 2.0, 5)).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    /// A small deterministic generator of uniform numbers in [0, 1).
    fn uniform(mut seed: u64) -> impl FnMut() -> f64 {
        move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn first_max_is_numpys_argmax() {
        let mut rnd = uniform(7);
        for n in 0..20 {
            for round in 0..20 {
                // Few distinct values, so ties across lanes are common.
                let v: Vec<f64> =
                    (0..n).map(|_| if round % 5 == 0 { f64::NEG_INFINITY } else { (rnd() * 3.0).floor() }).collect();
                let want =
                    v.iter().enumerate().fold((f64::NEG_INFINITY, 0), |b, (i, &x)| if x > b.0 { (x, i) } else { b });
                assert_eq!(first_max(n, |i| v[i]), want, "{v:?}");
            }
        }
    }

    #[test]
    fn divide_and_conquer_band_max_equals_brute_force() {
        let p = PyinParams::new(65.40639132514966, 1046.5022612023945);
        let vit = BandedViterbi::new(&p);
        let n = p.n_pitch_bins();
        let mut rnd = uniform(12345);
        for round in 0..50 {
            // Mixtures of smooth regions, spikes, plateaus (ties) and −708 floors.
            let v: Vec<f64> = (0..n)
                .map(|i| match round % 3 {
                    0 => -rnd() * 50.0,
                    1 => {
                        if rnd() < 0.9 {
                            -708.0 * (1.0 + rnd())
                        } else {
                            -rnd() * 5.0
                        }
                    }
                    _ => -((i / 37) as f64).round(),
                })
                .collect();
            let (mut out, mut arg) = (vec![0.0; n], vec![0u16; n]);
            vit.band_max(&v, &mut out, &mut arg, &mut BandScratch::default());
            // The reference band maximum, written with the indices of its definition.
            #[allow(clippy::needless_range_loop)]
            for b in 0..n {
                let (lo, hi) = (b.saturating_sub(vit.half), (b + vit.half).min(n - 1));
                let (mut best, mut at) = (f64::NEG_INFINITY, lo);
                for a in lo..hi + 1 {
                    let c = v[a] - vit.log_norm[a] + vit.log_tri[b + vit.half - a];
                    if c > best {
                        best = c;
                        at = a;
                    }
                }
                assert_eq!((out[b], usize::from(arg[b])), (best, at), "round {round} target {b}");
            }
        }
    }

    /// librosa's dense Viterbi, verbatim in structure: the full transition matrix.
    /// Returns the path and a function scoring any path under the same model.
    fn dense_viterbi(p: &PyinParams, frames: &[FrameObservation]) -> (Vec<usize>, f64, impl Fn(&[usize]) -> f64) {
        let n = p.n_pitch_bins();
        let s = 2 * n;
        let vit = BandedViterbi::new(p);
        let tiny = f64::MIN_POSITIVE;
        let mut log_trans = vec![0f64; s * s];
        for i in 0..s {
            for j in 0..s {
                let (a, b) = (i % n, j % n);
                let t = if a.abs_diff(b) <= vit.half {
                    (vit.log_tri[b + vit.half - a] - vit.log_norm[a]).exp()
                } else {
                    0.0
                };
                let sw = if (i < n) == (j < n) { 1.0 - p.switch_prob } else { p.switch_prob };
                log_trans[i * s + j] = (sw * t + tiny).ln();
            }
        }
        let log_obs = |f: &FrameObservation| {
            let mut o = vec![tiny.ln(); s];
            for &(b, pr) in &f.candidates {
                o[usize::from(b)] = (f64::from(pr) + tiny).ln();
            }
            let u = ((1.0 - f64::from(f.voiced_prob)) / n as f64 + tiny).ln();
            o[n..].fill(u);
            o
        };
        let init = (1.0 / s as f64 + tiny).ln();
        let mut value: Vec<f64> = log_obs(&frames[0]).iter().map(|o| o + init).collect();
        let mut ptr = vec![vec![0usize; s]; frames.len()];
        for (t, f) in frames.iter().enumerate().skip(1) {
            let o = log_obs(f);
            let mut next = vec![0f64; s];
            for j in 0..s {
                let (mut best, mut at) = (f64::NEG_INFINITY, 0);
                for i in 0..s {
                    let c = value[i] + log_trans[i * s + j];
                    if c > best {
                        best = c;
                        at = i;
                    }
                }
                next[j] = o[j] + best;
                ptr[t][j] = at;
            }
            value = next;
        }
        let mut state =
            value.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
        let best = value[state];
        let mut out = vec![0; frames.len()];
        for t in (0..frames.len()).rev() {
            out[t] = state;
            if t > 0 {
                state = ptr[t][state];
            }
        }
        let obs: Vec<Vec<f64>> = frames.iter().map(log_obs).collect();
        let score = move |path: &[usize]| {
            let mut v = init + obs[0][path[0]];
            for t in 1..path.len() {
                v += log_trans[path[t - 1] * s + path[t]] + obs[t][path[t]];
            }
            v
        };
        (out, best, score)
    }

    #[test]
    fn banded_sparse_viterbi_equals_the_dense_one() {
        let p = PyinParams::new(65.40639132514966, 1046.5022612023945);
        let n = p.n_pitch_bins();
        let mut rnd = uniform(99);
        for round in 0..4 {
            // Melodies with jumps (beyond the band), silences and noisy candidates.
            let mut bin = (rnd() * n as f64) as usize;
            let frames: Vec<FrameObservation> = (0..40)
                .map(|t| {
                    if rnd() < 0.1 {
                        bin = (rnd() * n as f64) as usize;
                    }
                    bin = (bin + (rnd() * 7.0) as usize).saturating_sub(3).min(n - 1);
                    if (t / 7 + round) % 3 == 2 {
                        return FrameObservation::default();
                    }
                    let mut c = vec![(bin as u16, (0.3 + 0.6 * rnd()) as f32)];
                    if rnd() < 0.5 {
                        c.push((((bin + n / 2) % n) as u16, (0.2 * rnd()) as f32));
                    }
                    let vp = c.iter().map(|x| x.1).sum::<f32>().min(1.0);
                    FrameObservation { candidates: c, voiced_prob: vp }
                })
                .collect();
            let ours = BandedViterbi::new(&p).decode(&frames);
            let (dense, best, score) = dense_viterbi(&p, &frames);
            // The same maximum. (Among exactly tied paths — unvoiced frames have the same
            // evidence in every bin — rounding of the log terms may pick another one.)
            assert!((score(&ours) - best).abs() <= 1e-9 * best.abs(), "round {round}: {} vs {best}", score(&ours));
            // And the same voicing and pitch wherever it matters.
            let pitch = |path: &[usize]| path.iter().map(|&x| (x < n).then_some(x)).collect::<Vec<_>>();
            assert_eq!(pitch(&ours), pitch(&dense), "round {round}");
        }
    }

    #[test]
    fn bins_match_librosa() {
        let p = PyinParams::new(65.40639132514966, 2093.004522404789);
        assert_eq!(p.n_pitch_bins(), 601);
        let p6 = PyinParams::new(65.40639132514966, 1046.5022612023945);
        assert_eq!(p6.n_pitch_bins(), 481);
    }
}
