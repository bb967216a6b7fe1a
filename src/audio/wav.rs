//! WAV decoding (hound) and level measurements, streamed sample by sample so that a
//! 500 MB file is measured in constant memory.

use super::AudioError;
use crate::domain::analysis::{Analysis, to_dbfs};
use std::io::Read;

/// Decodes a WAV stream and measures duration, peak and RMS level.
pub fn analyze_wav<R: Read>(reader: R) -> Result<Analysis, AudioError> {
    let reader = hound::WavReader::new(reader).map_err(map_hound)?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(AudioError::Invalid("zero channels or sample rate".into()));
    }
    let (format, stats) = match spec.sample_format {
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(AudioError::Unsupported(format!("{}-bit float WAV", spec.bits_per_sample)));
            }
            ("wav/float32".to_owned(), measure(reader.into_samples::<f32>().map(|s| s.map(f64::from)))?)
        }
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample;
            if !(8..=32).contains(&bits) {
                return Err(AudioError::Unsupported(format!("{bits}-bit PCM WAV")));
            }
            let scale = 1.0 / f64::from(1u32 << (bits - 1));
            let samples = reader.into_samples::<i32>().map(move |s| s.map(|v| f64::from(v) * scale));
            (format!("wav/pcm{bits}"), measure(samples)?)
        }
    };
    if stats.count == 0 {
        return Err(AudioError::Empty);
    }
    let frames = stats.count / u64::from(spec.channels);
    let rms = (stats.sum_sq / stats.count as f64).sqrt();
    Ok(Analysis {
        duration_s: frames as f64 / f64::from(spec.sample_rate),
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        format,
        peak: stats.peak,
        peak_dbfs: to_dbfs(stats.peak),
        rms,
        rms_dbfs: to_dbfs(rms),
    })
}

struct Stats {
    count: u64,
    peak: f64,
    sum_sq: f64,
}

fn measure(samples: impl Iterator<Item = Result<f64, hound::Error>>) -> Result<Stats, AudioError> {
    let mut st = Stats { count: 0, peak: 0.0, sum_sq: 0.0 };
    for s in samples {
        let v = s.map_err(map_hound)?;
        st.count += 1;
        st.peak = st.peak.max(v.abs());
        st.sum_sq += v * v;
    }
    Ok(st)
}

fn map_hound(e: hound::Error) -> AudioError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav_i16(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        buf.into_inner()
    }

    #[test]
    fn measures_a_sine() {
        let rate = 16_000;
        let samples: Vec<i16> = (0..rate * 2)
            .map(|i| ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / rate as f64).sin() * 16384.0) as i16)
            .collect();
        let a = analyze_wav(Cursor::new(wav_i16(rate, 1, &samples))).unwrap();
        assert_eq!(a.sample_rate, 16_000);
        assert_eq!(a.channels, 1);
        assert_eq!(a.format, "wav/pcm16");
        assert!((a.duration_s - 2.0).abs() < 1e-9);
        assert!((a.peak - 0.5).abs() < 1e-3, "peak {}", a.peak);
        // A sine's RMS is peak / sqrt(2).
        assert!((a.rms - 0.5 / 2f64.sqrt()).abs() < 1e-3, "rms {}", a.rms);
        assert!((a.rms_dbfs.unwrap() + 9.03).abs() < 0.05);
    }

    #[test]
    fn stereo_duration_counts_frames() {
        let a = analyze_wav(Cursor::new(wav_i16(8_000, 2, &vec![100; 16_000]))).unwrap();
        assert_eq!(a.channels, 2);
        assert!((a.duration_s - 1.0).abs() < 1e-9);
    }

    #[test]
    fn garbage_is_permanently_invalid() {
        let err = analyze_wav(Cursor::new(b"this is not a wav file at all".to_vec())).unwrap_err();
        assert!(err.is_permanent(), "{err}");
        assert!(err.to_string().contains("not a valid audio file"), "{err}");
    }

    #[test]
    fn empty_and_truncated_files_are_refused() {
        assert!(matches!(analyze_wav(Cursor::new(wav_i16(8_000, 1, &[]))), Err(AudioError::Empty)));
        let mut bytes = wav_i16(8_000, 1, &vec![1000; 8_000]);
        bytes.truncate(bytes.len() / 2 + 1);
        let err = analyze_wav(Cursor::new(bytes)).unwrap_err();
        assert!(err.is_permanent(), "{err}");
    }
}
