//! Fault: the database is unreachable for 10 s in the middle of a batch (a TCP
//! proxy in front of the real MariaDB drops every connection and refuses new
//! ones). Nothing is lost, nothing is done twice, and the service recovers by
//! itself: results finished during the outage are kept and written once the
//! database is back, failures are recorded late rather than never.

mod common;

use common::Server;
use common::cluster::{reference, speech_window};
use common::mysql::{TestMysql, server_url};
use common::proxy::CuttableProxy;
use serde_json::Value;
use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

const N: usize = 24;

/// host:port of a mysql:// URL.
fn host_port(url: &str) -> String {
    let rest = url.trim_start_matches("mysql://");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_second_database_outage_loses_and_duplicates_nothing() {
    let db = TestMysql::create().await;
    let upstream_hp = host_port(&server_url());
    let upstream: SocketAddr = upstream_hp.to_socket_addrs().unwrap().next().unwrap();
    let proxy = CuttableProxy::start(upstream).await;
    // prefer_socket=false: otherwise the MySQL driver, seeing 127.0.0.1, switches to
    // the server's Unix socket and the proxy would cut nothing.
    let url = format!("{}?prefer_socket=false", db.url.replacen(&upstream_hp, &proxy.addr.to_string(), 1));
    let s = Server::start(&[
        ("ORAK_STORAGE__DATABASE_URL", url.as_str()),
        ("ORAK_PIPELINE__WORKERS", "2"),
        // 24 recordings of one user wait at once: the per-user cap is off here.
        ("ORAK_UPLOADS__MAX_ACTIVE_PER_USER", "0"),
        // Slow enough that the outage hits jobs in every state.
        ("ORAK_FAULTS__WORKER_DELAY_MS", "400"),
        ("ORAK_RETRY__BASE_MS", "200"),
        ("ORAK_RETRY__CAP_MS", "2000"),
        ("ORAK_RETRY__MAX_RETRIES", "8"),
        ("ORAK_PIPELINE__LEASE_SECONDS", "60"),
        // A completion whose indexing failed in the outage is picked up by the next sync.
        ("ORAK_VECTORS__SYNC_INTERVAL_SECONDS", "3"),
    ])
    .await;
    let token = s.token("dora", false);
    // Speech, so that every record gets a voice embedding.
    let wav = reference("speech_60s_16k.wav");
    let pcm: Vec<i16> =
        hound::WavReader::new(std::io::Cursor::new(wav)).unwrap().samples().map(|x| x.unwrap()).collect();
    let mut ids = Vec::new();
    for i in 0..N {
        ids.push(s.upload_presigned(&token, &format!("take{i}.wav"), speech_window(&pcm, i as f64 * 2.3, 1.5)).await);
    }
    // Let some finish, then cut the database off for 10 s.
    let deadline = Instant::now() + Duration::from_secs(120);
    while db.query_count("SELECT COUNT(*) AS n FROM records WHERE status = 'COMPLETED'").await < 3 {
        assert!(Instant::now() < deadline, "nothing completed; log:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.cut();
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ready = s.client.get(s.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "ready while the database is unreachable; log:\n{}", s.log());
    let r = s.client.get(s.url(&format!("/api/records/{}", ids[0]))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 503, "a read says 'try again', not 500");
    // The outage shows in /metrics (which needs no database) for the alert rule.
    let metrics = s.metrics().await;
    assert!(metrics.lines().any(|l| l == "orak_database_up 0"), "{metrics}");
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(cut_at.elapsed())).await;
    proxy.restore();
    let restored = Instant::now();

    // Every record completes, once.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let done = db.query_count("SELECT COUNT(*) AS n FROM records WHERE status IN ('COMPLETED', 'FAILED')").await;
        if done as usize == N {
            break;
        }
        assert!(Instant::now() < deadline, "{done}/{N} finished; log:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = restored.elapsed();
    let metrics = s.metrics().await;
    assert!(metrics.lines().any(|l| l == "orak_database_up 1"), "{metrics}");
    assert_eq!(
        db.query_count("SELECT COUNT(*) AS n FROM records WHERE status = 'COMPLETED'").await as usize,
        N,
        "{}",
        s.log()
    );
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM analyses").await as usize, N);
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'completed'").await as usize, N);
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM embeddings").await as usize, N);
    assert_eq!(db.query_count("SELECT COUNT(DISTINCT record_id) AS n FROM embeddings").await as usize, N);
    // The vector index holds each exactly once: the others of this singer, no repeats.
    s.wait_ready().await;
    let path = format!("/api/records/{}/similar?k=50", ids[0]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        let similar: Value = s.get_json(&token, &path).await;
        let found: Vec<String> =
            similar["items"].as_array().unwrap().iter().map(|i| i["record_id"].as_str().unwrap().to_owned()).collect();
        if found.len() == N - 1 || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(found.len(), N - 1, "{found:?}");
    assert_eq!(found.iter().collect::<HashSet<_>>().len(), N - 1, "{found:?}");
    let attempts = db.query_count("SELECT COUNT(*) AS n FROM attempts").await;
    eprintln!(
        "database outage: jobs={N} outage=10s lost=0 duplicated=0 attempts={attempts} recovered_in={:.1}s",
        recovered.as_secs_f64()
    );
}
