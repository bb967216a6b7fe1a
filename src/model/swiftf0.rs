//! SwiftF0 (Lars Nieradzik, MIT; the `swift-f0` 0.3.0 wheel's `model.onnx`): a
//! 30k-parameter convolutional pitch tracker, ported from its ONNX graph.
//!
//! 16 kHz mono in, one frame per 256 samples (16 ms) out. Per frame, three
//! windowed magnitude spectra (512, 1024 and 2048 samples, centred on the
//! frame) are projected onto 128 log-frequency bands and logged; that 3 × 128 ×
//! T picture goes through a stack of 12-channel convolutions (3×3 and 7×3
//! kernels, and 7×1 / 5×1 / 3×1 ones dilated along frequency by 17–48 bands, so
//! a band sees its harmonics), then two heads: 95 pitch logits per frame, and a
//! voicing logit from the logits' peaks and the frame's mean band level. The
//! pitch is the softmax-weighted mean of the log band centres around the
//! strongest logit; the confidence is the voicing sigmoid (a frame is voiced at
//! ≥ 0.5).
//!
//! The convolutions are hand-written, not burn graph ops: the goal was
//! onnxruntime's speed on one core, which direct convolution with register tiles
//! reaches (BENCHMARKS.md; burn's CPU conv2d, im2col and a general matrix product
//! per layer, was not measured). Each output tile of 6 channels × 16 frames stays
//! in vector registers
//! while the kernel's taps stream past it, compiled for AVX2 + FMA where the CPU
//! has them (chosen at run time) and for the baseline otherwise. Long inputs are
//! run in windows with the receptive field's context on both sides, which gives
//! the whole-input answer with bounded memory.
//!
//! Weights: `models/swiftf0/` (converted by `scripts/convert_swiftf0.py`),
//! compiled into the binary.

use super::ModelError;
use super::weights::{self, Array};
use crate::audio::PitchModel;
use crate::audio::rfft::ForwardFft;
use rustfft::num_complex::Complex;

/// The rate the model works at.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples per output frame.
pub const HOP: usize = 256;
/// The lowest and highest pitch the model can report, Hz.
pub const FMIN: f64 = 46.875;
pub const FMAX: f64 = 2093.75;
/// A frame is voiced when its confidence is at least this.
pub const VOICED: f32 = 0.5;
/// The model's name as reported with a pitch track.
pub const MODEL_NAME: &str = "swiftf0";
pub const MODEL_VERSION: &str = "0.3.0";

/// The shipped weights (120 kB).
pub static BUNDLED: &[u8] = include_bytes!("../../models/swiftf0/swiftf0.safetensors");

const BANDS: usize = 128;
const CH: usize = 12;
const PITCH_BINS: usize = 95;
/// Bands the pitch head looks at (the lowest 96).
const HEAD_BANDS: usize = 96;
/// Frames of context a frame's answer depends on, before and after it (the
/// package's `LEFT_FRAMES` / `LOOKAHEAD_FRAMES`).
const LEFT: usize = 11;
const LOOKAHEAD: usize = 10;
/// Frames answered per window (plus the context): small enough that a window's
/// activations (12 × 128 × ~530 floats, 3 MB) stay in the L2 cache.
const WINDOW: usize = 512;
/// Hops whose samples all stay under this are digital silence: confidence 0
/// (the package's `SILENCE_PEAK`: the model never saw exact zeros).
const SILENCE_PEAK: f32 = 1e-3;
/// Frames per register tile: two AVX registers of floats. (Tiles of all twelve
/// channels × 16 frames in AVX-512 registers measured 1.6–2× slower than AVX2 on
/// an AVX-512 server, `orakgaraki pitch --repeat`, so AVX2 is used there too.)
const TILE: usize = 16;

/// One frame's answer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PitchFrame {
    pub hz: f32,
    pub confidence: f32,
}

/// A 2-D convolution over a [channels][bands][frames] picture.
struct Conv2d {
    cin: usize,
    cout: usize,
    /// Kernel height (bands) and width (frames).
    kh: usize,
    kw: usize,
    /// Dilation along bands.
    dil: usize,
    /// Padding: bands before and after, frames before and after.
    pad: [usize; 4],
    /// Weights as [cin][kh][kw][cout] (each tap's output channels together).
    w: Vec<f32>,
    bias: Vec<f32>,
}

impl Conv2d {
    fn load(
        map: &mut std::collections::HashMap<String, Array>,
        name: &str,
        shape: [usize; 4],
        dil: usize,
        pad: [usize; 4],
    ) -> Result<Self, ModelError> {
        let [cout, cin, kh, kw] = shape;
        let w = weights::take(map, &format!("{name}.weight"), &shape)?;
        let b = weights::take(map, &format!("{name}.bias"), &[cout])?;
        let mut t = vec![0f32; w.data.len()];
        for co in 0..cout {
            for ci in 0..cin {
                for i in 0..kh {
                    for j in 0..kw {
                        t[((ci * kh + i) * kw + j) * cout + co] = w.data[((co * cin + ci) * kh + i) * kw + j];
                    }
                }
            }
        }
        Ok(Conv2d { cin, cout, kh, kw, dil, pad, w: t, bias: b.data })
    }

    fn out_bands(&self, bands: usize) -> usize {
        bands + self.pad[0] + self.pad[1] - self.dil * (self.kh - 1)
    }
}

/// One STFT size: its window and band projection ((bin, band, weight) triples, by bin).
struct Stft {
    n: usize,
    window: Vec<f32>,
    proj: Vec<(u32, u32, f32)>,
}

/// The network and its front end.
pub struct SwiftF0 {
    /// 512, 1024 and 2048 samples, in the channel order the network expects
    /// (1024, 2048, 512).
    stfts: [Stft; 3],
    trunk: Vec<Conv2d>,
    head: Conv2d,
    peak: Conv2d,
    logits_w: [f32; 4],
    logits_b: f32,
    /// Voicing: conv1d 5 → 16 (kernel 3) as [k][cin][16], then 16 → 1.
    voice1_w: Vec<f32>,
    voice1_b: Vec<f32>,
    voice2_w: Vec<f32>,
    voice2_b: f32,
    centres: Vec<f32>,
    log_centres: Vec<f64>,
    simd: Simd,
}

/// The instruction set the convolutions are compiled for, chosen at load time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Simd {
    Baseline,
    Avx2,
}

impl Simd {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Simd::Avx2;
        }
        Simd::Baseline
    }
}

/// The trunk's layers: (kernel, band dilation, padding). After the first, they go
/// in residual pairs: the second of each adds the pair's input before its ReLU.
const TRUNK: [([usize; 2], usize, [usize; 4]); 13] = [
    ([3, 3], 1, [1, 1, 1, 1]),
    ([7, 3], 1, [3, 3, 1, 1]),
    ([7, 3], 1, [3, 3, 1, 1]),
    ([7, 1], 17, [51, 51, 0, 0]),
    ([7, 1], 17, [51, 51, 0, 0]),
    ([5, 1], 27, [54, 54, 0, 0]),
    ([5, 1], 27, [54, 54, 0, 0]),
    ([3, 1], 40, [40, 40, 0, 0]),
    ([3, 1], 40, [40, 40, 0, 0]),
    ([3, 1], 48, [48, 48, 0, 0]),
    ([3, 1], 48, [48, 48, 0, 0]),
    ([7, 3], 2, [6, 6, 1, 1]),
    ([7, 3], 2, [6, 6, 1, 1]),
];

impl SwiftF0 {
    /// The bundled weights.
    pub fn pretrained() -> Result<Self, ModelError> {
        Self::from_safetensors(BUNDLED)
    }

    /// Weights in `scripts/convert_swiftf0.py`'s layout.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, ModelError> {
        let mut map = weights::read(bytes)?;
        let mut stft = |n: usize| -> Result<Stft, ModelError> {
            let bins = n / 2 + 1;
            let window = weights::take(&mut map, &format!("stft{n}.window"), &[n])?.data;
            let index =
                map.remove(&format!("stft{n}.index")).ok_or_else(|| ModelError::Weights(format!("stft{n}.index")))?;
            let value = weights::take(&mut map, &format!("stft{n}.value"), &index.shape)?;
            let mut proj = Vec::with_capacity(index.data.len());
            for (&i, &v) in index.data.iter().zip(&value.data) {
                let i = i as usize;
                if i >= bins * BANDS {
                    return Err(ModelError::Weights(format!("stft{n}.index: {i} out of range")));
                }
                proj.push(((i / BANDS) as u32, (i % BANDS) as u32, v));
            }
            proj.sort_by_key(|p| p.0);
            Ok(Stft { n, window, proj })
        };
        let stfts = [stft(1024)?, stft(2048)?, stft(512)?];
        let mut trunk = Vec::with_capacity(TRUNK.len());
        for (i, &([kh, kw], dil, pad)) in TRUNK.iter().enumerate() {
            let cin = if i == 0 { 3 } else { CH };
            trunk.push(Conv2d::load(&mut map, &format!("conv.{i}"), [CH, cin, kh, kw], dil, pad)?);
        }
        let head = Conv2d::load(&mut map, "head.conv", [4, CH, 3, 3], 1, [1, 0, 1, 1])?;
        let peak = Conv2d::load(&mut map, "head.peak", [4, 4, 5, 1], 1, [2, 2, 0, 0])?;
        let lw = weights::take(&mut map, "head.logits.weight", &[1, 4, 1, 1])?.data;
        let lb = weights::take(&mut map, "head.logits.bias", &[1])?.data;
        let v1 = weights::take(&mut map, "voice.conv1.weight", &[16, 5, 3])?.data;
        let voice1_b = weights::take(&mut map, "voice.conv1.bias", &[16])?.data;
        let mut voice1_w = vec![0f32; 16 * 5 * 3];
        for co in 0..16 {
            for ci in 0..5 {
                for k in 0..3 {
                    voice1_w[(k * 5 + ci) * 16 + co] = v1[(co * 5 + ci) * 3 + k];
                }
            }
        }
        let voice2_w = weights::take(&mut map, "voice.conv2.weight", &[1, 16, 1])?.data;
        let voice2_b = weights::take(&mut map, "voice.conv2.bias", &[1])?.data[0];
        let centres = weights::take(&mut map, "pitch.centres", &[PITCH_BINS])?.data;
        let log_centres =
            weights::take(&mut map, "pitch.log_centres", &[PITCH_BINS])?.data.iter().map(|&v| f64::from(v)).collect();
        Ok(SwiftF0 {
            stfts,
            trunk,
            head,
            peak,
            logits_w: [lw[0], lw[1], lw[2], lw[3]],
            logits_b: lb[0],
            voice1_w,
            voice1_b,
            voice2_w,
            voice2_b,
            centres,
            log_centres,
            simd: Simd::detect(),
        })
    }

    /// Pitch and confidence for every 256-sample frame of `audio` (16 kHz mono),
    /// with pitches limited to `fmin..=fmax` Hz: the package's
    /// `SwiftF0.detect(audio, 16000, fmin, fmax)`.
    pub fn detect(&self, audio: &[f32], fmin: f64, fmax: f64) -> Vec<PitchFrame> {
        let mut s = self.stream(fmin, fmax);
        s.push(audio);
        s.finish()
    }

    /// A tracker fed the audio piece by piece (bounded memory: the samples of one
    /// window and its context).
    pub fn stream(&self, fmin: f64, fmax: f64) -> Stream<'_> {
        Stream { model: self, fmin, fmax, buf: Vec::new(), base: 0, total: 0, out: Vec::new() }
    }

    /// The graph on one stretch of audio: `max(len / 256, 1)` frames.
    fn run(&self, audio: &[f32], fmin: f64, fmax: f64) -> Vec<PitchFrame> {
        let t = (audio.len() / HOP).max(1);
        let x = Picture { channels: 3, bands: BANDS, frames: t, data: self.front_end(audio, t) };
        // The trunk: a stem, then residual pairs.
        let mut a = self.conv(&self.trunk[0], &x, None);
        for pair in self.trunk[1..].chunks_exact(2) {
            let h = self.conv(&pair[0], &a, None);
            a = self.conv(&pair[1], &h, Some(&a));
        }
        // Heads: the lowest 96 bands.
        let low = a.bands(HEAD_BANDS);
        let h = self.conv(&self.head, &low, None);
        let peaks = self.conv_linear(&self.peak, &h);
        let mean_level: Vec<f32> = (0..t)
            .map(|f| {
                let s: f32 = (0..3 * BANDS).map(|r| x.data[r * t + f]).sum();
                s / (3 * BANDS) as f32
            })
            .collect();
        // Voicing input: the 4 peak channels' maxima over bands, and the mean level.
        let mut v_in = vec![0f32; 5 * t];
        for c in 0..4 {
            for f in 0..t {
                v_in[c * t + f] = (0..PITCH_BINS).map(|b| peaks.at(c, b, f)).fold(f32::NEG_INFINITY, f32::max);
            }
        }
        v_in[4 * t..].copy_from_slice(&mean_level);
        let voice = self.voicing(&v_in, t);
        let lo = fmin as f32;
        let hi = fmax as f32;
        let allowed: Vec<bool> = self.centres.iter().map(|&c| c >= lo && c <= hi).collect();
        (0..t)
            .map(|f| {
                let logits: Vec<f32> = (0..PITCH_BINS)
                    .map(|b| {
                        let mut s = self.logits_b;
                        for c in 0..4 {
                            s += self.logits_w[c] * h.at(c, b, f);
                        }
                        s
                    })
                    .collect();
                let best_any = argmax(logits.iter().copied());
                let best = argmax(logits.iter().zip(&allowed).map(|(&l, &ok)| if ok { l } else { f32::NEG_INFINITY }));
                let at = |i: isize| -> f64 {
                    if i < 0 || i as usize >= PITCH_BINS || !allowed[i as usize] {
                        f64::NEG_INFINITY
                    } else {
                        f64::from(logits[i as usize])
                    }
                };
                let idx = [best as isize - 1, best as isize, best as isize + 1];
                let vals = idx.map(at);
                let m = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e = vals.map(|v| (v - m).exp());
                let sum: f64 = e.iter().sum();
                let log_hz: f64 = idx
                    .iter()
                    .zip(&e)
                    .map(|(&i, &w)| w / sum * self.log_centres[i.clamp(0, PITCH_BINS as isize - 1) as usize])
                    .sum();
                let confidence = if allowed[best_any] { 1.0 / (1.0 + (-voice[f]).exp()) } else { 0.0 };
                PitchFrame { hz: log_hz.exp() as f32, confidence }
            })
            .collect()
    }

    /// The 3 × 128 × `t` log band picture.
    fn front_end(&self, audio: &[f32], t: usize) -> Vec<f32> {
        let mut out = vec![0f32; 3 * BANDS * t];
        for (c, s) in self.stfts.iter().enumerate() {
            let half = s.n / 2;
            let mut fft = ForwardFft::new(s.n);
            let mut spec = vec![Complex::default(); half + 1];
            let mut bands = [0f32; BANDS];
            for f in 0..t {
                let centre = f * HOP;
                for (k, x) in fft.input().iter_mut().enumerate() {
                    let i = (centre + k).wrapping_sub(half);
                    *x = if i < audio.len() { audio[i] * s.window[k] } else { 0.0 };
                }
                fft.run(&mut spec);
                bands.fill(0.0);
                for &(bin, band, w) in &s.proj {
                    let c = spec[bin as usize];
                    bands[band as usize] += (c.re * c.re + c.im * c.im).sqrt() * w;
                }
                for (b, &v) in bands.iter().enumerate() {
                    out[(c * BANDS + b) * t + f] = (v + 1e-8).ln();
                }
            }
        }
        out
    }

    fn voicing(&self, v_in: &[f32], t: usize) -> Vec<f32> {
        (0..t)
            .map(|f| {
                let mut h = self.voice1_b.clone();
                for k in 0..3 {
                    let src = (f + k).wrapping_sub(1);
                    if src >= t {
                        continue;
                    }
                    for ci in 0..5 {
                        let x = v_in[ci * t + src];
                        for (co, hv) in h.iter_mut().enumerate() {
                            *hv += self.voice1_w[(k * 5 + ci) * 16 + co] * x;
                        }
                    }
                }
                self.voice2_b + h.iter().zip(&self.voice2_w).map(|(&a, &w)| a.max(0.0) * w).sum::<f32>()
            })
            .collect()
    }

    /// `relu(conv(x) + residual)`.
    fn conv(&self, c: &Conv2d, x: &Picture, residual: Option<&Picture>) -> Picture {
        let mut y = self.conv_linear(c, x);
        match residual {
            Some(r) => y.data.iter_mut().zip(&r.data).for_each(|(v, &r)| *v = (*v + r).max(0.0)),
            None => y.data.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
        y
    }

    fn conv_linear(&self, c: &Conv2d, x: &Picture) -> Picture {
        debug_assert_eq!(x.channels, c.cin);
        let bands = c.out_bands(x.bands);
        let frames = x.frames;
        // The input with the layer's zero padding around it, and room for whole
        // tiles of frames on the right.
        let tiles = frames.div_ceil(TILE);
        let row = tiles * TILE + c.kw - 1;
        let rows = x.bands + c.pad[0] + c.pad[1];
        let mut padded = vec![0f32; c.cin * rows * row];
        for ci in 0..c.cin {
            for b in 0..x.bands {
                let dst = (ci * rows + b + c.pad[0]) * row + c.pad[2];
                padded[dst..dst + frames].copy_from_slice(x.row(ci, b));
            }
        }
        // Offsets of each tap in the padded input, in weight order.
        let mut taps = Vec::with_capacity(c.cin * c.kh * c.kw);
        for ci in 0..c.cin {
            for i in 0..c.kh {
                for j in 0..c.kw {
                    taps.push((ci * rows + i * c.dil) * row + j);
                }
            }
        }
        let mut y = Picture::zeros(c.cout, bands, frames);
        let job = Tile { padded: &padded, taps: &taps, w: &c.w, bias: &c.bias, row, bands, frames, tiles };
        match c.cout {
            CH => conv_tiles::<CH, 6>(&job, &mut y.data, self.simd),
            4 => conv_tiles::<4, 4>(&job, &mut y.data, self.simd),
            n => unreachable!("no {n}-channel layer in this model"),
        }
        y
    }
}

/// [`SwiftF0::detect`] over audio that arrives in pieces: each window of
/// frames runs as soon as its look-ahead has arrived.
pub struct Stream<'a> {
    model: &'a SwiftF0,
    fmin: f64,
    fmax: f64,
    /// Samples from frame `base` on.
    buf: Vec<f32>,
    base: usize,
    /// Samples pushed so far.
    total: usize,
    out: Vec<PitchFrame>,
}

impl Stream<'_> {
    /// Adds 16 kHz mono samples.
    pub fn push(&mut self, samples: &[f32]) {
        self.buf.extend_from_slice(samples);
        self.total += samples.len();
        // Run every window whose look-ahead is in.
        while (self.out.len() + WINDOW + LOOKAHEAD) * HOP <= self.total {
            let start = self.out.len();
            self.window(start, start + WINDOW, Some((start + WINDOW + LOOKAHEAD) * HOP));
        }
    }

    /// The frames of everything pushed: `max(samples / 256, 1)` of them.
    pub fn finish(mut self) -> Vec<PitchFrame> {
        let n = (self.total / HOP).max(1);
        while self.out.len() < n {
            let start = self.out.len();
            let end = (start + WINDOW).min(n);
            self.window(start, end, (end < n).then_some((end + LOOKAHEAD) * HOP));
        }
        self.out
    }

    /// Frames `start..end`, from the audio of frames `start − LEFT` to sample `hi`
    /// (or the end).
    fn window(&mut self, start: usize, end: usize, hi: Option<usize>) {
        let left = start.saturating_sub(LEFT);
        let from = left * HOP - self.base * HOP;
        let to = hi.map_or(self.buf.len(), |h| (h - self.base * HOP).min(self.buf.len()));
        let audio = &self.buf[from..to];
        let frames = self.model.run(audio, self.fmin, self.fmax);
        for (i, f) in frames[start - left..end - left].iter().enumerate() {
            let t = start + i;
            let a = (t - left) * HOP;
            let hop = &audio[a.min(audio.len())..(a + HOP).min(audio.len())];
            let silent = hop.iter().all(|s| s.abs() < SILENCE_PEAK);
            self.out.push(PitchFrame { confidence: if silent { 0.0 } else { f.confidence }, ..*f });
        }
        // Keep what the next window's context needs.
        let keep_from = self.out.len().saturating_sub(LEFT).max(self.base);
        let drop = ((keep_from - self.base) * HOP).min(self.buf.len());
        self.buf.drain(..drop);
        self.base = keep_from;
    }
}

/// The bundled model, loaded once per process.
pub fn shared() -> Result<&'static SwiftF0, ModelError> {
    static MODEL: std::sync::OnceLock<SwiftF0> = std::sync::OnceLock::new();
    if let Some(m) = MODEL.get() {
        return Ok(m);
    }
    let m = SwiftF0::pretrained()?;
    Ok(MODEL.get_or_init(|| m))
}

/// The analysis's pitch tracker, pitches limited to the product's range (C2–C6).
pub fn tracker() -> Result<Box<dyn PitchModel>, ModelError> {
    use crate::audio::analyze::{FMAX_C6, FMIN_C2};
    Ok(Box::new(shared()?.stream(FMIN_C2, FMAX_C6)))
}

impl PitchModel for Stream<'static> {
    fn name(&self) -> &'static str {
        MODEL_NAME
    }
    fn hop(&self) -> usize {
        HOP
    }
    fn push(&mut self, samples: &[f32]) {
        Stream::push(self, samples);
    }
    fn finish(self: Box<Self>) -> Vec<Option<f64>> {
        Stream::finish(*self).iter().map(|f| (f.confidence >= VOICED).then_some(f64::from(f.hz))).collect()
    }
}

fn argmax(v: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, x) in v.enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}

/// [channels][bands][frames], row-major.
struct Picture {
    channels: usize,
    bands: usize,
    frames: usize,
    data: Vec<f32>,
}

impl Picture {
    fn zeros(channels: usize, bands: usize, frames: usize) -> Self {
        Picture { channels, bands, frames, data: vec![0.0; channels * bands * frames] }
    }
    fn row(&self, c: usize, b: usize) -> &[f32] {
        let s = (c * self.bands + b) * self.frames;
        &self.data[s..s + self.frames]
    }
    fn at(&self, c: usize, b: usize, f: usize) -> f32 {
        self.data[(c * self.bands + b) * self.frames + f]
    }
    /// The lowest `n` bands of every channel.
    fn bands(&self, n: usize) -> Picture {
        let mut p = Picture::zeros(self.channels, n, self.frames);
        for c in 0..self.channels {
            let src = c * self.bands * self.frames;
            let dst = c * n * self.frames;
            p.data[dst..dst + n * self.frames].copy_from_slice(&self.data[src..src + n * self.frames]);
        }
        p
    }
}

/// One layer's work, shared by the kernels.
struct Tile<'a> {
    padded: &'a [f32],
    taps: &'a [usize],
    w: &'a [f32],
    bias: &'a [f32],
    row: usize,
    bands: usize,
    frames: usize,
    tiles: usize,
}

/// `CO` output channels in register blocks of `CB` (6 of the trunk's 12, all 4 of
/// the head's).
fn conv_tiles<const CO: usize, const CB: usize>(job: &Tile, out: &mut [f32], simd: Simd) {
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx2 {
        // SAFETY: the CPU has AVX2 and FMA (checked at load time).
        return unsafe { conv_tiles_avx2::<CO, CB>(job, out) };
    }
    let _ = simd;
    conv_tiles_body::<CO, CB, false>(job, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_tiles_avx2<const CO: usize, const CB: usize>(job: &Tile, out: &mut [f32]) {
    conv_tiles_body::<CO, CB, true>(job, out);
}

/// Every output tile of [`TILE`] frames, `CB` output channels at a time, accumulated
/// in registers over all taps, then written with the bias. Six channels × 16
/// frames are twelve AVX registers: per tap two loads of input and six weight
/// broadcasts feed twelve multiply-adds (all twelve channels × 8 frames needed
/// thirteen loads for the same work, and the loads were the limit). `FMA`: fused
/// multiply-adds (one instruction where the CPU has them; a slow library call
/// where it does not, so the baseline build multiplies and adds).
#[inline(always)]
fn conv_tiles_body<const CO: usize, const CB: usize, const FMA: bool>(job: &Tile, out: &mut [f32]) {
    let plane = job.bands * job.frames;
    for b in 0..job.bands {
        for tile in 0..job.tiles {
            let t0 = tile * TILE;
            let base = b * job.row + t0;
            let n = TILE.min(job.frames - t0);
            for c0 in (0..CO).step_by(CB) {
                let mut acc = [[0f32; TILE]; CB];
                for (k, &tap) in job.taps.iter().enumerate() {
                    let x: &[f32; TILE] = job.padded[base + tap..base + tap + TILE].try_into().unwrap_or(&[0.0; TILE]);
                    let w: &[f32; CB] = job.w[k * CO + c0..k * CO + c0 + CB].try_into().unwrap_or(&[0.0; CB]);
                    for j in 0..CB {
                        for l in 0..TILE {
                            acc[j][l] = if FMA { w[j].mul_add(x[l], acc[j][l]) } else { acc[j][l] + w[j] * x[l] };
                        }
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    let dst = (c0 + j) * plane + b * job.frames + t0;
                    for (o, v) in out[dst..dst + n].iter_mut().zip(a) {
                        *o = v + job.bias[c0 + j];
                    }
                }
            }
        }
    }
}
