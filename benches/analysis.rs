//! The analysis pipeline on the 60-second reference speech, whole and by stage,
//! single-threaded. `bash bench/analysis_vs_librosa.sh` runs librosa on the same
//! file in the same session and prints the ratio.

use criterion::{Criterion, criterion_group, criterion_main};
use orakgaraki::audio::analyze::{FMAX_C6, FMIN_C2};
use orakgaraki::audio::{Limits, analyze, frames, rhythm};
use std::hint::black_box;
use std::path::PathBuf;

fn reference() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/audio/speech_60s_44k.wav")
}

fn bench(c: &mut Criterion) {
    let bytes = std::fs::read(reference()).expect("the shared reference audio");
    let mut g = c.benchmark_group("speech_60s_44k");
    g.sample_size(10);
    g.bench_function("whole_analysis", |b| {
        b.iter(|| analyze(std::io::Cursor::new(black_box(bytes.clone())), Some("wav"), Limits::default()).unwrap())
    });
    let a = analyze(std::io::Cursor::new(bytes.clone()), Some("wav"), Limits::default()).unwrap();
    black_box(a);
    // Stages, on a 22 050 Hz signal.
    let y: Vec<f32> = {
        let mut src = orakgaraki::audio::decode::open(std::io::Cursor::new(bytes.clone()), Some("wav")).unwrap();
        let mut all = Vec::new();
        let mut chunk = Vec::new();
        while src.next_chunk(&mut chunk).unwrap() {
            all.extend_from_slice(&chunk);
        }
        let mut r = orakgaraki::audio::resample::Resampler::new(44_100, 22_050).unwrap();
        let mut out = Vec::new();
        r.push(&all, |o| out.extend_from_slice(o));
        r.finish(|o| out.extend_from_slice(o));
        out
    };
    g.bench_function("mfcc20", |b| b.iter(|| frames::mfcc(black_box(&y), 22050.0, 20)));
    g.bench_function("pyin_c2_c6", |b| b.iter(|| frames::pyin(black_box(&y), FMIN_C2, FMAX_C6)));
    g.bench_function("onset_and_beats", |b| {
        b.iter(|| {
            let env = frames::onset_strength(black_box(&y), 22050.0, rhythm::Aggregate::Median);
            rhythm::beat_track(&env, 22050.0, 512)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
