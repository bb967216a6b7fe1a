//! The voice embedding through the running service: stored with the analysis,
//! returned with `?include=embedding`, made by the supervised model pool even
//! when a model actor panics, and rolled out to old records by `reembed`.

mod common;

use common::{BIN, Server};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference").join(name)
}

/// resemblyzer's `embed_utterance(preprocess_wav(speech_60s_16k.wav))`.
fn pytorch_embedding() -> Vec<f64> {
    std::fs::read(reference("embeddings/real_utterance.out.f32"))
        .expect("reference embedding")
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect()
}

fn vector(v: &Value) -> Vec<f64> {
    v.as_array().expect("vector array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

fn speech() -> Vec<u8> {
    std::fs::read(reference("audio/speech_60s_16k.wav")).expect("reference speech")
}

#[tokio::test]
async fn completed_records_carry_the_embedding_and_return_it_on_request() {
    let s = Server::start(&[]).await;
    let token = s.token("ana", false);
    let id = s.upload_presigned(&token, "speech.wav", speech()).await;
    let rec = s.wait_terminal(&token, &id, T).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    // By default: which model, not the 256 numbers.
    assert_eq!(rec["analysis"]["embedding"], serde_json::json!({"model": "resemblyzer-ge2e", "version": "0.1.4"}));
    let full = s.get_json(&token, &format!("/api/records/{id}?include=embedding")).await;
    let v = vector(&full["analysis"]["embedding"]["vector"]);
    assert_eq!(v.len(), 256);
    let cos = cosine(&v, &pytorch_embedding());
    assert!(cos >= 0.999, "cosine to resemblyzer {cos}");
    // Unknown extras are refused, and another user still sees nothing.
    let bad = s.client.get(s.url(&format!("/api/records/{id}?include=secrets"))).bearer_auth(&token).send().await;
    assert_eq!(bad.unwrap().status(), 400);
    let other = s.token("bo", false);
    let r = s.client.get(s.url(&format!("/api/records/{id}?include=embedding"))).bearer_auth(&other).send().await;
    assert_eq!(r.unwrap().status(), 404);
}

#[tokio::test]
async fn a_model_actor_panic_loses_no_request() {
    // The first two model batches panic their actor; the pool re-queues them.
    let s = Server::start(&[("ORAK_FAULTS__MODEL_PANICS", "2")]).await;
    let token = s.token("ana", false);
    let id = s.upload_presigned(&token, "speech.wav", speech()).await;
    let rec = s.wait_terminal(&token, &id, T).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    assert_eq!(rec["attempts"], 1, "the job itself never failed: {rec}");
    assert_eq!(rec["analysis"]["embedding"]["model"], "resemblyzer-ge2e");
    let deaths = s.full_log().matches("model actor died; its batch is re-queued").count();
    assert_eq!(deaths, 2, "{}", s.log());
    let full = s.get_json(&token, &format!("/api/records/{id}?include=embedding")).await;
    assert!(cosine(&vector(&full["analysis"]["embedding"]["vector"]), &pytorch_embedding()) >= 0.999);
}

#[tokio::test]
async fn silence_completes_without_an_embedding() {
    let s = Server::start(&[]).await;
    let token = s.token("ana", false);
    let id = s.upload_presigned(&token, "quiet.wav", common::sine_wav(3.0, 16_000, 440.0, 0.0)).await;
    let rec = s.wait_terminal(&token, &id, T).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    assert!(rec["analysis"]["embedding"].is_null(), "{rec}");
}

#[tokio::test]
async fn reembed_rolls_embeddings_out_to_records_that_lack_them_and_resumes() {
    // Records completed while embeddings were off have none.
    let mut s = Server::start(&[("ORAK_MODEL__ENABLED", "false")]).await;
    let token = s.token("ana", false);
    let mut ids = Vec::new();
    for name in ["a.wav", "b.wav"] {
        ids.push(s.upload_presigned(&token, name, speech()).await);
    }
    for id in &ids {
        let rec = s.wait_terminal(&token, id, T).await;
        assert_eq!(rec["status"], "COMPLETED");
        assert!(rec["analysis"]["embedding"].is_null());
    }
    let dir = s.data_dir.clone();
    // reembed runs beside the serving instance.
    let run = || {
        let out =
            Command::new(BIN).args(["reembed", "--data-dir"]).arg(&dir).current_dir(&dir).output().expect("reembed");
        assert!(out.status.success(), "reembed failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains("re-embedded 2 records"), "{first}");
    // Nothing is stale any more: a second run does nothing.
    let second = run();
    assert!(second.contains("re-embedded 0 records"), "{second}");
    for id in &ids {
        let full = s.get_json(&token, &format!("/api/records/{id}?include=embedding")).await;
        let cos = cosine(&vector(&full["analysis"]["embedding"]["vector"]), &pytorch_embedding());
        assert!(cos >= 0.999, "{cos}");
    }
    s.kill9();
}
