//! resemblyzer's front end on 16 kHz mono samples: `preprocess_wav`'s volume
//! normalisation (to −30 dBFS, increase only) and silence trimming (WebRTC VAD
//! in mode 3 over 30 ms windows, a moving average of 8, dilation by 6), then
//! `compute_partial_slices` (160-frame partials, 1.3 per second, minimum
//! coverage 0.75) and `wav_to_mel_spectrogram` (40 Slaney mel bands, 25 ms Hann
//! windows, 10 ms hop, centered, power — not log).

use super::ModelError;
use super::encoder::N_MELS;
use crate::audio::frames::for_each_frame;
use crate::audio::mel::MelBank;
use crate::audio::stft::PowerSpectrum;
use webrtc_vad::{SampleRate, Vad, VadMode};

const SR: usize = 16_000;
/// 25 ms window, 10 ms hop.
const N_FFT: usize = 400;
const HOP: usize = 160;
/// Frames per partial utterance (1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
const RATE: f64 = 1.3;
const MIN_COVERAGE: f64 = 0.75;
const TARGET_DBFS: f64 = -30.0;
const INT16_MAX: f64 = 32_767.0;
const VAD_WINDOW: usize = 480; // 30 ms
const VAD_AVERAGE: usize = 8;
const VAD_MAX_SILENCE: usize = 6;

/// `normalize_volume(wav, -30, increase_only=True)`. Silence is left as it is.
pub fn normalize_volume(wav: &mut [f32]) {
    if wav.is_empty() {
        return;
    }
    let mean_sq = wav.iter().map(|&s| (f64::from(s) * INT16_MAX).powi(2)).sum::<f64>() / wav.len() as f64;
    if mean_sq <= 0.0 {
        return;
    }
    let dbfs = 20.0 * (mean_sq.sqrt() / INT16_MAX).log10();
    let change = TARGET_DBFS - dbfs;
    if change < 0.0 {
        return;
    }
    let gain = 10f64.powf(change / 20.0) as f32;
    for s in wav.iter_mut() {
        *s *= gain;
    }
}

/// `trim_long_silences(wav)`: drops the stretches the VAD calls silent for
/// longer than the smoothing allows; the tail that does not fill a window goes.
pub fn trim_long_silences(wav: &[f32]) -> Vec<f32> {
    let windows = wav.len() / VAD_WINDOW;
    let mut vad = Vad::new_with_rate_and_mode(SampleRate::Rate16kHz, VadMode::VeryAggressive);
    let mut pcm = [0i16; VAD_WINDOW];
    let flags: Vec<bool> = wav[..windows * VAD_WINDOW]
        .chunks_exact(VAD_WINDOW)
        .map(|w| {
            for (p, &s) in pcm.iter_mut().zip(w) {
                // numpy's round-half-even, then int16 (saturated here; numpy would wrap).
                *p = (f64::from(s) * INT16_MAX).round_ties_even().clamp(-32768.0, 32767.0) as i16;
            }
            vad.is_voice_segment(&pcm).unwrap_or(false)
        })
        .collect();
    // Moving average over 8 windows (3 before, 4 after, zeros outside), rounded
    // half to even: voiced when at least 5 of the 8 are.
    let before = (VAD_AVERAGE - 1) / 2;
    let smoothed: Vec<bool> = (0..windows)
        .map(|i| {
            let lo = i.saturating_sub(before);
            let hi = (i + VAD_AVERAGE - before).min(windows);
            let count = flags[lo..hi].iter().filter(|&&f| f).count();
            2 * count > VAD_AVERAGE
        })
        .collect();
    // Binary dilation with a centered structuring element of 7.
    let reach = VAD_MAX_SILENCE / 2;
    let mut out = Vec::with_capacity(wav.len());
    for i in 0..windows {
        let lo = i.saturating_sub(reach);
        let hi = (i + reach + 1).min(windows);
        if smoothed[lo..hi].iter().any(|&m| m) {
            out.extend_from_slice(&wav[i * VAD_WINDOW..(i + 1) * VAD_WINDOW]);
        }
    }
    out
}

/// `preprocess_wav` after resampling: normalised, silences trimmed.
pub fn preprocess(wav: &[f32]) -> Vec<f32> {
    let mut wav = wav.to_vec();
    normalize_volume(&mut wav);
    trim_long_silences(&wav)
}

/// `compute_partial_slices(n_samples)`: the first mel frame of each partial.
pub fn partial_starts(n_samples: usize) -> Vec<usize> {
    let n_frames = (n_samples + 1).div_ceil(HOP);
    let step = ((SR as f64 / RATE) / HOP as f64).round() as usize;
    let steps = (n_frames + step + 1).saturating_sub(PARTIAL_FRAMES).max(1);
    let mut starts: Vec<usize> = (0..steps).step_by(step).collect();
    if let Some(&last) = starts.last() {
        let span = (PARTIAL_FRAMES * HOP) as f64;
        let coverage = (n_samples as f64 - (last * HOP) as f64) / span;
        if coverage < MIN_COVERAGE && starts.len() > 1 {
            starts.pop();
        }
    }
    starts
}

/// The mel partials of a preprocessed utterance, `[n, 160, 40]` row-major, and `n`.
pub fn partial_mels(wav: &[f32]) -> Result<(Vec<f32>, usize), ModelError> {
    if wav.is_empty() {
        return Err(ModelError::NoVoice("no speech left after trimming silences"));
    }
    let starts = partial_starts(wav.len());
    let end = (starts.last().copied().unwrap_or(0) + PARTIAL_FRAMES) * HOP;
    // Zero-padded up to the last partial's end, as resemblyzer does; copied only then.
    let mel = if end >= wav.len() {
        let mut padded = wav.to_vec();
        padded.resize(end, 0.0);
        mel_frames(&padded)
    } else {
        mel_frames(wav)
    };
    let mut out = Vec::with_capacity(starts.len() * PARTIAL_FRAMES * N_MELS);
    for &s in &starts {
        out.extend_from_slice(&mel[s * N_MELS..(s + PARTIAL_FRAMES) * N_MELS]);
    }
    Ok((out, starts.len()))
}

/// `wav_to_mel_spectrogram`: frames × 40 mel powers, row-major.
pub fn mel_frames(wav: &[f32]) -> Vec<f32> {
    let mut ps = PowerSpectrum::new(N_FFT);
    let bank = MelBank::new(SR as f64, N_FFT, N_MELS, 0.0, SR as f64 / 2.0);
    let mut power = vec![0.0; ps.bins()];
    let mut band = [0f32; N_MELS];
    let mut out = Vec::with_capacity((wav.len() / HOP + 1) * N_MELS);
    for_each_frame(wav, N_FFT, HOP, |frame| {
        ps.compute(frame, &mut power);
        bank.apply(&power, &mut band);
        out.extend_from_slice(&band);
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_slices_follow_resemblyzer() {
        // Values from resemblyzer's compute_partial_slices(n, 1.3, 0.75).
        assert_eq!(partial_starts(1), vec![0]);
        assert_eq!(partial_starts(16_000), vec![0]);
        // 2 s: frames 201; steps = 201 - 160 + 77 + 1 = 119 → starts 0, 77; the
        // second covers (32000 - 12320) / 25600 = 0.77 ≥ 0.75, so it stays.
        assert_eq!(partial_starts(32_000), vec![0, 77]);
        // 1.9 s: the second would cover 0.71: dropped.
        assert_eq!(partial_starts(30_400), vec![0]);
    }

    #[test]
    fn silence_is_not_amplified_and_is_trimmed() {
        let mut z = vec![0f32; 16_000];
        normalize_volume(&mut z);
        assert!(z.iter().all(|&s| s == 0.0));
        assert!(trim_long_silences(&z).is_empty());
    }

    #[test]
    fn quiet_audio_is_raised_to_minus_30_dbfs_and_loud_audio_left_alone() {
        let tone = |a: f32| (0..16_000).map(|i| a * (i as f32 * 0.05).sin()).collect::<Vec<f32>>();
        let mut quiet = tone(0.001);
        normalize_volume(&mut quiet);
        let rms = (quiet.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / quiet.len() as f64).sqrt();
        assert!((20.0 * rms.log10() - TARGET_DBFS).abs() < 0.01, "{}", 20.0 * rms.log10());
        let mut loud = tone(0.5);
        let before = loud.clone();
        normalize_volume(&mut loud);
        assert_eq!(loud, before);
    }
}
