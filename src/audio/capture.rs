//! Keeps the recording's first minutes as 16 kHz mono for the voice model,
//! beside the streamed analysis (which never holds the whole signal). The cap
//! bounds memory: 10 minutes are 38 MB; the embedding of a longer recording is
//! made from its first `max_seconds`.

use super::AudioError;
use super::decode;
use super::resample::Resampler;
use std::io::{Read, Seek};

/// The voice model's rate.
pub const VOICE_RATE: u32 = 16_000;

pub struct VoiceCapture {
    resampler: Option<Resampler>,
    samples: Vec<f32>,
    cap: usize,
    truncated: bool,
}

/// What was captured.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// 16 kHz mono samples.
    pub samples: Vec<f32>,
    /// Whether the recording went on past the cap.
    pub truncated: bool,
}

impl VoiceCapture {
    pub fn new(max_seconds: f64) -> Self {
        let cap = (max_seconds.max(0.0) * f64::from(VOICE_RATE)) as usize;
        VoiceCapture { resampler: None, samples: Vec::new(), cap, truncated: false }
    }

    /// Takes mono samples at `rate` (the same rate on every call).
    pub fn push(&mut self, rate: u32, mono: &[f32]) {
        if self.samples.len() >= self.cap {
            self.truncated |= !mono.is_empty();
            return;
        }
        let resampler = match &mut self.resampler {
            Some(r) => r,
            None => match Resampler::new(rate, VOICE_RATE) {
                Ok(r) => self.resampler.insert(r),
                Err(_) => return,
            },
        };
        let (samples, cap) = (&mut self.samples, self.cap);
        resampler.push(mono, |y| samples.extend_from_slice(&y[..y.len().min(cap.saturating_sub(samples.len()))]));
    }

    pub fn finish(mut self) -> Captured {
        if let Some(r) = &mut self.resampler
            && self.samples.len() < self.cap
        {
            let (samples, cap) = (&mut self.samples, self.cap);
            r.finish(|y| samples.extend_from_slice(&y[..y.len().min(cap.saturating_sub(samples.len()))]));
        }
        Captured { samples: self.samples, truncated: self.truncated }
    }
}

/// Decodes a recording only as far as the voice model needs: its first
/// `max_seconds` as 16 kHz mono (no other analysis).
pub fn capture_voice<R: Read + Seek + Send + Sync + 'static>(
    reader: R,
    ext: Option<&str>,
    max_seconds: f64,
) -> Result<Captured, AudioError> {
    let mut src = decode::open(reader, ext)?;
    let rate = src.info().sample_rate;
    let mut capture = VoiceCapture::new(max_seconds);
    let (mut chunk, mut mono) = (Vec::new(), Vec::new());
    let mut any = false;
    while src.next_chunk(&mut chunk)? {
        let ch = usize::from(src.info().channels.max(1));
        mono.clear();
        mono.extend(chunk.chunks_exact(ch).map(|f| {
            let sum: f32 = f.iter().map(|s| if s.is_finite() { *s } else { 0.0 }).sum();
            sum / ch as f32
        }));
        any |= !mono.is_empty();
        capture.push(rate, &mono);
        if capture.samples.len() >= capture.cap {
            // Full: one more chunk tells whether the recording goes on, without decoding the rest.
            capture.truncated = src.next_chunk(&mut chunk)? && !chunk.is_empty();
            break;
        }
    }
    if !any {
        return Err(AudioError::Empty);
    }
    Ok(capture.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resamples_to_16k_and_stops_at_the_cap() {
        let tone: Vec<f32> = (0..44_100 * 3).map(|i| (i as f32 * 0.01).sin()).collect();
        let mut c = VoiceCapture::new(10.0);
        for chunk in tone.chunks(1000) {
            c.push(44_100, chunk);
        }
        let got = c.finish();
        assert_eq!(got.samples.len(), 48_000);
        assert!(!got.truncated);
        let mut c = VoiceCapture::new(1.0);
        for chunk in tone.chunks(1000) {
            c.push(44_100, chunk);
        }
        let got = c.finish();
        assert_eq!(got.samples.len(), 16_000);
        assert!(got.truncated);
    }
}
