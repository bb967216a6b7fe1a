//! Band-limited resampling to the analysis rate with rubato's synchronous FFT
//! resampler, streamed chunk by chunk, with its start-up delay removed and the
//! output length `ceil(n · out / in)` as librosa's `fix=True` gives.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _, WindowFunction};

const CHUNK: usize = 4096;

/// Mono resampler from `from` Hz to `to` Hz (a pass-through when they are equal).
pub struct Resampler {
    inner: Option<Fft<f32>>,
    ratio: f64,
    pending: Vec<f32>,
    out: Vec<f32>,
    skip: usize,
    consumed: u64,
    emitted: u64,
}

/// The rates cannot be resampled between.
#[derive(Debug, thiserror::Error)]
#[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
pub struct ResampleError {
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        let err = |reason: String| ResampleError { from, to, reason };
        if from == 0 || to == 0 {
            return Err(err("zero rate".into()));
        }
        let (inner, skip) = if from == to {
            (None, 0)
        } else {
            // One sub-chunk: the largest FFT for the chunk, so the sharpest anti-aliasing
            // filter (closest to soxr_hq's passband, which librosa uses).
            let fft = Fft::<f32>::new_custom(
                from as usize,
                to as usize,
                CHUNK,
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| err(e.to_string()))?;
            let delay = fft.output_delay();
            (Some(fft), delay)
        };
        Ok(Resampler {
            inner,
            ratio: f64::from(to) / f64::from(from),
            pending: Vec::new(),
            out: Vec::new(),
            skip,
            consumed: 0,
            emitted: 0,
        })
    }

    /// Resamples one chunk (`chunk_len` real samples of `pending` from `start`) and
    /// emits its output, past the start-up delay and up to `cap` samples in all.
    fn run(&mut self, start: usize, chunk_len: usize, cap: u64, emit: &mut impl FnMut(&[f32])) {
        let Some(fft) = self.inner.as_mut() else { return };
        let need = fft.input_frames_next();
        let out_len = fft.output_frames_next();
        self.out.resize(out_len, 0.0);
        let pending = &self.pending[start..];
        let input = &pending[..need.min(pending.len()).max(chunk_len)];
        let partial = (chunk_len < need).then_some(chunk_len);
        let idx = Indexing { input_offset: 0, output_offset: 0, partial_len: partial, active_channels_mask: None };
        let inp = InterleavedSlice::new(input, 1, input.len()).expect("sized from the buffer");
        let mut outp = InterleavedSlice::new_mut(&mut self.out, 1, out_len).expect("sized from the buffer");
        let (_, produced) =
            fft.process_into_buffer(&inp, &mut outp, Some(&idx)).expect("buffers sized by the resampler");
        let mut produced = &self.out[..produced];
        let s = self.skip.min(produced.len());
        self.skip -= s;
        produced = &produced[s..];
        let room = usize::try_from(cap.saturating_sub(self.emitted)).unwrap_or(usize::MAX);
        produced = &produced[..produced.len().min(room)];
        if !produced.is_empty() {
            self.emitted += produced.len() as u64;
            emit(produced);
        }
    }

    /// Resamples `samples`, calling `emit` with output as it becomes available.
    pub fn push(&mut self, samples: &[f32], mut emit: impl FnMut(&[f32])) {
        self.consumed += samples.len() as u64;
        let Some(fft) = self.inner.as_ref() else {
            self.emitted += samples.len() as u64;
            emit(samples);
            return;
        };
        let need = fft.input_frames_next();
        self.pending.extend_from_slice(samples);
        // Whole chunks from the front, then one move of the rest (draining after each
        // chunk would move the whole backlog every time).
        let mut start = 0;
        while self.pending.len() - start >= need {
            self.run(start, need, u64::MAX, &mut emit);
            start += need;
        }
        self.pending.drain(..start);
    }

    /// Flushes the tail: the output totals `ceil(n · to / from)` samples.
    pub fn finish(&mut self, mut emit: impl FnMut(&[f32])) {
        let Some(need) = self.inner.as_ref().map(|f| f.input_frames_next()) else { return };
        let total = (self.consumed as f64 * self.ratio).ceil() as u64;
        // The real tail, then silence, until the delayed output has all come out.
        let mut rounds = 0;
        while self.emitted < total && rounds < 64 {
            rounds += 1;
            let len = self.pending.len();
            self.pending.resize(need.max(len), 0.0);
            self.run(0, len, total, &mut emit);
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resample_all(x: &[f32], from: u32, to: u32, chunk: usize) -> Vec<f32> {
        let mut r = Resampler::new(from, to).unwrap();
        let mut out = Vec::new();
        for c in x.chunks(chunk) {
            r.push(c, |o| out.extend_from_slice(o));
        }
        r.finish(|o| out.extend_from_slice(o));
        out
    }

    #[test]
    fn length_is_exact_and_a_sine_survives() {
        let from = 44_100;
        let x: Vec<f32> =
            (0..from).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / from as f32).sin() * 0.5).collect();
        for chunk in [100, 1024, 5000] {
            let y = resample_all(&x, from, 22_050, chunk);
            assert_eq!(y.len(), 22_050, "chunk {chunk}");
            // Aligned: compare with the ideal sine away from the edges.
            let err = (2000..20_000)
                .map(|i| (y[i] - (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 22_050.0).sin() * 0.5).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-2, "chunk {chunk}: err {err}");
        }
    }

    #[test]
    fn same_rate_passes_through_and_short_inputs_work() {
        assert_eq!(resample_all(&[0.1, 0.2, 0.3], 8000, 8000, 2), vec![0.1, 0.2, 0.3]);
        assert_eq!(resample_all(&[0.5; 10], 8000, 22_050, 3).len(), 28);
        assert!(resample_all(&[], 8000, 22_050, 3).is_empty());
    }
}
