//! Whole-signal helpers over the streaming pieces: the librosa calls, frame by
//! frame, for a signal already in memory (tests, short clips). The streaming
//! analysis uses the same pieces without holding the signal.

use super::mel::MelBank;
use super::mfcc::{Dct, floor_db, power_to_db};
use super::spectral::{SpectralFrame, rms, spectral_frame, zero_crossing_rate};
use super::stft::{Framer, PowerSpectrum};

/// librosa's defaults for the features.
pub const N_FFT: usize = 2048;
pub const HOP: usize = 512;
pub const N_MELS: usize = 128;
/// C2 and C6: the vocal range the product reports.
pub const FMIN_C2: f64 = 65.406_391_325_149_66;
pub const FMAX_C6: f64 = 1_046.502_261_202_394_5;

/// Calls `f` with every centered frame of `y`.
pub fn for_each_frame(y: &[f32], frame: usize, hop: usize, mut f: impl FnMut(&[f32])) {
    let mut framer = Framer::new(frame, hop);
    framer.push(y, &mut f);
    framer.finish(&mut f);
}

/// `librosa.feature.melspectrogram(y=y, sr=sr)`: per frame, 128 mel powers.
pub fn melspectrogram(y: &[f32], sr: f64) -> Vec<Vec<f32>> {
    let mut ps = PowerSpectrum::new(N_FFT);
    let bank = MelBank::new(sr, N_FFT, N_MELS, 0.0, sr / 2.0);
    let mut power = vec![0.0; ps.bins()];
    let mut out = Vec::new();
    for_each_frame(y, N_FFT, HOP, |frame| {
        ps.compute(frame, &mut power);
        let mut mel = vec![0.0; N_MELS];
        bank.apply(&power, &mut mel);
        out.push(mel);
    });
    out
}

/// `librosa.power_to_db(S)` over a whole spectrogram (frames × bands).
pub fn power_to_db_all(s: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let db: Vec<Vec<f32>> = s.iter().map(|f| f.iter().map(|&p| power_to_db(p)).collect()).collect();
    let max = db.iter().flatten().copied().fold(f32::NEG_INFINITY, f32::max);
    db.into_iter().map(|f| f.into_iter().map(|v| floor_db(v, max)).collect()).collect()
}

/// `librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n)`: per frame, `n` coefficients.
pub fn mfcc(y: &[f32], sr: f64, n: usize) -> Vec<Vec<f64>> {
    let dct = Dct::new(N_MELS, n);
    power_to_db_all(&melspectrogram(y, sr))
        .iter()
        .map(|f| {
            let mut c = vec![0.0; n];
            dct.apply(f, &mut c);
            c
        })
        .collect()
}

/// `librosa.feature.rms(y=y)`.
pub fn rms_frames(y: &[f32]) -> Vec<f32> {
    let mut out = Vec::new();
    for_each_frame(y, N_FFT, HOP, |f| out.push(rms(f)));
    out
}

/// `librosa.feature.spectral_centroid`, `spectral_bandwidth`, `spectral_rolloff`
/// and `spectral_flatness` of `y` at `sr`, per frame.
pub fn spectral_frames(y: &[f32], sr: f64) -> Vec<SpectralFrame> {
    let mut ps = PowerSpectrum::new(N_FFT);
    let mut power = vec![0.0; ps.bins()];
    let mut out = Vec::new();
    for_each_frame(y, N_FFT, HOP, |frame| {
        ps.compute(frame, &mut power);
        out.push(spectral_frame(&power, sr / N_FFT as f64));
    });
    out
}

/// `librosa.feature.zero_crossing_rate(y)` on the analysis' frames (zero padding
/// at the ends, where librosa repeats the edge sample).
pub fn zcr_frames(y: &[f32]) -> Vec<f32> {
    let mut out = Vec::new();
    for_each_frame(y, N_FFT, HOP, |f| out.push(zero_crossing_rate(f)));
    out
}

/// `librosa.pyin(y, fmin=fmin, fmax=fmax, sr=22050)`.
pub fn pyin(y: &[f32], fmin: f64, fmax: f64) -> super::pyin::PitchTrack {
    use super::pyin::{PyinParams, YinObserver, decode_track};
    let params = PyinParams::new(fmin, fmax);
    let mut observer = YinObserver::new(params);
    let mut obs = Vec::new();
    for_each_frame(y, params.frame_length, params.hop_length, |f| obs.push(observer.observe(f)));
    decode_track(&params, &obs)
}

/// `librosa.onset.onset_strength(y=y, sr=sr)` (mean over bands), or with
/// `aggregate=np.median` as `beat_track` computes it.
pub fn onset_strength(y: &[f32], sr: f64, agg: super::rhythm::Aggregate) -> Vec<f32> {
    let mut env = super::rhythm::OnsetEnvelope::new(agg);
    for frame in power_to_db_all(&melspectrogram(y, sr)) {
        env.push(&frame);
    }
    env.finish()
}

/// `librosa.feature.chroma_stft(y=y, sr=sr)`: per frame, 12 pitch classes (C first),
/// and the tuning estimated from the whole signal.
pub fn chroma_stft(y: &[f32], sr: f64) -> (Vec<[f32; 12]>, f64) {
    use super::chroma::{ChromaBank, estimate_tuning, piptrack_frame};
    let mut ps = PowerSpectrum::new(N_FFT);
    let mut spectra = Vec::new();
    let mut peaks = Vec::new();
    for_each_frame(y, N_FFT, HOP, |frame| {
        let mut p = vec![0.0; ps.bins()];
        ps.compute(frame, &mut p);
        piptrack_frame(&p, sr, N_FFT, &mut peaks);
        spectra.push(p);
    });
    let tuning = estimate_tuning(&peaks);
    let bank = ChromaBank::new(sr, N_FFT, tuning);
    let chroma = spectra
        .iter()
        .map(|p| {
            let mut c = [0f32; 12];
            bank.apply(p, &mut c);
            c
        })
        .collect();
    (chroma, tuning)
}
