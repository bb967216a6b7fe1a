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

#[test]
fn spectral_features_match_librosa() {
    // Fixture: librosa 0.11's spectral_centroid, spectral_bandwidth, spectral_rolloff,
    // spectral_flatness and zero_crossing_rate of ref_*_y22k (defaults, sr 22050),
    // stacked in that order, committed under tests/fixtures.
    for which in ["speech", "music"] {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/librosa_spectral_{which}.npy"));
        let bytes = std::fs::read(path).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        let n = npy.shape()[1] as usize;
        let data = npy.into_vec::<f64>().unwrap();
        let row = |r: usize| &data[r * n..(r + 1) * n];
        let y = signal(which);
        let got = frames::spectral_frames(&y, 22050.0);
        assert_eq!(got.len(), n, "{which}: frame count");
        let bin_hz = 22050.0 / 2048.0;
        let (mut worst_c, mut worst_b, mut worst_f) = (0f64, 0f64, 0f64);
        let mut rolloff_off = 0;
        for (t, g) in got.iter().enumerate() {
            let (c, b, r, f) = (row(0)[t], row(1)[t], row(2)[t], row(3)[t]);
            // Centroid and bandwidth: sums of float32 magnitudes in another order, so
            // 1e-4 relative (and 1e-3 Hz where librosa's value is ~0).
            let (dc, db) = ((g.centroid_hz - c).abs(), (g.bandwidth_hz - b).abs());
            assert!(dc <= 1e-3 + 1e-4 * c, "{which}: frame {t}: centroid {} vs librosa {c}", g.centroid_hz);
            assert!(db <= 1e-3 + 1e-4 * b, "{which}: frame {t}: bandwidth {} vs librosa {b}", g.bandwidth_hz);
            (worst_c, worst_b) = (worst_c.max(dc / c.max(1.0)), worst_b.max(db / b.max(1.0)));
            // Flatness: a geometric over an arithmetic mean of powers. The geometric
            // mean leans on the smallest powers, near librosa's 1e-10 floor, where the
            // float32 FFTs' rounding differs most: 2e-3 relative (seen: 7.5e-4).
            let df = (g.flatness - f).abs() / f.max(1e-12);
            assert!(df <= 2e-3, "{which}: frame {t}: flatness {} vs librosa {f}", g.flatness);
            worst_f = worst_f.max(df);
            // Roll-off: the same bin, or the next one where the running sum meets 85 %
            // within float32 rounding (at most 1 % of frames).
            let dr = (g.rolloff_hz - r).abs();
            assert!(dr <= bin_hz + 1e-6, "{which}: frame {t}: roll-off {} vs librosa {r}", g.rolloff_hz);
            if dr > 1e-6 {
                rolloff_off += 1;
            }
        }
        assert!(rolloff_off * 100 <= n, "{which}: roll-off one bin off in {rolloff_off} of {n} frames");
        // Zero-crossing rate: exact counts, but librosa pads the ends with the edge
        // sample where the analysis pads with zeros: the first and last two frames differ.
        let zcr = frames::zcr_frames(&y);
        assert_eq!(zcr.len(), n);
        for (t, (&g, &e)) in zcr.iter().zip(row(4)).enumerate().skip(2).take(n - 4) {
            assert!((f64::from(g) - e).abs() < 1e-6, "{which}: frame {t}: zcr {g} vs librosa {e}");
        }
        eprintln!(
            "{which}: centroid {worst_c:.1e}, bandwidth {worst_b:.1e}, flatness {worst_f:.1e} max relative error; roll-off one bin off in {rolloff_off} of {n} frames"
        );
    }
}

fn load_f64(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(reference(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec::<f64>().unwrap()
}

const C2: f64 = 65.40639132514966;
const C7: f64 = 2093.004522404789;

#[test]
fn pyin_matches_librosa() {
    for which in ["speech", "music"] {
        let ref_f0 = load_f64(&format!("ref_{which}_pyin_f0.npy"));
        let ref_vp = load_f64(&format!("ref_{which}_pyin_voiced_prob.npy"));
        let track = frames::pyin(&signal(which), C2, C7);
        assert_eq!(track.f0.len(), ref_f0.len());
        // Voiced probability is per frame, before decoding: float32 rounding only.
        // Voiced probability is per frame, before decoding. It can differ only where the
        // lowest trough of the difference function sits at 1.0 within float32 rounding
        // (near-silent frames): there librosa's and our FFT roundings put it on either
        // side of the last threshold, which moves `no_trough_prob` (0.01) of mass.
        let off: Vec<usize> =
            (0..ref_vp.len()).filter(|&i| (f64::from(track.voiced_prob[i]) - ref_vp[i]).abs() > 1e-4).collect();
        let vp_err = track.voiced_prob.iter().zip(&ref_vp).map(|(a, b)| (f64::from(*a) - b).abs()).fold(0f64, f64::max);
        // Voicing decisions agree on at least 95% of frames.
        let agree = track.f0.iter().zip(&ref_f0).filter(|(a, b)| a.is_some() != b.is_nan()).count();
        let agreement = agree as f64 / ref_f0.len() as f64;
        // F0 on frames both call voiced: median error under 10 cents.
        let mut cents: Vec<f64> = track
            .f0
            .iter()
            .zip(&ref_f0)
            .filter_map(|(a, b)| a.filter(|_| !b.is_nan()).map(|a| (1200.0 * (a / b).log2()).abs()))
            .collect();
        cents.sort_by(f64::total_cmp);
        let median = cents[cents.len() / 2];
        let exact = cents.iter().filter(|c| **c < 1e-6).count() as f64 / cents.len() as f64;
        eprintln!(
            "{which}: voiced-prob off on {} frames (max {vp_err:.2e}), voicing agreement {:.2}%, F0 median err {median:.3} cents, identical bins {:.2}%",
            off.len(),
            agreement * 100.0,
            exact * 100.0
        );
        assert!(off.len() * 200 <= ref_vp.len(), "{which}: voiced probability off on frames {off:?}");
        assert!(vp_err <= 0.01 + 1e-6, "{which}: voiced probability differs by {vp_err}");
        assert!(agreement >= 0.95, "{which}: voicing agreement {agreement}");
        assert!(median < 10.0, "{which}: median F0 error {median} cents");
    }
}

#[test]
fn onset_strength_matches_librosa() {
    use orakgaraki::audio::rhythm::Aggregate;
    for which in ["speech", "music"] {
        let (_, expected) = load_f32(&format!("ref_{which}_onset_env.npy"));
        let got = frames::onset_strength(&signal(which), 22050.0, Aggregate::Mean);
        assert_eq!(got.len(), expected.len());
        // Mean of 128 clipped dB differences, each good to ~1e-3 dB: 1e-3 absolute.
        let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        eprintln!("{which}: onset envelope max abs error {worst:.2e}");
        assert!(worst < 1e-3, "{which}: {worst}");
    }
}

#[test]
fn tempo_and_beats_match_librosa() {
    use orakgaraki::audio::rhythm::{Aggregate, beat_track};
    let expected_bpm = [("speech", 112.34714673913044), ("music", 117.45383522727273)];
    for (which, bpm_ref) in expected_bpm {
        let beats_ref = load_f64(&format!("ref_{which}_beats_s.npy"));
        let env = frames::onset_strength(&signal(which), 22050.0, Aggregate::Median);
        let (bpm, beats) = beat_track(&env, 22050.0, 512);
        let times: Vec<f64> = beats.iter().map(|&f| f as f64 * 512.0 / 22050.0).collect();
        // Beats within one frame (23 ms) of librosa's.
        let matched = beats_ref.iter().filter(|r| times.iter().any(|t| (t - *r).abs() < 0.024)).count();
        eprintln!(
            "{which}: tempo {bpm:.3} (librosa {bpm_ref:.3}), beats {} (librosa {}), {matched} within a frame",
            times.len(),
            beats_ref.len()
        );
        assert!((bpm - bpm_ref).abs() < 1.0, "{which}: tempo {bpm} vs {bpm_ref}");
        assert!(matched as f64 >= 0.95 * beats_ref.len() as f64, "{which}: beats {times:?} vs {beats_ref:?}");
    }
}

#[test]
fn chroma_matches_librosa() {
    // Fixture: librosa.feature.chroma_stft(y=ref_*_y22k, sr=22050), made with librosa
    // 0.11 and committed under tests/fixtures (tunings: music 0.03, speech 0.28).
    for (which, tuning_ref) in [("music", 0.03), ("speech", 0.28)] {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/librosa_chroma_{which}.npy"));
        let bytes = std::fs::read(path).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        let shape = npy.shape().to_vec();
        let expected = by_frame(&shape, &npy.into_vec::<f32>().unwrap());
        let (got, tuning) = frames::chroma_stft(&signal(which), 22050.0);
        assert!((tuning - tuning_ref).abs() < 1e-9, "{which}: tuning {tuning} vs {tuning_ref}");
        assert_eq!(got.len(), expected.len());
        // Values are 0..1 per frame; float32 products of the same spectrum: 1e-4.
        let worst = got
            .iter()
            .zip(&expected)
            .flat_map(|(g, e)| g.iter().zip(e).map(|(a, b)| (a - b).abs()))
            .fold(0f32, f32::max);
        eprintln!("{which}: chroma max abs error {worst:.2e}");
        assert!(worst < 1e-4, "{which}: {worst}");
    }
}
