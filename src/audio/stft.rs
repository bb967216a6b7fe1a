//! Framing and the short-time Fourier transform, as librosa computes them:
//! centered frames (`n_fft / 2` zeros of padding on both ends — librosa 0.11's
//! default `pad_mode="constant"`, which the reference fixtures use), a periodic
//! Hann window, and power spectra from a real FFT.
//!
//! [`Framer`] is streaming: samples go in as they are decoded, whole frames come
//! out, and memory stays at one frame whatever the length of the recording.

use crate::audio::rfft::ForwardFft;
use rustfft::num_complex::Complex;

/// Cuts a stream of samples into centered, overlapping frames.
#[derive(Debug, Clone)]
pub struct Framer {
    frame: usize,
    hop: usize,
    buf: Vec<f32>,
    finished: bool,
}

impl Framer {
    /// Frames of `frame` samples every `hop`, centered (the first frame is centered
    /// on sample 0).
    pub fn new(frame: usize, hop: usize) -> Self {
        assert!(frame > 0 && hop > 0, "frame and hop must be positive");
        let mut buf = Vec::with_capacity(frame * 2);
        buf.resize(frame / 2, 0.0);
        Framer { frame, hop, buf, finished: false }
    }

    /// Appends samples and calls `emit` for every frame that is now complete.
    /// Memory: the frame plus the chunk pushed.
    pub fn push(&mut self, samples: &[f32], mut emit: impl FnMut(&[f32])) {
        debug_assert!(!self.finished, "push after finish");
        self.buf.extend_from_slice(samples);
        self.drain(&mut emit);
    }

    fn drain(&mut self, emit: &mut impl FnMut(&[f32])) {
        let mut start = 0;
        while self.buf.len() - start >= self.frame {
            emit(&self.buf[start..start + self.frame]);
            start += self.hop;
        }
        if start > 0 {
            let start = start.min(self.buf.len());
            self.buf.drain(..start);
        }
    }

    /// Pads the end and emits the last frames. For `n` samples pushed in all,
    /// `1 + n / hop` frames have been emitted (librosa's count).
    pub fn finish(&mut self, mut emit: impl FnMut(&[f32])) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.buf.extend(std::iter::repeat_n(0.0, self.frame / 2));
        self.drain(&mut emit);
    }
}

/// The periodic Hann window (`scipy.signal.get_window("hann", n, fftbins=True)`).
pub fn hann(n: usize) -> Vec<f32> {
    (0..n).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32).collect()
}

/// Power spectra of windowed frames: `|FFT(w · x)|²` for bins `0..=n_fft/2`.
pub struct PowerSpectrum {
    window: Vec<f32>,
    fft: ForwardFft,
    output: Vec<Complex<f32>>,
}

impl PowerSpectrum {
    /// For frames of `n_fft` samples (even).
    pub fn new(n_fft: usize) -> Self {
        PowerSpectrum {
            window: hann(n_fft),
            fft: ForwardFft::new(n_fft),
            output: vec![Complex::default(); n_fft / 2 + 1],
        }
    }

    /// Number of frequency bins, `n_fft / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.output.len()
    }

    /// Computes the power spectrum of `frame` (length `n_fft`) into `out`.
    pub fn compute(&mut self, frame: &[f32], out: &mut [f32]) {
        debug_assert_eq!(frame.len(), self.window.len());
        for ((dst, &x), &w) in self.fft.input().iter_mut().zip(frame).zip(&self.window) {
            *dst = x * w;
        }
        self.fft.run(&mut self.output);
        for (o, c) in out.iter_mut().zip(&self.output) {
            *o = c.re * c.re + c.im * c.im;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(n: usize, frame: usize, hop: usize, chunk: usize) -> Vec<Vec<f32>> {
        let x: Vec<f32> = (1..=n).map(|i| i as f32).collect();
        let mut f = Framer::new(frame, hop);
        let mut out = Vec::new();
        for c in x.chunks(chunk.max(1)) {
            f.push(c, |fr| out.push(fr.to_vec()));
        }
        f.finish(|fr| out.push(fr.to_vec()));
        out
    }

    #[test]
    fn frame_count_and_centering_match_librosa() {
        for (n, frame, hop) in [(10, 4, 2), (11, 4, 2), (1, 8, 4), (0, 8, 4), (1000, 64, 16), (1323000, 2048, 512)] {
            let frames = frames_of(n, frame, hop, 777);
            assert_eq!(frames.len(), 1 + n / hop, "n={n}");
            if n > 0 {
                // The first frame is centered on sample 0: frame/2 zeros, then the signal.
                assert!(frames[0][..frame / 2].iter().all(|&v| v == 0.0));
                assert_eq!(frames[0][frame / 2], 1.0);
            }
        }
    }

    #[test]
    fn chunking_does_not_change_frames() {
        let whole = frames_of(1000, 64, 16, 100_000);
        for chunk in [1, 3, 16, 63, 64, 65, 500] {
            assert_eq!(frames_of(1000, 64, 16, chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn power_spectrum_of_a_bin_centred_sine() {
        let n = 1024;
        let k = 37;
        let x: Vec<f32> = (0..n).map(|i| (2.0 * std::f32::consts::PI * k as f32 * i as f32 / n as f32).cos()).collect();
        let mut ps = PowerSpectrum::new(n);
        let mut out = vec![0.0; ps.bins()];
        ps.compute(&x, &mut out);
        let peak = out.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(peak, k);
        // Hann: the peak bin holds (n/4)² of power for a unit cosine.
        assert!((out[k] / (n as f32 / 4.0).powi(2) - 1.0).abs() < 1e-3);
    }
}
