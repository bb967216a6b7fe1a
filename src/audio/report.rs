//! A person-readable summary of an analysis (what `orakgaraki analyze` prints).

use crate::domain::analysis::Analysis;
use std::fmt::Write;
use std::time::Duration;

fn hz(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1} Hz"))
}

fn note(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("—")
}

/// Several lines of text, ending in a newline.
pub fn text(a: &Analysis, took: Duration) -> String {
    let mut s = String::new();
    let p = &a.pitch;
    let _ =
        writeln!(s, "format        {} · {} Hz · {} ch · {:.2} s", a.format, a.sample_rate, a.channels, a.duration_s);
    let _ = writeln!(
        s,
        "loudness      {} · peak {} dBFS",
        a.loudness_lufs.map_or("—".into(), |l| format!("{l:.1} LUFS")),
        a.peak_dbfs.map_or("−∞".into(), |d| format!("{d:.1}"))
    );
    let _ = writeln!(
        s,
        "tempo         {}",
        a.tempo_bpm.map_or("—".into(), |t| format!("{t:.1} BPM ({} beats)", a.beat_count))
    );
    let _ = writeln!(
        s,
        "vocal range   {} – {}  ({} – {})",
        note(&p.low_note),
        note(&p.high_note),
        hz(p.low_hz),
        hz(p.high_hz)
    );
    let _ = writeln!(
        s,
        "comfortable   {} – {}  ({} – {}), median {} ({})",
        note(&p.comfort_low_note),
        note(&p.comfort_high_note),
        hz(p.comfort_low_hz),
        hz(p.comfort_high_hz),
        note(&p.median_note),
        hz(p.median_hz)
    );
    let _ = writeln!(
        s,
        "voiced        {:.0}% of frames; the range is from {:.1} s of singing ({:.0}% of the recording, {})",
        p.voiced_fraction * 100.0,
        p.singing_seconds,
        p.usable_fraction * 100.0,
        if p.tracker.is_empty() { "pyin" } else { &p.tracker }
    );
    if let Some(w) = &p.range_warning {
        let _ = writeln!(s, "note          {w}");
    }
    let _ = writeln!(s, "brightness    centroid {:.0} Hz", a.spectral.centroid_hz.mean);
    let mf: Vec<String> = a.mfcc.mean.iter().take(13).map(|v| format!("{v:.1}")).collect();
    let _ = writeln!(s, "timbre        MFCC 1–13 means [{}]", mf.join(", "));
    if let Some(e) = &a.embedding {
        let _ = writeln!(s, "voice         {}-d embedding from {} {}", e.vector.len(), e.model, e.version);
    }
    let _ = writeln!(s, "analysed in   {:.2} s", took.as_secs_f64());
    s
}
