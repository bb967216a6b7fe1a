//! The SwiftF0 port against the model it was ported from: onnxruntime running the
//! `swift-f0` 0.3.0 wheel's `model.onnx` (its own `SwiftF0.detect`, one thread)
//! on the same 16 kHz samples. `scripts/convert_swiftf0.py` wrote the reference
//! outputs: a sung clip over a backing track (the singing harness's karaoke
//! −10 dB condition) and two people talking, after 0.3 s of digital silence.
//! Each clip is longer than one of the port's windows, so the windowing is
//! checked against onnxruntime's single pass too.

use orakgaraki::audio::decode;
use orakgaraki::model::swiftf0::{FMAX, FMIN, SwiftF0};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn samples(name: &str) -> Vec<f32> {
    let mut src = decode::open(std::fs::File::open(fixture(name)).expect("fixture"), Some("flac")).expect("decodes");
    assert_eq!(src.info().sample_rate, 16_000);
    let (mut chunk, mut out) = (Vec::new(), Vec::new());
    while src.next_chunk(&mut chunk).expect("chunk") {
        out.extend_from_slice(&chunk);
    }
    out
}

fn floats(name: &str) -> Vec<f32> {
    std::fs::read(fixture(name))
        .expect("reference")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn check(stem: &str) {
    let model = SwiftF0::pretrained().expect("bundled weights");
    let audio = samples(&format!("{stem}.flac"));
    let ours = model.detect(&audio, FMIN, FMAX);
    let (pitch, conf) = (floats(&format!("{stem}.pitch.f32")), floats(&format!("{stem}.confidence.f32")));
    assert_eq!(ours.len(), pitch.len(), "frames");
    let mut cents: Vec<f64> =
        ours.iter().zip(&pitch).map(|(o, &p)| (1200.0 * (f64::from(o.hz) / f64::from(p)).log2()).abs()).collect();
    let voiced: Vec<f64> = cents.iter().zip(&conf).filter(|(_, c)| **c >= 0.5).map(|(d, _)| *d).collect();
    cents.sort_by(f64::total_cmp);
    let median = cents[cents.len() / 2];
    let worst_voiced = voiced.iter().copied().fold(0.0, f64::max);
    let worst_conf = ours.iter().zip(&conf).map(|(o, &c)| (o.confidence - c).abs()).fold(0.0, f32::max);
    eprintln!(
        "{stem}: {} frames ({} voiced): median pitch difference {median:.5} cents, worst voiced {worst_voiced:.4} cents, worst confidence difference {worst_conf:.6}",
        ours.len(),
        voiced.len()
    );
    assert!(voiced.len() > ours.len() / 4, "{stem}: the clip has voice in it");
    assert!(median <= 1.0, "{stem}: median pitch difference {median} cents");
    assert!(worst_voiced <= 1.0, "{stem}: a voiced frame differs by {worst_voiced} cents");
    assert!(worst_conf <= 0.01, "{stem}: confidence differs by {worst_conf}");
    let silent = ours.iter().take(15).all(|f| f.confidence == 0.0);
    assert!(stem != "swiftf0_speech" || silent, "digital silence has no confidence");
}

#[test]
fn swiftf0_matches_onnxruntime_on_singing_over_a_backing_track() {
    check("swiftf0_sung_k10");
}

#[test]
fn swiftf0_matches_onnxruntime_on_two_people_talking() {
    check("swiftf0_speech");
}

#[test]
fn the_analysis_takes_its_range_from_swiftf0_when_told_to() {
    use orakgaraki::audio::{Limits, analyze_with_voice};
    let open = || std::fs::File::open(fixture("swiftf0_sung_k10.flac")).expect("fixture");
    let tracker = orakgaraki::model::swiftf0::tracker().expect("bundled weights");
    let (neural, _) =
        analyze_with_voice(open(), Some("flac"), Limits::default(), 0.0, Some(tracker)).expect("analyses");
    let (pyin, _) = analyze_with_voice(open(), Some("flac"), Limits::default(), 0.0, None).expect("analyses");
    assert_eq!(neural.pitch.tracker, "swiftf0");
    assert_eq!(pyin.pitch.tracker, "pyin");
    // A tenor line (truth over these 12 s: median 206 Hz, G#3) over a backing track at −10 dB.
    for a in [&neural, &pyin] {
        let median = a.pitch.median_hz.expect("a median");
        let st = 12.0 * (median / 206.3).log2();
        assert!(st.abs() < 1.0, "{}: median {median:.1} Hz", a.pitch.tracker);
        assert!(a.pitch.singing_seconds > 6.0, "{}: {} s of singing", a.pitch.tracker, a.pitch.singing_seconds);
    }
}
