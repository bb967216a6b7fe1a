//! Both upload paths, end to end over real HTTP: statuses over SSE, the stored
//! analysis, listing, deletion, and a corrupt file beside a good one.

mod common;

use common::{Server, collect_sse, sine_wav, statuses};
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn presigned_upload_reaches_completed_and_sse_shows_every_step() {
    let s = Server::start(&[]).await;
    let token = s.token("alice", false);
    let wav = sine_wav(2.0, 16_000, 220.0, 0.5);
    let p = s.presign(&token, "voice.wav", wav.len()).await;
    let id = p["record_id"].as_str().unwrap().to_owned();
    assert_eq!(p["method"], "PUT");
    assert!(p["expires_at"].as_str().unwrap().ends_with('Z'));
    let rec: Value = s.get_record(&token, &id).await.json().await.unwrap();
    assert_eq!(rec["status"], "PENDING");
    assert!(rec["analysis"].is_null());

    // Subscribe before the upload: the stream must show every transition in order.
    let stream = s.sse(&token, &id).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let events = tokio::spawn(collect_sse(stream, T));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let put = s.put(p["upload_url"].as_str().unwrap(), wav).await;
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());

    let events = events.await.unwrap();
    assert_eq!(statuses(&events), ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "COMPLETED"], "{events:?}");
    assert_eq!(events[3]["attempt"], 1);
    assert!(events.iter().all(|e| e["record_id"] == id.as_str()));

    let rec: Value = s.get_record(&token, &id).await.json().await.unwrap();
    assert_eq!(rec["status"], "COMPLETED");
    assert_eq!(rec["attempts"], 1);
    assert_eq!(rec["filename"], "voice.wav");
    let a = &rec["analysis"];
    assert!((a["duration_s"].as_f64().unwrap() - 2.0).abs() < 1e-6, "{a}");
    assert_eq!(a["sample_rate"], 16_000);
    assert_eq!(a["channels"], 1);
    assert!((a["peak"].as_f64().unwrap() - 0.5).abs() < 0.01, "{a}");
    assert!((a["rms"].as_f64().unwrap() - 0.5 / 2f64.sqrt()).abs() < 0.01, "{a}");
    for key in ["id", "status", "filename", "size", "created_at", "updated_at", "attempts", "error", "analysis"] {
        assert!(rec.get(key).is_some(), "missing {key} in {rec}");
    }

    // A terminal record's stream sends the state and closes.
    let again = collect_sse(s.sse(&token, &id).await, T).await;
    assert_eq!(statuses(&again), ["COMPLETED"]);
}

#[tokio::test]
async fn multipart_upload_reaches_completed_with_its_metadata() {
    let s = Server::start(&[]).await;
    let token = s.token("bob", false);
    let r = s
        .upload_multipart(
            &token,
            "../../etc/take1.wav",
            sine_wav(1.0, 22_050, 440.0, 0.25),
            Some(r#"{"song":"Arirang"}"#),
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let id = body["record_id"].as_str().unwrap().to_owned();
    assert!(matches!(body["status"].as_str(), Some("QUEUED" | "PROCESSING" | "COMPLETED")), "{body}");

    let events = collect_sse(s.sse(&token, &id).await, T).await;
    let st = statuses(&events);
    assert_eq!(st.last().map(String::as_str), Some("COMPLETED"), "{st:?}");
    let order = ["QUEUED", "PROCESSING", "COMPLETED"];
    let idx: Vec<usize> = st.iter().map(|x| order.iter().position(|o| o == x).expect("unexpected status")).collect();
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "out of order: {st:?}");

    let rec: Value = s.get_record(&token, &id).await.json().await.unwrap();
    assert_eq!(rec["filename"], "take1.wav", "path parts of a client filename are dropped");
    assert_eq!(rec["metadata"]["song"], "Arirang");
    assert_eq!(rec["analysis"]["sample_rate"], 22_050);
    assert!((rec["analysis"]["duration_s"].as_f64().unwrap() - 1.0).abs() < 1e-3);
}

#[tokio::test]
async fn a_corrupt_file_fails_with_a_reason_while_a_good_one_completes() {
    let s = Server::start(&[]).await;
    let token = s.token("carol", false);
    let junk = b"RIFF....WAVEthis is not audio at all, just text pretending".repeat(100);
    let (bad, good) = tokio::join!(
        s.upload_presigned(&token, "broken.wav", junk),
        s.upload_presigned(&token, "fine.wav", sine_wav(1.0, 16_000, 330.0, 0.3)),
    );
    let bad = s.wait_terminal(&token, &bad, T).await;
    let good = s.wait_terminal(&token, &good, T).await;
    assert_eq!(good["status"], "COMPLETED", "{good}");
    assert_eq!(bad["status"], "FAILED", "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("not a valid audio file"), "{bad}");
    assert_eq!(bad["attempts"], 1, "a permanent error is not retried");
    assert!(bad["analysis"].is_null());

    // The service goes on.
    let after = s.upload_presigned(&token, "after.wav", sine_wav(0.5, 8_000, 200.0, 0.2)).await;
    assert_eq!(s.wait_terminal(&token, &after, T).await["status"], "COMPLETED");
    // An empty multipart file is refused outright.
    let r = s.upload_multipart(&token, "empty.wav", Vec::new(), None).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn list_is_newest_first_and_paginated_and_delete_removes_everything() {
    let s = Server::start(&[]).await;
    let token = s.token("dave", false);
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = s.upload_presigned(&token, &format!("{i}.wav"), sine_wav(0.2, 8_000, 300.0, 0.2)).await;
        s.wait_terminal(&token, &id, T).await;
        ids.push(id);
    }
    let page1: Value = s.get_json(&token, "/api/records?limit=2").await;
    let got: Vec<&str> = page1["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value = s.get_json(&token, &format!("/api/records?limit=2&cursor={cursor}")).await;
    let got: Vec<&str> = page2["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(got, [ids[0].as_str()]);
    assert!(page2["next_cursor"].is_null());
    let bad = s.client.get(s.url("/api/records?limit=0")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let err: Value = bad.json().await.unwrap();
    assert_eq!(err["error"]["code"], "bad_request");

    let object = s.data_dir.join("objects/audio").join(&ids[1]);
    assert!(object.exists());
    let del = s.delete(&token, &format!("/api/records/{}", ids[1])).await;
    assert_eq!(del.status(), 204);
    assert_eq!(s.get_record(&token, &ids[1]).await.status(), 404);
    assert!(!object.exists(), "the audio object must be removed with the record");
    let del = s.delete(&token, &format!("/api/records/{}", ids[1])).await;
    assert_eq!(del.status(), 404);
}

#[tokio::test]
async fn health_and_readiness() {
    let s = Server::start(&[]).await;
    let h: Value = s.client.get(s.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["status"], "ok");
    let r = s.client.get(s.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r, serde_json::json!({"status": "ready"}), "ready or not, and nothing else");
    let nf = s.client.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(nf.status(), 404);
    let e: Value = nf.json().await.unwrap();
    assert_eq!(e["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_user_takes_everything_with_them_and_leaves_no_trace() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let prefix = format!("orak-erase-{}:", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    // Redis for status caches and (generous) rate-limit counters; "doomed" files
    // fail at once, for dead letters and an audit row.
    let mut s = Server::start(&[
        ("ORAK_REDIS__URL", redis.as_str()),
        ("ORAK_REDIS__PREFIX", prefix.as_str()),
        ("ORAK_RATE_LIMIT__ENABLED", "true"),
        ("ORAK_RATE_LIMIT__PER_SECOND", "1000"),
        ("ORAK_RATE_LIMIT__BURST", "1000"),
        ("ORAK_RATE_LIMIT__PER_USER_PER_SECOND", "1000"),
        ("ORAK_RATE_LIMIT__PER_USER_BURST", "1000"),
        ("ORAK_FAULTS__TRANSIENT_FAILURE_FILENAME", "doomed"),
        ("ORAK_FAULTS__TRANSIENT_FAILURES", "1000"),
        ("ORAK_RETRY__MAX_RETRIES", "0"),
    ])
    .await;
    let user = "leaver-5c1e9";
    let (me, keeper, admin) = (s.token(user, false), s.token("keeper", false), s.token("root", true));
    let voice = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/audio/librivox_0870.wav"),
    )
    .unwrap();
    let mine = s.upload_presigned(&me, "leaver-take-one.wav", voice.clone()).await;
    let public = s.upload_presigned(&me, "leaver-take-two.wav", voice.clone()).await;
    let discarded = s.upload_presigned(&me, "leaver-doomed-a.wav", sine_wav(0.3, 8_000, 200.0, 0.3)).await;
    let failed = s.upload_presigned(&me, "leaver-doomed-b.wav", sine_wav(0.3, 8_000, 200.0, 0.3)).await;
    let kept = s.upload_presigned(&keeper, "keeper.wav", voice.clone()).await;
    for (id, t, want) in [
        (&mine, &me, "COMPLETED"),
        (&public, &me, "COMPLETED"),
        (&discarded, &me, "FAILED"),
        (&failed, &me, "FAILED"),
        (&kept, &keeper, "COMPLETED"),
    ] {
        assert_eq!(s.wait_terminal(t, id, T).await["status"], want);
    }
    let r = s
        .client
        .patch(s.url(&format!("/api/records/{public}")))
        .bearer_auth(&me)
        .json(&serde_json::json!({"visibility": "public", "display_name": "leaver-shown-as"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let songs: Value = s
        .post_json(&me, "/api/recommendations/songs", &serde_json::json!({"record_id": mine}))
        .await
        .json()
        .await
        .unwrap();
    let song = songs["items"][0]["song_id"].as_i64().unwrap();
    let r = s.post_json(&me, "/api/recommendations/dislikes", &serde_json::json!({"song_id": song})).await;
    assert_eq!(r.status(), 204);
    // An admin discards one dead letter: the audit keeps the owner and file name.
    let r = s.delete(&admin, &format!("/api/admin/dead-letters/{discarded}")).await;
    assert_eq!(r.status(), 204);
    let audit = s.get_json(&admin, &format!("/api/admin/dead-letters/audit?record_id={discarded}")).await;
    assert_eq!(audit["items"][0]["owner"], user, "{audit}");
    // The status caches hold the user's records, the rate limiter their name.
    let keys = common::redis_keys(&redis, &prefix).await;
    assert!(keys.iter().any(|k| k.contains(&mine)), "the fault hit: a status is cached: {keys:?}");
    assert!(keys.iter().any(|k| k.contains(user)), "the fault hit: a per-user counter: {keys:?}");

    // The export: every recording with its analysis and voiceprint, and the dislikes.
    let r = s.client.get(s.url("/api/me/export")).bearer_auth(&me).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-disposition").contains("attachment"));
    let export: Value = r.json().await.unwrap();
    assert_eq!(export["user"], user);
    let records = export["records"].as_array().unwrap();
    let ids: std::collections::HashSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.as_str(), public.as_str(), failed.as_str()].into(), "{export}");
    for r in records.iter().filter(|r| r["status"] == "COMPLETED") {
        assert_eq!(r["analysis"]["embedding"]["vector"].as_array().map(Vec::len), Some(256), "{r}");
        assert!(r["audio_url"].as_str().unwrap().starts_with("/api/audio/"));
    }
    assert_eq!(export["disliked_song_ids"], serde_json::json!([song]));

    // Leaving takes the user's name, repeated.
    let leave = |confirm: Option<&'static str>| {
        let mut r = s.client.delete(s.url("/api/me")).bearer_auth(&me);
        if let Some(c) = confirm {
            r = r.query(&[("confirm", c)]);
        }
        r.send()
    };
    assert_eq!(leave(None).await.unwrap().status(), 400);
    assert_eq!(leave(Some("keeper")).await.unwrap().status(), 400);
    assert_eq!(s.get_json(&me, "/api/records").await["items"].as_array().unwrap().len(), 3, "nothing erased yet");
    let r = leave(Some(user)).await.unwrap();
    assert_eq!(r.status(), 200);
    let erased: Value = r.json().await.unwrap();
    assert_eq!(erased["records"], 3, "{erased}");
    // No Redis key names them (checked before the user's token calls again, which
    // would count against a fresh per-user counter).
    let keys = common::redis_keys(&redis, &prefix).await;
    for id in [&mine, &public, &failed, &discarded] {
        assert!(!keys.iter().any(|k| k.contains(id.as_str())), "{id} in {keys:?}");
    }
    assert!(!keys.iter().any(|k| k.contains(user)), "{keys:?}");

    // Nothing of theirs answers any more; the keeper's recording is untouched.
    assert!(s.get_json(&me, "/api/records").await["items"].as_array().unwrap().is_empty());
    for id in [&mine, &public, &failed] {
        assert_eq!(s.get_record(&admin, id).await.status(), 404, "{id}");
    }
    assert_eq!(s.get_record(&keeper, &kept).await.status(), 200);
    let everyone: Value = s
        .post_json(&admin, "/api/search/similar", &serde_json::json!({"record_id": kept, "k": 50}))
        .await
        .json()
        .await
        .unwrap();
    assert!(everyone["items"].as_array().unwrap().is_empty(), "their voiceprints left the index: {everyone}");
    let audit = s.get_json(&admin, &format!("/api/admin/dead-letters/audit?record_id={discarded}")).await;
    assert_eq!((audit["items"][0]["owner"].as_str(), audit["items"][0]["filename"].as_str()), (Some(""), Some("")));
    assert_eq!(audit["items"][0]["action"], "discard", "what the admin did stays");
    // No audio object.
    let objects: Vec<String> = std::fs::read_dir(s.data_dir.join("objects/audio"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(objects, vec![kept.clone()], "only the keeper's audio remains");
    // And no row: with secure_delete the freed space is zeroed, so neither the
    // name nor the file names are anywhere in the database file (checkpointed
    // by a clean stop and a fresh open).
    s.stop();
    let data_dir = s.data_dir.clone();
    let out = std::process::Command::new(common::BIN)
        .args(["migrate", "--data-dir"])
        .arg(&data_dir)
        .current_dir(&data_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = data_dir.join("orakgaraki.sqlite3");
    assert!(common::file_contains(&db, b"keeper.wav"), "the check can see rows");
    for needle in [user, "leaver-take", "leaver-doomed", "leaver-shown-as"] {
        assert!(!common::file_contains(&db, needle.as_bytes()), "{needle} is still in the database file");
    }
    assert!(
        !data_dir.join("orakgaraki.sqlite3-wal").exists() || {
            let wal = data_dir.join("orakgaraki.sqlite3-wal");
            !common::file_contains(&wal, user.as_bytes())
        }
    );
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}
