//! Crashes lose nothing: a SIGKILL with jobs in flight, a panicking worker, a child
//! that keeps crashing, and an analysis that hangs past its deadline.

mod common;

use common::{Server, collect_sse, sine_wav, statuses};
use serde_json::Value;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(90);

async fn statuses_of(s: &Server, token: &str, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        let v: Value = s.get_record(token, id).await.json().await.unwrap();
        out.push(v["status"].as_str().unwrap().to_owned());
    }
    out
}

#[tokio::test]
async fn jobs_in_flight_when_the_process_is_killed_complete_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = vec![
        ("ORAK_PIPELINE__WORKERS".to_owned(), "2".to_owned()),
        ("ORAK_FAULTS__WORKER_DELAY_MS".to_owned(), "60000".to_owned()),
    ];
    let mut s = Server::spawn(tmp.path(), &slow).await;
    let token = s.token("alice", false);
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(s.upload_presigned(&token, &format!("{i}.wav"), sine_wav(0.5, 8_000, 200.0 + i as f64, 0.3)).await);
    }
    // Wait until both workers hold a job, then kill the process outright.
    let deadline = Instant::now() + T;
    loop {
        let st = statuses_of(&s, &token, &ids).await;
        if st.iter().filter(|x| *x == "PROCESSING").count() == 2 {
            assert_eq!(st.iter().filter(|x| *x == "QUEUED").count(), 4, "{st:?}");
            break;
        }
        assert!(Instant::now() < deadline, "jobs never started: {st:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.kill9();

    // Restart over the same data dir, without the delay.
    let s = Server::spawn(tmp.path(), &[]).await;
    let mut in_flight = 0;
    for id in &ids {
        let rec = s.wait_terminal(&token, id, T).await;
        assert_eq!(rec["status"], "COMPLETED", "{rec}");
        assert!(rec["analysis"]["duration_s"].as_f64().unwrap() > 0.4);
        match rec["attempts"].as_i64().unwrap() {
            1 => {}
            2 => in_flight += 1,
            n => panic!("record {id} took {n} attempts"),
        }
    }
    assert_eq!(in_flight, 2, "exactly the two interrupted jobs ran twice");
    // Nothing duplicated: six records, each completed once, no stray rows.
    let list: Value = s.get_json(&token, "/api/records?limit=100").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert!(items.iter().all(|r| r["status"] == "COMPLETED"));
    assert!(s.log().contains("re-queued jobs that were in flight"), "{}", s.log());
}

#[tokio::test]
async fn a_worker_panic_never_loses_the_job_it_held() {
    let s = Server::start(&[
        ("ORAK_FAULTS__WORKER_PANIC_FILENAME", "PANIC"),
        ("ORAK_RETRY__BASE_MS", "100"),
        ("ORAK_PIPELINE__WORKERS", "2"),
    ])
    .await;
    let token = s.token("alice", false);
    let p = s.presign(&token, "PANIC-now.wav", sine_wav(0.5, 8_000, 250.0, 0.3).len()).await;
    let id = p["record_id"].as_str().unwrap().to_owned();
    let stream = tokio::spawn(collect_sse(s.sse(&token, &id).await, T));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.put(p["upload_url"].as_str().unwrap(), sine_wav(0.5, 8_000, 250.0, 0.3)).await.status(), 200);
    // A healthy upload beside it is unaffected.
    let other = s.upload_presigned(&token, "fine.wav", sine_wav(0.5, 8_000, 300.0, 0.3)).await;

    let events = stream.await.unwrap();
    assert_eq!(
        statuses(&events),
        ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "RETRYING", "QUEUED", "PROCESSING", "COMPLETED"],
        "{events:?}"
    );
    assert!(events[4]["error"].as_str().unwrap().contains("worker crashed"), "{events:?}");
    let rec = s.wait_terminal(&token, &id, T).await;
    assert_eq!(rec["status"], "COMPLETED");
    assert_eq!(rec["attempts"], 2);
    assert_eq!(s.wait_terminal(&token, &other, T).await["status"], "COMPLETED");
    // The pool replaced the worker and the service is still ready.
    assert_eq!(s.client.get(s.url("/ready")).send().await.unwrap().status(), 200);
    assert!(s.log().contains("analysis worker died"));
    // The restart is counted for its actor.
    let metrics = s.metrics().await;
    assert!(metrics.lines().any(|l| l == "orak_actor_restarts_total{actor=\"analysis-worker\"} 1"), "{metrics}");
    assert!(metrics.lines().any(|l| l == "orak_actor_failures_total{actor=\"analysis-worker\"} 1"), "{metrics}");
    // The SSE stream was counted while open, and is closed now.
    assert!(metrics.lines().any(|l| l == "orak_sse_connections 0"), "{metrics}");
    // Every actor reports the messages it handled and how long each took.
    for actor in ["analysis-worker", "analysis-pool", "job-source", "s3-event", "upload-session", "retry-scheduler"] {
        let handled = format!("orak_actor_messages_total{{actor=\"{actor}\"}}");
        assert!(metrics.lines().any(|l| l.starts_with(&handled)), "{actor}: {metrics}");
        let timed = format!("orak_actor_handling_seconds_count{{actor=\"{actor}\"}}");
        assert!(metrics.lines().any(|l| l.starts_with(&timed)), "{actor}: {metrics}");
    }
}

#[tokio::test]
async fn a_child_that_keeps_crashing_stops_the_tree_and_ready_turns_503() {
    let tmp = tempfile::tempdir().unwrap();
    let crashing = vec![
        ("ORAK_FAULTS__WORKER_PANIC_FILENAME".to_owned(), "PANIC".to_owned()),
        ("ORAK_PIPELINE__WORKERS".to_owned(), "1".to_owned()),
        ("ORAK_SUPERVISION__MAX_RESTARTS".to_owned(), "2".to_owned()),
        ("ORAK_RETRY__BASE_MS".to_owned(), "2000".to_owned()),
    ];
    let mut s = Server::spawn(tmp.path(), &crashing).await;
    let token = s.token("alice", false);
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(s.upload_presigned(&token, &format!("PANIC-{i}.wav"), sine_wav(0.3, 8_000, 200.0, 0.3)).await);
    }
    // 2 worker restarts per pool, 2 pool restarts: the tree gives up after 9 panics.
    // (While a child restarts /ready may blink 503; once the tree gives up it stays so.)
    let deadline = Instant::now() + T;
    while !s.log().contains("restart intensity exceeded") {
        assert!(Instant::now() < deadline, "the tree never gave up; log:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..5 {
        let r = s.client.get(s.url("/ready")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "unavailable"}), "outsiders learn nothing more");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(s.log().contains("not ready: a supervised actor is down"), "the log says why");
    // Liveness still answers: the process is up, it is just not ready.
    assert_eq!(s.client.get(s.url("/health")).send().await.unwrap().status(), 200);

    // A restart without the fault finishes every recording: none was lost.
    s.kill9();
    let s = Server::spawn(tmp.path(), &[("ORAK_RETRY__BASE_MS".to_owned(), "50".to_owned())]).await;
    for id in &ids {
        let rec = s.wait_terminal(&token, id, T).await;
        assert_eq!(rec["status"], "COMPLETED", "{rec}");
    }
}

#[tokio::test]
async fn an_analysis_past_its_deadline_is_abandoned_without_wedging_its_worker() {
    // One worker: if the hung attempt held it, nothing else would ever finish.
    let s = Server::start(&[
        ("ORAK_FAULTS__HANG_FILENAME", "HANG"),
        ("ORAK_PIPELINE__ANALYSIS_DEADLINE_SECONDS", "1"),
        ("ORAK_PIPELINE__WORKERS", "1"),
        ("ORAK_RETRY__BASE_MS", "50"),
    ])
    .await;
    let token = s.token("alice", false);
    let hung = s.upload_presigned(&token, "HANG-take.wav", sine_wav(0.5, 8_000, 240.0, 0.3)).await;
    let other = s.upload_presigned(&token, "fine.wav", sine_wav(0.5, 8_000, 300.0, 0.3)).await;
    assert_eq!(s.wait_terminal(&token, &other, T).await["status"], "COMPLETED");
    let rec = s.wait_terminal(&token, &hung, T).await;
    assert_eq!((rec["status"].as_str(), rec["attempts"].as_i64()), (Some("COMPLETED"), Some(2)), "{rec}");
    // The abandoned attempt is on record as a transient failure.
    let admin = s.token("root", true);
    let r = s.client.get(s.url(&format!("/api/admin/dead-letters/{hung}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), 409, "completed, so not a dead letter");
    assert!(s.full_log().contains("passed its 1s deadline"), "{}", s.log());
}
