//! Faults in the distributed mode, each against a real server the test owns and
//! stops in the middle of a batch: the Kafka broker restarts (losing everything
//! it held), Redis stops, the object store stops. Every recording still ends
//! COMPLETED exactly once — one analysis, one completed attempt, one embedding,
//! one pgvector row — and the time to recover is printed.
//! (One of two instances being killed is `distributed.rs`.)

mod common;

use common::cluster::{Cluster, bucket_event, presigned_put, put_ticket, reference, speech_window};
use common::services::{self, Service};
use common::{Server, collect_sse, statuses};
use std::time::{Duration, Instant};

const N: usize = 16;

/// `N` short takes of the reference speech, presigned through `s`, PUT into the
/// bucket, their bucket events sent to `s`; returns the record ids.
async fn submit(cluster: &Cluster, s: &Server, token: &str, n: usize) -> Vec<String> {
    let bucket = cluster.bucket();
    let wav = reference("speech_60s_16k.wav");
    let pcm: Vec<i16> =
        hound::WavReader::new(std::io::Cursor::new(wav)).unwrap().samples().map(|x| x.unwrap()).collect();
    let mut ids = Vec::new();
    for i in 0..n {
        let body = speech_window(&pcm, i as f64 * 3.1, 1.5);
        let size = body.len();
        let id = presigned_put(s, token, &format!("take{i}.wav"), body).await;
        bucket_event(s, &bucket, &id, size).await;
        ids.push(id);
    }
    ids
}

/// Waits until at least `n` records are COMPLETED.
async fn wait_completed(cluster: &Cluster, n: i64, s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while cluster.db.query_count("SELECT COUNT(*) AS n FROM records WHERE status = 'COMPLETED'").await < n {
        assert!(Instant::now() < deadline, "fewer than {n} completed; log:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every one of the `n` records finished COMPLETED exactly once, in MySQL and in
/// pgvector. Returns the seconds it took from `since`.
async fn assert_exactly_once(cluster: &Cluster, n: usize, since: Instant, servers: &[&Server]) -> f64 {
    let db = &cluster.db;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let done = db.query_count("SELECT COUNT(*) AS n FROM records WHERE status IN ('COMPLETED', 'FAILED')").await;
        if done as usize == n {
            break;
        }
        if Instant::now() >= deadline {
            let mut states = Vec::new();
            for status in ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "RETRYING", "COMPLETED", "FAILED"] {
                let q = format!("SELECT COUNT(*) AS n FROM records WHERE status = '{status}'");
                states.push(format!("{status}={}", db.query_count(&q).await));
            }
            let outbox = db.query_count("SELECT COUNT(*) AS n FROM outbox").await;
            let logs: Vec<String> =
                servers.iter().map(|s| format!("server alive={}:\n{}", s.alive(), s.app_log())).collect();
            panic!(
                "{done}/{n} finished; records {}; outbox rows {outbox}\n{}",
                states.join(" "),
                logs.join("\n-----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = since.elapsed().as_secs_f64();
    let completed = db.query_count("SELECT COUNT(*) AS n FROM records WHERE status = 'COMPLETED'").await as usize;
    assert_eq!(completed, n, "{}", servers[0].log());
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM analyses").await as usize, n);
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'completed'").await as usize, n);
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM embeddings").await as usize, n);
    // pgvector is brought in line with the database by each completion (and the periodic sync).
    let deadline = Instant::now() + Duration::from_secs(90);
    while cluster.pg_count("COUNT(*)").await as usize != n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(cluster.pg_count("COUNT(*)").await as usize, n, "pgvector: one row per record");
    assert_eq!(cluster.pg_count("COUNT(DISTINCT key)").await as usize, n);
    took
}

#[tokio::test]
async fn a_kafka_broker_restart_that_loses_every_message_loses_no_recording() {
    let mut broker = services::tansu();
    broker.start();
    let brokers = format!("127.0.0.1:{}", broker.port);
    let cluster = Cluster::new(&[
        ("ORAK_KAFKA__BROKERS", brokers.as_str()),
        ("ORAK_PIPELINE__WORKERS", "2"),
        ("ORAK_FAULTS__WORKER_DELAY_MS", "300"),
        ("ORAK_SWEEPER__INTERVAL_SECONDS", "1"),
        ("ORAK_SWEEPER__STUCK_QUEUED_SECONDS", "8"),
        ("ORAK_RETRY__BASE_MS", "200"),
    ])
    .await;
    let mut s = cluster.instance().await;
    let token = s.token("kafka-fan", false);
    let ids = submit(&cluster, &s, &token, N).await;
    wait_completed(&cluster, 3, &s).await;

    // The broker dies with jobs queued in its topics and comes back empty: no
    // topics, no messages, no group offsets. It stays down longer than a message's
    // delivery timeout (10 s), so the relay's producer gives up and is replaced
    // while no broker answers, and the consumer piles up connection errors.
    broker.kill();
    let down = std::env::var("KAFKA_DOWN_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    tokio::time::sleep(Duration::from_secs(down)).await;
    broker.start();
    let restarted = Instant::now();
    let took = assert_exactly_once(&cluster, N, restarted, &[&s]).await;
    let reannounced =
        s.full_log().matches("repair=\"stuck_queued\"").count() + s.full_log().matches("repair=stuck_queued").count();
    eprintln!("kafka restart: jobs={N} lost=0 duplicated=0 recovered_in={took:.1}s sweeps_reannouncing={reannounced}");
    assert_eq!(ids.len(), N);
    // A graceful stop closes the consumer (it leaves the group) within its bound.
    s.stop();
    assert!(!s.full_log().contains("still closing"), "the consumer did not close in time:\n{}", s.app_log());
}

#[tokio::test]
async fn redis_stopping_mid_batch_loses_nothing_and_the_fan_out_comes_back() {
    let mut redis = services::redis();
    redis.start();
    let url = format!("redis://127.0.0.1:{}/0", redis.port);
    let cluster = Cluster::new(&[
        ("ORAK_REDIS__URL", url.as_str()),
        ("ORAK_PIPELINE__WORKERS", "2"),
        ("ORAK_FAULTS__WORKER_DELAY_MS", "300"),
    ])
    .await;
    let (a, b) = (cluster.instance().await, cluster.instance().await);
    let token = a.token("redis-fan", false);
    let ids = submit(&cluster, &a, &token, N).await;
    wait_completed(&cluster, 3, &a).await;
    redis.kill();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Status events are an extra, not a dependency: both instances stay ready.
    for s in [&a, &b] {
        assert_eq!(s.client.get(s.url("/ready")).send().await.unwrap().status(), 200, "{}", s.log());
    }
    redis.start();
    let took = assert_exactly_once(&cluster, N, stopped, &[&a, &b]).await;
    eprintln!("redis outage: jobs={N} outage=5s lost=0 duplicated=0 done_in={took:.1}s after the stop");

    // The fan-out is back: streams on B show every step of records uploaded through A
    // (those A's workers process reach B only through Redis).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bucket = cluster.bucket();
    let bytes = reference("librivox_0870.wav");
    let mut after = Vec::new();
    for u in 0..6 {
        let token = a.token(&format!("listener{u}"), false);
        let ticket = a.presign(&token, "after.wav", bytes.len()).await;
        let id = ticket["record_id"].as_str().unwrap().to_owned();
        let stream = b.sse(&token, &id).await;
        assert_eq!(stream.status(), 200);
        let events = tokio::spawn(collect_sse(stream, Duration::from_secs(90)));
        put_ticket(&a, &ticket, bytes.clone()).await;
        bucket_event(&a, &bucket, &id, bytes.len()).await;
        after.push((id, events));
    }
    for (id, events) in after {
        let events = events.await.unwrap();
        assert_eq!(
            statuses(&events),
            ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "COMPLETED"],
            "record {id} on B: {events:?}\n{}",
            b.log()
        );
    }
    let by_a = cluster
        .db
        .query_count(&format!(
            "SELECT COUNT(*) AS n FROM attempts WHERE worker = '{}'",
            common::cluster::instance_id(&a)
        ))
        .await;
    eprintln!("after the outage A processed {by_a} records; their steps reached B through Redis");
    assert_eq!(ids.len(), N);
}

#[tokio::test]
async fn the_object_store_stopping_mid_batch_loses_nothing() {
    let (key, secret) = ("fault-key", "fault-secret");
    let mut store: Service = services::seaweed(key, secret);
    store.start();
    let endpoint = format!("http://127.0.0.1:{}", store.port);
    let cluster = Cluster::new(&[
        ("ORAK_S3__ENDPOINT", endpoint.as_str()),
        ("ORAK_S3__ACCESS_KEY_ID", key),
        ("ORAK_S3__SECRET_ACCESS_KEY", secret),
        ("ORAK_PIPELINE__WORKERS", "2"),
        ("ORAK_FAULTS__WORKER_DELAY_MS", "300"),
        ("ORAK_RETRY__BASE_MS", "500"),
        ("ORAK_RETRY__CAP_MS", "3000"),
        ("ORAK_RETRY__MAX_RETRIES", "20"),
    ])
    .await;
    // SeaweedFS answers on its port a little before it serves S3: the first instance waits.
    let s = loop {
        let started = tokio::time::timeout(Duration::from_secs(60), cluster.instance()).await;
        if let Ok(s) = started {
            break s;
        }
    };
    let token = s.token("s3-fan", false);
    let ids = submit(&cluster, &s, &token, N).await;
    wait_completed(&cluster, 3, &s).await;
    store.kill();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    store.start();
    let took = assert_exactly_once(&cluster, N, stopped, &[&s]).await;
    let retried = cluster.db.query_count("SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'retrying'").await;
    eprintln!(
        "object store outage: jobs={N} outage=8s lost=0 duplicated=0 retried_attempts={retried} done_in={took:.1}s after the stop"
    );
    assert_eq!(ids.len(), N);
}
