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
async fn an_analysis_past_its_deadline_fails_for_good_without_wedging_its_worker() {
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
    // A deadline overrun is permanent: the same file would take as long again.
    assert_eq!((rec["status"].as_str(), rec["attempts"].as_i64()), (Some("FAILED"), Some(1)), "{rec}");
    assert!(rec["error"].as_str().unwrap().contains("passed its 1 s deadline"), "{rec}");
}

/// CPU seconds the process has used, and per thread (`/proc/<pid>/task/*/stat`:
/// utime + stime, in clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> (f64, Vec<(String, f64)>) {
    let ticks = |stat: &str| -> f64 {
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
    };
    let total = ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap());
    let mut threads = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        if let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) {
            threads.push((t.file_name().to_string_lossy().into_owned(), ticks(&stat)));
        }
    }
    (total, threads)
}

#[tokio::test]
async fn a_deadline_really_stops_the_work_and_the_cpu_goes_idle() {
    let s = Server::start(&[
        ("ORAK_PIPELINE__ANALYSIS_DEADLINE_SECONDS", "1"),
        ("ORAK_PIPELINE__WORKERS", "1"),
        ("ORAK_MODEL__ENABLED", "false"),
    ])
    .await;
    let token = s.token("alice", false);
    // 20 minutes of audio: far more than a second's work.
    let id = s.upload_presigned(&token, "long.wav", sine_wav(1200.0, 8_000, 220.0, 0.3)).await;
    let before = cpu_seconds(s.pid()).0;
    let rec = s.wait_terminal(&token, &id, T).await;
    assert_eq!((rec["status"].as_str(), rec["attempts"].as_i64()), (Some("FAILED"), Some(1)), "{rec}");
    assert!(rec["error"].as_str().unwrap().contains("deadline"), "{rec}");
    // The fault hit: the analysis was busy when the deadline came.
    let (at_failure, _) = cpu_seconds(s.pid());
    assert!(at_failure - before >= 0.5, "the analysis never got going ({:.2} s of CPU)", at_failure - before);
    // Within 2 s the decoding thread has stopped: from then on the process idles.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (t1, threads1) = cpu_seconds(s.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (t2, threads2) = cpu_seconds(s.pid());
    assert!(t2 - t1 < 0.3, "the process kept using CPU after the deadline: {:.2} s in 2 s", t2 - t1);
    for (tid, after) in &threads2 {
        let earlier = threads1.iter().find(|(t, _)| t == tid).map_or(0.0, |(_, c)| *c);
        assert!(after - earlier < 0.2, "thread {tid} is still busy: {:.2} s of CPU in 2 s", after - earlier);
    }
    let metrics = s.metrics().await;
    assert!(metrics.lines().any(|l| l == "orak_analysis_deadlines_total 1"), "{metrics}");
}

/// A WAV header declaring `seconds` of `channels` × `rate` 16-bit audio, followed
/// by one second of it (the rest never comes: only the declaration is large).
fn wav_declaring(seconds: u64, rate: u32, channels: u16) -> Vec<u8> {
    let block = u32::from(channels) * 2;
    let declared = u32::try_from(seconds * u64::from(rate) * u64::from(block)).unwrap();
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&declared.saturating_add(36).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * block).to_le_bytes());
    w.extend_from_slice(&(block as u16).to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&declared.to_le_bytes());
    w.resize(w.len() + (rate * block) as usize, 0);
    w
}

#[tokio::test]
async fn a_file_declaring_hours_of_audio_fails_at_once_with_the_reason() {
    let s = Server::start(&[("ORAK_MODEL__ENABLED", "false")]).await;
    let token = s.token("alice", false);
    // Two hours of 48 kHz stereo: over the hour.
    let long = s.upload_presigned(&token, "two-hours.wav", wav_declaring(2 * 3600, 48_000, 2)).await;
    // Ten minutes at 192 kHz over 8 channels: within the hour, over the sample budget.
    let wide = s.upload_presigned(&token, "wide.wav", wav_declaring(600, 192_000, 8)).await;
    let rec = s.wait_terminal(&token, &long, T).await;
    assert_eq!((rec["status"].as_str(), rec["attempts"].as_i64()), (Some("FAILED"), Some(1)), "permanent: {rec}");
    assert!(rec["error"].as_str().unwrap().contains("too long: 2 h, the limit is 1 h"), "{rec}");
    let rec = s.wait_terminal(&token, &wide, T).await;
    assert_eq!(rec["status"], "FAILED", "{rec}");
    assert!(rec["error"].as_str().unwrap().contains("too long: 10 min, the limit is 3 min 45 s"), "{rec}");
}
