//! Dead letters and the batch sweeper, over real HTTP against the real binary:
//! transient failures retried then dead-lettered with their history, permanent
//! ones at once; admins list, inspect, requeue and discard them (with an audit
//! trail); the sweeper queues uploads whose event never came and removes
//! abandoned ones.

mod common;

use common::{Server, sample, sine_wav};
use serde_json::Value;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(90);

/// A WAV header over bytes that are not audio: passes a sniff, fails the decoder.
fn broken_wav() -> Vec<u8> {
    let mut b = b"RIFF\x24\x10\x00\x00WAVEfmt ".to_vec();
    b.extend(std::iter::repeat_n(0xA5u8, 4096));
    b
}

async fn admin_get(s: &Server, token: &str, path: &str) -> reqwest::Response {
    s.client.get(s.url(path)).bearer_auth(token).send().await.unwrap()
}

#[tokio::test]
async fn dead_letters_are_listed_inspected_requeued_and_discarded() {
    let s = Server::start(&[
        ("ORAK_RETRY__BASE_MS", "50"),
        ("ORAK_RETRY__MAX_RETRIES", "1"),
        ("ORAK_FAULTS__TRANSIENT_FAILURE_FILENAME", "FLAKY"),
        ("ORAK_FAULTS__TRANSIENT_FAILURES", "2"),
        ("ORAK_SWEEPER__INTERVAL_SECONDS", "1"),
    ])
    .await;
    let alice = s.token("alice", false);
    let admin = s.token("root", true);

    let flaky = s.upload_presigned(&alice, "FLAKY-take.wav", sine_wav(0.5, 8_000, 220.0, 0.3)).await;
    let broken = s.upload_presigned(&alice, "broken.wav", broken_wav()).await;
    let good = s.upload_presigned(&alice, "good.wav", sine_wav(0.5, 8_000, 330.0, 0.3)).await;

    // Transient: tried twice (one retry allowed), then a dead letter. Permanent: at once.
    let rec = s.wait_terminal(&alice, &flaky, T).await;
    assert_eq!((rec["status"].as_str(), rec["attempts"].as_i64()), (Some("FAILED"), Some(2)), "{rec}");
    let rec = s.wait_terminal(&alice, &broken, T).await;
    assert_eq!((rec["status"].as_str(), rec["attempts"].as_i64()), (Some("FAILED"), Some(1)), "{rec}");
    assert_eq!(s.wait_terminal(&alice, &good, T).await["status"], "COMPLETED");

    // Admins only.
    assert_eq!(admin_get(&s, &alice, "/api/admin/dead-letters").await.status(), 403);
    assert_eq!(s.client.get(s.url("/api/admin/dead-letters")).send().await.unwrap().status(), 401);
    assert_eq!(s.delete(&alice, &format!("/api/admin/dead-letters/{broken}")).await.status(), 403);

    // List, filter, page.
    let all: Value = admin_get(&s, &admin, "/api/admin/dead-letters").await.json().await.unwrap();
    let ids: Vec<&str> = all["items"].as_array().unwrap().iter().map(|d| d["record_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{all}");
    assert!(ids.contains(&flaky.as_str()) && ids.contains(&broken.as_str()));
    let injected: Value = admin_get(&s, &admin, "/api/admin/dead-letters?error=injected").await.json().await.unwrap();
    assert_eq!(injected["items"].as_array().unwrap().len(), 1, "{injected}");
    assert_eq!(injected["items"][0]["record_id"], flaky.as_str());
    let bobs: Value = admin_get(&s, &admin, "/api/admin/dead-letters?owner=bob").await.json().await.unwrap();
    assert!(bobs["items"].as_array().unwrap().is_empty());
    let page1: Value = admin_get(&s, &admin, "/api/admin/dead-letters?limit=1").await.json().await.unwrap();
    let cursor = page1["next_cursor"].as_str().expect("a second page").to_owned();
    let page2: Value =
        admin_get(&s, &admin, &format!("/api/admin/dead-letters?limit=1&cursor={cursor}")).await.json().await.unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null());
    assert_ne!(page1["items"][0]["record_id"], page2["items"][0]["record_id"]);
    assert_eq!(admin_get(&s, &admin, "/api/admin/dead-letters?failed_after=yesterday").await.status(), 400);

    // The whole history: every attempt with its error and timings.
    let detail: Value = admin_get(&s, &admin, &format!("/api/admin/dead-letters/{flaky}")).await.json().await.unwrap();
    let history = detail["history"].as_array().unwrap();
    let outcomes: Vec<&str> = history.iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["retrying", "failed"], "{detail}");
    for (i, a) in history.iter().enumerate() {
        assert_eq!(a["attempt"], i as i64 + 1);
        assert!(a["error"].as_str().unwrap().contains("injected transient failure"), "{a}");
        assert!(a["duration_ms"].as_i64().unwrap() >= 0 && a["started_at"].is_string() && a["worker"].is_string());
    }
    // A COMPLETED record is not a dead letter: nothing to see, nothing to requeue.
    assert_eq!(admin_get(&s, &admin, &format!("/api/admin/dead-letters/{good}")).await.status(), 409);
    let r = s.client.post(s.url(&format!("/api/admin/dead-letters/{good}/requeue"))).bearer_auth(&admin).send().await;
    assert_eq!(r.unwrap().status(), 409);
    let missing = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(admin_get(&s, &admin, &format!("/api/admin/dead-letters/{missing}")).await.status(), 404);

    // Requeue: a fresh budget of attempts; the third attempt (no longer injected) completes.
    let r = s.client.post(s.url(&format!("/api/admin/dead-letters/{flaky}/requeue"))).bearer_auth(&admin).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), 200);
    let requeued: Value = r.json().await.unwrap();
    assert!(matches!(requeued["status"].as_str(), Some("QUEUED" | "PROCESSING" | "COMPLETED")), "{requeued}");
    let rec = s.wait_terminal(&alice, &flaky, T).await;
    assert_eq!((rec["status"].as_str(), rec["attempts"].as_i64()), (Some("COMPLETED"), Some(3)), "{rec}");
    assert!(rec["error"].is_null(), "{rec}");
    // Requeueing it again is refused: it is COMPLETED now.
    let r = s.client.post(s.url(&format!("/api/admin/dead-letters/{flaky}/requeue"))).bearer_auth(&admin).send().await;
    assert_eq!(r.unwrap().status(), 409);

    // Discard: the record goes, the audit row stays with its history.
    assert_eq!(s.delete(&admin, &format!("/api/admin/dead-letters/{broken}")).await.status(), 204);
    assert_eq!(s.get_record(&alice, &broken).await.status(), 404);
    assert_eq!(s.delete(&admin, &format!("/api/admin/dead-letters/{broken}")).await.status(), 404);
    let audit: Value = admin_get(&s, &admin, "/api/admin/dead-letters/audit").await.json().await.unwrap();
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert_eq!(
        (entries[0]["action"].as_str(), entries[0]["record_id"].as_str()),
        (Some("discard"), Some(broken.as_str()))
    );
    assert_eq!(entries[0]["admin"], "root");
    assert_eq!(entries[0]["history"].as_array().unwrap().len(), 1);
    assert_eq!(
        (entries[1]["action"].as_str(), entries[1]["record_id"].as_str()),
        (Some("requeue"), Some(flaky.as_str()))
    );
    assert_eq!(entries[1]["history"].as_array().unwrap().len(), 2);
    let left: Value = admin_get(&s, &admin, "/api/admin/dead-letters").await.json().await.unwrap();
    assert!(left["items"].as_array().unwrap().is_empty(), "{left}");

    // The gauge follows (the sweeper refreshes it every second here) and the actions are counted.
    let deadline = Instant::now() + T;
    loop {
        let m = s.metrics().await;
        if sample(&m, "orak_dead_letters ") == Some(0.0) {
            assert_eq!(sample(&m, "orak_dead_letter_actions_total{action=\"requeue\"}"), Some(1.0), "{m}");
            assert_eq!(sample(&m, "orak_dead_letter_actions_total{action=\"discard\"}"), Some(1.0), "{m}");
            assert_eq!(sample(&m, "orak_dead_lettered_total"), Some(2.0), "{m}");
            assert!(sample(&m, "orak_retries_total").unwrap_or(0.0) >= 1.0, "{m}");
            assert_eq!(sample(&m, "orak_uploads_total{path=\"direct\"}"), Some(3.0), "{m}");
            break;
        }
        assert!(Instant::now() < deadline, "dead-letter gauge never reached 0:\n{m}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_sweeper_queues_uploads_whose_event_never_came_and_removes_abandoned_ones() {
    let s = Server::start(&[
        ("ORAK_SWEEPER__INTERVAL_SECONDS", "1"),
        ("ORAK_SWEEPER__MISSED_EVENT_AFTER_SECONDS", "1"),
        ("ORAK_UPLOADS__PENDING_TTL_SECONDS", "4"),
    ])
    .await;
    let alice = s.token("alice", false);

    // The object lands in the store behind the service's back (a bucket whose
    // notification was lost): the sweeper finds it and queues the record.
    let bytes = sine_wav(0.5, 8_000, 260.0, 0.3);
    let lost = s.presign(&alice, "lost-event.wav", bytes.len()).await;
    let lost_id = lost["record_id"].as_str().unwrap().to_owned();
    let key = format!("audio/{lost_id}");
    let path = s.data_dir.join("objects").join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    // An upload opened and never made: removed after its time to live.
    let abandoned = s.presign(&alice, "abandoned.wav", 1000).await;
    let abandoned_id = abandoned["record_id"].as_str().unwrap().to_owned();

    let rec = s.wait_terminal(&alice, &lost_id, T).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    assert_eq!(rec["size"].as_i64(), Some(bytes.len() as i64), "{rec}");

    let deadline = Instant::now() + T;
    while s.get_record(&alice, &abandoned_id).await.status() != 404 {
        assert!(Instant::now() < deadline, "the abandoned upload was never removed; log:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Each repair was logged and counted.
    let log = s.full_log();
    assert!(log.contains("repair=\"missed_event\"") || log.contains("repair=missed_event"), "{}", s.log());
    assert!(log.contains("removed uploads that never finished"), "{}", s.log());
    let m = s.metrics().await;
    assert_eq!(sample(&m, "orak_sweeper_repairs_total{kind=\"missed_event\"}"), Some(1.0), "{m}");
    assert_eq!(sample(&m, "orak_sweeper_repairs_total{kind=\"expired_upload\"}"), Some(1.0), "{m}");
    assert_eq!(sample(&m, "orak_uploads_total{path=\"found\"}"), Some(1.0), "{m}");
}
