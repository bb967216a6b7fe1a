//! The whole analysis of one recording, streamed: decode → loudness and levels on
//! the original channels → mono → resample to 22 050 Hz → frames (2048 / 512) →
//! power spectrum, mel, spectral shape, YIN evidence; then, at the end, MFCC
//! statistics, onsets, tempo, the pYIN track and the vocal range.
//!
//! Memory does not grow with the decoded PCM: per frame only a quantised mel
//! spectrum (256 bytes — MFCCs and onsets need the recording's loudest frame
//! before they can apply librosa's `top_db` floor) and a few pitch candidates are
//! kept, about 1/16 of the PCM of a 44.1 kHz stereo file.

use super::AudioError;
use super::capture::{Captured, VoiceCapture};
use super::chroma::{ChromaBank, N_CHROMA, estimate_tuning, piptrack_frame};
use super::decode::{self, SampleSource};
use super::frames::{HOP, N_FFT, N_MELS};
use super::lanes;
use super::mel::{MelBank, hz_to_mel};
use super::mfcc::{Dct, floor_db, power_to_db};
use super::pyin::{FrameObservation, PyinParams, YinObserver, decode_track_windowed_until};
use super::resample::Resampler;
use super::rhythm::{Aggregate, OnsetEnvelope, beat_track};
use super::salience::{Candidates, Salience, predominant};
use super::spectral::{rms, spectral_frame, zero_crossing_rate};
use super::stft::{Framer, PowerSpectrum};
use super::vocal_range::{SungFrames, follow_melody, on_melody, repair_subharmonics, sung_frames};
use crate::domain::analysis::{
    Analysis, ChromaSummary, MfccSummary, PitchContour, PitchSummary, SpectralSummary, Stat, note_name, percentile,
    to_dbfs,
};
use std::io::{Read, Seek};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The analysis rate (librosa's default).
pub const SR: u32 = 22_050;
pub use super::frames::{FMAX_C6, FMIN_C2};
/// MFCCs summarised.
pub const N_MFCC: usize = 20;
/// Points in the plotted pitch contour, at most.
const CONTOUR_POINTS: usize = 600;
/// Frames whose spectral peaks set the tuning for chroma (30 s at 22 050 / 512):
/// librosa estimates it from the whole signal; holding 30 s of spectra (5 MB) keeps
/// memory bounded and gives librosa's answer exactly for recordings up to 30 s.
const TUNING_FRAMES: usize = 1292;
/// dB are kept as `u16` steps of 1/200 dB from −100 dB (librosa's floor for `amin`).
const DB_STEP: f32 = 0.005;
const DB_MIN: f32 = -100.0;

/// Limits on what is analysed, and the flag that stops it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest recording analysed, seconds; longer input is refused.
    pub max_duration_s: f64,
    /// Most samples (frames × channels) decoded: a high rate and many channels
    /// cost as much as length does.
    pub max_samples: u64,
    /// Set from outside (a passed deadline) to stop the analysis; checked for
    /// every decoded chunk and between the stages after decoding.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Also return the whole pitch track (`Analysis::pitch_track`).
    pub keep_track: bool,
    /// Hold the tracker to the predominant melody
    /// ([`follow_melody`](super::vocal_range::follow_melody)): what keeps the
    /// range on the singer under a loud backing track. On unless a tracker other
    /// than `auto` is asked for ([`PitchTracker::follows_melody`]).
    pub follow_melody: bool,
}

impl Default for Limits {
    fn default() -> Self {
        // An hour of 48 kHz stereo.
        Limits {
            max_duration_s: 3600.0,
            max_samples: 48_000 * 2 * 3600,
            cancel: None,
            keep_track: false,
            follow_melody: true,
        }
    }
}

impl Limits {
    fn stopped(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// `Err(Cancelled)` once the flag is set.
    fn go_on(&self) -> Result<(), AudioError> {
        if self.stopped() { Err(AudioError::Cancelled) } else { Ok(()) }
    }

    /// The longest recording analysed at `rate` Hz over `channels`, seconds.
    fn limit_s(&self, rate: u32, channels: u16) -> f64 {
        let per_second = f64::from(rate.max(1)) * f64::from(channels.max(1));
        self.max_duration_s.min(self.max_samples as f64 / per_second)
    }
}

/// The level of a frame with no melody candidate (silence), dB.
const SILENT_DB: f32 = -200.0;

/// Which pitch tracker the range comes from (`[analysis] pitch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PitchTracker {
    /// The tracker the singing evaluation (`bench/singing/`, BENCHMARKS.md) scores
    /// best: pYIN held to the predominant melody, as of the last measurement.
    #[default]
    Auto,
    /// pYIN (librosa's algorithm) alone, on the analysis's own frames.
    Pyin,
    /// SwiftF0, the neural tracker, on 16 kHz mono beside the analysis.
    Swiftf0,
}

impl std::str::FromStr for PitchTracker {
    type Err = String;

    /// The names `[analysis] pitch` takes (`auto`, `pyin`, `swiftf0`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(PitchTracker::Auto),
            "pyin" => Ok(PitchTracker::Pyin),
            "swiftf0" => Ok(PitchTracker::Swiftf0),
            other => Err(format!("unknown pitch tracker {other:?}: auto, pyin or swiftf0")),
        }
    }
}

impl PitchTracker {
    /// Whether the tracker is held to the predominant melody (`auto` is).
    pub fn follows_melody(self) -> bool {
        self == PitchTracker::Auto
    }

    /// The tracker `auto` runs (held to the melody).
    pub fn resolved(self) -> Self {
        match self {
            PitchTracker::Auto => PitchTracker::Pyin,
            other => other,
        }
    }
}

/// A pitch tracker run beside the analysis on the 16 kHz mono signal (the model
/// layer's SwiftF0 implements it; the analysis only resamples and feeds it).
pub trait PitchModel: Send {
    /// The tracker's name, reported with the range.
    fn name(&self) -> &'static str;
    /// Samples (at 16 kHz) per output frame; frame `j` is centred on sample `j · hop`.
    fn hop(&self) -> usize;
    /// Takes the next 16 kHz mono samples.
    fn push(&mut self, samples: &[f32]);
    /// The pitch of every frame, `None` where unvoiced.
    fn finish(self: Box<Self>) -> Vec<Option<f64>>;
}

/// The rate a [`PitchModel`] is fed at.
pub const PITCH_MODEL_RATE: u32 = 16_000;

/// Welford's running mean and variance.
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Running {
    fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    fn stat(&self) -> Stat {
        if self.n == 0 {
            return Stat::default();
        }
        Stat { mean: self.mean, std: (self.m2 / self.n as f64).sqrt() }
    }
}

/// Per-frame work on the frames of the 22 050 Hz mono stream.
struct FrameFeatures {
    power: PowerSpectrum,
    bank: MelBank,
    yin: YinObserver,
    /// The salience and each frame's candidates (the predominant melody's
    /// input), when the melody is followed.
    melody: Option<(Salience, Candidates)>,
    spec: Vec<f32>,
    mel: Vec<f32>,
    mel_db: Vec<u16>,
    max_db: f32,
    observations: Vec<FrameObservation>,
    centroid: Running,
    bandwidth: Running,
    rolloff: Running,
    flatness: Running,
    zcr: Running,
    rms: Running,
    /// Each frame's RMS level, dB (the range's level gate).
    levels: Vec<f32>,
    /// Spectra held until the tuning is known, with their peaks.
    pending: Vec<Vec<f32>>,
    peaks: Vec<(f64, f32)>,
    chroma_bank: Option<(ChromaBank, f64)>,
    chroma: [Running; N_CHROMA],
}

impl FrameFeatures {
    fn add_chroma(bank: &ChromaBank, stats: &mut [Running; N_CHROMA], power: &[f32]) {
        let mut c = [0f32; N_CHROMA];
        bank.apply(power, &mut c);
        for (s, &v) in stats.iter_mut().zip(&c) {
            s.push(f64::from(v));
        }
    }

    /// Fixes the tuning from the peaks seen so far and empties the held spectra.
    fn settle_tuning(&mut self) {
        if self.chroma_bank.is_some() {
            return;
        }
        let tuning = estimate_tuning(&self.peaks);
        let bank = ChromaBank::new(f64::from(SR), N_FFT, tuning);
        for p in std::mem::take(&mut self.pending) {
            Self::add_chroma(&bank, &mut self.chroma, &p);
        }
        self.peaks = Vec::new();
        self.chroma_bank = Some((bank, tuning));
    }

    fn chroma_frame(&mut self) {
        match &self.chroma_bank {
            Some((bank, _)) => Self::add_chroma(bank, &mut self.chroma, &self.spec),
            None => {
                piptrack_frame(&self.spec, f64::from(SR), N_FFT, &mut self.peaks);
                self.pending.push(self.spec.clone());
                if self.pending.len() >= TUNING_FRAMES {
                    self.settle_tuning();
                }
            }
        }
    }

    fn new(melody: bool) -> Self {
        let power = PowerSpectrum::new(N_FFT);
        let bins = power.bins();
        FrameFeatures {
            bank: MelBank::new(f64::from(SR), N_FFT, N_MELS, 0.0, f64::from(SR) / 2.0),
            yin: YinObserver::new(PyinParams::new(FMIN_C2, FMAX_C6)),
            melody: melody.then(|| (Salience::new(f64::from(SR), N_FFT), Candidates::default())),
            power,
            spec: vec![0.0; bins],
            mel: vec![0.0; N_MELS],
            mel_db: Vec::new(),
            max_db: f32::NEG_INFINITY,
            observations: Vec::new(),
            centroid: Running::default(),
            bandwidth: Running::default(),
            rolloff: Running::default(),
            flatness: Running::default(),
            zcr: Running::default(),
            rms: Running::default(),
            levels: Vec::new(),
            pending: Vec::new(),
            peaks: Vec::new(),
            chroma_bank: None,
            chroma: [Running::default(); N_CHROMA],
        }
    }

    fn frame(&mut self, frame: &[f32]) {
        self.power.compute(frame, &mut self.spec);
        self.bank.apply(&self.spec, &mut self.mel);
        for &p in &self.mel {
            let db = power_to_db(p);
            self.max_db = self.max_db.max(db);
            // Rounded half up by truncation (`round` is a libm call on baseline x86-64).
            self.mel_db.push((((db - DB_MIN) / DB_STEP).clamp(0.0, f32::from(u16::MAX)) + 0.5) as u16);
        }
        let s = spectral_frame(&self.spec, f64::from(SR) / N_FFT as f64);
        self.centroid.push(s.centroid_hz);
        self.bandwidth.push(s.bandwidth_hz);
        self.rolloff.push(s.rolloff_hz);
        self.flatness.push(s.flatness);
        self.zcr.push(f64::from(zero_crossing_rate(frame)));
        let level = rms(frame);
        self.rms.push(f64::from(level));
        self.levels.push(20.0 * level.max(1e-10).log10());
        self.chroma_frame();
        if let Some((salience, candidates)) = &mut self.melody {
            candidates.push_frame(salience, &self.spec);
        }
        let obs = self.yin.observe(frame);
        self.observations.push(obs);
    }
}

/// Decodes and analyses a recording. `ext` (from the filename) is a format hint only.
pub fn analyze<R: Read + Seek + Send + Sync + 'static>(
    reader: R,
    ext: Option<&str>,
    limits: Limits,
) -> Result<Analysis, AudioError> {
    let mut src = decode::open(reader, ext)?;
    analyze_source(src.as_mut(), limits)
}

/// Decodes and analyses a recording, also keeping up to `voice_seconds` of it
/// as 16 kHz mono for the voice model.
/// `pitch`: a tracker to take the range from instead of pYIN (`None`: pYIN).
pub fn analyze_with_voice<R: Read + Seek + Send + Sync + 'static>(
    reader: R,
    ext: Option<&str>,
    limits: Limits,
    voice_seconds: f64,
    pitch: Option<Box<dyn PitchModel>>,
) -> Result<(Analysis, Captured), AudioError> {
    let mut src = decode::open(reader, ext)?;
    let mut capture = VoiceCapture::new(voice_seconds);
    let analysis = analyze_source_with(src.as_mut(), limits, Some(&mut capture), pitch)?;
    Ok((analysis, capture.finish()))
}

/// Analyses an opened source.
pub fn analyze_source(src: &mut dyn SampleSource, limits: Limits) -> Result<Analysis, AudioError> {
    analyze_source_capturing(src, limits, None)
}

/// Analyses an opened source, handing the mono signal to `capture` as well.
pub fn analyze_source_capturing(
    src: &mut dyn SampleSource,
    limits: Limits,
    capture: Option<&mut VoiceCapture>,
) -> Result<Analysis, AudioError> {
    analyze_source_with(src, limits, capture, None)
}

/// Analyses an opened source, handing the mono signal to `capture` and, at
/// 16 kHz, to `pitch`, whose track the range then comes from.
pub fn analyze_source_with(
    src: &mut dyn SampleSource,
    limits: Limits,
    mut capture: Option<&mut VoiceCapture>,
    pitch: Option<Box<dyn PitchModel>>,
) -> Result<Analysis, AudioError> {
    let rate = src.info().sample_rate;
    // Refused before decoding when the file says it is too long.
    if let Some(declared) = src.info().frames {
        let limit_s = limits.limit_s(rate, src.info().channels);
        let seconds = declared as f64 / f64::from(rate.max(1));
        if seconds > limit_s {
            return Err(AudioError::TooLong { seconds: Some(seconds), limit_s });
        }
    }
    let mut loudness: Option<ebur128::EbuR128> = None;
    let mut resampler = Resampler::new(rate, SR).map_err(|e| AudioError::Unsupported(e.to_string()))?;
    let mut framer = Framer::new(N_FFT, HOP);
    // The side tracker with its own resampler to 16 kHz.
    let mut side = match pitch {
        Some(p) => {
            Some((Resampler::new(rate, PITCH_MODEL_RATE).map_err(|e| AudioError::Unsupported(e.to_string()))?, p))
        }
        None => None,
    };
    let mut features = FrameFeatures::new(limits.follow_melody);
    let max_frames = (limits.max_duration_s * f64::from(rate)) as u64;
    let too_long = |ch: usize| AudioError::TooLong { seconds: None, limit_s: limits.limit_s(rate, ch as u16) };

    let mut chunk = Vec::new();
    let mut mono = Vec::new();
    let (mut frames, mut peak, mut sum_sq, mut count) = (0u64, 0f64, 0f64, 0u64);
    let mut channels: Option<usize> = None;
    while src.next_chunk(&mut chunk)? {
        limits.go_on()?;
        // Some containers only tell the channel count with the first decoded packet.
        let ch = usize::from(src.info().channels.max(1));
        if channels.is_some_and(|c| c != ch) {
            return Err(AudioError::Unsupported("the channel count changes mid-stream".into()));
        }
        channels = Some(ch);
        let meter = match &mut loudness {
            Some(m) => m,
            None => loudness.insert(
                ebur128::EbuR128::new(ch as u32, rate, ebur128::Mode::I)
                    .map_err(|e| AudioError::Unsupported(format!("loudness meter: {e}")))?,
            ),
        };
        // Non-finite samples (a corrupt float file) count as silence.
        for s in chunk.iter_mut() {
            *s = if s.is_finite() { *s } else { 0.0 };
        }
        meter.add_frames_f32(&chunk).map_err(|e| AudioError::Invalid(format!("loudness meter: {e}")))?;
        peak = peak.max(f64::from(lanes::max_abs(&chunk)));
        sum_sq += lanes::sum_sq(&chunk);
        mono.clear();
        if ch == 1 {
            mono.extend_from_slice(&chunk);
        } else {
            mono.extend(chunk.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32));
        }
        count += chunk.len() as u64;
        frames += (chunk.len() / ch) as u64;
        if frames > max_frames || count > limits.max_samples {
            return Err(too_long(ch));
        }
        if let Some(c) = capture.as_deref_mut() {
            c.push(rate, &mono);
        }
        if let Some((r, p)) = &mut side {
            r.push(&mono, |y| p.push(y));
        }
        resampler.push(&mono, |y| framer.push(y, |f| features.frame(f)));
    }
    if frames == 0 {
        return Err(AudioError::Empty);
    }
    resampler.finish(|y| framer.push(y, |f| features.frame(f)));
    framer.finish(|f| features.frame(f));
    features.settle_tuning();

    limits.go_on()?;
    let rms_level = (sum_sq / count as f64).sqrt();
    let lufs = loudness.and_then(|m| m.loudness_global().ok()).filter(|v| v.is_finite());
    let (mfcc, env) = mfcc_and_onsets(&features);
    limits.go_on()?;
    let (bpm, beats) = beat_track(&env, f64::from(SR), HOP);
    limits.go_on()?;
    let params = PyinParams::new(FMIN_C2, FMAX_C6);
    let track = decode_track_windowed_until(&params, &features.observations, &|| limits.stopped())
        .ok_or(AudioError::Cancelled)?;
    let (mut f0, tracker) = match side {
        Some((mut r, mut p)) => {
            r.finish(|y| p.push(y));
            let hop = p.hop();
            let name = p.name();
            (onto_analysis_frames(&p.finish(), hop, track.f0.len()), name)
        }
        None => (track.f0, "pyin"),
    };
    limits.go_on()?;
    let melody = features.melody.as_ref().map(|(_, candidates)| predominant(candidates)).unwrap_or_default();
    follow_melody(&mut f0, &melody);
    let bands = MelBands::new();
    let settled = on_melody(&f0, &melody);
    repair_subharmonics(&mut f0, &settled, frame_s(), &|t, hz| bands.power(&features.mel_db, t, hz));
    // The singer's level is the melody line's where there is one (its harmonics'
    // power: a backing part it follows in the rests is far quieter than the
    // backing as a whole), else the frame's.
    let line_levels: Vec<f32>;
    let levels: &[f32] = if melody.is_empty() {
        &features.levels
    } else {
        line_levels = melody.iter().map(|c| c.map_or(SILENT_DB, |c| c.level_db)).collect();
        &line_levels
    };
    let mut sung = sung_frames(&f0, levels, frame_s());
    let singer = std::mem::take(&mut sung.kept);
    let info = src.info();
    Ok(Analysis {
        duration_s: frames as f64 / f64::from(rate),
        sample_rate: rate,
        channels: info.channels,
        format: info.format.clone(),
        peak,
        peak_dbfs: to_dbfs(peak),
        rms: rms_level,
        rms_dbfs: to_dbfs(rms_level),
        loudness_lufs: lufs,
        tempo_bpm: (bpm > 0.0).then_some(bpm),
        beat_count: beats.len(),
        mfcc,
        pitch: pitch_summary(&f0, sung, tracker),
        spectral: SpectralSummary {
            centroid_hz: features.centroid.stat(),
            bandwidth_hz: features.bandwidth.stat(),
            rolloff_hz: features.rolloff.stat(),
            flatness: features.flatness.stat(),
            zero_crossing_rate: features.zcr.stat(),
            rms: features.rms.stat(),
        },
        pitch_contour: contour(&f0),
        embedding: None,
        pitch_track: limits.keep_track.then(|| PitchContour {
            step_s: frame_s(),
            hz: f0.clone(),
            singer,
            melody: melody.iter().map(|c| c.map(|c| c.hz())).collect(),
        }),
        chroma: ChromaSummary {
            mean: features.chroma.iter().map(|s| s.stat().mean).collect(),
            std: features.chroma.iter().map(|s| s.stat().std).collect(),
            tuning: features.chroma_bank.as_ref().map_or(0.0, |(_, t)| *t),
        },
    })
}

/// MFCC statistics and the (median) onset envelope, once the loudest frame is known.
fn mfcc_and_onsets(f: &FrameFeatures) -> (MfccSummary, Vec<f32>) {
    let dct = Dct::new(N_MELS, N_MFCC);
    let mut stats = vec![Running::default(); N_MFCC];
    let mut onsets = OnsetEnvelope::new(Aggregate::Median);
    let mut db = vec![0f32; N_MELS];
    let mut coef = vec![0f64; N_MFCC];
    for frame in f.mel_db.chunks_exact(N_MELS) {
        for (d, &q) in db.iter_mut().zip(frame) {
            *d = floor_db(DB_MIN + f32::from(q) * DB_STEP, f.max_db);
        }
        dct.apply(&db, &mut coef);
        for (s, &c) in stats.iter_mut().zip(&coef) {
            s.push(c);
        }
        onsets.push(&db);
    }
    let summary = MfccSummary {
        mean: stats.iter().map(|s| s.stat().mean).collect(),
        std: stats.iter().map(|s| s.stat().std).collect(),
    };
    (summary, onsets.finish())
}

/// Spectral power near a frequency, read back from the kept mel spectrogram
/// (128 Slaney bands, about 22 Hz apart below 1 kHz: a voice's harmonics are
/// resolved there).
struct MelBands {
    /// Mels per band step.
    step: f64,
}

impl MelBands {
    fn new() -> Self {
        MelBands { step: hz_to_mel(f64::from(SR) / 2.0) / (N_MELS + 1) as f64 }
    }

    /// Power of the band centred nearest `hz` in frame `t`.
    fn power(&self, mel_db: &[u16], t: usize, hz: f64) -> f64 {
        let band = ((hz_to_mel(hz) / self.step).round() as usize).clamp(1, N_MELS) - 1;
        mel_db.get(t * N_MELS + band).map_or(0.0, |&q| 10f64.powf(f64::from(DB_MIN + f32::from(q) * DB_STEP) / 10.0))
    }
}

/// A tracker's frames (centred on `j · hop` at 16 kHz) onto the `n` analysis
/// frames (centred on `i · 512` at 22 050 Hz): each takes the nearest.
fn onto_analysis_frames(track: &[Option<f64>], hop: usize, n: usize) -> Vec<Option<f64>> {
    let ratio = frame_s() * f64::from(PITCH_MODEL_RATE) / hop as f64;
    (0..n).map(|i| track.get((i as f64 * ratio).round() as usize).copied().flatten()).collect()
}

/// Seconds between analysis frames.
fn frame_s() -> f64 {
    f64::from(HOP as u32) / f64::from(SR)
}

/// The range, comfortable range and median of the singer's frames of `f0`
/// (`sung`, see [`vocal_range`](super::vocal_range)).
fn pitch_summary(f0: &[Option<f64>], sung: SungFrames, tracker: &str) -> PitchSummary {
    let mut voiced = sung.hz;
    voiced.sort_by(f64::total_cmp);
    let p = |q| percentile(&voiced, q);
    let note = |hz: Option<f64>| hz.and_then(note_name);
    let (low, high, median, cl, ch) = (p(5.0), p(95.0), p(50.0), p(25.0), p(75.0));
    let n_voiced = f0.iter().flatten().count();
    PitchSummary {
        low_hz: low,
        high_hz: high,
        median_hz: median,
        mean_hz: (!voiced.is_empty()).then(|| voiced.iter().sum::<f64>() / voiced.len() as f64),
        low_note: note(low),
        high_note: note(high),
        median_note: note(median),
        comfort_low_hz: cl,
        comfort_high_hz: ch,
        comfort_low_note: note(cl),
        comfort_high_note: note(ch),
        voiced_fraction: if f0.is_empty() { 0.0 } else { n_voiced as f64 / f0.len() as f64 },
        singing_seconds: sung.singing_s,
        usable_fraction: sung.usable_fraction,
        range_warning: sung.warning,
        tracker: tracker.into(),
    }
}

/// At most [`CONTOUR_POINTS`] points: the median voiced F0 of each block, or null
/// when most of the block is unvoiced.
fn contour(f0: &[Option<f64>]) -> PitchContour {
    let frame_s = frame_s();
    if f0.is_empty() {
        return PitchContour { step_s: frame_s, hz: Vec::new(), ..Default::default() };
    }
    let block = f0.len().div_ceil(CONTOUR_POINTS);
    let hz = f0
        .chunks(block)
        .map(|b| {
            let mut v: Vec<f64> = b.iter().flatten().copied().collect();
            if v.len() * 2 < b.len() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            percentile(&v, 50.0)
        })
        .collect();
    PitchContour { step_s: frame_s * block as f64, hz, ..Default::default() }
}
