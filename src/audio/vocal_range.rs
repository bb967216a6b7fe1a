//! Which pitched frames are the singer: the range where a backing track, reverb
//! or noise is in the room.
//!
//! A pitch tracker follows whatever is most periodic. Between phrases that is the
//! backing track, and under a loud accompaniment it is sometimes another part for
//! a few notes. Both show up as pitch the singer never sang, and the range ends
//! (5th and 95th percentiles) are exactly where a few seconds of them land.
//!
//! The method works on notes, not frames: runs of voiced frames whose pitch moves
//! less than a semitone from frame to frame (vibrato and glides stay inside a
//! run), at least [`MIN_NOTE_S`] long. Then:
//! - **Held to the melody** ([`follow_melody`], when `Limits::follow_melody` asks
//!   for it, as `auto` does): before anything else, a frame more than a semitone
//!   from the predominant melody (the strongest harmonic line,
//!   [`salience`](super::salience)) takes the melody's pitch, unless it sits on a
//!   subharmonic of it that the spectrum says sounds; under a backing track 5 dB
//!   down this is what keeps the tracker on the singer.
//! - **Subharmonics repaired** ([`repair_subharmonics`]): a note off the melody
//!   reported an octave or a twelfth below the singer is moved up where its
//!   harmonics say it is.
//! - **Level gate, relative to the singer.** Levels are the melody line's own
//!   where there is one (see `Candidate::level_db`). The singer's level is the level most
//!   of the sung time reaches (duration-weighted 80th percentile of the notes'
//!   median frame levels). When the notes' levels fall into two classes well
//!   apart and the quiet one is as quiet as the recording's quietest moments
//!   (the backing the tracker followed while the singer rested), only the loud
//!   class is kept; in any case nothing more than [`MAX_BELOW_DB`] below the
//!   singer.
//! - **Outliers.** A note more than [`MAX_LEAP_ST`] semitones from the
//!   duration-weighted median of the kept notes around it (±[`CONTEXT_S`]) is a
//!   tracker jumping to a drum or a far part, not the melody: dropped. (Melodies
//!   do leap an octave — a chorale bass at a cadence — so the bound is wider.)
//!
//! What is left is reported with how much of the recording it is, and a plain
//! warning when it is too little to answer with a range.

use super::salience::{Candidate, SUBHARMONICS};

/// Shortest run of steady pitch counted as a note.
pub const MIN_NOTE_S: f64 = 0.1;
/// Largest frame-to-frame pitch step inside one note, semitones.
const STEP_ST: f64 = 1.0;
/// A note is never kept this far below the singer's level, dB.
pub const MAX_BELOW_DB: f64 = 15.0;
/// Farthest a note may sit from the notes around it, semitones.
pub const MAX_LEAP_ST: f64 = 16.0;
/// Half-width of the neighbourhood a note is compared with, seconds.
pub const CONTEXT_S: f64 = 3.0;
/// Less sung time than this gives no trustworthy range.
pub const MIN_SINGING_S: f64 = 3.0;

/// The frames a range is computed from, and how much of the recording they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SungFrames {
    /// Pitch of every kept frame, Hz (unsorted, in time order).
    pub hz: Vec<f64>,
    /// Seconds of singing kept.
    pub singing_s: f64,
    /// Kept frames over all frames, 0..=1.
    pub usable_fraction: f64,
    /// Set when the recording cannot support a range answer, in words.
    pub warning: Option<String>,
    /// Per frame of the track, whether it was kept as the singer's.
    pub kept: Vec<bool>,
}

#[derive(Debug, Clone, Copy)]
struct Note {
    start: usize,
    end: usize,
    /// Median pitch, semitones (relative to A4).
    st: f64,
    /// Median frame level, dB.
    level: f64,
}

impl Note {
    fn len(&self) -> usize {
        self.end - self.start
    }
    fn centre(&self) -> f64 {
        (self.start + self.end) as f64 / 2.0
    }
}

fn semitones(hz: f64) -> f64 {
    12.0 * (hz / 440.0).log2()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

/// The value at weighted quantile `q` (0..=1) of `(value, weight)` pairs.
fn weighted_quantile(mut v: Vec<(f64, f64)>, q: f64) -> f64 {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|p| p.1).sum();
    let mut acc = 0.0;
    for &(x, w) in &v {
        acc += w;
        if acc >= q * total {
            return x;
        }
    }
    v.last().map_or(f64::NAN, |p| p.0)
}

/// Runs of voiced frames whose pitch moves less than [`STEP_ST`] per frame, at
/// least `min_frames` long.
fn runs(f0: &[Option<f64>], min_frames: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for t in 0..=f0.len() {
        let here = f0.get(t).copied().flatten();
        let breaks = match (start, here) {
            (Some(_), Some(h)) => f0[t - 1].is_none_or(|p| (semitones(h) - semitones(p)).abs() > STEP_ST),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if breaks
            && let Some(s) = start.take()
            && t - s >= min_frames
        {
            out.push((s, t));
        }
        if start.is_none() && here.is_some() {
            start = Some(t);
        }
    }
    out
}

fn notes(f0: &[Option<f64>], level_db: &[f32], min_frames: usize) -> Vec<Note> {
    runs(f0, min_frames)
        .into_iter()
        .map(|(s, e)| {
            let mut p: Vec<f64> = f0[s..e].iter().flatten().map(|&h| semitones(h)).collect();
            let mut l: Vec<f64> = level_db[s..e].iter().map(|&d| f64::from(d)).collect();
            Note { start: s, end: e, st: median(&mut p), level: median(&mut l) }
        })
        .collect()
}

/// Highest harmonic looked at when weighing a note's harmonics.
const HARMONICS: usize = 12;
/// Harmonics above this frequency are left out (too little voice energy there
/// to weigh, and the spectrum's bands are wide).
const HARMONIC_CEILING_HZ: f64 = 5000.0;
/// A note whose harmonics off every `m`-th carry less than this share of its
/// harmonic energy is really at `m` times its pitch.
pub const SUBHARMONIC_SHARE: f64 = 0.2;

/// Moves notes the tracker put an octave (or a twelfth) below the singer up to
/// where their harmonics say they are, when that also brings them nearer the
/// melody around them (the duration-weighted median of the notes within
/// ±[`CONTEXT_S`]).
///
/// Under a backing track the common period of the voice and a lower part is
/// often the strongest, so the tracker reports `f/2` or `f/3`. The spectrum
/// tells: at a true pitch `f` every harmonic `k·f` carries voice energy, while
/// at a reported `f/m` the harmonics that are not multiples of `m` hold only the
/// accompaniment. `power(t, hz)` is the spectral power near `hz` in frame `t`.
/// A note most of whose frames are `settled` (on the predominant melody, which
/// weighed their octave with a finer spectrum: [`on_melody`]) stays as it is.
pub fn repair_subharmonics(f0: &mut [Option<f64>], settled: &[bool], frame_s: f64, power: &dyn Fn(usize, f64) -> f64) {
    let min_frames = ((MIN_NOTE_S / frame_s).ceil() as usize).max(1);
    let notes: Vec<(usize, usize, f64)> = runs(f0, min_frames)
        .into_iter()
        .map(|(s, e)| {
            let mut p: Vec<f64> = f0[s..e].iter().flatten().copied().collect();
            (s, e, median(&mut p))
        })
        .collect();
    // First what the harmonics say of each note on its own…
    let said: Vec<Option<f64>> = notes
        .iter()
        .map(|&(s, e, f)| {
            if 2 * settled.get(s..e).map_or(0, |m| m.iter().filter(|&&x| x).count()) > e - s {
                return None;
            }
            let energy = |step: usize| -> f64 {
                (step..=HARMONICS)
                    .step_by(step)
                    .map(|k| k as f64 * f)
                    .take_while(|&h| h <= HARMONIC_CEILING_HZ)
                    .map(|h| (s..e).map(|t| power(t, h)).sum::<f64>())
                    .sum()
            };
            let all = energy(1);
            if all <= 0.0 {
                return None;
            }
            [2usize, 3]
                .into_iter()
                .take_while(|&m| f * m as f64 <= super::frames::FMAX_C6)
                .find(|&m| (all - energy(m)) / all < SUBHARMONIC_SHARE)
                .map(|m| m as f64)
        })
        .collect();
    // …then a move is made only where it brings the note nearer the melody around
    // it, as the harmonics say that melody goes (a low note sung on a strong second
    // harmonic stays where it is; under a loud backing track, where most notes
    // slip, the melody is the moved one).
    let heard: Vec<f64> = notes.iter().zip(&said).map(|(n, m)| semitones(n.2 * m.unwrap_or(1.0))).collect();
    let context = CONTEXT_S / frame_s;
    let mut moves = Vec::new();
    for (i, &(s, e, f)) in notes.iter().enumerate() {
        let Some(m) = said[i] else { continue };
        let centre = (s + e) as f64 / 2.0;
        let around: Vec<(f64, f64)> = notes
            .iter()
            .zip(&heard)
            .filter(|(n, _)| ((n.0 + n.1) as f64 / 2.0 - centre).abs() <= context)
            .map(|(n, &st)| (st, (n.1 - n.0) as f64))
            .collect();
        let melody = weighted_quantile(around, 0.5);
        if (semitones(f * m) - melody).abs() < (semitones(f) - melody).abs() {
            moves.push((s, e, m));
        }
    }
    for (s, e, m) in moves {
        for h in f0[s..e].iter_mut().flatten() {
            *h *= m;
        }
    }
}

/// Farthest a tracker's frame may sit from the predominant melody (or from one
/// of its subharmonics) and still be taken as on it, semitones.
pub const MELODY_AGREE_ST: f64 = 1.0;

/// Where the tracker sits on a subharmonic `m/k` of the melody `m`, the tracker
/// stays when `m/k`'s own harmonics (those `m` does not explain) sound at least
/// this loud against the envelope through the ones it does, dB: a genuine
/// fundamental's harmonics lie on one envelope (≈ 0 dB); −3 dB is half its power.
pub const SUBHARMONIC_EVIDENCE_DB: f32 = -3.0;

/// How a tracker's frame relates to the melody's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// Within [`MELODY_AGREE_ST`].
    Agrees,
    /// On the melody's `k`-th subharmonic.
    Below(usize),
    /// Anywhere else: another line.
    Elsewhere,
}

fn relation(tracker_hz: f64, melody_hz: f64) -> Relation {
    let up = semitones(melody_hz) - semitones(tracker_hz);
    if up.abs() <= MELODY_AGREE_ST {
        return Relation::Agrees;
    }
    (2..=SUBHARMONICS)
        .find(|&k| (up - 12.0 * (k as f64).log2()).abs() <= MELODY_AGREE_ST)
        .map_or(Relation::Elsewhere, Relation::Below)
}

/// Per frame, whether the tracker's pitch is on the melody's (within
/// [`MELODY_AGREE_ST`]).
pub fn on_melody(f0: &[Option<f64>], melody: &[Option<Candidate>]) -> Vec<bool> {
    f0.iter()
        .zip(melody)
        .map(|(f, m)| matches!((f, m), (Some(f), Some(m)) if relation(*f, m.hz()) == Relation::Agrees))
        .collect()
}

/// The tracker's pitch where it follows the predominant melody
/// ([`salience::predominant`](super::salience::predominant)), the melody's where it
/// does not: under a loud backing track the tracker follows another part (or the
/// common period an octave below) for whole phrases, while the harmonic salience
/// still hears the singer as the strongest line. Where the two agree the
/// tracker's finer pitch stays; unvoiced frames stay unvoiced (the voicing is the
/// tracker's).
///
/// Where the tracker sits on a subharmonic of the melody (an octave, a twelfth,
/// two octaves below), either can be wrong: the tracker locks onto the common
/// period of voice and backing, and the salience onto a multiple of a low voice
/// whose energy is in its upper harmonics. The spectrum decides, per run of such
/// frames: the tracker stays where the melody's candidates say the lower pitch
/// sounds on its own ([`Candidate::subharmonic_db`], median over the run, at least
/// [`SUBHARMONIC_EVIDENCE_DB`]). Returns how many frames moved.
pub fn follow_melody(f0: &mut [Option<f64>], melody: &[Option<Candidate>]) -> usize {
    let n = f0.len().min(melody.len());
    let rel: Vec<Option<Relation>> = (0..n).map(|t| Some(relation(f0[t]?, melody[t]?.hz()))).collect();
    let mut moved = 0;
    let mut t = 0;
    let mut evidence = Vec::new();
    while t < n {
        let Some(r) = rel[t] else {
            t += 1;
            continue;
        };
        let start = t;
        while t < n && rel[t] == Some(r) {
            t += 1;
        }
        let take = match r {
            Relation::Agrees => false,
            Relation::Elsewhere => true,
            Relation::Below(k) => {
                evidence.clear();
                evidence.extend(melody[start..t].iter().flatten().filter_map(|c| c.subharmonic_db(k)));
                evidence.sort_by(f32::total_cmp);
                evidence.get(evidence.len() / 2).is_none_or(|&db| db < SUBHARMONIC_EVIDENCE_DB)
            }
        };
        if take {
            for (f, m) in f0[start..t].iter_mut().zip(&melody[start..t]) {
                if let (Some(hz), Some(c)) = (f.as_mut(), m) {
                    *hz = c.hz();
                    moved += 1;
                }
            }
        }
    }
    moved
}

/// Two level classes at least this far apart (means, dB) are singer and accompaniment.
pub const CLASS_GAP_DB: f64 = 6.0;

/// How near the recording's quietest moments the quiet class must sit to be the
/// accompaniment, dB.
const FLOOR_MARGIN_DB: f64 = 4.0;

/// The level splitting notes into a loud class (the singer) and a quiet one (the
/// accompaniment the tracker followed while the singer rested), when the notes
/// fall into two such classes: Otsu's threshold on the duration-weighted note
/// levels, kept only when the classes' means are [`CLASS_GAP_DB`] apart, the
/// quiet class is at most half of the pitched time (the singer sings most of it)
/// and it is as quiet as the recording's quietest moments (`quietest`, the 5th
/// percentile of all frames: breaths and rests, where a backing track plays on
/// alone). In a clean recording those moments are near silence, and a soft
/// passage, far above them, stays.
fn accompaniment_split(notes: &[Note], quietest: f64) -> Option<f64> {
    let mut by_level: Vec<(f64, f64)> = notes.iter().map(|n| (n.level, n.len() as f64)).collect();
    by_level.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total_w: f64 = by_level.iter().map(|p| p.1).sum();
    let total_lw: f64 = by_level.iter().map(|p| p.0 * p.1).sum();
    let (mut w0, mut lw0) = (0.0, 0.0);
    // (between-class variance, split, gap, quiet share, quiet mean)
    let mut best: Option<(f64, f64, f64, f64, f64)> = None;
    for i in 0..by_level.len().saturating_sub(1) {
        w0 += by_level[i].1;
        lw0 += by_level[i].0 * by_level[i].1;
        if by_level[i + 1].0 <= by_level[i].0 {
            continue;
        }
        let w1 = total_w - w0;
        let (m0, m1) = (lw0 / w0, (total_lw - lw0) / w1);
        let var = w0 * w1 * (m1 - m0).powi(2);
        if best.is_none_or(|b| var > b.0) {
            best = Some((var, by_level[i + 1].0, m1 - m0, w0 / total_w, m0));
        }
    }
    best.filter(|b| b.2 >= CLASS_GAP_DB && b.3 <= 0.5 && b.4 <= quietest + FLOOR_MARGIN_DB).map(|b| b.1)
}

/// The singer's frames of a pitch track. `level_db` is each frame's level (any
/// dB reference, the same for all frames); `frame_s` the frame period.
pub fn sung_frames(f0: &[Option<f64>], level_db: &[f32], frame_s: f64) -> SungFrames {
    let n = f0.len().min(level_db.len());
    let (f0, level_db) = (&f0[..n], &level_db[..n]);
    if n == 0 {
        return SungFrames { warning: Some("no audio to find a voice in".into()), ..Default::default() };
    }
    let min_frames = ((MIN_NOTE_S / frame_s).ceil() as usize).max(1);
    let all = notes(f0, level_db, min_frames);
    let voiced = f0.iter().flatten().count();
    let mut kept: Vec<Note> = Vec::new();
    if !all.is_empty() {
        let singer = weighted_quantile(all.iter().map(|n| (n.level, n.len() as f64)).collect(), 0.8);
        let mut levels: Vec<f64> = level_db.iter().map(|&d| f64::from(d)).collect();
        levels.sort_by(f64::total_cmp);
        let quietest = levels[(levels.len() - 1) * 5 / 100];
        let gate =
            accompaniment_split(&all, quietest).map_or(singer - MAX_BELOW_DB, |split| split.max(singer - MAX_BELOW_DB));
        let loud: Vec<Note> = all.iter().copied().filter(|n| n.level >= gate).collect();
        let context = CONTEXT_S / frame_s;
        kept = loud
            .iter()
            .copied()
            .filter(|n| {
                let around: Vec<(f64, f64)> = loud
                    .iter()
                    .filter(|m| (m.centre() - n.centre()).abs() <= context)
                    .map(|m| (m.st, m.len() as f64))
                    .collect();
                (n.st - weighted_quantile(around, 0.5)).abs() <= MAX_LEAP_ST
            })
            .collect();
    }
    let hz: Vec<f64> = kept.iter().flat_map(|n| f0[n.start..n.end].iter().flatten().copied()).collect();
    let mut mask = vec![false; n];
    for note in &kept {
        for (m, f) in mask[note.start..note.end].iter_mut().zip(&f0[note.start..note.end]) {
            *m = f.is_some();
        }
    }
    let singing_s = hz.len() as f64 * frame_s;
    let warning = if singing_s < MIN_SINGING_S {
        Some(format!(
            "only {singing_s:.1} s of steady singing was found; sing for at least {MIN_SINGING_S:.0} s for a range"
        ))
    } else if (hz.len() as f64) < 0.4 * voiced as f64 {
        Some(format!(
            "most of the pitched sound ({:.0}%) is not the singer (a backing track or other voices); the range is from the {singing_s:.0} s that stood out as singing",
            100.0 * (1.0 - hz.len() as f64 / voiced as f64)
        ))
    } else {
        None
    };
    SungFrames { usable_fraction: hz.len() as f64 / n as f64, hz, singing_s, warning, kept: mask }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME_S: f64 = 512.0 / 22050.0;

    fn hz(midi: f64) -> f64 {
        440.0 * 2f64.powf((midi - 69.0) / 12.0)
    }

    /// A melody at −10 dB… 0 dB with backing notes (−12 dB) in every rest.
    fn karaoke() -> (Vec<Option<f64>>, Vec<f32>, Vec<f64>) {
        let (mut f0, mut lv, mut sung) = (Vec::new(), Vec::new(), Vec::new());
        for (i, m) in [60.0, 62.0, 64.0, 65.0, 67.0, 65.0, 64.0, 62.0].iter().cycle().take(40).enumerate() {
            for k in 0..20 {
                let vib = 0.25 * (k as f64 * 0.8).sin();
                f0.push(Some(hz(m + vib)));
                lv.push(-20.0 - (i % 3) as f32);
                sung.push(hz(m + vib));
            }
            // A rest where the tracker follows a bass note of the backing.
            for _ in 0..8 {
                f0.push(Some(hz(40.0)));
                lv.push(-33.0);
            }
            f0.push(None);
            lv.push(-60.0);
        }
        (f0, lv, sung)
    }

    #[test]
    fn backing_notes_in_the_rests_are_not_the_singer() {
        let (f0, lv, sung) = karaoke();
        let s = sung_frames(&f0, &lv, FRAME_S);
        assert_eq!(s.hz, sung, "every sung frame and nothing else");
        assert!(s.warning.is_none());
        assert!((s.singing_s - sung.len() as f64 * FRAME_S).abs() < 1e-9);
    }

    #[test]
    fn a_clean_recording_keeps_its_soft_notes() {
        let (f0, mut lv, _) = karaoke();
        // No backing: the rests are silent, and one soft phrase sits 12 dB down.
        let mut f0: Vec<Option<f64>> = f0.iter().map(|h| h.filter(|&h| h > hz(41.0))).collect();
        for (t, l) in lv.iter_mut().enumerate() {
            if f0[t].is_none() {
                *l = -70.0;
            } else if t < 200 {
                *l -= 12.0;
            }
        }
        f0.push(None);
        let s = sung_frames(&f0, &lv, FRAME_S);
        assert_eq!(s.hz.len(), f0.iter().flatten().count());
    }

    #[test]
    fn a_note_far_from_the_melody_is_dropped_an_octave_leap_is_not() {
        let (mut f0, lv, sung) = karaoke();
        // The tracker jumps two octaves up for one loud note; later the singer
        // really leaps an octave down for one note.
        for h in f0.iter_mut().take(20).skip(5) {
            *h = h.map(|x| x * 4.0);
        }
        for h in f0.iter_mut().take(29 * 20 + 20).skip(29 * 20) {
            *h = h.map(|x| x / 2.0);
        }
        let s = sung_frames(&f0, &lv, FRAME_S);
        assert!(s.hz.iter().all(|&h| h < hz(70.0)), "the stray note is gone");
        assert_eq!(s.hz.len(), sung.len() - 15, "only the stray note's 15 frames");
    }

    /// Spectral power of a voice singing `truth[t]` (all harmonics) over a faint floor.
    fn voice_power(truth: &[f64]) -> impl Fn(usize, f64) -> f64 + '_ {
        move |t, hz| {
            let k = hz / truth[t];
            if (k - k.round()).abs() < 0.03 && k.round() >= 1.0 { 1.0 / k.round() } else { 0.001 }
        }
    }

    #[test]
    fn a_note_tracked_an_octave_low_is_moved_up_to_its_harmonics() {
        let (f0, _, _) = karaoke();
        let truth: Vec<f64> = f0.iter().map(|h| h.unwrap_or(100.0)).collect();
        let mut tracked = f0.clone();
        // Frames 29..49 are the second sung note: the tracker halves it.
        for h in tracked.iter_mut().take(49).skip(29) {
            *h = h.map(|x| x / 2.0);
        }
        repair_subharmonics(&mut tracked, &[], FRAME_S, &voice_power(&truth));
        assert_eq!(tracked, f0, "only the halved note moved, back where it was");
    }

    #[test]
    fn a_true_low_note_stays_low() {
        let (f0, _, _) = karaoke();
        let truth: Vec<f64> = f0.iter().map(|h| h.unwrap_or(100.0)).collect();
        let mut tracked = f0.clone();
        repair_subharmonics(&mut tracked, &[], FRAME_S, &voice_power(&truth));
        assert_eq!(tracked, f0, "every harmonic is present: nothing to repair");
    }

    #[test]
    fn too_little_singing_says_so() {
        let f0: Vec<Option<f64>> = (0..60).map(|t| (t < 40).then(|| hz(60.0))).collect();
        let lv = vec![-20.0; 60];
        let s = sung_frames(&f0, &lv, FRAME_S);
        assert!(s.warning.as_deref().is_some_and(|w| w.contains("at least 3 s")), "{:?}", s.warning);
        let none = sung_frames(&[], &[], FRAME_S);
        assert!(none.hz.is_empty() && none.warning.is_some());
    }

    /// A melody candidate at MIDI note `midi`, with `db` as the evidence for its
    /// octave below.
    fn line(midi: f64, octave_below_db: Option<f32>) -> Option<Candidate> {
        let bin = (120.0 * (hz(midi) / super::super::salience::FMIN_HZ).log2()) as f32;
        let c = Candidate::new(bin, 1.0);
        Some(octave_below_db.map_or(c, |db| c.with_subharmonic_db(2, db)))
    }

    fn close(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => (semitones(*x) - semitones(*y)).abs() < 0.01,
                (None, None) => true,
                _ => false,
            })
    }

    #[test]
    fn the_melody_overrides_a_tracker_on_another_part_and_nothing_else() {
        // The tracker: on the singer (60), then a fifth below on the backing (53)
        // for a phrase, a frame 20 cents off, and an unvoiced rest.
        let f0 = [Some(hz(60.0)), Some(hz(53.0)), Some(hz(53.0)), Some(hz(60.2)), None, Some(hz(62.0))];
        let melody = [line(60.0, None), line(60.0, None), line(60.0, None), line(60.0, None), line(60.0, None), None];
        let mut got = f0;
        assert_eq!(follow_melody(&mut got, &melody), 2);
        let want = [Some(hz(60.0)), Some(hz(60.0)), Some(hz(60.0)), Some(hz(60.2)), None, Some(hz(62.0))];
        assert!(close(&got, &want), "{got:?}");
    }

    #[test]
    fn an_octave_below_the_melody_stays_only_where_its_own_harmonics_sound() {
        // Two phrases where the tracker is an octave under the melody (60 → 48).
        // In the first, 48's odd harmonics sound on the envelope (a low voice
        // whose energy is in its upper harmonics: the salience took its octave);
        // in the second they are 15 dB under it (the tracker locked onto the
        // common period with a backing part): the melody wins there. One frame of
        // the first phrase says otherwise; the phrase's median decides.
        let f0 = [Some(hz(48.0)); 7];
        let mut melody = [line(60.0, Some(-0.5)); 7];
        melody[1] = line(60.0, Some(-20.0));
        melody[3] = None;
        for m in &mut melody[4..] {
            *m = line(60.0, Some(-15.0));
        }
        let mut got = f0;
        assert_eq!(follow_melody(&mut got, &melody), 3);
        let mut want = [Some(hz(48.0)); 7];
        for w in &mut want[4..] {
            *w = Some(hz(60.0));
        }
        assert!(close(&got, &want), "{got:?}");
        // Without evidence (a subharmonic the spectrum could not judge) the melody
        // wins, as for any other line.
        let mut got = [Some(hz(48.0)); 2];
        assert_eq!(follow_melody(&mut got, &[line(60.0, None), line(60.0, None)]), 2);
    }
}
