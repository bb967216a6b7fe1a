//! A flood: 200 uploads at once all complete, and the process's memory stays bounded
//! (uploads stream to disk; queued work waits in the database, not in mailboxes).

mod common;

use common::{Server, sine_wav};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_uploads_at_once_all_complete_with_bounded_memory() {
    let s = Arc::new(Server::start(&[]).await);
    let token = s.token("flood", false);
    let baseline = s.rss();
    let wav = sine_wav(2.0, 16_000, 220.0, 0.4); // 64 KB each, 12.8 MB in all
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (s, token, wav) = (s.clone(), token.clone(), wav.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                s.upload_presigned(&token, &format!("p{i}.wav"), wav).await
            } else {
                let r = s.upload_multipart(&token, &format!("m{i}.wav"), wav, None).await;
                assert_eq!(r.status(), 202);
                r.json::<serde_json::Value>().await.unwrap()["record_id"].as_str().unwrap().to_owned()
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for id in &ids {
        let rec = s.wait_terminal(&token, id, Duration::from_secs(300)).await;
        assert_eq!(rec["status"], "COMPLETED", "{rec}");
        assert_eq!(rec["attempts"], 1);
    }
    let list: serde_json::Value = s.get_json(&token, "/api/records?limit=100").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 100);
    assert!(list["next_cursor"].is_string());

    let peak = s.peak_rss();
    eprintln!("rss baseline {} MiB, peak {} MiB", baseline >> 20, peak >> 20);
    // Measured about 36 MiB on the 2-core CI machine.
    assert!(peak < 96 << 20, "peak RSS {} MiB", peak >> 20);
}

/// A WAV header for `data_bytes` of 32-bit float, 6 channels at 192 kHz: the densest
/// common encoding, so 200 MB is only 45 s of audio and the analysis stays quick.
fn wav_header(data_bytes: u32) -> Vec<u8> {
    let (channels, rate) = (6u16, 192_000u32);
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 4 * u32::from(channels)).to_le_bytes());
    h.extend_from_slice(&(4 * channels).to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_bytes.to_le_bytes());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_192_mib_upload_streams_through_both_paths_without_growing_memory() {
    // The upload and analysis paths only: the voice model's memory does not grow
    // with the upload either (it embeds at most model.max_seconds, in batches of
    // model.max_batch partials) but its fixed working set would blur this measure.
    let s = Server::start(&[("ORAK_MODEL__ENABLED", "false")]).await;
    let token = s.token("big", false);
    const CHUNK: usize = 24 * 16384; // whole 6-channel float frames
    const DATA: u32 = (CHUNK * 512) as u32; // 192 MiB
    // The body is generated as it is sent, so the test holds no copy either.
    let body = || {
        let header = wav_header(DATA);
        let chunk: Vec<u8> = (0..CHUNK / 4).flat_map(|i| (((i / 6) % 96) as f32 / 96.0 - 0.5).to_le_bytes()).collect();
        let parts = std::iter::once(header).chain(std::iter::repeat_n(chunk, DATA as usize / CHUNK));
        reqwest::Body::wrap_stream(futures_util::stream::iter(parts.map(Ok::<_, std::io::Error>)))
    };
    let total = 44 + DATA as usize;
    let before = s.rss();

    let p = s.presign(&token, "long.wav", total).await;
    let r = s.client.put(p["upload_url"].as_str().unwrap()).body(body()).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let part = reqwest::multipart::Part::stream_with_length(body(), total as u64).file_name("long2.wav");
    let r = s
        .client
        .post(s.url("/api/records/upload"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id2 = r.json::<serde_json::Value>().await.unwrap()["record_id"].as_str().unwrap().to_owned();
    for id in [p["record_id"].as_str().unwrap(), id2.as_str()] {
        let rec = s.wait_terminal(&token, id, Duration::from_secs(600)).await;
        assert_eq!(rec["status"], "COMPLETED", "{rec}");
        assert_eq!(rec["size"], total as u64);
        let expected = DATA as f64 / (192_000.0 * 24.0);
        assert!((rec["analysis"]["duration_s"].as_f64().unwrap() - expected).abs() < 1e-6);
    }
    let growth = s.peak_rss().saturating_sub(before);
    eprintln!("rss before {} MiB, peak growth {} MiB for 2 x 192 MiB", before >> 20, growth >> 20);
    assert!(growth < 64 << 20, "peak RSS grew {} MiB", growth >> 20);
}
