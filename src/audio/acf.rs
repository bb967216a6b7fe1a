//! Short-lag autocorrelation of the overlapping frames YIN looks at:
//! `acf(k) = Σ_j x[j]·x[j+k]` over one frame, for lags `0..=max_lag`.
//!
//! pYIN's frames (2048 samples every 512) share three quarters of their samples,
//! and its lags stop at the longest period (338 at C2), under one hop. So a frame
//! is cut into blocks of one hop: its autocorrelation is the sum, over its blocks,
//! of each block's correlation with itself and with the block after it, and
//! those sums can be taken between spectra. Each block is transformed once, when
//! it arrives; a new frame then costs one forward and one inverse FFT of two hops
//! (1024 points) instead of a forward and an inverse of the whole zero-padded
//! frame (2400 points). Frames that do not follow the previous one by one hop,
//! and lags of a hop or more, take the whole-frame transform.
//!
//! Hand-written: FFT crates transform, but none keeps sliding short-lag
//! autocorrelations.

use crate::audio::rfft::{ForwardFft, InverseFft};
use rustfft::num_complex::Complex;

/// The smallest even length ≥ `n` whose only prime factors are 2, 3 and 5.
fn smooth_len(n: usize) -> usize {
    (n.max(2)..)
        .find(|&m| {
            let mut r = m;
            for f in [2, 3, 5] {
                while r % f == 0 {
                    r /= f;
                }
            }
            r == 1 && m % 2 == 0
        })
        .expect("smooth numbers are unbounded")
}

/// A forward/inverse real FFT pair of one size with its buffers.
struct FftPair {
    fwd: ForwardFft,
    inv: InverseFft,
    time: Vec<f32>,
    spec: Vec<Complex<f32>>,
}

impl FftPair {
    fn new(n: usize) -> Self {
        FftPair {
            fwd: ForwardFft::new(n),
            inv: InverseFft::new(n),
            time: vec![0.0; n],
            spec: vec![Complex::default(); n / 2 + 1],
        }
    }

    fn len(&self) -> usize {
        self.time.len()
    }

    /// `self.spec = FFT(x zero-padded)`.
    fn forward(&mut self, x: &[f32]) {
        let input = self.fwd.input();
        input[..x.len()].copy_from_slice(x);
        input[x.len()..].fill(0.0);
        self.fwd.run(&mut self.spec);
    }

    /// `self.time = IFFT(self.spec) / n`'s first `out.len()` points into `out`.
    fn inverse_into(&mut self, out: &mut [f32]) {
        // A real signal's spectrum has real end points: the inverse takes them so,
        // whatever rounding left in their imaginary parts.
        self.inv.run(&mut self.spec, &mut self.time);
        let scale = 1.0 / self.len() as f32;
        for (o, &t) in out.iter_mut().zip(&self.time) {
            *o = t * scale;
        }
    }
}

/// Per-block spectra of the last frame, kept while frames follow one another.
/// Stored as separate real and imaginary planes so the per-frame sums vectorise.
struct Blocks {
    hop: usize,
    /// Blocks per frame.
    m: usize,
    fft: FftPair,
    /// Per ring slot (block number mod `m`), `hop + 1` bins each: the block's
    /// spectrum `X`, its power `|X|²`, and `(−1)^k · conj(X)·X_next` with the
    /// block after it.
    x_re: Vec<f32>,
    x_im: Vec<f32>,
    power: Vec<f32>,
    cross_re: Vec<f32>,
    cross_im: Vec<f32>,
    /// The frame's spectrum, summed.
    sum_re: Vec<f32>,
    sum_im: Vec<f32>,
    /// Number of the newest block; `None` before the first frame.
    newest: Option<usize>,
    /// The previous frame past its first hop: a frame starting with it follows it.
    tail: Vec<f32>,
}

impl Blocks {
    fn bins(&self) -> usize {
        self.hop + 1
    }

    /// Transforms block number `b` (`x`, one hop) into its ring slot, and its cross
    /// term with block `b − 1` when `link`.
    fn add_block(&mut self, b: usize, x: &[f32], link: bool) {
        let nb = self.bins();
        self.fft.forward(x);
        let slot = b % self.m;
        let range = slot * nb..(slot + 1) * nb;
        let (re, im, pw) = (&mut self.x_re[range.clone()], &mut self.x_im[range.clone()], &mut self.power[range]);
        for (((r, i), p), c) in re.iter_mut().zip(im.iter_mut()).zip(pw.iter_mut()).zip(&self.fft.spec) {
            (*r, *i, *p) = (c.re, c.im, c.norm_sqr());
        }
        if link {
            let prev = (b + self.m - 1) % self.m;
            let range = prev * nb..(prev + 1) * nb;
            let (a_re, a_im) = (&self.x_re[range.clone()], &self.x_im[range.clone()]);
            let (c_re, c_im) = (&mut self.cross_re[range.clone()], &mut self.cross_im[range]);
            // conj(a)·x = (a_re·x_re + a_im·x_im) + i(a_re·x_im − a_im·x_re), negated on odd bins.
            for (k, x) in self.fft.spec.iter().enumerate() {
                let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
                c_re[k] = sign * (a_re[k] * x.re + a_im[k] * x.im);
                c_im[k] = sign * (a_re[k] * x.im - a_im[k] * x.re);
            }
        }
    }

    fn compute(&mut self, frame: &[f32], out: &mut [f32]) {
        let (hop, m, nb) = (self.hop, self.m, self.bins());
        // Compared without an early exit so that it vectorises; NaN never matches.
        let head = &frame[..frame.len() - hop];
        let follows = self.newest.is_some()
            && self.tail.len() == head.len()
            && !head.iter().zip(&self.tail).fold(false, |diff, (a, b)| diff | (a != b));
        let newest = match (self.newest, follows) {
            (Some(last), true) => {
                self.add_block(last + 1, &frame[(m - 1) * hop..], true);
                last + 1
            }
            _ => {
                for (i, block) in frame.chunks_exact(hop).enumerate() {
                    self.add_block(i, block, i > 0);
                }
                m - 1
            }
        };
        self.newest = Some(newest);
        self.tail.clear();
        self.tail.extend_from_slice(&frame[hop..]);
        // The frame's spectrum: every block's power, and the cross terms of every
        // block but the newest (whose next block has not come yet).
        self.sum_re.fill(0.0);
        self.sum_im.fill(0.0);
        for slot in 0..m {
            let range = slot * nb..(slot + 1) * nb;
            for (s, &p) in self.sum_re.iter_mut().zip(&self.power[range.clone()]) {
                *s += p;
            }
            if slot != newest % m {
                for (s, &c) in self.sum_re.iter_mut().zip(&self.cross_re[range.clone()]) {
                    *s += c;
                }
                for (s, &c) in self.sum_im.iter_mut().zip(&self.cross_im[range]) {
                    *s += c;
                }
            }
        }
        for ((c, &re), &im) in self.fft.spec.iter_mut().zip(&self.sum_re).zip(&self.sum_im) {
            *c = Complex::new(re, im);
        }
        self.fft.inverse_into(out);
    }
}

/// Autocorrelation of frames of a fixed length for lags `0..=max_lag`.
pub struct FrameAcf {
    frame_length: usize,
    max_lag: usize,
    blocks: Option<Blocks>,
    whole: Option<FftPair>,
}

impl FrameAcf {
    /// For frames of `frame_length` samples that usually follow one another every
    /// `hop`. Lags beyond the frame are not computed.
    pub fn new(frame_length: usize, hop: usize, max_lag: usize) -> Self {
        let max_lag = max_lag.min(frame_length.saturating_sub(1));
        let blocked = hop > 0 && frame_length.is_multiple_of(hop) && frame_length / hop >= 2 && max_lag < hop;
        let blocks = blocked.then(|| {
            let m = frame_length / hop;
            let nb = hop + 1;
            Blocks {
                hop,
                m,
                fft: FftPair::new(2 * hop),
                x_re: vec![0.0; m * nb],
                x_im: vec![0.0; m * nb],
                power: vec![0.0; m * nb],
                cross_re: vec![0.0; m * nb],
                cross_im: vec![0.0; m * nb],
                sum_re: vec![0.0; nb],
                sum_im: vec![0.0; nb],
                newest: None,
                tail: Vec::with_capacity(frame_length - hop),
            }
        });
        FrameAcf { frame_length, max_lag, blocks, whole: None }
    }

    /// The largest lag computed.
    pub fn max_lag(&self) -> usize {
        self.max_lag
    }

    /// `out[k] = Σ_j frame[j]·frame[j+k]` for `k` in `0..=max_lag` (`out` holds
    /// `max_lag + 1` values).
    pub fn compute(&mut self, frame: &[f32], out: &mut [f32]) {
        assert_eq!(frame.len(), self.frame_length, "frames have the length given to FrameAcf::new");
        assert_eq!(out.len(), self.max_lag + 1, "one value per lag");
        match &mut self.blocks {
            Some(blocks) => blocks.compute(frame, out),
            None => {
                // Lags up to `max_lag` need `frame + max_lag` points to come out
                // uncircular; the next 2·3·5-smooth length is a fast FFT size.
                let n = smooth_len(self.frame_length + self.max_lag);
                let fft = self.whole.get_or_insert_with(|| FftPair::new(n));
                fft.forward(frame);
                for c in fft.spec.iter_mut() {
                    *c = Complex::new(c.norm_sqr(), 0.0);
                }
                fft.inverse_into(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(frame: &[f32], max_lag: usize) -> Vec<f64> {
        (0..=max_lag)
            .map(|k| (0..frame.len() - k).map(|j| f64::from(frame[j]) * f64::from(frame[j + k])).sum())
            .collect()
    }

    fn noise(n: usize, mut seed: u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str) {
        let scale = want[0].abs().max(1e-12);
        for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!((f64::from(g) - w).abs() <= 2e-5 * scale, "{what}: lag {k}: {g} vs {w}");
        }
    }

    #[test]
    fn sliding_frames_equal_the_direct_sum() {
        let (frame, hop, max_lag) = (2048, 512, 338);
        let x = noise(frame + 40 * hop, 7);
        let mut acf = FrameAcf::new(frame, hop, max_lag);
        assert!(acf.blocks.is_some());
        let mut out = vec![0f32; max_lag + 1];
        for t in 0..40 {
            let f = &x[t * hop..t * hop + frame];
            acf.compute(f, &mut out);
            assert_close(&out, &direct(f, max_lag), &format!("frame {t}"));
        }
        // A frame that does not follow (a jump, then a repeat) starts over.
        for start in [7 * hop + 3, 7 * hop + 3, 0] {
            let f = &x[start..start + frame];
            acf.compute(f, &mut out);
            assert_close(&out, &direct(f, max_lag), &format!("frame at {start}"));
        }
    }

    #[test]
    fn long_lags_and_odd_hops_take_the_whole_frame() {
        let x = noise(3000, 3);
        for (frame, hop, max_lag) in [(2048, 512, 700), (1000, 300, 200), (64, 64, 63)] {
            let mut acf = FrameAcf::new(frame, hop, max_lag);
            assert!(acf.blocks.is_none(), "{frame}/{hop}/{max_lag}");
            let mut out = vec![0f32; acf.max_lag() + 1];
            acf.compute(&x[..frame], &mut out);
            assert_close(&out, &direct(&x[..frame], acf.max_lag()), "whole frame");
        }
    }

    #[test]
    fn silence_and_a_single_click() {
        let mut acf = FrameAcf::new(2048, 512, 338);
        let mut out = vec![1f32; 339];
        acf.compute(&[0.0; 2048], &mut out);
        assert!(out.iter().all(|&v| v.abs() < 1e-12));
        let mut click = vec![0f32; 2048];
        click[1500] = 0.5;
        acf.compute(&click, &mut out);
        assert!((out[0] - 0.25).abs() < 1e-6);
        assert!(out[1..].iter().all(|&v| v.abs() < 1e-6));
    }

    #[test]
    fn smooth_lengths() {
        assert_eq!(smooth_len(2386), 2400);
        assert_eq!(smooth_len(4096), 4096);
        assert_eq!(smooth_len(7), 8);
    }
}
