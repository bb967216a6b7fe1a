//! "Voices like mine" through the running service: the persisted vector index,
//! visibility, `GET /api/records/{id}/similar` and `POST /api/search/similar`,
//! and the index surviving restarts, crashes, deletion and corruption of its files.

mod common;

use common::Server;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

fn reference(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/audio").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

async fn upload_done(s: &Server, token: &str, file: &str) -> String {
    let id = s.upload_presigned(token, file, reference(file)).await;
    let rec = s.wait_terminal(token, &id, T).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    assert!(rec["analysis"]["embedding"].is_object(), "no embedding: {rec}");
    id
}

async fn similar(s: &Server, token: &str, id: &str, k: usize) -> (u16, Value) {
    let r = s.client.get(s.url(&format!("/api/records/{id}/similar?k={k}"))).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn search(s: &Server, token: &str, body: Value) -> (u16, Value) {
    let r = s.client.post(s.url("/api/search/similar")).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn set_visibility(s: &Server, token: &str, id: &str, v: &str) -> u16 {
    let r = s
        .client
        .patch(s.url(&format!("/api/records/{id}")))
        .bearer_auth(token)
        .json(&json!({ "visibility": v }))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

fn ids(items: &Value) -> Vec<String> {
    items["items"].as_array().expect("items").iter().map(|i| i["record_id"].as_str().unwrap().to_owned()).collect()
}

/// Ana: four clips of one LibriVox reader (one public). Bo: a 60 s speech (public)
/// and the two-speaker pyannote sample (private).
struct World {
    ana: String,
    bo: String,
    cy: String,
    ana_clips: Vec<String>,
    bo_public: String,
    bo_private: String,
}

async fn world(s: &Server) -> World {
    let (ana, bo, cy) = (s.token("ana", false), s.token("bo", false), s.token("cy", false));
    let mut ana_clips = Vec::new();
    for clip in ["librivox_0870.wav", "librivox_0890.wav", "librivox_0920.wav", "librivox_0930.wav"] {
        ana_clips.push(upload_done(s, &ana, clip).await);
    }
    let bo_public = upload_done(s, &bo, "speech_60s_16k.wav").await;
    let bo_private = upload_done(s, &bo, "pyannote_sample.wav").await;
    assert_eq!(set_visibility(s, &ana, &ana_clips[3], "public").await, 200);
    let r = s
        .client
        .patch(s.url(&format!("/api/records/{}", ana_clips[3])))
        .bearer_auth(&ana)
        .json(&json!({ "display_name": "  Ana S. " }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["display_name"], "Ana S.");
    assert_eq!(set_visibility(s, &bo, &bo_public, "public").await, 200);
    World { ana, bo, cy, ana_clips, bo_public, bo_private }
}

#[tokio::test]
async fn similar_voices_respect_visibility_and_rank_the_same_speaker_first() {
    let s = Server::start(&[]).await;
    let w = world(&s).await;

    // Ana's own clips are the same reader: they come first, the query itself never.
    let (status, body) = similar(&s, &w.ana, &w.ana_clips[0], 10).await;
    assert_eq!(status, 200, "{body}");
    let got = ids(&body);
    assert!(!got.contains(&w.ana_clips[0]), "{body}");
    assert_eq!(got[..3].iter().collect::<HashSet<_>>(), w.ana_clips[1..].iter().collect::<HashSet<_>>(), "{body}");
    assert!(got.contains(&w.bo_public), "Bo's public record is visible to Ana: {body}");
    assert!(!got.contains(&w.bo_private), "Bo's private record leaked: {body}");
    let items = body["items"].as_array().unwrap();
    let scores: Vec<f64> = items.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|p| p[0] >= p[1]), "not sorted: {scores:?}");
    assert!(scores[0] > 0.8 && scores[0] <= 1.0001, "{scores:?}");
    assert_eq!(items[0]["mine"], true);
    assert!(items.iter().all(|i| i.get("owner").is_none()), "a user's answer names no user: {body}");
    assert!(items[0]["analysis_summary"]["duration_s"].as_f64().unwrap() > 1.0, "{body}");
    assert!(items[0]["analysis_summary"]["low_note"].is_string(), "{body}");

    // k limits the answer; bad k is refused.
    let (_, body) = similar(&s, &w.ana, &w.ana_clips[0], 2).await;
    assert_eq!(ids(&body).len(), 2);
    assert_eq!(similar(&s, &w.ana, &w.ana_clips[0], 0).await.0, 400);
    assert_eq!(similar(&s, &w.ana, &w.ana_clips[0], 1000).await.0, 400);

    // A stranger: 404 for a private record, and only public ones for a public record.
    assert_eq!(similar(&s, &w.cy, &w.ana_clips[0], 10).await.0, 404);
    assert_eq!(similar(&s, &w.cy, &w.bo_private, 10).await.0, 404);
    let (status, body) = similar(&s, &w.cy, &w.bo_public, 10).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), vec![w.ana_clips[3].clone()], "only Ana's public clip: {body}");
    // Shown under the name Ana chose, never her id.
    let item = &body["items"][0];
    assert_eq!((item["display_name"].as_str(), item["mine"].as_bool()), (Some("Ana S."), Some(false)), "{body}");
    assert!(item.get("owner").is_none() && !body.to_string().contains("\"ana\""), "{body}");
    // Bo sees his own private one and Ana's public clip, not Ana's private clips.
    let (_, body) = similar(&s, &w.bo, &w.bo_public, 10).await;
    assert_eq!(
        ids(&body).into_iter().collect::<HashSet<_>>(),
        HashSet::from([w.bo_private.clone(), w.ana_clips[3].clone()])
    );
    // An admin sees everything.
    let admin = s.token("root", true);
    let (_, body) = similar(&s, &admin, &w.bo_public, 10).await;
    assert_eq!(ids(&body).len(), 5, "{body}");
    assert!(body["items"].as_array().unwrap().iter().all(|i| i["owner"].is_string()), "admins see owners: {body}");

    // Visibility changes show at once; only the owner may change it.
    assert_eq!(set_visibility(&s, &w.cy, &w.bo_public, "private").await, 403);
    assert_eq!(set_visibility(&s, &w.cy, &w.bo_private, "public").await, 404);
    assert_eq!(set_visibility(&s, &w.ana, &w.ana_clips[0], "secret").await, 400);
    assert_eq!(set_visibility(&s, &w.ana, &w.ana_clips[3], "private").await, 200);
    let (_, body) = similar(&s, &w.cy, &w.bo_public, 10).await;
    assert!(ids(&body).is_empty(), "{body}");
    assert_eq!(set_visibility(&s, &w.ana, &w.ana_clips[0], "public").await, 200);
    let (_, body) = similar(&s, &w.cy, &w.bo_public, 10).await;
    assert_eq!(ids(&body), vec![w.ana_clips[0].clone()], "{body}");

    // Deleting a record takes it out of everyone's results.
    assert_eq!(s.delete(&w.ana, &format!("/api/records/{}", w.ana_clips[1])).await.status(), 204);
    let (_, body) = similar(&s, &w.ana, &w.ana_clips[0], 10).await;
    assert!(!ids(&body).contains(&w.ana_clips[1]), "{body}");
    assert_eq!(ids(&body).len(), 3, "{body}");
}

#[tokio::test]
async fn search_by_vector_or_record_with_filters() {
    let s = Server::start(&[]).await;
    let w = world(&s).await;
    let admin = s.token("root", true);
    let full = s.get_json(&w.ana, &format!("/api/records/{}?include=embedding", w.ana_clips[0])).await;
    let vector = full["analysis"]["embedding"]["vector"].clone();
    assert_eq!(vector.as_array().map(Vec::len), Some(256), "the owner reads her own voiceprint");

    // A voiceprint is its owner's: not readable from a public record by others,
    // and a raw vector is an admin's query only.
    let r = s
        .client
        .get(s.url(&format!("/api/records/{}?include=embedding", w.bo_public)))
        .bearer_auth(&w.cy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.get_record(&w.cy, &w.bo_public).await.status(), 200, "the public record itself is readable");
    let bos = s.get_json(&admin, &format!("/api/records/{}?include=embedding", w.bo_public)).await;
    assert!(bos["analysis"]["embedding"]["vector"].is_array(), "admins read any: {bos}");
    let (status, answer) = search(&s, &w.ana, json!({ "vector": vector, "k": 3 })).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("record_id"), "{answer}");

    // By vector the record itself is a hit (score ~1); by record id it is left out.
    let (status, body) = search(&s, &admin, json!({ "vector": vector, "k": 3 })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body)[0], w.ana_clips[0]);
    assert!(body["items"][0]["score"].as_f64().unwrap() > 0.999, "{body}");
    let (_, body) = search(&s, &w.ana, json!({ "record_id": w.ana_clips[0], "k": 10 })).await;
    assert!(!ids(&body).contains(&w.ana_clips[0]));
    assert_eq!(ids(&body).len(), 4, "Ana's 3 other clips and Bo's public one: {body}");

    // Filters: mine, public, owner (admins, or oneself), min_score.
    let from_ana = |filters: Value| json!({ "record_id": w.ana_clips[0], "k": 10, "filters": filters });
    let (_, body) = search(&s, &w.ana, from_ana(json!({ "scope": "mine" }))).await;
    assert_eq!(ids(&body).len(), 3, "{body}");
    assert!(body["items"].as_array().unwrap().iter().all(|i| i["mine"] == true));
    let (_, body) = search(&s, &w.ana, from_ana(json!({ "scope": "public" }))).await;
    assert_eq!(
        ids(&body).into_iter().collect::<HashSet<_>>(),
        HashSet::from([w.ana_clips[3].clone(), w.bo_public.clone()])
    );
    assert_eq!(search(&s, &w.ana, from_ana(json!({ "owner": "bo" }))).await.0, 403, "users cannot probe by user id");
    let (_, body) = search(&s, &w.ana, from_ana(json!({ "owner": "ana" }))).await;
    assert_eq!(ids(&body).len(), 3, "{body}");
    let (_, body) =
        search(&s, &admin, json!({ "vector": vector, "k": 10, "filters": { "owner": "bo", "scope": "public" } })).await;
    assert_eq!(ids(&body), vec![w.bo_public.clone()], "Bo's private record stays out of a public scope: {body}");
    let (_, body) = search(&s, &w.ana, from_ana(json!({ "min_score": 0.75 }))).await;
    assert!(body["items"].as_array().unwrap().iter().all(|i| i["score"].as_f64().unwrap() >= 0.75), "{body}");
    assert!(!ids(&body).is_empty());

    // Bad requests say why.
    let bad = [
        json!({ "vector": [1.0, 2.0], "k": 3 }),
        json!({ "vector": vec![0.0; 256] }),
        json!({ "record_id": w.ana_clips[0], "vector": vector }),
        json!({ "k": 3 }),
        json!({ "vector": vector, "k": 101 }),
        json!({ "vector": vector, "filters": { "scope": "everyone" } }),
        json!({ "vector": vector, "filters": { "min_score": 2.0 } }),
    ];
    for body in bad {
        let (status, answer) = search(&s, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    // Another user's private record: 404, whichever way it is asked.
    assert_eq!(search(&s, &w.cy, json!({ "record_id": w.ana_clips[0] })).await.0, 404);
    // A record not analysed yet: 409.
    let pending = s.presign(&w.ana, "later.wav", 1000).await;
    let pid = pending["record_id"].as_str().unwrap();
    assert_eq!(search(&s, &w.ana, json!({ "record_id": pid })).await.0, 409);
    // No token: 401.
    let r =
        s.client.post(s.url("/api/search/similar")).json(&json!({ "record_id": w.ana_clips[0] })).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

fn vectors_dir(s: &Server) -> PathBuf {
    s.data_dir.join("vectors")
}

fn open_line(s: &Server) -> String {
    s.full_log().lines().rfind(|l| l.contains("vector index open")).unwrap_or_default().to_owned()
}

async fn answers(s: &Server, w: &World) -> Vec<Value> {
    let mut out = Vec::new();
    for id in w.ana_clips.iter().chain([&w.bo_public]) {
        let (status, body) = similar(s, &w.ana, id, 10).await;
        assert_eq!(status, 200, "{body}");
        out.push(body);
    }
    out
}

fn respawn_env() -> Vec<(String, String)> {
    Vec::new()
}

async fn restart(s: &mut Server, dir: &Path, crash: bool) -> Server {
    if crash {
        s.kill9()
    } else {
        s.stop()
    }
    Server::spawn(dir, &respawn_env()).await
}

#[tokio::test]
async fn the_index_survives_restarts_crashes_and_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::spawn(tmp.path(), &respawn_env()).await;
    let w = world(&s).await;
    let before = answers(&s, &w).await;

    // A clean stop saves the index; the next start loads it as is.
    let mut s2 = restart(&mut s, tmp.path(), false).await;
    assert!(open_line(&s2).contains("rebuilt=\"no\"") || open_line(&s2).contains("rebuilt=no"), "{}", open_line(&s2));
    assert!(open_line(&s2).contains("size=6"), "{}", open_line(&s2));
    assert_eq!(answers(&s2, &w).await, before);

    // The file deleted: rebuilt from the database, same answers.
    s2.stop();
    std::fs::remove_file(vectors_dir(&s2).join("index.usearch")).unwrap();
    let mut s3 = Server::spawn(tmp.path(), &respawn_env()).await;
    assert!(open_line(&s3).contains("missing"), "{}", open_line(&s3));
    assert_eq!(answers(&s3, &w).await, before);

    // The file overwritten with garbage of the same length: rebuilt.
    s3.stop();
    let path = vectors_dir(&s3).join("index.usearch");
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    std::fs::write(&path, vec![0x5a; len]).unwrap();
    let mut s4 = Server::spawn(tmp.path(), &respawn_env()).await;
    assert!(open_line(&s4).contains("unreadable"), "{}", open_line(&s4));
    assert_eq!(answers(&s4, &w).await, before);

    // The sidecar corrupt: rebuilt.
    s4.stop();
    std::fs::write(vectors_dir(&s4).join("index.json"), b"{not json").unwrap();
    let mut s5 = Server::spawn(tmp.path(), &respawn_env()).await;
    assert!(open_line(&s5).contains("corrupt"), "{}", open_line(&s5));
    assert_eq!(answers(&s5, &w).await, before);

    // A crash after new work: the saved index is behind; the missing vector is
    // added from the database at start, and a deleted one removed.
    let extra = upload_done(&s5, &w.ana, "librivox_0880.wav").await;
    let (_, body) = similar(&s5, &w.ana, &w.ana_clips[0], 10).await;
    assert!(ids(&body).contains(&extra), "{body}");
    let s6 = restart(&mut s5, tmp.path(), true).await;
    assert!(open_line(&s6).contains("added=1"), "{}", open_line(&s6));
    let (_, body) = similar(&s6, &w.ana, &w.ana_clips[0], 10).await;
    assert!(ids(&body).contains(&extra), "{body}");
    assert_eq!(s6.delete(&w.ana, &format!("/api/records/{extra}")).await.status(), 204);
    let mut s6 = s6;
    let s7 = restart(&mut s6, tmp.path(), true).await;
    let (_, body) = similar(&s7, &w.ana, &w.ana_clips[0], 10).await;
    assert!(!ids(&body).contains(&extra), "{body}");
    assert_eq!(answers(&s7, &w).await, before);
}
