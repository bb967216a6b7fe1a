//! Object-created notifications in the formats object stores send them: AWS S3
//! event notifications (`Records[]`, what SNS/SQS/Lambda and MinIO's webhook
//! deliver), Amazon EventBridge "Object Created" events, and SeaweedFS's filer
//! webhook (`{key, event_type, message}` around an `EventNotification`) and its
//! Kafka notifications (the same `EventNotification` as binary protobuf, keyed by
//! the full path: `parse_seaweedfs_protobuf`). Pure parsing: what to do with a
//! created object is the s3-event actor's business.

use serde_json::Value;

/// Where a notification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    AwsS3,
    Minio,
    EventBridge,
    SeaweedFs,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::AwsS3 => "aws-s3",
            Format::Minio => "minio",
            Format::EventBridge => "eventbridge",
            Format::SeaweedFs => "seaweedfs",
        }
    }
}

/// One object a notification says was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    /// The bucket, when the format names it.
    pub bucket: Option<String>,
    /// The object key inside the bucket, decoded.
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
}

/// What one notification body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub format: Format,
    pub created: Vec<CreatedObject>,
    /// Events of other kinds (removals, test events, directories), skipped.
    pub ignored: usize,
}

/// A body that is not a notification we understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketEventError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a bucket notification this service understands (AWS S3, EventBridge, MinIO, SeaweedFS)")]
    UnknownFormat,
    #[error("malformed {format} notification: {what}")]
    Malformed { format: &'static str, what: String },
}

fn malformed(format: Format, what: impl Into<String>) -> BucketEventError {
    BucketEventError::Malformed { format: format.as_str(), what: what.into() }
}

/// S3 notifications URL-encode keys the way HTML forms do (`+` for a space).
fn decode_form(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, p| v.get(p)).and_then(Value::as_str)
}

fn u64_at(v: &Value, path: &[&str]) -> Option<u64> {
    let v = path.iter().try_fold(v, |v, p| v.get(p))?;
    // Go's protobuf JSON writes 64-bit integers as strings.
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Parses one notification body.
pub fn parse(body: &[u8]) -> Result<Notification, BucketEventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| BucketEventError::NotJson(e.to_string()))?;
    if let Some(records) = v.get("Records") {
        return records_format(&v, records);
    }
    if v.get("detail-type").is_some() {
        return eventbridge(&v);
    }
    if str_at(&v, &["Event"]) == Some("s3:TestEvent") {
        // What S3 sends once when a notification destination is configured.
        return Ok(Notification { format: Format::AwsS3, created: Vec::new(), ignored: 1 });
    }
    if v.get("event_type").is_some() && (v.get("message").is_some() || v.get("message_data").is_some()) {
        return seaweedfs(&v);
    }
    Err(BucketEventError::UnknownFormat)
}

/// AWS S3 event notifications and MinIO's webhook (the same `Records`, plus
/// MinIO's top-level `EventName`/`Key`).
fn records_format(v: &Value, records: &Value) -> Result<Notification, BucketEventError> {
    let records = records.as_array().ok_or_else(|| malformed(Format::AwsS3, "Records is not a list"))?;
    let minio = v.get("EventName").is_some()
        || records.iter().any(|r| str_at(r, &["eventSource"]).is_some_and(|s| s.starts_with("minio")));
    let format = if minio { Format::Minio } else { Format::AwsS3 };
    let mut out = Notification { format, created: Vec::new(), ignored: 0 };
    for r in records {
        let name = str_at(r, &["eventName"]).ok_or_else(|| malformed(format, "a record has no eventName"))?;
        // AWS: "ObjectCreated:Put"; MinIO: "s3:ObjectCreated:Put".
        if !name.trim_start_matches("s3:").starts_with("ObjectCreated:") {
            out.ignored += 1;
            continue;
        }
        let key =
            str_at(r, &["s3", "object", "key"]).ok_or_else(|| malformed(format, "a record has no s3.object.key"))?;
        out.created.push(CreatedObject {
            bucket: str_at(r, &["s3", "bucket", "name"]).map(str::to_owned),
            key: decode_form(key),
            size: u64_at(r, &["s3", "object", "size"]),
            etag: str_at(r, &["s3", "object", "eTag"]).map(|e| e.trim_matches('"').to_owned()),
        });
    }
    Ok(out)
}

/// EventBridge delivers one event per body; keys are not URL-encoded there.
fn eventbridge(v: &Value) -> Result<Notification, BucketEventError> {
    let format = Format::EventBridge;
    if str_at(v, &["source"]) != Some("aws.s3") || str_at(v, &["detail-type"]) != Some("Object Created") {
        return Ok(Notification { format, created: Vec::new(), ignored: 1 });
    }
    let key = str_at(v, &["detail", "object", "key"]).ok_or_else(|| malformed(format, "no detail.object.key"))?;
    Ok(Notification {
        format,
        created: vec![CreatedObject {
            bucket: str_at(v, &["detail", "bucket", "name"]).map(str::to_owned),
            key: key.to_owned(),
            size: u64_at(v, &["detail", "object", "size"]),
            etag: str_at(v, &["detail", "object", "etag"]).map(str::to_owned),
        }],
        ignored: 0,
    })
}

/// SeaweedFS: the webhook sends `{"key": "/buckets/B/K", "event_type": "create",
/// "message": EventNotification}` (`message_data` in some releases). An
/// `EventNotification` with a `new_entry` and no `old_entry` is a creation.
fn seaweedfs(v: &Value) -> Result<Notification, BucketEventError> {
    let format = Format::SeaweedFs;
    let message = v.get("message").filter(|m| !m.is_null()).or_else(|| v.get("message_data")).unwrap_or(&Value::Null);
    let created =
        message.get("new_entry").is_some_and(|e| !e.is_null()) && message.get("old_entry").is_none_or(Value::is_null);
    let is_dir = message.get("new_entry").and_then(|e| e.get("is_directory")).and_then(Value::as_bool) == Some(true);
    if !created || is_dir {
        return Ok(Notification { format, created: Vec::new(), ignored: 1 });
    }
    let entry = &message["new_entry"];
    let name = str_at(entry, &["name"]).ok_or_else(|| malformed(format, "new_entry has no name"))?;
    let parent = str_at(message, &["new_parent_path"]).unwrap_or("");
    let size = u64_at(entry, &["attributes", "file_size"]);
    Ok(seaweed_created(str_at(v, &["key"]), parent, name, size))
}

/// The object a SeaweedFS creation names. The full path is the notification's
/// key, or the parent path plus the name; S3 buckets live under
/// `/buckets/<bucket>/` in the filer.
fn seaweed_created(full_path: Option<&str>, parent: &str, name: &str, size: Option<u64>) -> Notification {
    let path = match full_path {
        Some(k) if k.ends_with(name) => k.to_owned(),
        _ => format!("{}/{name}", parent.trim_end_matches('/')),
    };
    let (bucket, key) = match path.strip_prefix("/buckets/").and_then(|rest| rest.split_once('/')) {
        Some((b, k)) => (Some(b.to_owned()), k.to_owned()),
        None => (None, path.trim_start_matches('/').to_owned()),
    };
    Notification {
        format: Format::SeaweedFs,
        created: vec![CreatedObject { bucket, key, size, etag: None }],
        ignored: 0,
    }
}

/// The parts of SeaweedFS's `filer.proto` a notification needs (prost skips the
/// other fields): `EventNotification { Entry old_entry = 1; Entry new_entry = 2;
/// bool delete_chunks = 3; string new_parent_path = 4; }`, `Entry { string name
/// = 1; bool is_directory = 2; FuseAttributes attributes = 4; }`,
/// `FuseAttributes { uint64 file_size = 1; }`.
mod filer_pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EventNotification {
        #[prost(message, optional, tag = "1")]
        pub old_entry: Option<Entry>,
        #[prost(message, optional, tag = "2")]
        pub new_entry: Option<Entry>,
        #[prost(string, tag = "4")]
        pub new_parent_path: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(bool, tag = "2")]
        pub is_directory: bool,
        #[prost(message, optional, tag = "4")]
        pub attributes: Option<FuseAttributes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct FuseAttributes {
        #[prost(uint64, tag = "1")]
        pub file_size: u64,
    }
}

/// Parses one SeaweedFS Kafka notification: the message key is the full path,
/// the value a protobuf `EventNotification`.
pub fn parse_seaweedfs_protobuf(key: &str, payload: &[u8]) -> Result<Notification, BucketEventError> {
    use prost::Message;
    let format = Format::SeaweedFs;
    let ev = filer_pb::EventNotification::decode(payload).map_err(|e| malformed(format, format!("protobuf: {e}")))?;
    match (&ev.old_entry, &ev.new_entry) {
        (None, Some(entry)) if !entry.is_directory && !entry.name.is_empty() => {
            let size = entry.attributes.as_ref().map(|a| a.file_size);
            Ok(seaweed_created(Some(key), &ev.new_parent_path, &entry.name, size))
        }
        _ => Ok(Notification { format, created: Vec::new(), ignored: 1 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's documented example of an S3 event notification (event message
    // structure, "ObjectCreated:Put"), with a key that needs decoding.
    const AWS: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
      "eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put",
      "userIdentity":{"principalId":"EXAMPLE"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},
      "responseElements":{"x-amz-request-id":"EXAMPLE123456789","x-amz-id-2":"EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH"},
      "s3":{"s3SchemaVersion":"1.0","configurationId":"testConfigRule",
        "bucket":{"name":"example-bucket","ownerIdentity":{"principalId":"EXAMPLE"},"arn":"arn:aws:s3:::example-bucket"},
        "object":{"key":"audio%2F0192b1a0-0000-7000-8000-000000000001","size":1024,"eTag":"0123456789abcdef0123456789abcdef","sequencer":"0A1B2C3D4E5F678901"}}},
      {"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectRemoved:Delete",
       "s3":{"bucket":{"name":"example-bucket"},"object":{"key":"audio/x","sequencer":"0A1B2C3D4E5F678902"}}}]}"#;

    // The shape of a CompleteMultipartUpload delivered through EventBridge.
    const EVENTBRIDGE: &str = r#"{"version":"0","id":"c9888434-815d-c6f4-9fc2-4dd7bdeccaaf","detail-type":"Object Created",
      "source":"aws.s3","account":"123456789012","time":"2023-08-09T13:09:50Z","region":"eu-west-1",
      "resources":["arn:aws:s3:::uploads"],"detail":{"version":"0","bucket":{"name":"uploads"},
      "object":{"key":"audio/0192b1a0-0000-7000-8000-000000000002","size":198524144,"etag":"4af981f98d22a0b9979da24b259e5e42-12",
      "sequencer":"0064D3901D00059242"},"request-id":"XRRTKJXSZQCWNQR1","requester":"123456789012",
      "source-ip-address":"192.0.2.1","reason":"CompleteMultipartUpload"}}"#;

    // MinIO's webhook target: AWS-shaped records plus EventName and Key.
    const MINIO: &str = r#"{"EventName":"s3:ObjectCreated:Put","Key":"uploads/audio/0192b1a0-0000-7000-8000-000000000003",
      "Records":[{"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2024-01-01T00:00:00.000Z",
      "eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minioadmin"},
      "s3":{"s3SchemaVersion":"1.0","configurationId":"Config","bucket":{"name":"uploads","ownerIdentity":{"principalId":"minioadmin"},"arn":"arn:aws:s3:::uploads"},
      "object":{"key":"audio%2F0192b1a0-0000-7000-8000-000000000003","size":2048,"eTag":"\"d41d8cd98f00b204e9800998ecf8427e\"","contentType":"audio/wav","sequencer":"17A0"}},
      "source":{"host":"127.0.0.1","port":"","userAgent":"MinIO (linux; amd64) minio-go/v7"}}]}"#;

    // SeaweedFS's webhook envelope around a filer EventNotification (Go's
    // encoding/json of the protobuf struct: snake_case, 64-bit numbers as numbers).
    // tests/s3_objects.rs also has a real SeaweedFS filer post its own.
    const SEAWEED_WEBHOOK: &str = r#"{"key":"/buckets/uploads/audio/0192b1a0-0000-7000-8000-000000000004","event_type":"create",
      "message":{"new_entry":{"name":"0192b1a0-0000-7000-8000-000000000004","chunks":[{"file_id":"3,01637037d6","size":4096}],
      "attributes":{"file_size":4096,"mtime":1700000000,"file_mode":432,"mime":"audio/wav","md5":"1B2M2Y8AsgTpgAmY7PhCfg=="}},
      "new_parent_path":"/buckets/uploads/audio"}}"#;

    #[test]
    fn aws_records_are_decoded_and_removals_skipped() {
        let n = parse(AWS.as_bytes()).expect("parse");
        assert_eq!(n.format, Format::AwsS3);
        assert_eq!(n.ignored, 1);
        assert_eq!(
            n.created,
            vec![CreatedObject {
                bucket: Some("example-bucket".into()),
                key: "audio/0192b1a0-0000-7000-8000-000000000001".into(),
                size: Some(1024),
                etag: Some("0123456789abcdef0123456789abcdef".into()),
            }]
        );
    }

    // Captured from SeaweedFS 4.48's Kafka notifications (tansu broker): the creation
    // of directory /buckets/bkt1 (key, then the protobuf value, hex).
    const SEAWEED_KAFKA_DIR: (&str, &str) = (
        "/buckets/bkt1",
        "123a0a04626b74311001223010a9f5b4d80618f98380800830a9f5b4d806880196d6b2c3a397b9c8ee0190018092b8c398feffffff019801f5bda83d22082f6275636b6574733205cdb5aeec06",
    );

    #[test]
    fn seaweedfs_kafka_protobuf() {
        use prost::Message;
        // A real directory creation is recognised and skipped.
        let n = parse_seaweedfs_protobuf(SEAWEED_KAFKA_DIR.0, &hex::decode(SEAWEED_KAFKA_DIR.1).unwrap()).unwrap();
        assert_eq!((n.created.len(), n.ignored), (0, 1));
        // A file creation, encoded with the same schema.
        let file = filer_pb::EventNotification {
            old_entry: None,
            new_entry: Some(filer_pb::Entry {
                name: "0192b1a0-0000-7000-8000-000000000009".into(),
                is_directory: false,
                attributes: Some(filer_pb::FuseAttributes { file_size: 4242 }),
            }),
            new_parent_path: "/buckets/uploads/audio".into(),
        };
        let n = parse_seaweedfs_protobuf(
            "/buckets/uploads/audio/0192b1a0-0000-7000-8000-000000000009",
            &file.encode_to_vec(),
        )
        .unwrap();
        assert_eq!(
            n.created,
            [CreatedObject {
                bucket: Some("uploads".into()),
                key: "audio/0192b1a0-0000-7000-8000-000000000009".into(),
                size: Some(4242),
                etag: None
            }]
        );
        // An update (old and new entry) and garbage.
        let update = filer_pb::EventNotification { old_entry: file.new_entry.clone(), ..file.clone() };
        assert_eq!(parse_seaweedfs_protobuf("/x", &update.encode_to_vec()).unwrap().ignored, 1);
        assert!(parse_seaweedfs_protobuf("/x", &[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn eventbridge_minio_and_seaweedfs() {
        let n = parse(EVENTBRIDGE.as_bytes()).expect("eventbridge");
        assert_eq!(
            (n.format, n.created[0].key.as_str(), n.created[0].size),
            (Format::EventBridge, "audio/0192b1a0-0000-7000-8000-000000000002", Some(198_524_144))
        );
        let n = parse(MINIO.as_bytes()).expect("minio");
        assert_eq!(n.format, Format::Minio);
        assert_eq!(n.created[0].key, "audio/0192b1a0-0000-7000-8000-000000000003");
        assert_eq!(n.created[0].etag.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));
        let n = parse(SEAWEED_WEBHOOK.as_bytes()).expect("seaweed webhook");
        assert_eq!(n.format, Format::SeaweedFs);
        assert_eq!(n.created[0].bucket.as_deref(), Some("uploads"));
        assert_eq!(n.created[0].key, "audio/0192b1a0-0000-7000-8000-000000000004");
        assert_eq!(n.created[0].size, Some(4096));
        // Releases that name the field message_data, with 64-bit numbers as strings.
        let alt = SEAWEED_WEBHOOK
            .replace("\"message\"", "\"message_data\"")
            .replace("\"file_size\":4096", "\"file_size\":\"4096\"");
        assert_eq!(parse(alt.as_bytes()).expect("message_data").created, n.created);
    }

    #[test]
    fn other_events_are_ignored_and_garbage_is_refused() {
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-01-01T00:00:00.000Z","Bucket":"b","RequestId":"1","HostId":"2"}"#;
        assert_eq!(parse(test_event.as_bytes()).expect("test event").created, vec![]);
        let deleted = r#"{"key":"/buckets/b/audio/x","event_type":"delete","message":{"old_entry":{"name":"x"}}}"#;
        assert_eq!(parse(deleted.as_bytes()).expect("delete").ignored, 1);
        let dir = r#"{"key":"/buckets/b/audio","event_type":"create","message":{"new_entry":{"name":"audio","is_directory":true},"new_parent_path":"/buckets/b"}}"#;
        assert_eq!(parse(dir.as_bytes()).expect("dir").ignored, 1);
        let other = r#"{"version":"0","detail-type":"Object Deleted","source":"aws.s3","detail":{}}"#;
        assert_eq!(parse(other.as_bytes()).expect("eventbridge delete").ignored, 1);
        assert!(matches!(parse(b"not json"), Err(BucketEventError::NotJson(_))));
        assert_eq!(parse(b"{\"hello\":1}"), Err(BucketEventError::UnknownFormat));
        assert!(matches!(
            parse(br#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#),
            Err(BucketEventError::Malformed { .. })
        ));
        assert!(matches!(parse(br#"{"Records":{}}"#), Err(BucketEventError::Malformed { .. })));
    }
}
