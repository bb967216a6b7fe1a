//! Onset strength, tempo and beats with librosa's semantics:
//! `onset.onset_strength` (spectral flux of the dB mel spectrogram),
//! `feature.tempo` (mean windowed autocorrelation of the onset envelope under a
//! log-normal prior around 120 BPM) and `beat.beat_track` (Ellis's dynamic
//! programme), including their edge rules.

use crate::audio::rfft::{ForwardFft, InverseFft};
use rustfft::num_complex::Complex;

/// How `onset_strength` combines the mel bands of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// librosa's default for `onset_strength`.
    Mean,
    /// What `beat_track` asks for.
    Median,
}

/// Frames of centre padding librosa compensates for: `lag + n_fft / (2·hop)`.
const ONSET_SHIFT: usize = 1 + 2048 / (2 * 512);

/// The onset envelope from per-frame dB mel spectra (after the `top_db` floor):
/// `env[t]` = aggregate over bands of `max(0, S[t−3+1] − S[t−3])`, zeros first.
pub struct OnsetEnvelope {
    agg: Aggregate,
    prev: Option<Vec<f32>>,
    env: Vec<f32>,
    scratch: Vec<f32>,
}

impl OnsetEnvelope {
    pub fn new(agg: Aggregate) -> Self {
        OnsetEnvelope { agg, prev: None, env: Vec::new(), scratch: Vec::new() }
    }

    /// Feeds the next frame's dB mel spectrum.
    pub fn push(&mut self, db: &[f32]) {
        if self.env.is_empty() {
            self.env.resize(ONSET_SHIFT, 0.0);
        }
        if let Some(prev) = &self.prev {
            self.scratch.clear();
            self.scratch.extend(db.iter().zip(prev).map(|(a, b)| (a - b).max(0.0)));
            let v = match self.agg {
                Aggregate::Mean => {
                    (self.scratch.iter().map(|&x| f64::from(x)).sum::<f64>() / self.scratch.len() as f64) as f32
                }
                Aggregate::Median => median(&mut self.scratch),
            };
            self.env.push(v);
            self.prev.as_mut().expect("checked").copy_from_slice(db);
        } else {
            self.prev = Some(db.to_vec());
        }
    }

    /// The envelope, one value per frame pushed.
    pub fn finish(mut self) -> Vec<f32> {
        let frames = self.prev.as_ref().map_or(0, |_| self.env.len() - ONSET_SHIFT + 1);
        self.env.truncate(frames);
        self.env.resize(frames, 0.0);
        self.env
    }
}

fn median(v: &mut [f32]) -> f32 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    // Selection, not a sort: the middle element, and for an even count the
    // largest of the lower half beside it.
    let (lower, &mut mid, _) = v.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 { mid } else { (lower.iter().copied().fold(f32::NEG_INFINITY, f32::max) + mid) / 2.0 }
}

/// Frames per second of the envelope.
fn frame_rate(sr: f64, hop: usize) -> f64 {
    sr / hop as f64
}

/// `librosa.feature.tempo(onset_envelope=env, sr, hop_length)` with its defaults
/// (8 s autocorrelation window, start 120 BPM, std 1 octave, max 320 BPM).
pub fn tempo(env: &[f32], sr: f64, hop: usize) -> f64 {
    let start_bpm = 120.0f64;
    let win = (8.0 * sr / hop as f64).floor() as usize; // time_to_frames(8.0)
    let n = env.len();
    if n == 0 || win < 2 {
        return start_bpm;
    }
    // Tempogram: frames of `win` centred on each envelope value (linear ramps to 0 as
    // padding), Hann-windowed, autocorrelated, each normalised by its maximum, then
    // averaged over time.
    let half = win / 2;
    let first = f64::from(env[0]);
    let last = f64::from(env[n - 1]);
    let padded: Vec<f64> = (0..n + 2 * half)
        .map(|i| {
            if i < half {
                first * i as f64 / half as f64
            } else if i < half + n {
                f64::from(env[i - half])
            } else {
                let j = i - half - n; // 0.. half-1, ramping from last towards 0
                last * (half - 1 - j) as f64 / half as f64
            }
        })
        .collect();
    let window: Vec<f64> =
        (0..win).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / win as f64).cos()).collect();
    let n_fft = (2 * win - 1).next_power_of_two();
    // float32 like librosa's tempogram of a float32 envelope.
    let mut fwd = ForwardFft::new(n_fft);
    let mut inv = InverseFft::new(n_fft);
    let mut time = vec![0f32; n_fft];
    let mut spec = vec![Complex::default(); n_fft / 2 + 1];
    let mut mean = vec![0f64; win];
    for t in 0..n {
        let input = fwd.input();
        input[..win].iter_mut().zip(&padded[t..t + win]).zip(&window).for_each(|((d, x), w)| *d = (x * w) as f32);
        input[win..].fill(0.0);
        fwd.run(&mut spec);
        spec.iter_mut().for_each(|c| *c = Complex::new(c.norm_sqr(), 0.0));
        inv.run(&mut spec, &mut time);
        let max = time[..win].iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max < f32::MIN_POSITIVE { 1.0 } else { 1.0 / f64::from(max) };
        mean.iter_mut().zip(&time[..win]).for_each(|(m, v)| *m += f64::from(*v) * scale);
    }
    let rate = frame_rate(sr, hop);
    let mut best = (f64::NEG_INFINITY, start_bpm);
    for (lag, &acc) in mean.iter().enumerate().skip(1) {
        let bpm = 60.0 * rate / lag as f64;
        if bpm >= 320.0 {
            continue;
        }
        let tg = acc / n as f64;
        let prior = -0.5 * ((bpm.log2() - start_bpm.log2()) / 1.0).powi(2);
        let score = (1e6 * tg).ln_1p() + prior;
        if score > best.0 {
            best = (score, bpm);
        }
    }
    best.1
}

/// `librosa.beat.beat_track(onset_envelope=env, sr, hop_length)`: the tempo and the
/// beat frames (`trim=True`, `tightness=100`).
pub fn beat_track(env: &[f32], sr: f64, hop: usize) -> (f64, Vec<usize>) {
    if !env.iter().any(|&v| v != 0.0) {
        return (0.0, Vec::new());
    }
    let bpm = tempo(env, sr, hop);
    let fpb = (frame_rate(sr, hop) * 60.0 / bpm).round_ties_even();
    let n = env.len();
    // Normalise by the standard deviation (ddof = 1).
    let mean = env.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var =
        if n > 1 { env.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
    let norm = var.sqrt() as f32 + f32::MIN_POSITIVE;
    let onsets: Vec<f32> = env.iter().map(|&v| v / norm).collect();
    // Local score: same-mode convolution with a Gaussian of ±fpb frames (librosa's
    // loop bounds, which skip the term at index 0).
    let k_len = 2 * fpb as usize + 1;
    let window: Vec<f64> = (0..k_len).map(|k| (-0.5 * ((k as f64 - fpb) * 32.0 / fpb).powi(2)).exp()).collect();
    let kh = k_len / 2;
    let local: Vec<f32> = (0..n)
        .map(|i| {
            let lo = (i + kh + 1).saturating_sub(n);
            let hi = (i + kh).min(k_len);
            let mut acc = 0f64;
            for k in lo..hi {
                acc += window[k] * f64::from(onsets[i + kh - k]);
            }
            acc as f32
        })
        .collect();
    // The dynamic programme.
    let tightness = 100.0;
    let thresh = 0.01 * local.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut backlink = vec![-1i64; n];
    let mut cum = vec![0f32; n];
    let mut first_beat = true;
    let near = (fpb / 2.0).round_ties_even() as i64;
    let far = 2 * fpb as i64;
    for i in 0..n {
        let mut best = f64::NEG_INFINITY;
        let mut at = -1i64;
        let mut loc = i as i64 - near;
        while loc >= i as i64 - far {
            if loc < 0 {
                break;
            }
            let score = f64::from(cum[loc as usize]) - tightness * (((i as i64 - loc) as f64).ln() - fpb.ln()).powi(2);
            if score > best {
                best = score;
                at = loc;
            }
            loc -= 1;
        }
        cum[i] = if at >= 0 { (f64::from(local[i]) + best) as f32 } else { local[i] };
        if first_beat && local[i] < thresh {
            backlink[i] = -1;
        } else {
            backlink[i] = at;
            first_beat = false;
        }
    }
    // The last beat: the last local maximum of the cumulative score above half the
    // median of all local maxima.
    let is_max = |i: usize| i > 0 && cum[i] > cum[i - 1] && (i == n - 1 || cum[i] >= cum[i + 1]);
    let mut maxima: Vec<f32> = (0..n).filter(|&i| is_max(i)).map(|i| cum[i]).collect();
    let threshold = if maxima.is_empty() { f32::NAN } else { 0.5 * median(&mut maxima) };
    let mut tail = n - 1;
    if let Some(i) = (0..n).rev().find(|&i| is_max(i) && cum[i] >= threshold) {
        tail = i;
    }
    let mut beats = vec![false; n];
    let mut b = tail as i64;
    while b >= 0 {
        beats[b as usize] = true;
        b = backlink[b as usize];
    }
    // Trim weak leading and trailing beats: below half the RMS of the smoothed beat envelope.
    let boe: Vec<f64> = (0..n).filter(|&i| beats[i]).map(|i| f64::from(local[i])).collect();
    let w = [0.0, 0.5, 1.0, 0.5, 0.0];
    let full: Vec<f64> = (0..boe.len() + w.len() - 1)
        .map(|k| (0..w.len()).filter(|&j| k >= j && k - j < boe.len()).map(|j| w[j] * boe[k - j]).sum())
        .collect();
    let smooth = &full[2.min(full.len())..(n + 2).min(full.len())];
    let threshold = if smooth.is_empty() {
        0.0
    } else {
        0.5 * (smooth.iter().map(|v| v * v).sum::<f64>() / smooth.len() as f64).sqrt()
    };
    let mut i = 0;
    while i < n && f64::from(local[i]) <= threshold {
        beats[i] = false;
        i += 1;
    }
    let mut i = n;
    while i > 0 && f64::from(local[i - 1]) <= threshold {
        beats[i - 1] = false;
        i -= 1;
    }
    (bpm, (0..n).filter(|&i| beats[i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_track_has_its_tempo() {
        // Clicks every 0.5 s (120 BPM) at 22050/512 frames per second.
        let rate = 22050.0 / 512.0;
        let env: Vec<f32> = (0..2000).map(|t| if ((t as f64 / rate) % 0.5) < 1.0 / rate { 1.0 } else { 0.0 }).collect();
        let (bpm, beats) = beat_track(&env, 22050.0, 512);
        assert!((bpm - 120.0).abs() < 3.0, "{bpm}");
        assert!(beats.len() > 80, "{}", beats.len());
    }

    #[test]
    fn median_by_selection_equals_the_sorted_one() {
        for n in 1..40 {
            let v: Vec<f32> = (0..n).map(|i| ((i * 7919) % 23) as f32 * 0.5 - 3.0).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f32::total_cmp);
            let want = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
            assert_eq!(median(&mut v.clone()), want, "{v:?}");
        }
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn silence_has_no_beats() {
        assert_eq!(beat_track(&[0.0; 500], 22050.0, 512), (0.0, Vec::new()));
    }

    #[test]
    fn onset_envelope_is_shifted_and_trimmed_like_librosa() {
        let mut o = OnsetEnvelope::new(Aggregate::Mean);
        for t in 0..10 {
            o.push(&[t as f32 * 2.0, 0.0]);
        }
        let env = o.finish();
        assert_eq!(env.len(), 10);
        assert_eq!(&env[..3], &[0.0, 0.0, 0.0]);
        assert!(env[3..].iter().all(|&v| v == 1.0), "{env:?}");
    }
}
