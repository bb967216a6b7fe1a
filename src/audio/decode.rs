//! Decoding what people upload into interleaved `f32` chunks, streamed: WAV with
//! hound (8/16/24/32-bit PCM and 32-bit float, any channel count); FLAC, MP3,
//! Ogg/Vorbis, AAC/M4A, ALAC, AIFF, CAF and WebM/Matroska through symphonia; and
//! Opus (in WebM — what a browser's MediaRecorder produces — or Ogg) with the
//! pure-Rust `mousiki` port of libopus, since symphonia has no Opus decoder.
//!
//! Nothing here holds more than one packet of audio.

use super::AudioError;
use std::io::{Read, Seek};
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Frames decoded per WAV read.
const WAV_CHUNK_FRAMES: usize = 8192;
/// Corrupt packets tolerated (skipped) before the file counts as broken.
const MAX_BAD_PACKETS: usize = 100;
/// Sample rates accepted, Hz: anything outside is a corrupt header, and a huge
/// rate would make the resampler's FFT huge.
pub const RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;
/// Most channels accepted (a header claiming 65 535 would make every read huge).
pub const MAX_CHANNELS: u16 = 32;

fn check_shape(rate: u32, channels: u16) -> Result<(), AudioError> {
    if channels == 0 {
        return Err(AudioError::Invalid("the file declares zero channels".into()));
    }
    if channels > MAX_CHANNELS {
        return Err(AudioError::Unsupported(format!("{channels} channels (at most {MAX_CHANNELS})")));
    }
    if !RATES.contains(&rate) {
        return Err(AudioError::Unsupported(format!("a sample rate of {rate} Hz")));
    }
    Ok(())
}

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub sample_rate: u32,
    pub channels: u16,
    /// e.g. `wav/pcm16`, `flac`, `mp3`, `webm/opus`.
    pub format: String,
    /// The length the container declares, in frames (samples per channel), when it does.
    pub frames: Option<u64>,
}

/// A stream of interleaved samples.
pub trait SampleSource {
    fn info(&self) -> &SourceInfo;
    /// Replaces `out` with the next interleaved samples (a whole number of frames);
    /// `Ok(false)` at the end.
    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError>;
}

/// Opens any supported format. `ext` (a filename extension, if known) is a hint only.
pub fn open<R: Read + Seek + Send + Sync + 'static>(
    mut reader: R,
    ext: Option<&str>,
) -> Result<Box<dyn SampleSource>, AudioError> {
    let mut magic = [0u8; 12];
    let n = read_up_to(&mut reader, &mut magic)?;
    reader.seek(std::io::SeekFrom::Start(0))?;
    if n == 0 {
        return Err(AudioError::Empty);
    }
    if n == 12 && &magic[0..4] == b"RIFF" && &magic[8..12] == b"WAVE" {
        // Read the header once to see whether hound takes this encoding; hound refuses
        // some valid ones (µ-law, ADPCM, 64-bit float) that symphonia decodes.
        let probe = hound::WavReader::new(&mut reader).map(|w| wav_format(w.spec()));
        reader.seek(std::io::SeekFrom::Start(0))?;
        match probe {
            Ok(Ok(_)) => return Ok(Box::new(WavSource::new(reader)?)),
            Ok(Err(AudioError::Unsupported(_))) | Err(hound::Error::Unsupported) => {
                return open_symphonia(reader, Some("wav"));
            }
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(map_hound(e)),
        }
    }
    open_symphonia(reader, ext)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    Ok(got)
}

// ---- WAV (hound) ----

/// hound parses the header (and rejects what it cannot read); the samples of the
/// common packed encodings are then converted in bulk from the raw bytes, since
/// hound's per-sample iterator costs more than the whole feature pipeline here.
/// Encodings with padded containers (e.g. 24 valid bits in 32) go through hound's
/// own reader.
enum WavData<R: Read> {
    Bulk { reader: R, bytes: Vec<u8>, remaining: u64 },
    Hound(hound::WavReader<R>),
}

struct WavSource<R: Read> {
    data: WavData<R>,
    info: SourceInfo,
    bits: u16,
    float: bool,
    read_any: bool,
    ended: bool,
}

/// The format name and whether hound can read it.
fn wav_format(spec: hound::WavSpec) -> Result<(bool, String), AudioError> {
    check_shape(spec.sample_rate, spec.channels)?;
    match spec.sample_format {
        hound::SampleFormat::Float if spec.bits_per_sample == 32 => Ok((true, "wav/float32".to_owned())),
        hound::SampleFormat::Int if (8..=32).contains(&spec.bits_per_sample) => {
            Ok((false, format!("wav/pcm{}", spec.bits_per_sample)))
        }
        _ => Err(AudioError::Unsupported(format!("{}-bit {:?} WAV", spec.bits_per_sample, spec.sample_format))),
    }
}

/// `block_align / channels` from the `fmt ` chunk, if it can be found in `head`.
fn container_bytes(head: &[u8]) -> Option<u16> {
    let mut pos = 12;
    while pos + 8 <= head.len() {
        let id = &head[pos..pos + 4];
        let len = u32::from_le_bytes(head[pos + 4..pos + 8].try_into().ok()?) as usize;
        if id == b"fmt " && pos + 8 + 14 <= head.len() {
            let channels = u16::from_le_bytes([head[pos + 10], head[pos + 11]]);
            let block_align = u16::from_le_bytes([head[pos + 20], head[pos + 21]]);
            return (channels > 0).then(|| block_align / channels);
        }
        pos = pos.checked_add(8 + len + (len & 1))?;
    }
    None
}

impl<R: Read + Seek> WavSource<R> {
    fn new(mut reader: R) -> Result<Self, AudioError> {
        let mut head = [0u8; 512];
        let n = read_up_to(&mut reader, &mut head)?;
        reader.seek(std::io::SeekFrom::Start(0))?;
        let wav = hound::WavReader::new(reader).map_err(map_hound)?;
        let spec = wav.spec();
        // A data size of all ones is a streaming writer's "unknown", not a length.
        let data_bytes = u64::from(wav.len()) * u64::from(spec.bits_per_sample.div_ceil(8));
        let frames = (data_bytes < u64::from(u32::MAX) - 64).then(|| u64::from(wav.duration()));
        let (float, format) = wav_format(spec)?;
        let packed = container_bytes(&head[..n]) == Some(spec.bits_per_sample / 8) && spec.bits_per_sample % 8 == 0;
        let data = if packed {
            let remaining = u64::from(wav.len()) * u64::from(spec.bits_per_sample / 8);
            WavData::Bulk { reader: wav.into_inner(), bytes: Vec::new(), remaining }
        } else {
            WavData::Hound(wav)
        };
        Ok(WavSource {
            data,
            info: SourceInfo { sample_rate: spec.sample_rate, channels: spec.channels, format, frames },
            bits: spec.bits_per_sample,
            float,
            read_any: false,
            ended: false,
        })
    }
}

/// Raw little-endian samples to `f32` at full scale ±1 (8-bit WAV is unsigned).
fn convert(bytes: &[u8], bits: u16, float: bool, out: &mut Vec<f32>) {
    match (bits, float) {
        (32, true) => out.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        (8, _) => out.extend(bytes.iter().map(|&b| (f32::from(b) - 128.0) / 128.0)),
        (16, _) => out.extend(bytes.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)),
        (24, _) => out.extend(
            bytes.chunks_exact(3).map(|b| (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0),
        ),
        _ => out.extend(
            bytes.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0),
        ),
    }
}

impl<R: Read> SampleSource for WavSource<R> {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        out.clear();
        if self.ended {
            return Ok(false);
        }
        let channels = usize::from(self.info.channels);
        let want = WAV_CHUNK_FRAMES * channels;
        match &mut self.data {
            WavData::Bulk { reader, bytes, remaining } => {
                let bps = usize::from(self.bits / 8);
                let take = (want * bps).min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                bytes.resize(take, 0);
                let got = read_up_to(reader, bytes)?;
                *remaining -= got as u64;
                if got < take {
                    // The data ends before the header said: analyse what is there.
                    self.ended = true;
                }
                let whole = got - got % (bps * channels);
                convert(&bytes[..whole], self.bits, self.float, out);
            }
            WavData::Hound(reader) => {
                let result = if self.float {
                    reader.samples::<f32>().take(want).try_for_each(|s| s.map(|v| out.push(v)))
                } else {
                    let scale = 1.0 / (1u64 << (self.bits - 1)) as f32;
                    reader.samples::<i32>().take(want).try_for_each(|s| s.map(|v| out.push(v as f32 * scale)))
                };
                match result.map_err(map_hound) {
                    Ok(()) => {}
                    // A file cut short (or whose header claims more than it holds) ends where
                    // its data ends; an error before any audio is a broken file.
                    Err(AudioError::Invalid(_)) if self.read_any || !out.is_empty() => self.ended = true,
                    Err(e) => return Err(e),
                }
                out.truncate(out.len() - out.len() % channels);
            }
        }
        self.read_any |= !out.is_empty();
        Ok(!out.is_empty())
    }
}

pub(crate) fn map_hound(e: hound::Error) -> AudioError {
    match e {
        // hound reports a short file as an I/O error of its own making (kind
        // UnexpectedEof or Other, "Failed to read enough bytes"): that is bad input,
        // not a failing disk, and trying again cannot help.
        hound::Error::IoError(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other
            ) =>
        {
            AudioError::Invalid(format!("the file ends in the middle of the audio data ({io})"))
        }
        hound::Error::IoError(io) => AudioError::Io(io),
        hound::Error::FormatError(m) => AudioError::Invalid(m.to_owned()),
        hound::Error::Unsupported => AudioError::Unsupported("WAV encoding not supported".into()),
        other => AudioError::Invalid(other.to_string()),
    }
}

// ---- everything else (symphonia; Opus through mousiki) ----

fn sym_err(e: SymError) -> AudioError {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Invalid("the file ends unexpectedly".into())
        }
        SymError::IoError(io) => AudioError::Io(io),
        SymError::Unsupported(what) => AudioError::Unsupported(what.to_string()),
        other => AudioError::Invalid(other.to_string()),
    }
}

enum Codec {
    Symphonia(Box<dyn AudioDecoder>),
    Opus { decoder: Box<mousiki::Decoder>, pre_skip: usize, pcm: Vec<f32> },
}

struct SymphoniaSource {
    format: Box<dyn FormatReader>,
    track_id: u32,
    codec: Codec,
    info: SourceInfo,
    bad_packets: usize,
}

fn open_symphonia<R: Read + Seek + Send + Sync + 'static>(
    reader: R,
    ext: Option<&str>,
) -> Result<Box<dyn SampleSource>, AudioError> {
    let mss = MediaSourceStream::new(Box::new(ReadSeek(reader)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }
    let format = symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(_) => AudioError::Unsupported("not a recognised audio format".into()),
            other => sym_err(other),
        })?;
    let track = format.default_track(TrackType::Audio).ok_or_else(|| AudioError::Invalid("no audio track".into()))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Invalid("the audio track has no codec parameters".into()))?
        .clone();
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let container = format.format_info().short_name.to_owned();
    let channels = params.channels.as_ref().map(|c| c.count() as u16).unwrap_or(0);
    let (codec, sample_rate, channels, name) = if params.codec == CODEC_ID_OPUS {
        let ch = match channels {
            1 => mousiki::Channels::Mono,
            2 | 0 => mousiki::Channels::Stereo,
            n => return Err(AudioError::Unsupported(format!("{n}-channel Opus"))),
        };
        let decoder =
            Box::new(mousiki::Decoder::new(48_000, ch).map_err(|e| AudioError::Invalid(format!("Opus: {e:?}")))?);
        // OpusHead: pre-skip is a little-endian u16 at byte 10.
        let pre_skip = params
            .extra_data
            .as_deref()
            .filter(|d| d.len() >= 12 && &d[..8] == b"OpusHead")
            .map_or(0, |d| usize::from(u16::from_le_bytes([d[10], d[11]])));
        (
            Codec::Opus { decoder, pre_skip, pcm: vec![0.0; 5760 * ch.count()] },
            48_000,
            ch.count() as u16,
            format!("{container}/opus"),
        )
    } else {
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(sym_err)?;
        let rate = params.sample_rate.ok_or_else(|| AudioError::Invalid("unknown sample rate".into()))?;
        let codec_name = symphonia::default::get_codecs()
            .get_audio_decoder(params.codec)
            .map(|d| d.codec.info.short_name.to_owned())
            .unwrap_or_else(|| "audio".into());
        (Codec::Symphonia(decoder), rate, channels, format!("{container}/{codec_name}"))
    };
    check_shape(sample_rate, channels.max(1))?;
    Ok(Box::new(SymphoniaSource {
        format,
        track_id,
        codec,
        info: SourceInfo { sample_rate, channels, format: name, frames: declared_frames },
        bad_packets: 0,
    }))
}

impl SampleSource for SymphoniaSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        out.clear();
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                // A truncated file ends the stream where it ends.
                Err(SymError::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(SymError::ResetRequired) => {
                    return Err(AudioError::Unsupported("streams that change format".into()));
                }
                Err(e) => return Err(sym_err(e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match &mut self.codec {
                Codec::Symphonia(dec) => match dec.decode(&packet) {
                    Ok(buf) => {
                        let channels = buf.spec().channels().count();
                        if channels == 0 {
                            continue;
                        }
                        if channels != usize::from(self.info.channels) {
                            let ch = u16::try_from(channels).unwrap_or(u16::MAX);
                            check_shape(self.info.sample_rate, ch)?;
                            self.info.channels = ch;
                        }
                        out.resize(buf.samples_interleaved(), 0.0);
                        buf.copy_to_slice_interleaved(&mut out[..]);
                        Ok(())
                    }
                    Err(SymError::DecodeError(e)) => Err(e.to_string()),
                    Err(SymError::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                    Err(e) => return Err(sym_err(e)),
                },
                Codec::Opus { decoder, pre_skip, pcm } => match decoder.decode_float(&packet.data, pcm, false) {
                    Ok(n) => {
                        let ch = usize::from(self.info.channels);
                        let skip = (*pre_skip).min(n);
                        *pre_skip -= skip;
                        out.extend_from_slice(&pcm[skip * ch..n * ch]);
                        Ok(())
                    }
                    Err(e) => Err(format!("{e:?}")),
                },
            };
            match decoded {
                Ok(()) if out.is_empty() => continue,
                Ok(()) => return Ok(true),
                Err(msg) => {
                    self.bad_packets += 1;
                    if self.bad_packets > MAX_BAD_PACKETS {
                        return Err(AudioError::Invalid(format!("too many corrupt packets (last: {msg})")));
                    }
                }
            }
        }
    }
}

/// symphonia wants `MediaSource`; any `Read + Seek` is one through this.
struct ReadSeek<R>(R);

impl<R: Read> Read for ReadSeek<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Seek> Seek for ReadSeek<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl<R: Read + Seek + Send + Sync> symphonia::core::io::MediaSource for ReadSeek<R> {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        None
    }
}
