//! What the distributed-mode tests share: a `Cluster` (one MariaDB database, one
//! S3 bucket, one Kafka consumer group, one pgvector table and one Redis prefix
//! per test, for any number of instances) and helpers to feed it.

use super::Server;
use super::mysql::TestMysql;
use serde_json::Value;
use std::path::PathBuf;

pub fn env_or(k: &str, default: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| default.to_owned())
}

pub fn reference(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/audio").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What the instances of one test share.
pub struct Cluster {
    pub db: TestMysql,
    pub env: Vec<(String, String)>,
    /// The shared pgvector table of this test.
    pub pg_url: String,
    pub pg_table: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let (url, table) = (self.pg_url.clone(), self.pg_table.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.ok()?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP TABLE IF EXISTS {table}")).await.ok()
            })
        })
        .join();
    }
}

impl Cluster {
    pub async fn new(extra: &[(&str, &str)]) -> Cluster {
        let db = TestMysql::create().await;
        let need = |k: &str| {
            std::env::var(k)
                .unwrap_or_else(|_| panic!("{k} is not set: `bash scripts/test.sh` starts SeaweedFS and sets it"))
        };
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let (pg_url, pg_table) = (need("TEST_PGVECTOR_URL"), format!("vv_dist_{tag}"));
        let mut env: Vec<(String, String)> = vec![
            ("ORAK_STORAGE__DATABASE_URL".into(), db.url.clone()),
            ("ORAK_STORAGE__OBJECTS".into(), "s3".into()),
            ("ORAK_S3__ENDPOINT".into(), need("TEST_S3_ENDPOINT")),
            ("ORAK_S3__ACCESS_KEY_ID".into(), need("TEST_S3_ACCESS_KEY")),
            ("ORAK_S3__SECRET_ACCESS_KEY".into(), need("TEST_S3_SECRET_KEY")),
            ("ORAK_S3__BUCKET".into(), format!("orak-dist-{tag}")),
            ("ORAK_S3__CREATE_BUCKET".into(), "true".into()),
            ("ORAK_REDIS__URL".into(), env_or("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")),
            ("ORAK_REDIS__PREFIX".into(), format!("orak-test-{tag}:")),
            ("ORAK_AUTH__JWT_SECRET".into(), format!("cluster-secret-{tag}")),
            ("ORAK_WEBHOOKS__SECRET".into(), "hook".into()),
            ("ORAK_KAFKA__BROKERS".into(), need("TEST_KAFKA_BROKERS")),
            ("ORAK_KAFKA__GROUP_ID".into(), format!("orak-dist-{tag}")),
            ("ORAK_KAFKA__SESSION_TIMEOUT_MS".into(), "6000".into()),
            ("ORAK_KAFKA__HEARTBEAT_INTERVAL_MS".into(), "1000".into()),
            ("ORAK_KAFKA__OUTBOX_INTERVAL_MS".into(), "200".into()),
            ("ORAK_KAFKA__PARTITIONS".into(), "4".into()),
            ("ORAK_VECTORS__BACKEND".into(), "pgvector".into()),
            ("ORAK_VECTORS__PGVECTOR_URL".into(), pg_url.clone()),
            ("ORAK_VECTORS__PGVECTOR_TABLE".into(), pg_table.clone()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Cluster { db, env, pg_url, pg_table }
    }

    /// The test's S3 bucket.
    pub fn bucket(&self) -> String {
        self.env.iter().find(|(k, _)| k == "ORAK_S3__BUCKET").expect("a bucket").1.clone()
    }

    /// One number from the shared pgvector table.
    pub async fn pg_count(&self, what: &str) -> i64 {
        let (client, conn) = tokio_postgres::connect(&self.pg_url, tokio_postgres::NoTls).await.expect("pgvector");
        tokio::spawn(conn);
        client.query_one(&format!("SELECT {what} FROM {}", self.pg_table), &[]).await.expect(what).get(0)
    }

    /// The test's bucket, opened as the service opens it (to look objects up).
    pub async fn objects(&self) -> orakgaraki::store::s3::S3Objects {
        let env = |k: &str| self.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let config = orakgaraki::store::s3::S3Config {
            endpoint: env("ORAK_S3__ENDPOINT"),
            bucket: self.bucket(),
            access_key_id: env("ORAK_S3__ACCESS_KEY_ID"),
            secret_access_key: env("ORAK_S3__SECRET_ACCESS_KEY"),
            ..Default::default()
        };
        let dir = std::env::temp_dir().join(format!("orak-probe-{}", self.bucket()));
        orakgaraki::store::s3::S3Objects::open(&config, dir).await.expect("the test bucket")
    }

    pub async fn instance(&self) -> Server {
        let pairs: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Server::start(&pairs).await
    }
}

/// Tells `s` that the object of record `id` arrived, as the bucket's notification would.
pub async fn bucket_event(s: &Server, bucket: &str, id: &str, size: usize) {
    let note = serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": format!("audio/{id}"), "size": size}}}]});
    let r = s.client.post(s.url("/api/records/async/upload-completed")).bearer_auth("hook").json(&note).send().await;
    let out: Value = r.unwrap().json().await.unwrap();
    assert_eq!(out["applied"], 1, "{out}\n{}", s.log());
}

/// Presigns on `s` and PUTs the bytes straight into the bucket (no event yet).
pub async fn presigned_put(s: &Server, token: &str, name: &str, body: Vec<u8>) -> String {
    let ticket = s.presign(token, name, body.len()).await;
    put_ticket(s, &ticket, body).await;
    ticket["record_id"].as_str().unwrap().to_owned()
}

/// PUTs the bytes to a presigned ticket's URL, with the headers it names.
pub async fn put_ticket(s: &Server, ticket: &Value, body: Vec<u8>) {
    let mut req = s.client.put(ticket["upload_url"].as_str().unwrap()).body(body);
    for (k, v) in ticket["headers"].as_object().unwrap() {
        if !k.eq_ignore_ascii_case("content-length") {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
    }
    let status = req.send().await.unwrap().status();
    assert!(status.is_success(), "PUT to the bucket: {status}");
}

pub fn item_ids(body: &Value) -> Vec<String> {
    body["items"].as_array().expect("items").iter().map(|i| i["record_id"].as_str().unwrap().to_owned()).collect()
}

/// The instance id a server logged at start.
pub fn instance_id(s: &Server) -> String {
    let log = s.full_log();
    let at = log.find("instance=").unwrap_or_else(|| panic!("no instance id in the log:\n{log}"));
    log[at + "instance=".len()..].split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap().to_owned()
}

/// `seconds` of the 60 s speech recording from `start`, as a 16 kHz WAV.
pub fn speech_window(pcm: &[i16], start: f64, seconds: f64) -> Vec<u8> {
    let (from, len) = ((start * 16_000.0) as usize, (seconds * 16_000.0) as usize);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for &x in &pcm[from..from + len] {
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}
