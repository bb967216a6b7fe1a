//! Jobs through Kafka (tansu, started by `scripts/test.sh`: `TEST_KAFKA_BROKERS`,
//! `TEST_TANSU_BIN`) with the MariaDB database: every status change that announces
//! a job writes an outbox row in its transaction, the outbox relay produces it,
//! the job source consumes the job topics; each record is analysed once, and a
//! broker that is down only delays the work, which waits in the outbox.

mod common;

use common::mysql::TestMysql;
use common::{Server, sine_wav};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(120);

fn brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS")
        .expect("TEST_KAFKA_BROKERS is not set: `bash scripts/test.sh` starts tansu and sets it")
}

/// The service's environment for Kafka at `brokers` over `db`, in a consumer group
/// of its own, with the short group timeouts tests need.
fn env(db: &TestMysql, brokers: &str, group: &str) -> Vec<(String, String)> {
    [
        ("ORAK_STORAGE__DATABASE_URL", db.url.as_str()),
        ("ORAK_KAFKA__BROKERS", brokers),
        ("ORAK_KAFKA__GROUP_ID", group),
        ("ORAK_KAFKA__SESSION_TIMEOUT_MS", "6000"),
        ("ORAK_KAFKA__HEARTBEAT_INTERVAL_MS", "1000"),
        ("ORAK_KAFKA__OUTBOX_INTERVAL_MS", "200"),
        ("ORAK_KAFKA__PARTITIONS", "3"),
        ("ORAK_MODEL__ENABLED", "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn start(env: &[(String, String)]) -> Server {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start(&pairs).await
}

/// Every message on `topic` from the beginning (a reader in a group of its own),
/// until `want` arrived or `timeout` passed.
async fn read_topic(brokers: &str, topic: &str, want: usize, timeout: Duration) -> Vec<(String, Value)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("orak-test-reader-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create()
        .expect("test consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    while out.len() < want && Instant::now() < deadline {
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            let v: Value = serde_json::from_slice(m.payload().unwrap_or_default()).unwrap_or(Value::Null);
            out.push((key, v));
        }
    }
    out
}

fn group() -> String {
    format!("orak-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[tokio::test]
async fn jobs_flow_through_the_topics_once_each() {
    let db = TestMysql::create().await;
    let brokers = brokers();
    let s = start(&env(&db, &brokers, &group())).await;
    let (ana, bo) = (s.token("ana", false), s.token("bo", false));
    let mut ids = HashMap::new();
    for n in 0..6 {
        let (who, token) = if n % 2 == 0 { ("ana", &ana) } else { ("bo", &bo) };
        let wav = sine_wav(1.0 + n as f64 * 0.1, 16_000, 220.0, 0.4);
        let id = s.upload_presigned(token, &format!("t{n}.wav"), wav).await;
        ids.insert(id, (who, token.clone()));
    }
    for (id, (_, token)) in &ids {
        let rec = s.wait_terminal(token, id, T).await;
        assert_eq!(rec["status"], "COMPLETED", "{rec}");
        assert_eq!(rec["attempts"], 1, "{rec}");
    }
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM analyses").await, 6);
    // The relay emptied the outbox.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.query_count("SELECT COUNT(*) AS n FROM outbox").await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM outbox").await, 0);
    assert!(s.full_log().contains("jobs go through Kafka"), "{}", s.log());

    // What went over the wire: a processing message keyed by owner and a result
    // for each record (the topics are shared with other tests: keep ours).
    let processing = read_topic(&brokers, "audio.processing", usize::MAX, Duration::from_secs(8)).await;
    let results = read_topic(&brokers, "audio.processing.result", usize::MAX, Duration::from_secs(8)).await;
    for (id, (who, _)) in &ids {
        let ours: Vec<&(String, Value)> = processing.iter().filter(|(_, v)| v["record_id"] == id.as_str()).collect();
        assert_eq!(ours.len(), 1, "one job message for {id}");
        assert_eq!(ours[0].0, *who, "keyed by owner");
        assert_eq!(ours[0].1["status"], "QUEUED");
        assert_eq!(ours[0].1["object_key"], format!("audio/{id}"));
        let done: Vec<_> = results.iter().filter(|(_, v)| v["record_id"] == id.as_str()).collect();
        assert_eq!(done.len(), 1, "one result message for {id}");
        assert_eq!(done[0].1["status"], "COMPLETED");
    }
}

/// A broker of this test's own, on a free port.
struct Tansu {
    child: std::process::Child,
    brokers: String,
}

impl Tansu {
    fn start(port: u16) -> Tansu {
        let bin = std::env::var("TEST_TANSU_BIN").expect("TEST_TANSU_BIN (set by scripts/test.sh)");
        let url = format!("tcp://127.0.0.1:{port}");
        let child = std::process::Command::new(bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tansu");
        Tansu { child, brokers: format!("127.0.0.1:{port}") }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn work_waits_in_the_outbox_while_the_broker_is_down() {
    let db = TestMysql::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let brokers = format!("127.0.0.1:{port}");
    // The service starts with no broker up.
    let s = start(&env(&db, &brokers, &group())).await;
    let token = s.token("cy", false);
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(s.upload_presigned(&token, &format!("w{n}.wav"), sine_wav(1.0, 16_000, 330.0, 0.4)).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in &ids {
        assert_eq!(s.get_json(&token, &format!("/api/records/{id}")).await["status"], "QUEUED");
    }
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM outbox").await, 3, "announcements wait in the outbox");

    // The broker comes up: the relay produces, the consumer claims, all complete.
    let tansu = Tansu::start(port);
    assert_eq!(tansu.brokers, brokers);
    for id in &ids {
        let rec = s.wait_terminal(&token, id, T).await;
        assert_eq!(rec["status"], "COMPLETED", "{rec}\n{}", s.log());
    }
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'completed'").await, 3);
}

#[tokio::test]
async fn a_full_pool_pauses_the_partitions_and_leaves_work_in_kafka() {
    let db = TestMysql::create().await;
    let brokers = brokers();
    let mut e = env(&db, &brokers, &group());
    // One worker, each job held for a second: the pool is full most of the time.
    e.push(("ORAK_PIPELINE__WORKERS".into(), "1".into()));
    e.push(("ORAK_FAULTS__WORKER_DELAY_MS".into(), "1000".into()));
    e.push(("RUST_LOG".into(), "info,orakgaraki::actors::kafka_jobs=debug".into()));
    let s = start(&e).await;
    let token = s.token("dee", false);
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(s.upload_presigned(&token, &format!("p{n}.wav"), sine_wav(1.0, 16_000, 262.0, 0.4)).await);
    }
    // Never more than one job leased at a time: the others wait unclaimed (in Kafka).
    let deadline = Instant::now() + T;
    let mut most = 0;
    loop {
        let leased = db.query_count("SELECT COUNT(*) AS n FROM records WHERE status = 'PROCESSING'").await;
        most = most.max(leased);
        let done = db.query_count("SELECT COUNT(*) AS n FROM records WHERE status = 'COMPLETED'").await;
        if done == 4 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(most, 1, "the single worker's slot bounds the claims");
    for id in &ids {
        assert_eq!(s.wait_terminal(&token, id, T).await["status"], "COMPLETED");
    }
    let log = s.full_log();
    assert!(log.contains("job partitions paused"), "{}", s.log());
    assert!(log.contains("job partitions resumed"), "{}", s.log());
}
