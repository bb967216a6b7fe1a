//! Recordings longer than ~3.4 minutes take pYIN's windowed Viterbi (bounded
//! memory); here it is compared with the full decode on a 6-minute sung clip from
//! the singing harness (`bench/singing/make_clips.py --long 360`: a real voice
//! resynthesised on chorale tenor lines, stored as 16 kHz Opus).

use orakgaraki::audio::analyze::{FMAX_C6, FMIN_C2, SR};
use orakgaraki::audio::decode;
use orakgaraki::audio::frames::for_each_frame;
use orakgaraki::audio::pyin::{FrameObservation, PyinParams, YinObserver, decode_track, decode_track_windowed};
use orakgaraki::audio::resample::Resampler;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The clip at 22 050 Hz mono, then pYIN's per-frame observations.
fn observations(params: &PyinParams) -> Vec<FrameObservation> {
    let file = std::fs::File::open(fixture("sung_6min.opus")).expect("fixture");
    let mut src = decode::open(file, Some("opus")).expect("decodes");
    let rate = src.info().sample_rate;
    let mut resampler = Resampler::new(rate, SR).expect("resampler");
    let (mut chunk, mut y) = (Vec::new(), Vec::new());
    while src.next_chunk(&mut chunk).expect("chunk") {
        let ch = usize::from(src.info().channels.max(1));
        let mono: Vec<f32> = chunk.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect();
        resampler.push(&mono, |out| y.extend_from_slice(out));
    }
    resampler.finish(|out| y.extend_from_slice(out));
    let mut observer = YinObserver::new(*params);
    let mut obs = Vec::new();
    for_each_frame(&y, params.frame_length, params.hop_length, |f| obs.push(observer.observe(f)));
    obs
}

#[test]
fn the_windowed_viterbi_equals_the_full_decode_on_a_six_minute_song() {
    let params = PyinParams::new(FMIN_C2, FMAX_C6);
    let obs = observations(&params);
    let minutes = obs.len() as f64 * params.hop_length as f64 / params.sr / 60.0;
    assert!(minutes > 6.0, "the clip is {minutes:.1} min");
    let full = decode_track(&params, &obs);
    let windowed = decode_track_windowed(&params, &obs);
    assert_eq!(full.f0.len(), windowed.f0.len());
    let voiced = full.f0.iter().flatten().count();
    assert!(voiced as f64 > 0.8 * obs.len() as f64, "a sung clip: {voiced} of {} frames voiced", obs.len());
    let differ: Vec<usize> = (0..obs.len()).filter(|&t| full.f0[t] != windowed.f0[t]).collect();
    assert!(
        differ.is_empty(),
        "{} of {} frames differ (first at {:?} s)",
        differ.len(),
        obs.len(),
        differ.first().map(|&t| t as f64 * params.hop_length as f64 / params.sr)
    );
}
