//! Bucket notifications over HTTP: a notification for an object that is in the
//! object store queues its record (which then completes), a replay changes
//! nothing, and missing objects, unknown keys, bad secrets and bad bodies are
//! answered for what they are.

mod common;

use common::{Server, sine_wav};
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "bucket-s3cret";

fn aws_created(key: &str, size: usize) -> Value {
    json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-30T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": { "s3SchemaVersion": "1.0", "bucket": { "name": "uploads" },
                "object": { "key": key.replace('/', "%2F"), "size": size, "eTag": "0123456789abcdef0123456789abcdef" } }
    }]})
}

async fn notify(s: &Server, secret: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = s.client.post(s.url("/api/records/async/upload-completed")).json(body);
    if let Some(secret) = secret {
        req = req.bearer_auth(secret);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_notification_queues_the_record_once() {
    let s = Server::start(&[("ORAK_WEBHOOKS__SECRET", SECRET)]).await;
    let token = s.token("ana", false);
    let wav = sine_wav(2.0, 16_000, 220.0, 0.5);
    let ticket = s.presign(&token, "take.wav", wav.len()).await;
    let id = ticket["record_id"].as_str().unwrap().to_owned();
    let key = format!("audio/{id}");

    // The store does not hold the object yet: nothing happens.
    let (status, out) = notify(&s, Some(SECRET), &aws_created(&key, wav.len())).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["missing"], 1, "{out}");
    assert_eq!(s.get_json(&token, &format!("/api/records/{id}")).await["status"], "PENDING");

    // The object lands in the store behind the service's back (as an S3 client
    // writing straight to the bucket would), then the notification comes.
    let path = s.data_dir.join("objects").join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &wav).unwrap();
    let (status, out) = notify(&s, Some(SECRET), &aws_created(&key, wav.len())).await;
    assert_eq!((status, out["format"].as_str(), out["applied"].as_u64()), (200, Some("aws-s3"), Some(1)), "{out}");
    let rec = s.wait_terminal(&token, &id, Duration::from_secs(60)).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    assert_eq!(rec["size"], wav.len() as u64);

    // A replay (stores deliver at least once) is harmless.
    let (status, out) = notify(&s, Some(SECRET), &aws_created(&key, wav.len())).await;
    assert_eq!((status, out["duplicates"].as_u64(), out["applied"].as_u64()), (200, Some(1), Some(0)), "{out}");
    assert_eq!(s.get_json(&token, &format!("/api/records/{id}")).await["attempts"], 1);

    // Keys that are not a record's audio, and records that do not exist.
    let (_, out) = notify(&s, Some(SECRET), &aws_created("avatars/me.png", 3)).await;
    assert_eq!(out["unknown"], 1, "{out}");
    let ghost = format!("audio/{}", uuid::Uuid::now_v7());
    let ghost_path = s.data_dir.join("objects").join(&ghost);
    std::fs::write(&ghost_path, b"RIFF").unwrap();
    let (_, out) = notify(&s, Some(SECRET), &aws_created(&ghost, 4)).await;
    assert_eq!(out["unknown"], 1, "{out}");

    // EventBridge and SeaweedFS shapes reach the same adapter.
    let eb = json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                    "detail": {"bucket": {"name": "uploads"}, "object": {"key": key, "size": wav.len()}}});
    let (status, out) = notify(&s, Some(SECRET), &eb).await;
    assert_eq!(
        (status, out["format"].as_str(), out["duplicates"].as_u64()),
        (200, Some("eventbridge"), Some(1)),
        "{out}"
    );
    let sw = json!({"key": format!("/buckets/uploads/{key}"), "event_type": "create",
                    "message": {"new_entry": {"name": id, "attributes": {"file_size": wav.len()}}, "new_parent_path": "/buckets/uploads/audio"}});
    let (_, out) = notify(&s, Some(SECRET), &sw).await;
    assert_eq!((out["format"].as_str(), out["duplicates"].as_u64()), (Some("seaweedfs"), Some(1)), "{out}");

    // Wrong or missing secret: 401; bodies that are not notifications: 400.
    assert_eq!(notify(&s, Some("guess"), &aws_created(&key, 1)).await.0, 401);
    assert_eq!(notify(&s, None, &aws_created(&key, 1)).await.0, 401);
    let (status, out) = notify(&s, Some(SECRET), &json!({"hello": "world"})).await;
    assert_eq!(status, 400, "{out}");
    assert!(out["error"]["message"].as_str().unwrap().contains("not a bucket notification"), "{out}");
}

#[tokio::test]
async fn without_a_secret_the_endpoint_is_off() {
    let s = Server::start(&[]).await;
    let (status, _) = notify(&s, Some("anything"), &aws_created("audio/x", 1)).await;
    assert_eq!(status, 404);
}
