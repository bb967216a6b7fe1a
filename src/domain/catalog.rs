//! The song catalog and the recommendation rule: which songs fit a measured
//! voice. Pure: parsing a catalog file's text and ranking songs, no I/O.
//!
//! A song's score combines two things the original service used: how well the
//! singer's measured range (5th–95th percentile of voiced F0) covers the song's
//! range, counted in semitones outside it, and timbre similarity, the cosine of
//! the 13 MFCC means after standardising each coefficient over the catalog (the
//! catalog's MFCCs come from another front end, so only their relative position
//! is comparable).

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// MFCC means per song.
pub const N_MFCC: usize = 13;
/// Range fit is `exp(-semitones outside / RANGE_SCALE)`: 1 inside the range,
/// 0.37 an octave out, and still decreasing further out (the catalog's pitch
/// figures run higher than sung F0, so many songs lie far out for every voice
/// and must still be ordered).
const RANGE_SCALE_SEMITONES: f64 = 12.0;
/// Weight of the range fit in the score; the rest is timbre.
const RANGE_WEIGHT: f64 = 0.6;
/// With `strict_range`, songs more than this many semitones outside are left out.
const STRICT_TOLERANCE_SEMITONES: f64 = 1.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    pub song_id: i64,
    pub song_name: String,
    pub artist_name: String,
    pub album_name: String,
    pub spotify_track_id: String,
    pub duration_ms: i64,
    pub popularity: i64,
    pub mfcc: [f64; N_MFCC],
    pub pitch_low: f64,
    pub pitch_high: f64,
    pub pitch_avg: f64,
    pub spotify_popularity: Option<i64>,
}

/// A catalog file that could not be read, with the line it is on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("the header lacks the column {0:?}")]
    MissingColumn(&'static str),
    #[error("not a CSV file: {0}")]
    Csv(String),
}

const COLUMNS: [&str; 23] = [
    "song_id",
    "song_name",
    "artist_name",
    "album_name",
    "spotify_track_id",
    "duration_ms",
    "popularity",
    "mfcc_0",
    "mfcc_1",
    "mfcc_2",
    "mfcc_3",
    "mfcc_4",
    "mfcc_5",
    "mfcc_6",
    "mfcc_7",
    "mfcc_8",
    "mfcc_9",
    "mfcc_10",
    "mfcc_11",
    "mfcc_12",
    "pitch_low",
    "pitch_high",
    "pitch_avg",
];

/// Parses a catalog in `songs.csv`'s columns (any order; `spotify_popularity`
/// optional). Every malformed row is reported, each with its line number.
pub fn parse_catalog(text: &str) -> Result<Vec<Song>, Vec<CatalogError>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| vec![CatalogError::Csv(e.to_string())])?.clone();
    let mut index = [0usize; 23];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        *slot = header.iter().position(|h| h.trim() == name).ok_or(vec![CatalogError::MissingColumn(name)])?;
    }
    let spotify = header.iter().position(|h| h.trim() == "spotify_popularity");
    let (mut songs, mut errors) = (Vec::new(), Vec::new());
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(CatalogError::Row { line, message: e.to_string() });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        match parse_row(&record, &index, spotify) {
            Ok(song) if !seen.insert(song.song_id) => {
                errors.push(CatalogError::Row { line, message: format!("song_id {} appears twice", song.song_id) })
            }
            Ok(song) => songs.push(song),
            Err(message) => errors.push(CatalogError::Row { line, message }),
        }
    }
    if errors.is_empty() { Ok(songs) } else { Err(errors) }
}

fn parse_row(r: &csv::StringRecord, index: &[usize; 23], spotify: Option<usize>) -> Result<Song, String> {
    let field = |i: usize| r.get(index[i]).map(str::trim).ok_or_else(|| format!("missing column {}", COLUMNS[i]));
    let int = |i: usize| -> Result<i64, String> {
        let v = field(i)?;
        v.parse::<i64>().map_err(|_| format!("{} is not an integer: {v:?}", COLUMNS[i]))
    };
    let num = |i: usize| -> Result<f64, String> {
        let v = field(i)?;
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(format!("{} is not a number: {v:?}", COLUMNS[i])),
        }
    };
    let text = |i: usize| -> Result<String, String> { Ok(field(i)?.to_owned()) };
    let mut mfcc = [0.0; N_MFCC];
    for (k, m) in mfcc.iter_mut().enumerate() {
        *m = num(7 + k)?;
    }
    let song = Song {
        song_id: int(0)?,
        song_name: text(1)?,
        artist_name: text(2)?,
        album_name: text(3)?,
        spotify_track_id: text(4)?,
        duration_ms: int(5)?,
        popularity: int(6)?,
        mfcc,
        pitch_low: num(20)?,
        pitch_high: num(21)?,
        pitch_avg: num(22)?,
        spotify_popularity: match spotify.and_then(|i| r.get(i)).map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(v.parse::<i64>().map_err(|_| format!("spotify_popularity is not an integer: {v:?}"))?),
        },
    };
    if song.song_name.is_empty() {
        return Err("song_name is empty".into());
    }
    if !(song.pitch_low > 0.0 && song.pitch_low <= song.pitch_high) {
        return Err(format!("pitch_low {} and pitch_high {} are not a range", song.pitch_low, song.pitch_high));
    }
    if song.popularity < 0 {
        return Err("popularity is negative".into());
    }
    Ok(song)
}

/// What is known of a singer's voice.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceProfile {
    /// 5th and 95th percentile of voiced F0, Hz; `None` without voiced frames.
    pub range_hz: Option<(f64, f64)>,
    /// The first 13 MFCC means.
    pub mfcc: [f64; N_MFCC],
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendOptions {
    pub top_n: usize,
    pub min_popularity: i64,
    pub strict_range: bool,
}

/// Why a song was ranked where it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reasons {
    /// 0..1: 1 when the song lies inside the singer's range, e^-1 an octave out.
    pub range_fit: Option<f64>,
    /// How far the song goes below the singer's lowest note, semitones (0 when it does not).
    pub semitones_below: Option<f64>,
    /// How far the song goes above the singer's highest note, semitones.
    pub semitones_above: Option<f64>,
    /// Cosine of the standardised MFCC means, −1..1.
    pub timbre_similarity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub song_id: i64,
    pub song_name: String,
    pub artist_name: String,
    /// 0..1, higher is better.
    pub score: f64,
    pub reasons: Reasons,
}

/// Per-coefficient mean and standard deviation over the catalog.
fn standardiser(songs: &[Song]) -> ([f64; N_MFCC], [f64; N_MFCC]) {
    let n = songs.len().max(1) as f64;
    let mut mean = [0.0; N_MFCC];
    let mut std = [0.0; N_MFCC];
    for s in songs {
        for (m, x) in mean.iter_mut().zip(&s.mfcc) {
            *m += x / n;
        }
    }
    for s in songs {
        for ((d, x), m) in std.iter_mut().zip(&s.mfcc).zip(&mean) {
            *d += (x - m).powi(2) / n;
        }
    }
    for v in &mut std {
        *v = if v.sqrt() > 1e-12 { v.sqrt() } else { 1.0 };
    }
    (mean, std)
}

fn cosine(a: &[f64; N_MFCC], b: &[f64; N_MFCC]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 { dot / norm } else { 0.0 }
}

/// Semitones from `a` up to `b`.
fn semitones(a: f64, b: f64) -> f64 {
    12.0 * (b / a).log2()
}

/// Ranks the catalog for a voice; disliked songs and songs under `min_popularity`
/// never appear; with `strict_range`, neither do songs outside the range.
pub fn recommend(
    voice: &VoiceProfile,
    songs: &[Song],
    disliked: &HashSet<i64>,
    opts: RecommendOptions,
) -> Vec<Recommendation> {
    let (mean, std) = standardiser(songs);
    let z = |m: &[f64; N_MFCC]| {
        let mut out = [0.0; N_MFCC];
        for k in 0..N_MFCC {
            out[k] = (m[k] - mean[k]) / std[k];
        }
        out
    };
    let voice_z = z(&voice.mfcc);
    let mut ranked: Vec<Recommendation> = songs
        .iter()
        .filter(|s| s.popularity >= opts.min_popularity && !disliked.contains(&s.song_id))
        .filter_map(|s| {
            let timbre = cosine(&voice_z, &z(&s.mfcc));
            let (fit, below, above) = match voice.range_hz {
                Some((low, high)) if low > 0.0 && high >= low => {
                    let below = semitones(s.pitch_low, low).max(0.0);
                    let above = semitones(high, s.pitch_high).max(0.0);
                    (Some((-(below + above) / RANGE_SCALE_SEMITONES).exp()), Some(below), Some(above))
                }
                _ => (None, None, None),
            };
            if opts.strict_range
                && let (Some(b), Some(a)) = (below, above)
                && b + a > STRICT_TOLERANCE_SEMITONES
            {
                return None;
            }
            let timbre01 = (timbre + 1.0) / 2.0;
            let score = match fit {
                Some(f) => RANGE_WEIGHT * f + (1.0 - RANGE_WEIGHT) * timbre01,
                None => timbre01,
            };
            let round = |v: f64| (v * 1000.0).round() / 1000.0;
            Some(Recommendation {
                song_id: s.song_id,
                song_name: s.song_name.clone(),
                artist_name: s.artist_name.clone(),
                score: round(score),
                reasons: Reasons {
                    range_fit: fit.map(round),
                    semitones_below: below.map(round),
                    semitones_above: above.map(round),
                    timbre_similarity: round(timbre),
                },
            })
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.song_id.cmp(&b.song_id)));
    ranked.truncate(opts.top_n);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "song_id,song_name,artist_name,album_name,spotify_track_id,duration_ms,popularity,mfcc_0,mfcc_1,mfcc_2,mfcc_3,mfcc_4,mfcc_5,mfcc_6,mfcc_7,mfcc_8,mfcc_9,mfcc_10,mfcc_11,mfcc_12,pitch_low,pitch_high,pitch_avg,spotify_popularity";

    fn row(id: i64, low: f64, high: f64, m0: f64) -> String {
        format!("{id},Song {id},Artist,Album,x{id},180000,{id},{m0},1,2,3,4,5,6,7,8,9,10,11,12,{low},{high},200,5")
    }

    fn opts() -> RecommendOptions {
        RecommendOptions { top_n: 10, min_popularity: 0, strict_range: false }
    }

    #[test]
    fn the_shipped_catalog_parses() {
        let songs = parse_catalog(include_str!("../../catalog/songs.csv")).expect("catalog");
        assert_eq!(songs.len(), 118);
        assert!(songs.iter().all(|s| s.pitch_low > 0.0));
    }

    #[test]
    fn malformed_rows_are_reported_with_their_lines() {
        let text = format!(
            "{HEADER}\n{}\n17,Bad,A,B,x,oops,0,1,1,1,1,1,1,1,1,1,1,1,1,1,100,200,150,\n{}\n{}\n",
            row(1, 100.0, 300.0, 0.0),
            row(2, 300.0, 100.0, 0.0),
            row(1, 100.0, 300.0, 0.0)
        );
        let errors = parse_catalog(&text).expect_err("bad rows");
        let lines: Vec<u64> = errors
            .iter()
            .map(|e| match e {
                CatalogError::Row { line, .. } => *line,
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(lines, [3, 4, 5], "{errors:?}");
        assert!(errors[0].to_string().contains("duration_ms is not an integer"), "{}", errors[0]);
        assert!(errors[2].to_string().contains("appears twice"));
        assert!(
            matches!(parse_catalog("a,b\n1,2\n"), Err(e) if matches!(e[0], CatalogError::MissingColumn("song_id")))
        );
    }

    #[test]
    fn range_fit_counts_semitones_outside_the_voice() {
        let songs = parse_catalog(&format!("{HEADER}\n{}\n{}\n", row(1, 110.0, 220.0, 0.0), row(2, 220.0, 880.0, 0.0)))
            .expect("songs");
        let voice = VoiceProfile { range_hz: Some((110.0, 440.0)), mfcc: songs[0].mfcc };
        let r = recommend(&voice, &songs, &HashSet::new(), opts());
        assert_eq!(r[0].song_id, 1);
        assert_eq!(r[0].reasons.range_fit, Some(1.0));
        assert_eq!(r[1].reasons.semitones_above, Some(12.0));
        assert_eq!(r[1].reasons.range_fit, Some(0.368));
        let strict = recommend(&voice, &songs, &HashSet::new(), RecommendOptions { strict_range: true, ..opts() });
        assert_eq!(strict.len(), 1);
    }

    #[test]
    fn dislikes_popularity_and_top_n_filter() {
        let songs = parse_catalog(&format!(
            "{HEADER}\n{}\n{}\n{}\n",
            row(1, 110.0, 220.0, 0.0),
            row(2, 110.0, 220.0, 1.0),
            row(3, 110.0, 220.0, 2.0)
        ))
        .expect("songs");
        let voice = VoiceProfile { range_hz: Some((100.0, 300.0)), mfcc: songs[0].mfcc };
        let disliked: HashSet<i64> = [1].into();
        let r = recommend(&voice, &songs, &disliked, RecommendOptions { min_popularity: 3, ..opts() });
        assert_eq!(r.iter().map(|r| r.song_id).collect::<Vec<_>>(), [3]);
        assert_eq!(recommend(&voice, &songs, &HashSet::new(), RecommendOptions { top_n: 2, ..opts() }).len(), 2);
        assert!(recommend(&voice, &[], &HashSet::new(), opts()).is_empty());
    }
}
