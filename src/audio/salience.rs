//! The predominant melody: harmonic-sum pitch salience per frame, and the path
//! through it that a singer's line takes.
//!
//! A pitch tracker like pYIN reads one periodicity out of the whole mixture; under
//! a backing track as loud as 5 dB below the voice it follows the accompaniment
//! for whole phrases. Salience asks a different question per frame: for every
//! candidate pitch, how much spectral energy sits on its harmonics? The singer's
//! voice is the loudest single harmonic source in the room and rich in harmonics
//! up to several kHz, so it stands out there even where the backing's parts
//! together are nearly as loud (Salamon & Gómez, "Melody extraction from
//! polyphonic music signals using pitch contour characteristics", 2012, whose
//! salience function this is).
//!
//! - **Salience** ([`Salience::frame`]): the spectral peaks within
//!   [`PEAK_RANGE_DB`] of the frame's loudest, below [`PEAK_CEILING_HZ`], each
//!   adds its magnitude to every pitch it could be the `h`-th harmonic of
//!   (`h` ≤ [`HARMONICS`], weight [`HARMONIC_DECAY`]`^(h−1)`, while the weighted
//!   magnitude stays within [`PEAK_RANGE_DB`] of the loudest peak), spread over
//!   ±1 semitone of 10-cent bins with a cos² taper.
//! - **Candidates**: the frame's [`CANDIDATES`] highest salience peaks, each
//!   refined between bins and kept with its salience over the frame's highest.
//! - **Path** ([`predominant`]): a Viterbi path over the candidates whose score is
//!   the log relative salience, less [`JUMP_COST`] per semitone moved between
//!   frames: the line that stays loud and moves like a melody.
//! - **Subharmonic evidence** ([`Candidate::below`]): harmonic summation with
//!   decaying weights favours a multiple of a low voice's pitch (its energy sits
//!   in higher harmonics, around the first formant), so each candidate `c` also
//!   carries, for `c/2 … c/5`, how strongly the harmonics of `c/k` that `c` does
//!   not explain sound against the envelope of those it does. A genuine
//!   fundamental's harmonics all lie on one smooth envelope (≈ 0 dB); where
//!   nothing sounds at `c/k`, those slots hold only other sources (−10 dB and
//!   far below). Whoever follows the path decides with it
//!   ([`vocal_range::follow_melody`](super::vocal_range::follow_melody)).
//!
//! Hand-written: no crate computes a harmonic-sum salience; the spectrum comes
//! from the analysis' own STFT. Each harmonic costs a few operations (the taper
//! is laid down through difference arrays, see [`Salience`]) and each spectrum
//! window a candidate looks at two lookups (sparse range-maximum tables).

/// Lowest pitch, Hz (C2, the bottom of the analysed range).
pub const FMIN_HZ: f64 = super::frames::FMIN_C2;
/// Salience bins per semitone (10 cents each).
pub const BINS_PER_SEMITONE: usize = 10;
/// Salience bins: four octaves, C2 to C6.
pub const BINS: usize = 48 * BINS_PER_SEMITONE;
/// Harmonics a spectral peak can be of.
pub const HARMONICS: usize = 20;
/// Weight of the `h`-th harmonic: `HARMONIC_DECAY^(h−1)`.
pub const HARMONIC_DECAY: f32 = 0.8;
/// Spectral peaks, and the weighted harmonic shares of the rest, this far below
/// the frame's loudest peak are left out, dB.
pub const PEAK_RANGE_DB: f32 = 40.0;
/// Spectral peaks above this are left out (a voice's harmonics that matter), Hz.
pub const PEAK_CEILING_HZ: f64 = 5000.0;
/// Salience peaks kept per frame.
pub const CANDIDATES: usize = 8;
/// Path cost of moving one semitone between frames, in log-salience units.
pub const JUMP_COST: f32 = 0.5;
/// Relative salience never scores below this (a weak candidate still bridges).
const SALIENCE_FLOOR: f32 = 1e-3;
/// Half-width of a peak's spread, bins (one semitone).
const SPREAD: usize = BINS_PER_SEMITONE;
/// The taper's cosine repeats every this many bins.
const PERIOD: usize = 2 * SPREAD;
/// A harmonic's position on the salience axis is rounded to this many steps per
/// bin (0.3 cents) before its taper is laid down.
const PHASE_STEPS: usize = 32;

/// Subharmonics `c/k` each candidate carries evidence for: `k` = 2..=this.
pub const SUBHARMONICS: usize = 5;
/// Harmonics of `c/k` looked at: 2..=this (the fundamental itself is left out:
/// a low voice's is often weak, and that weakness is the case in question).
const EVIDENCE_HARMONICS: usize = 11;
/// `below[k − 2]` when `c/k` could not be judged (below C2, or too few of its
/// harmonics under [`PEAK_CEILING_HZ`]).
const NO_EVIDENCE: i8 = i8::MIN;

/// One pitch a frame's salience points at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Position on the salience axis, bins above [`FMIN_HZ`] (fractional).
    pub bin: f32,
    /// Salience over the frame's highest, 0..=1.
    pub weight: f32,
    /// How loud the line is: the power at its harmonics up to
    /// [`PEAK_CEILING_HZ`], dB. Unlike the salience it does not depend on where
    /// in the voice's range the pitch lies, and unlike the frame's level it
    /// leaves out what sounds between the harmonics (drums, other parts): where
    /// the singer rests and the path follows a backing part, it drops by that
    /// part's share of the backing.
    pub level_db: f32,
    /// For `k` = 2..=[`SUBHARMONICS`], at `k − 2`: the median level, dB (whole),
    /// of the harmonics of `c/k` that are not multiples of `k` against the
    /// envelope through the neighbouring multiples (see the module doc).
    below: [i8; SUBHARMONICS - 1],
}

impl Candidate {
    /// A candidate at `bin` with relative salience `weight` and no subharmonic
    /// evidence.
    pub fn new(bin: f32, weight: f32) -> Self {
        Candidate { bin, weight, level_db: 0.0, below: [NO_EVIDENCE; SUBHARMONICS - 1] }
    }

    /// The same candidate with `db` as the evidence for `hz()/k`.
    #[cfg(test)]
    pub(crate) fn with_subharmonic_db(mut self, k: usize, db: f32) -> Self {
        self.below[k - 2] = db as i8;
        self
    }

    /// The candidate's pitch, Hz.
    pub fn hz(&self) -> f64 {
        FMIN_HZ * 2f64.powf(f64::from(self.bin) / (12 * BINS_PER_SEMITONE) as f64)
    }

    /// How strongly `hz()/k` sounds as a pitch of its own: the median level, dB,
    /// of its harmonics that this candidate does not explain, against the
    /// envelope of those it does (≈ 0 for a genuine fundamental, far below where
    /// `hz()/k` is only a subharmonic). `None` for `k` outside 2..=[`SUBHARMONICS`]
    /// or where it could not be judged.
    pub fn subharmonic_db(&self, k: usize) -> Option<f32> {
        let v = *self.below.get(k.checked_sub(2)?)?;
        (v != NO_EVIDENCE).then_some(f32::from(v))
    }
}

/// The salience of one frame at a time, from its power spectrum.
///
/// Each harmonic position `b` spreads `a·cos²(π(i − b)/(2·SPREAD))` over the bins
/// `i` within `SPREAD` of it. As `cos² x = (1 + cos 2x)/2`, that is a constant
/// `a/2` plus the real part of `(a/2)·e^{−iπb/SPREAD}` turned by
/// `e^{iπi/SPREAD}`: both are the same on every bin of the window, so each
/// harmonic adds four numbers to difference arrays at the window's two ends,
/// and one running sum over the bins gives the whole salience: the bins once
/// plus a few operations per harmonic, against 21 multiply-adds per harmonic to
/// lay the taper down bin by bin (the melody's largest cost).
pub struct Salience {
    /// Hz per spectrum bin.
    bin_hz: f64,
    /// Spectrum bins up to [`PEAK_CEILING_HZ`].
    ceiling: usize,
    /// `−e^{−iπq/(PHASE_STEPS·SPREAD)}` for `q` in `0..PERIOD·PHASE_STEPS`: the
    /// phase of a harmonic at bin `q/PHASE_STEPS − SPREAD`.
    phase: Vec<(f64, f64)>,
    /// `e^{iπi/SPREAD}` for `i` in `0..PERIOD`.
    turn: [(f64, f64); PERIOD],
    /// `12·BINS_PER_SEMITONE·log2(h)` for `h` = 1..=HARMONICS.
    harmonic_bins: [f32; HARMONICS],
    /// `HARMONIC_DECAY^(h−1)`.
    harmonic_weight: [f32; HARMONICS],
    magnitude: Vec<f32>,
    /// `ln magnitude` (at least ln 1e-12).
    log_magnitude: Vec<f32>,
    /// Sparse tables of `magnitude`'s and `log_magnitude`'s range maxima: row
    /// `j` (at `j·ceiling`) holds the maximum over bins `i .. i + 2^j`, so the
    /// maximum over any window is two lookups (the windows
    /// [`peak_magnitude`](Self::peak_magnitude) and
    /// [`log_level`](Self::log_level) ask for, hundreds per frame, are up to 29
    /// bins wide).
    range_max: Vec<f32>,
    log_range_max: Vec<f32>,
    /// Rows of `range_max`.
    rows: usize,
    /// Difference arrays (bins 0..=BINS) of the constant and of the real and
    /// imaginary parts of the turning term.
    constant: Vec<f64>,
    real: Vec<f64>,
    imaginary: Vec<f64>,
    salience: Vec<f32>,
}

impl Salience {
    /// For spectra of an `n_fft`-point STFT at `sr` Hz.
    pub fn new(sr: f64, n_fft: usize) -> Self {
        let bin_hz = sr / n_fft as f64;
        let ceiling = ((PEAK_CEILING_HZ / bin_hz) as usize).min(n_fft / 2);
        let unit = std::f64::consts::PI / SPREAD as f64;
        let phase = (0..PERIOD * PHASE_STEPS)
            .map(|q| {
                let angle = unit * q as f64 / PHASE_STEPS as f64;
                (-angle.cos(), angle.sin())
            })
            .collect();
        let per_octave = (12 * BINS_PER_SEMITONE) as f32;
        // The widest window: ±3% of the top bin, both ends and the centre.
        let widest = 2 * (0.03 * ceiling as f64).ceil() as usize + 3;
        let rows = (usize::BITS - widest.leading_zeros()) as usize;
        Salience {
            bin_hz,
            ceiling,
            phase,
            turn: std::array::from_fn(|i| ((unit * i as f64).cos(), (unit * i as f64).sin())),
            harmonic_bins: std::array::from_fn(|i| per_octave * ((i + 1) as f32).log2()),
            harmonic_weight: std::array::from_fn(|i| HARMONIC_DECAY.powi(i as i32)),
            magnitude: vec![0.0; ceiling],
            log_magnitude: vec![0.0; ceiling],
            range_max: vec![0.0; rows * ceiling],
            log_range_max: vec![0.0; rows * ceiling],
            rows,
            constant: vec![0.0; BINS + 1],
            real: vec![0.0; BINS + 1],
            imaginary: vec![0.0; BINS + 1],
            salience: vec![0.0; BINS],
        }
    }

    /// The salience of one frame (`power`: its power spectrum), appended to
    /// `out` as its candidates, strongest first (none for a silent frame).
    pub fn frame(&mut self, power: &[f32], out: &mut Vec<Candidate>) {
        let n = self.ceiling.min(power.len().saturating_sub(1));
        let mut loudest = 0f32;
        for (m, &p) in self.magnitude.iter_mut().zip(&power[..n]) {
            *m = p.max(0.0).sqrt();
            loudest = loudest.max(*m);
        }
        self.magnitude[n..].fill(0.0);
        if loudest <= 0.0 || n < 3 {
            return;
        }
        for (l, &m) in self.log_magnitude.iter_mut().zip(&self.magnitude) {
            *l = ln(m.max(1e-12));
        }
        fill_range_max(&mut self.range_max, &self.magnitude, self.rows);
        fill_range_max(&mut self.log_range_max, &self.log_magnitude, self.rows);
        self.constant.fill(0.0);
        self.real.fill(0.0);
        self.imaginary.fill(0.0);
        let floor = loudest * 10f32.powf(-PEAK_RANGE_DB / 20.0);
        let per_octave = (12 * BINS_PER_SEMITONE) as f64;
        // Copies (40 floats), so that `lay` may borrow `self` inside the loop.
        let (bins, weights) = (self.harmonic_bins, self.harmonic_weight);
        for k in 1..n - 1 {
            let (l, c, r) = (self.magnitude[k - 1], self.magnitude[k], self.magnitude[k + 1]);
            if c <= floor || c <= l || c < r {
                continue;
            }
            // The peak between bins: a parabola through the log magnitudes.
            let (ll, lc, lr) = (self.log_magnitude[k - 1], self.log_magnitude[k], self.log_magnitude[k + 1]);
            let d = vertex(ll, lc, lr);
            let amp = (lc - 0.25 * (ll - lr) * d).exp();
            let hz = (k as f64 + f64::from(d)) * self.bin_hz;
            let top = (per_octave * (hz / FMIN_HZ).log2()) as f32;
            for (&down, &w) in bins.iter().zip(&weights) {
                let b = top - down;
                // Weights fall with `h`: once a harmonic's share is under the
                // floor the peaks themselves are held to, so are all after it.
                if b <= -(SPREAD as f32) || w * amp < floor {
                    break;
                }
                if b >= (BINS + SPREAD) as f32 {
                    continue;
                }
                self.lay(b, 0.5 * f64::from(w * amp));
            }
        }
        self.integrate();
        self.peaks(out);
    }

    /// Adds a taper of height `2·half` centred on bin `b` (> −SPREAD) to the
    /// difference arrays.
    fn lay(&mut self, b: f32, half: f64) {
        // The position in steps from bin −SPREAD (≥ 0 here, so adding ½ and
        // truncating rounds it, without a libm call).
        let q = ((b + SPREAD as f32) * PHASE_STEPS as f32 + 0.5) as usize;
        let (whole, part) = (q / PHASE_STEPS, q % PHASE_STEPS);
        // Bins i with |i − b| < SPREAD, b = whole + part/PHASE_STEPS − SPREAD.
        let lo = (whole + 1).saturating_sub(2 * SPREAD);
        let end = (whole + usize::from(part > 0)).min(BINS);
        if lo >= end {
            return;
        }
        let (re, im) = self.phase[q % (PERIOD * PHASE_STEPS)];
        self.constant[lo] += half;
        self.constant[end] -= half;
        self.real[lo] += half * re;
        self.real[end] -= half * re;
        self.imaginary[lo] += half * im;
        self.imaginary[end] -= half * im;
    }

    /// The salience from the difference arrays.
    fn integrate(&mut self) {
        let (mut c, mut re, mut im) = (0f64, 0f64, 0f64);
        for (i, s) in self.salience.iter_mut().enumerate() {
            c += self.constant[i];
            re += self.real[i];
            im += self.imaginary[i];
            let (tr, ti) = self.turn[i % PERIOD];
            *s = (c + tr * re - ti * im) as f32;
        }
    }

    /// The salience's highest local maxima, refined between bins.
    fn peaks(&self, out: &mut Vec<Candidate>) {
        let s = &self.salience[..];
        let top = s.iter().copied().fold(0f32, f32::max);
        if top <= 0.0 {
            return;
        }
        let mut found: [Candidate; CANDIDATES] = [Candidate::new(0.0, 0.0); CANDIDATES];
        let mut count = 0;
        for i in 1..BINS - 1 {
            let (l, c, r) = (s[i - 1], s[i], s[i + 1]);
            if c <= l || c < r || c < top * SALIENCE_FLOOR {
                continue;
            }
            let cand = Candidate::new(i as f32 + vertex(l, c, r), c / top);
            // Insertion into the strongest CANDIDATES, strongest first.
            let mut at = count.min(CANDIDATES);
            while at > 0 && found[at - 1].weight < cand.weight {
                at -= 1;
            }
            if at < CANDIDATES {
                let last = count.min(CANDIDATES - 1);
                found.copy_within(at..last, at + 1);
                found[at] = cand;
                count = (count + 1).min(CANDIDATES);
            }
        }
        for cand in &mut found[..count] {
            let hz = cand.hz();
            for (k, slot) in (2..=SUBHARMONICS).zip(&mut cand.below) {
                *slot = self
                    .subharmonic_evidence(hz / k as f64, k)
                    .map_or(NO_EVIDENCE, |db| db.round().clamp(f32::from(NO_EVIDENCE) + 1.0, f32::from(i8::MAX)) as i8);
            }
            cand.level_db = self.harmonic_level_db(hz);
        }
        out.extend_from_slice(&found[..count]);
    }

    /// The bins within ±3% of `hz` (at least the nearest bin and its neighbours).
    fn window(&self, hz: f64) -> (usize, usize) {
        let centre = hz / self.bin_hz;
        let reach = (0.03 * centre).max(1.0);
        // Rounded by adding ½ and truncating (both ends are ≥ −½ here; a negative
        // low end saturates to bin 0): no libm call in this inner loop.
        let lo = (centre - reach + 0.5) as usize;
        let hi = ((centre + reach + 0.5) as usize).min(self.ceiling - 1);
        (lo.min(hi), hi)
    }

    /// The frame's strongest spectrum magnitude within ±3% of `hz`.
    fn peak_magnitude(&self, hz: f64) -> f32 {
        let (lo, hi) = self.window(hz);
        range_max(&self.range_max, self.ceiling, self.rows, lo, hi)
    }

    /// [`peak_magnitude`](Self::peak_magnitude), ln (at least ln 1e-12).
    fn log_level(&self, hz: f64) -> f32 {
        let (lo, hi) = self.window(hz);
        range_max(&self.log_range_max, self.ceiling, self.rows, lo, hi)
    }

    /// The highest frequency the kept spectrum reaches, Hz.
    fn top_hz(&self) -> f64 {
        (self.ceiling - 1) as f64 * self.bin_hz
    }

    /// The power at `f`'s harmonics below the ceiling, dB.
    fn harmonic_level_db(&self, f: f64) -> f32 {
        let top = self.top_hz();
        let power: f32 =
            (1..).map(|n| n as f64 * f).take_while(|&h| h <= top).map(|h| self.peak_magnitude(h).powi(2)).sum();
        10.0 * power.max(1e-20).log10()
    }

    /// The evidence that `f` sounds as a pitch itself rather than only as the
    /// `k`-th subharmonic of `k·f`: the median, over `f`'s harmonics 2..=
    /// [`EVIDENCE_HARMONICS`] that are not multiples of `k`, of each one's level
    /// against the log-linear envelope through the multiples of `k` on either
    /// side (the upper one alone below the first), dB. `None` below C2 or with
    /// fewer than two such harmonics under the spectrum's ceiling.
    fn subharmonic_evidence(&self, f: f64, k: usize) -> Option<f32> {
        if f < FMIN_HZ * 0.97 {
            return None;
        }
        // Each harmonic's level once: the multiples of `k` are shared by the
        // harmonics on either side of them.
        let highest = ((self.top_hz() / f) as usize).min(EVIDENCE_HARMONICS / k * k + k);
        let mut level = [0f32; EVIDENCE_HARMONICS + SUBHARMONICS + 1];
        for (m, l) in level.iter_mut().enumerate().take(highest + 1).skip(2) {
            *l = self.log_level(m as f64 * f);
        }
        let mut ratios = [0f32; EVIDENCE_HARMONICS];
        let mut count = 0;
        for n in (2..=EVIDENCE_HARMONICS).filter(|n| n % k != 0) {
            let (a, b) = (n / k * k, n / k * k + k);
            if b > highest {
                break;
            }
            let envelope = if a == 0 {
                level[b]
            } else {
                let t = (n - a) as f32 / k as f32;
                (1.0 - t) * level[a] + t * level[b]
            };
            ratios[count] = level[n] - envelope;
            count += 1;
        }
        if count < 2 {
            return None;
        }
        let r = &mut ratios[..count];
        r.sort_by(f32::total_cmp);
        let median = if count % 2 == 1 { r[count / 2] } else { 0.5 * (r[count / 2 - 1] + r[count / 2]) };
        Some(median * 20.0 / std::f32::consts::LN_10)
    }
}

/// Fills the sparse table `table` (`rows` rows of `values.len()`) of the range
/// maxima of `values`: row `j` holds the maximum over `i .. i + 2^j`.
fn fill_range_max(table: &mut [f32], values: &[f32], rows: usize) {
    let n = values.len();
    table[..n].copy_from_slice(values);
    for j in 1..rows {
        let (done, rest) = table.split_at_mut(j * n);
        let below = &done[(j - 1) * n..];
        let row = &mut rest[..n];
        let half = 1 << (j - 1);
        let split = n.saturating_sub(half);
        for ((m, &a), &b) in row[..split].iter_mut().zip(below).zip(&below[half..]) {
            *m = a.max(b);
        }
        row[split..].copy_from_slice(&below[split..]);
    }
}

/// The maximum over bins `lo..=hi` from a table [`fill_range_max`] filled.
fn range_max(table: &[f32], n: usize, rows: usize, lo: usize, hi: usize) -> f32 {
    // The window is covered by two row-`j` spans from either end.
    let j = ((usize::BITS - 1 - (hi - lo + 1).leading_zeros()) as usize).min(rows - 1);
    let row = &table[j * n..(j + 1) * n];
    row[lo].max(row[hi + 1 - (1 << j)])
}

/// The natural logarithm of a positive, normal `x`, to f32 precision.
///
/// Hand-written: it runs on every spectrum bin of every frame, where libm's
/// `logf` is a call the loop cannot inline or put in vector lanes.
/// `x = m·2^e` with `m` in [√½, √2), and `ln m = 2·atanh(s)`, `s = (m − 1)/(m + 1)`,
/// whose series converges within five terms for `|s|` ≤ 0.172.
fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Branch-free, so that a loop over a spectrum runs in vector lanes.
    let high = m > std::f32::consts::SQRT_2;
    let m = if high { 0.5 * m } else { m };
    let e = ((bits >> 23) & 0xff) as i32 - 127 + i32::from(high);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 / 9.0)));
    e as f32 * std::f32::consts::LN_2 + 2.0 * s * series
}

/// Where the parabola through three neighbouring values `l, c, r` peaks, in bins
/// from the middle one (within ±½; 0 when they do not curve down).
fn vertex(l: f32, c: f32, r: f32) -> f32 {
    let den = l - 2.0 * c + r;
    if den < 0.0 { (0.5 * (l - r) / den).clamp(-0.5, 0.5) } else { 0.0 }
}

/// Every frame's candidates, in one buffer.
#[derive(Debug, Default, Clone)]
pub struct Candidates {
    all: Vec<Candidate>,
    /// `ends[t]`: one past frame `t`'s last candidate in `all`.
    ends: Vec<u32>,
}

impl Candidates {
    /// Computes and appends one frame's candidates.
    pub fn push_frame(&mut self, salience: &mut Salience, power: &[f32]) {
        salience.frame(power, &mut self.all);
        self.ends.push(self.all.len() as u32);
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No frames held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Where frame `t`'s candidates start in `all`.
    fn offset(&self, t: usize) -> usize {
        if t == 0 { 0 } else { self.ends[t - 1] as usize }
    }

    /// Frame `t`'s candidates, strongest first.
    pub fn frame(&self, t: usize) -> &[Candidate] {
        &self.all[self.offset(t)..self.ends[t] as usize]
    }
}

/// The predominant melody: per frame the candidate the best path goes through,
/// `None` where a frame has none (silence). Each stretch of frames with
/// candidates is decoded on its own.
pub fn predominant(c: &Candidates) -> Vec<Option<Candidate>> {
    let mut out = vec![None; c.len()];
    let mut back = vec![0u8; c.all.len()];
    let jump = JUMP_COST / BINS_PER_SEMITONE as f32;
    let mut t = 0;
    while t < c.len() {
        if c.frame(t).is_empty() {
            t += 1;
            continue;
        }
        let start = t;
        while t < c.len() && !c.frame(t).is_empty() {
            t += 1;
        }
        // Viterbi over frames start..t: scores of the previous frame's candidates
        // and, per candidate (parallel to `c.all`), which previous one it came from.
        let score = |k: &Candidate| (k.weight.max(SALIENCE_FLOOR)).ln();
        let mut prev: Vec<f32> = c.frame(start).iter().map(score).collect();
        let mut next = Vec::with_capacity(CANDIDATES);
        for f in start + 1..t {
            let (before, now) = (c.frame(f - 1), c.frame(f));
            next.clear();
            for (i, k) in now.iter().enumerate() {
                let (best, arg) = before
                    .iter()
                    .zip(&prev)
                    .enumerate()
                    .map(|(j, (b, &s))| (s - jump * (k.bin - b.bin).abs(), j))
                    .fold((f32::NEG_INFINITY, 0), |a, x| if x.0 > a.0 { x } else { a });
                next.push(best + score(k));
                back[c.offset(f) + i] = arg as u8;
            }
            std::mem::swap(&mut prev, &mut next);
        }
        let mut k =
            prev.iter().enumerate().fold((0, f32::NEG_INFINITY), |a, (j, &s)| if s > a.1 { (j, s) } else { a }).0;
        for f in (start..t).rev() {
            out[f] = Some(c.frame(f)[k]);
            k = usize::from(back[c.offset(f) + k]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::frames::{HOP, N_FFT, for_each_frame};
    use crate::audio::stft::PowerSpectrum;

    const SR: f64 = 22_050.0;

    /// A harmonic tone: `harmonics` partials at 1/k amplitude.
    fn tone(hz: f64, harmonics: usize, gain: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f64 / SR;
                let s: f64 = (1..=harmonics)
                    .filter(|&k| k as f64 * hz < SR / 2.0)
                    .map(|k| (2.0 * std::f64::consts::PI * k as f64 * hz * t).sin() / k as f64)
                    .sum();
                (gain * s) as f32
            })
            .collect()
    }

    fn candidates(y: &[f32]) -> Candidates {
        let mut ps = PowerSpectrum::new(N_FFT);
        let mut power = vec![0.0; ps.bins()];
        let mut sal = Salience::new(SR, N_FFT);
        let mut c = Candidates::default();
        for_each_frame(y, N_FFT, HOP, |f| {
            ps.compute(f, &mut power);
            c.push_frame(&mut sal, &power);
        });
        c
    }

    fn cents(a: f64, b: f64) -> f64 {
        1200.0 * (a / b).log2()
    }

    #[test]
    fn a_harmonic_tone_peaks_at_its_fundamental() {
        for hz in [82.4, 146.8, 261.6, 440.0, 880.0] {
            let c = candidates(&tone(hz, 12, 0.1, 22_050));
            let mid = c.frame(c.len() / 2);
            assert!(!mid.is_empty());
            assert!(cents(mid[0].hz(), hz).abs() < 15.0, "{hz} Hz: strongest at {} Hz", mid[0].hz());
            assert!((mid[0].weight - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn a_candidates_octave_below_is_judged_by_its_own_harmonics() {
        // A low voice at 110 Hz whose fundamental is weak: its octave (220 Hz)
        // is a candidate, and 110's odd harmonics sound on the envelope. A tone
        // at 220 Hz alone: nothing sounds at 110's odd harmonics.
        let low: Vec<f32> =
            tone(110.0, 30, 0.1, 22_050).iter().zip(tone(110.0, 1, -0.09, 22_050)).map(|(a, b)| a + b).collect();
        let high = tone(220.0, 15, 0.1, 22_050);
        let octave_db = |y: &[f32]| {
            let c = candidates(y);
            let mid = c.frame(c.len() / 2);
            let at = mid.iter().find(|k| cents(k.hz(), 220.0).abs() < 30.0).expect("a candidate at 220 Hz");
            at.subharmonic_db(2).expect("110 Hz is judged")
        };
        let (sounding, absent) = (octave_db(&low), octave_db(&high));
        assert!(sounding > -3.0, "110 Hz sounding: {sounding} dB");
        assert!(absent < -20.0, "110 Hz absent: {absent} dB");
        assert_eq!(candidates(&high).frame(20)[0].subharmonic_db(6), None);
    }

    #[test]
    fn the_tapers_sum_to_the_ones_laid_down_bin_by_bin() {
        let mut sal = Salience::new(SR, N_FFT);
        let mut want = vec![0f64; BINS];
        let mut x = 12_345u64;
        for _ in 0..300 {
            // A small linear congruential generator: positions across the whole
            // axis and beyond both ends, heights over four decades.
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let b = ((x >> 33) as f64 / (1u64 << 31) as f64) * (BINS + 4 * SPREAD) as f64 - 2.0 * SPREAD as f64;
            let b = (b * PHASE_STEPS as f64).round() / PHASE_STEPS as f64;
            let a = 10f64.powf(-4.0 * ((x >> 11) & 0xffff) as f64 / 65_536.0);
            if b <= -(SPREAD as f64) {
                continue;
            }
            sal.lay(b as f32, 0.5 * a);
            for (i, w) in want.iter_mut().enumerate() {
                let d = (i as f64 - b) / SPREAD as f64;
                if d.abs() < 1.0 {
                    *w += a * (std::f64::consts::FRAC_PI_2 * d).cos().powi(2);
                }
            }
        }
        sal.integrate();
        let top = want.iter().copied().fold(0.0, f64::max);
        for (i, (&got, &w)) in sal.salience.iter().zip(&want).enumerate() {
            assert!((f64::from(got) - w).abs() < 1e-5 * top, "bin {i}: {got} against {w}");
        }
    }

    #[test]
    fn ln_matches_libm() {
        for x in [
            1e-20f32,
            1e-12,
            3.7e-5,
            0.01,
            0.5,
            std::f32::consts::FRAC_1_SQRT_2 * 0.999_999,
            std::f32::consts::FRAC_1_SQRT_2 * 1.000_001,
            1.0,
            std::f32::consts::SQRT_2 * 0.999_999,
            std::f32::consts::SQRT_2 * 1.000_001,
            2.0,
            123.4,
            6.5e7,
        ] {
            let (got, want) = (ln(x), x.ln());
            assert!((got - want).abs() <= 2e-6 * want.abs().max(1.0), "ln {x}: {got} against {want}");
        }
    }

    #[test]
    fn silence_has_no_candidates_and_no_melody() {
        let c = candidates(&vec![0.0; 11_025]);
        assert!((0..c.len()).all(|t| c.frame(t).is_empty()));
        assert!(predominant(&c).iter().all(Option::is_none));
    }

    #[test]
    fn the_louder_line_wins_over_a_quieter_chord() {
        // A rich "voice" line (20 partials) stepping 220 → 247 → 262 Hz over a
        // held two-note accompaniment 8 dB under it: the path is the line.
        let n = 11_025;
        let mut y = Vec::new();
        for hz in [220.0, 246.9, 261.6] {
            y.extend(tone(hz, 20, 0.1, n));
        }
        let backing: Vec<f32> =
            tone(130.8, 8, 0.04, 3 * n).iter().zip(tone(196.0, 8, 0.04, 3 * n)).map(|(a, b)| a + b).collect();
        let mix: Vec<f32> = y.iter().zip(&backing).map(|(a, b)| a + b).collect();
        let path = predominant(&candidates(&mix));
        let at = |s: f64| path[(s * SR / HOP as f64) as usize].expect("voiced").hz();
        for (s, hz) in [(0.25, 220.0), (0.75, 246.9), (1.25, 261.6)] {
            assert!(cents(at(s), hz).abs() < 20.0, "at {s} s: {} Hz, want {hz}", at(s));
        }
    }

    #[test]
    fn one_loud_frame_elsewhere_does_not_pull_the_path() {
        // A steady 200 Hz line with one frame whose strongest candidate is far
        // away: the path pays more to leap there and back than it gains.
        let mut c = Candidates::default();
        let line = Candidate::new(120.0 * (200.0 / FMIN_HZ).log2() as f32, 1.0);
        for t in 0..20 {
            let far = Candidate::new(line.bin + 190.0, 1.0);
            let near = Candidate { weight: 0.3, ..line };
            let frame = if t == 10 { [far, near] } else { [line, far] };
            c.all.extend_from_slice(&frame[..if t == 10 { 2 } else { 1 }]);
            c.ends.push(c.all.len() as u32);
        }
        let path = predominant(&c);
        assert!(path.iter().all(|p| p.is_some_and(|c| cents(c.hz(), 200.0).abs() < 1.0)), "{path:?}");
    }
}
