//! The analysis against librosa's own output on the reference audio
//! (`../shared/reference/librosa/`, made by `bench_librosa.py` with librosa 0.11).
//! Features are computed from librosa's resampled signal (`ref_*_y22k.npy`) so that
//! the resampler is checked separately from the features.

use orakgaraki::audio::frames;
use std::path::PathBuf;

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/librosa").join(name)
}

fn load_f32(name: &str) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(reference(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f32>().unwrap())
}

/// A (bands × frames) C-order array as frames of bands.
fn by_frame(shape: &[u64], data: &[f32]) -> Vec<Vec<f32>> {
    let (bands, n) = (shape[0] as usize, shape[1] as usize);
    (0..n).map(|t| (0..bands).map(|b| data[b * n + t]).collect()).collect()
}

fn signal(which: &str) -> Vec<f32> {
    load_f32(&format!("ref_{which}_y22k.npy")).1
}

#[test]
fn mel_spectrogram_matches_librosa_in_db() {
    for which in ["speech", "music"] {
        let (shape, data) = load_f32(&format!("ref_{which}_mel.npy"));
        let expected = by_frame(&shape, &data);
        let got = frames::melspectrogram(&signal(which), 22050.0);
        assert_eq!(got.len(), expected.len(), "{which}: frame count");
        // Compare in dB as librosa reports them (top_db floor from the reference's own max):
        // tolerance 0.01 dB absolute, the float32 rounding of the FFT and the mel product.
        let exp_db = frames::power_to_db_all(&expected);
        let got_db = frames::power_to_db_all(&got);
        let mut worst = 0f32;
        for (t, (g, e)) in got_db.iter().zip(&exp_db).enumerate() {
            for (b, (x, y)) in g.iter().zip(e).enumerate() {
                let d = (x - y).abs();
                if d > worst {
                    worst = d;
                }
                assert!(d < 0.01, "{which}: frame {t} band {b}: {x} dB vs librosa {y} dB");
            }
        }
        eprintln!("{which}: mel dB max abs error {worst:.5}");
    }
}

#[test]
fn mfcc_matches_librosa() {
    for which in ["speech", "music"] {
        let (shape, data) = load_f32(&format!("ref_{which}_mfcc20.npy"));
        let expected = by_frame(&shape, &data);
        let got = frames::mfcc(&signal(which), 22050.0, 20);
        assert_eq!(got.len(), expected.len());
        // Tolerance: 1e-3 relative to the frame's largest coefficient, or 0.01 absolute
        // (an MFCC is a sum of 128 dB values each good to ~1e-4 dB).
        let mut worst = 0f64;
        for (t, (g, e)) in got.iter().zip(&expected).enumerate() {
            let scale = e.iter().map(|v| v.abs()).fold(0f32, f32::max) as f64;
            for (k, (x, y)) in g.iter().zip(e).enumerate() {
                let d = (x - f64::from(*y)).abs();
                worst = worst.max(d);
                assert!(d < 0.01 || d < 1e-3 * scale, "{which}: frame {t} mfcc {k}: {x} vs librosa {y}");
            }
        }
        eprintln!("{which}: mfcc max abs error {worst:.5}");
    }
}

#[test]
fn rms_matches_librosa() {
    for which in ["speech", "music"] {
        let (_, expected) = load_f32(&format!("ref_{which}_rms.npy"));
        let got = frames::rms_frames(&signal(which));
        assert_eq!(got.len(), expected.len());
        for (t, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!((g - e).abs() <= 1e-6 + 1e-4 * e.abs(), "{which}: frame {t}: {g} vs librosa {e}");
        }
    }
}
