//! Real-input FFTs of even length `n`: rustfft's complex transform of `n / 2`
//! points, and the step that turns its output into the real signal's spectrum
//! (forward) or a real signal's spectrum into its input (inverse).
//!
//! This is realfft's algorithm, operation for operation (the same twiddles, the
//! same sums in the same order, no fused multiply-adds), so it gives the same
//! bits — `tests` compares the two on every size the analysis uses. It is
//! hand-written for one reason: realfft's split walks the spectrum from both ends
//! one bin at a time (`zip` with a reversed iterator), which the compiler leaves
//! scalar; with rustfft's half-size transforms it was a fifth of a whole analysis
//! in the profile. Here the same arithmetic runs on eight bins at a time, read into
//! separate real and imaginary lanes, which the compiler vectorises: the analysis
//! is 4 % faster with the same output (BENCHMARKS.md, issue 3).

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftDirection, FftPlanner};
use std::sync::Arc;

/// Bins per step of the split loops: two SSE registers of `f32`.
const LANES: usize = 8;

/// `compute_twiddle` in realfft: `e^{-2πi·k/n}`, computed in `f64`.
fn twiddle(k: usize, n: usize) -> (f32, f32) {
    let angle = -2.0 * std::f64::consts::PI / n as f64 * k as f64;
    (angle.cos() as f32, angle.sin() as f32)
}

/// Bins `1..=pairs` are each processed with bin `n/2 − k`; `(n/2 + 1)/2 − 1` of them.
fn pair_count(n: usize) -> usize {
    (n / 2).div_ceil(2) - 1
}

/// The twiddle factors of one direction, as separate real and imaginary planes.
struct Twiddles {
    re: Vec<f32>,
    im: Vec<f32>,
}

impl Twiddles {
    fn new(n: usize, map: impl Fn((f32, f32)) -> (f32, f32)) -> Self {
        let (re, im) = (1..=pair_count(n)).map(|k| map(twiddle(k, n))).unzip();
        Twiddles { re, im }
    }
}

/// Splits `spec` (length `n/2 + 1`) into its lower bins `0..=pairs` and the rest,
/// and calls a step on every run of bins `k..k+N` (`step8` on runs of eight, then
/// `step1` on the bins left) with their partners, the bins `n/2−k−N+1..=n/2−k` (in
/// ascending order: the partner of lane `j` is lane `N−1−j`).
fn for_each_pair(
    spec: &mut [Complex<f32>],
    tw: &Twiddles,
    step8: impl Fn(&mut [Complex<f32>], &mut [Complex<f32>], &[f32], &[f32]),
    step1: impl Fn(&mut [Complex<f32>], &mut [Complex<f32>], &[f32], &[f32]),
) {
    let h = spec.len() - 1;
    let pairs = tw.re.len();
    let (lo, hi) = spec.split_at_mut(pairs + 1);
    // Bin k's partner h − k sits at hi[h − k − pairs − 1].
    let partner = |k: usize| h - k - pairs - 1;
    let mut k = 1;
    while k + LANES <= pairs + 1 {
        let p = partner(k + LANES - 1);
        step8(&mut lo[k..k + LANES], &mut hi[p..p + LANES], &tw.re[k - 1..k - 1 + LANES], &tw.im[k - 1..k - 1 + LANES]);
        k += LANES;
    }
    while k <= pairs {
        let p = partner(k);
        step1(&mut lo[k..k + 1], &mut hi[p..p + 1], &tw.re[k - 1..k], &tw.im[k - 1..k]);
        k += 1;
    }
}

/// Real and imaginary lanes of `a`, and of `b` reversed.
#[inline(always)]
fn load<const N: usize>(a: &[Complex<f32>], b: &[Complex<f32>]) -> [[f32; N]; 4] {
    let mut v = [[0f32; N]; 4];
    for j in 0..N {
        v[0][j] = a[j].re;
        v[1][j] = a[j].im;
        v[2][j] = b[N - 1 - j].re;
        v[3][j] = b[N - 1 - j].im;
    }
    v
}

/// Writes lanes back: `a[j] = (v0, v1)`, `b[N−1−j] = (v2, v3)`.
#[inline(always)]
fn store<const N: usize>(a: &mut [Complex<f32>], b: &mut [Complex<f32>], v: &[[f32; N]; 4]) {
    for j in 0..N {
        a[j] = Complex::new(v[0][j], v[1][j]);
        b[N - 1 - j] = Complex::new(v[2][j], v[3][j]);
    }
}

/// realfft's forward post-processing of `N` pairs (its twiddles are pre-halved).
#[inline(always)]
fn forward_step<const N: usize>(a: &mut [Complex<f32>], b: &mut [Complex<f32>], tr: &[f32], ti: &[f32]) {
    let [ar, ai, br, bi] = load::<N>(a, b);
    let mut v = [[0f32; N]; 4];
    for j in 0..N {
        let (sum_re, sum_im) = (ar[j] + br[j], ai[j] + bi[j]);
        let (diff_re, diff_im) = (ar[j] - br[j], ai[j] - bi[j]);
        let half_sum_re = 0.5 * sum_re;
        let half_diff_im = 0.5 * diff_im;
        let twiddled_re = sum_im * tr[j] + diff_re * ti[j];
        let twiddled_im = sum_im * ti[j] - diff_re * tr[j];
        v[0][j] = half_sum_re + twiddled_re;
        v[1][j] = half_diff_im + twiddled_im;
        v[2][j] = half_sum_re - twiddled_re;
        v[3][j] = twiddled_im - half_diff_im;
    }
    store(a, b, &v);
}

/// realfft's inverse pre-processing of `N` pairs.
#[inline(always)]
fn inverse_step<const N: usize>(a: &mut [Complex<f32>], b: &mut [Complex<f32>], tr: &[f32], ti: &[f32]) {
    let [ar, ai, br, bi] = load::<N>(a, b);
    let mut v = [[0f32; N]; 4];
    for j in 0..N {
        let (sum_re, sum_im) = (ar[j] + br[j], ai[j] + bi[j]);
        let (diff_re, diff_im) = (ar[j] - br[j], ai[j] - bi[j]);
        let twiddled_re = sum_im * tr[j] + diff_re * ti[j];
        let twiddled_im = sum_im * ti[j] - diff_re * tr[j];
        v[0][j] = sum_re - twiddled_re;
        v[1][j] = diff_im - twiddled_im;
        v[2][j] = sum_re + twiddled_re;
        v[3][j] = -twiddled_im - diff_im;
    }
    store(a, b, &v);
}

/// rustfft's plan of `n / 2` points in `direction`, and its out-of-place scratch.
fn half_plan(n: usize, direction: FftDirection) -> (Arc<dyn Fft<f32>>, Vec<Complex<f32>>) {
    assert!(n >= 2 && n.is_multiple_of(2), "real FFT length must be even and positive, got {n}");
    let fft = FftPlanner::<f32>::new().plan_fft(n / 2, direction);
    let scratch = vec![Complex::default(); fft.get_outofplace_scratch_len()];
    (fft, scratch)
}

/// A forward real FFT of one size with its buffers.
pub struct ForwardFft {
    fft: Arc<dyn Fft<f32>>,
    twiddles: Twiddles,
    input: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl ForwardFft {
    /// For signals of `n` samples; `n` must be even and positive.
    pub fn new(n: usize) -> Self {
        let (fft, scratch) = half_plan(n, FftDirection::Forward);
        ForwardFft {
            fft,
            twiddles: Twiddles::new(n, |(re, im)| (re * 0.5, im * 0.5)),
            input: vec![Complex::default(); n / 2],
            scratch,
        }
    }

    /// The input signal (`n` samples), to be filled before [`ForwardFft::run`].
    pub fn input(&mut self) -> &mut [f32] {
        bytemuck::cast_slice_mut(&mut self.input)
    }

    /// `out` (length `n/2 + 1`) = the spectrum of the input, unnormalised (realfft's
    /// and numpy's `rfft`). The input is left undefined.
    pub fn run(&mut self, out: &mut [Complex<f32>]) {
        let h = self.input.len();
        assert_eq!(out.len(), h + 1, "a real FFT of {} points has {} bins", 2 * h, h + 1);
        self.fft.process_outofplace_with_scratch(&mut self.input, &mut out[..h], &mut self.scratch);
        let first = out[0];
        out[0] = Complex::new(first.re + first.im, 0.0);
        out[h] = Complex::new(first.re - first.im, 0.0);
        for_each_pair(out, &self.twiddles, forward_step::<LANES>, forward_step::<1>);
        if h.is_multiple_of(2) {
            out[h / 2].im = -out[h / 2].im;
        }
    }
}

/// An inverse real FFT of one size with its buffers.
pub struct InverseFft {
    fft: Arc<dyn Fft<f32>>,
    twiddles: Twiddles,
    scratch: Vec<Complex<f32>>,
}

impl InverseFft {
    /// For signals of `n` samples; `n` must be even and positive.
    pub fn new(n: usize) -> Self {
        let (fft, scratch) = half_plan(n, FftDirection::Inverse);
        InverseFft { fft, twiddles: Twiddles::new(n, |(re, im)| (re, -im)), scratch }
    }

    /// `out` (length `n`) = the real signal whose spectrum is `spec` (length
    /// `n/2 + 1`), times `n` (unnormalised, as realfft). The imaginary parts of the
    /// first and last bins are taken as zero, as a real signal's are; `spec` is
    /// left undefined.
    pub fn run(&mut self, spec: &mut [Complex<f32>], out: &mut [f32]) {
        let h = spec.len() - 1;
        assert_eq!(out.len(), 2 * h, "a real signal of {} points has {} bins", out.len(), out.len() / 2 + 1);
        assert_eq!(h, self.fft.len(), "the spectrum has the plan's {} bins", self.fft.len() + 1);
        spec[0].im = 0.0;
        spec[h].im = 0.0;
        let (first, last) = (spec[0], spec[h]);
        let (sum, diff) = (first + last, first - last);
        spec[0] = Complex::new(sum.re - sum.im, diff.re - diff.im);
        for_each_pair(spec, &self.twiddles, inverse_step::<LANES>, inverse_step::<1>);
        if h.is_multiple_of(2) {
            let doubled = spec[h / 2] + spec[h / 2];
            spec[h / 2] = doubled.conj();
        }
        let out: &mut [Complex<f32>] = bytemuck::cast_slice_mut(out);
        self.fft.process_outofplace_with_scratch(&mut spec[..h], out, &mut self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    fn noise(n: usize, mut seed: u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn bits(v: &[Complex<f32>]) -> Vec<(u32, u32)> {
        v.iter().map(|c| (c.re.to_bits(), c.im.to_bits())).collect()
    }

    /// The sizes the analysis uses (STFT, YIN's blocks and whole frames, the
    /// tempogram), odd and even halves, and the smallest ones.
    const SIZES: [usize; 12] = [2, 4, 6, 8, 18, 30, 34, 1024, 2048, 2400, 2402, 4096];

    #[test]
    fn forward_gives_realffts_bits() {
        for n in SIZES {
            let x = noise(n, n as u64);
            let theirs = {
                let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
                let (mut input, mut out) = (x.clone(), fft.make_output_vec());
                fft.process(&mut input, &mut out).expect("sizes from the plan");
                out
            };
            let mut ours = ForwardFft::new(n);
            ours.input().copy_from_slice(&x);
            let mut out = vec![Complex::default(); n / 2 + 1];
            ours.run(&mut out);
            assert_eq!(bits(&out), bits(&theirs), "n = {n}");
        }
    }

    #[test]
    fn inverse_gives_realffts_bits() {
        for n in SIZES {
            let mut spec: Vec<Complex<f32>> =
                noise(n + 2, 7 * n as u64).chunks_exact(2).map(|p| Complex::new(p[0], p[1])).collect();
            let last = spec.len() - 1;
            spec[0].im = 0.0;
            spec[last].im = 0.0;
            let theirs = {
                let fft = RealFftPlanner::<f32>::new().plan_fft_inverse(n);
                let (mut input, mut out) = (spec.clone(), fft.make_output_vec());
                fft.process(&mut input, &mut out).expect("sizes from the plan");
                out
            };
            let mut out = vec![0f32; n];
            InverseFft::new(n).run(&mut spec.clone(), &mut out);
            let as_bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(as_bits(&out), as_bits(&theirs), "n = {n}");
        }
    }

    #[test]
    fn round_trip_and_a_known_spectrum() {
        let n = 64;
        let x: Vec<f32> = (0..n).map(|i| (2.0 * std::f32::consts::PI * 5.0 * i as f32 / n as f32).cos()).collect();
        let mut fwd = ForwardFft::new(n);
        fwd.input().copy_from_slice(&x);
        let mut spec = vec![Complex::default(); n / 2 + 1];
        fwd.run(&mut spec);
        for (k, c) in spec.iter().enumerate() {
            let want = if k == 5 { n as f32 / 2.0 } else { 0.0 };
            assert!((c.re - want).abs() < 1e-4 && c.im.abs() < 1e-4, "bin {k}: {c}");
        }
        let mut back = vec![0f32; n];
        InverseFft::new(n).run(&mut spec, &mut back);
        for (a, b) in back.iter().zip(&x) {
            assert!((a / n as f32 - b).abs() < 1e-5);
        }
    }

    #[test]
    #[should_panic(expected = "even")]
    fn odd_lengths_are_refused() {
        ForwardFft::new(7);
    }
}
