//! Song recommendations on the real shipped catalog, over real HTTP, and the
//! catalog import command.

mod common;

use common::{BIN, Server};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference").join(name)
}

async fn recommend(s: &Server, token: &str, body: Value) -> reqwest::Response {
    s.client.post(s.url("/api/recommendations/songs")).bearer_auth(token).json(&body).send().await.unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v["items"].as_array().unwrap().iter().map(|i| i["song_id"].as_i64().unwrap()).collect()
}

/// The catalog's songs with the highest range (by `pitch_high`): the hardest for a low voice.
fn highest_songs(n: usize) -> Vec<i64> {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog/songs.csv")).unwrap();
    let songs = orakgaraki::domain::catalog::parse_catalog(&text).unwrap();
    let mut by_low: Vec<(f64, i64)> = songs.iter().map(|s| (s.pitch_high, s.song_id)).collect();
    by_low.sort_by(|a, b| b.0.total_cmp(&a.0));
    by_low.into_iter().take(n).map(|(_, id)| id).collect()
}

#[tokio::test]
async fn a_low_voice_gets_songs_it_can_sing_and_dislikes_stick() {
    let s = Server::start(&[("ORAK_MODEL__ENABLED", "false")]).await;
    let token = s.token("ana", false);
    // The reference speech: a low voice, range about E2–A#2 (82–117 Hz).
    let id = s.upload_presigned(&token, "low.wav", std::fs::read(reference("audio/speech_60s_16k.wav")).unwrap()).await;
    let rec = s.wait_terminal(&token, &id, T).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    let high_hz = rec["analysis"]["pitch"]["high_hz"].as_f64().unwrap();
    assert!(high_hz < 130.0, "{high_hz}");

    let r = recommend(&s, &token, json!({"record_id": id, "top_n": 118})).await;
    assert_eq!(r.status(), 200);
    let all: Value = r.json().await.unwrap();
    let ranked = ids(&all);
    assert_eq!(ranked.len(), 118, "the whole catalog, ranked");
    // The songs whose range starts highest never come first; they rank in the lower half.
    for song in highest_songs(3) {
        let pos = ranked.iter().position(|&x| x == song).unwrap();
        eprintln!("highest song {song} ranked {pos}");
        assert!(pos >= 59, "song {song} ranked {pos}");
    }
    let first = &all["items"][0];
    assert!(first["reasons"]["semitones_above"].as_f64().is_some(), "{first}");
    assert!(first["reasons"]["timbre_similarity"].as_f64().is_some(), "{first}");
    let scores: Vec<f64> = all["items"].as_array().unwrap().iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "scores descend");

    // Strict range leaves out what lies far outside this voice.
    let strict: Value =
        recommend(&s, &token, json!({"record_id": id, "top_n": 100, "strict_range": true})).await.json().await.unwrap();
    for item in strict["items"].as_array().unwrap() {
        let out =
            item["reasons"]["semitones_below"].as_f64().unwrap() + item["reasons"]["semitones_above"].as_f64().unwrap();
        assert!(out <= 1.0, "{item}");
    }
    assert!(ids(&strict).len() < 118);

    // A dislike removes the top song for this user only.
    let top = ranked[0];
    let d = s
        .client
        .post(s.url("/api/recommendations/dislikes"))
        .bearer_auth(&token)
        .json(&json!({"song_id": top}))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 204);
    let again: Value = recommend(&s, &token, json!({"record_id": id, "top_n": 118})).await.json().await.unwrap();
    assert!(!ids(&again).contains(&top));
    assert_eq!(ids(&again).len(), 117);
    let unknown = s
        .client
        .post(s.url("/api/recommendations/dislikes"))
        .bearer_auth(&token)
        .json(&json!({"song_id": 999_999}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Popularity filter, bad input, other users.
    let popular: Value =
        recommend(&s, &token, json!({"record_id": id, "top_n": 100, "min_popularity": 1})).await.json().await.unwrap();
    assert!(ids(&popular).len() <= 25, "93 of 118 songs have popularity 0");
    assert_eq!(recommend(&s, &token, json!({"record_id": id, "top_n": 0})).await.status(), 400);
    assert_eq!(recommend(&s, &token, json!({"record_id": id, "colour": "red"})).await.status(), 400);
    let other = s.token("bo", false);
    assert_eq!(recommend(&s, &other, json!({"record_id": id})).await.status(), 404);
    let anon = s.client.post(s.url("/api/recommendations/songs")).json(&json!({"record_id": id})).send().await.unwrap();
    assert_eq!(anon.status(), 401);
}

#[tokio::test]
async fn an_empty_catalog_answers_an_empty_list_and_import_fills_it() {
    let s = Server::start(&[("ORAK_CATALOG__IMPORT_DEFAULT", "false"), ("ORAK_MODEL__ENABLED", "false")]).await;
    let token = s.token("ana", false);
    let id = s.upload_presigned(&token, "tone.wav", common::sine_wav(2.0, 16_000, 220.0, 0.5)).await;
    assert_eq!(s.wait_terminal(&token, &id, T).await["status"], "COMPLETED");
    let r = recommend(&s, &token, json!({"record_id": id})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["items"], json!([]));

    let import = |file: &std::path::Path| {
        Command::new(BIN)
            .args(["catalog", "import"])
            .arg(file)
            .arg("--data-dir")
            .arg(&s.data_dir)
            .current_dir(&s.data_dir)
            .output()
            .unwrap()
    };
    // Malformed rows: every one reported with its line; nothing imported.
    let bad = s.data_dir.join("bad.csv");
    let good_text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog/songs.csv")).unwrap();
    let mut lines: Vec<String> = good_text.lines().take(4).map(str::to_owned).collect();
    lines[1] = lines[1].replace("188041", "soon"); // line 2: duration_ms is not a number
    lines.push("999,Half a row".into()); // line 5: columns missing
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let out = import(&bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: duration_ms is not an integer"), "{err}");
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    let still: Value = recommend(&s, &token, json!({"record_id": id})).await.json().await.unwrap();
    assert_eq!(still["items"], json!([]));

    // The real catalog, twice: the second run only updates.
    let good = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog/songs.csv");
    let first = String::from_utf8_lossy(&import(&good).stdout).into_owned();
    assert!(first.contains("118 new, 0 updated"), "{first}");
    let second = String::from_utf8_lossy(&import(&good).stdout).into_owned();
    assert!(second.contains("0 new, 118 updated"), "{second}");
    let filled: Value = recommend(&s, &token, json!({"record_id": id, "top_n": 5})).await.json().await.unwrap();
    assert_eq!(ids(&filled).len(), 5);
}
