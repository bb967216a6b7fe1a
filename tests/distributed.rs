//! The distributed mode: several instances of the real binary over one MariaDB
//! database, one S3 bucket (SeaweedFS), one Kafka broker (tansu; jobs go through
//! the topics in one consumer group), one pgvector table and one Redis — any instance takes any
//! request, a bucket event may reach any of them, an SSE stream on one shows what
//! another processes, and a SIGKILLed instance's jobs are finished by the other,
//! each exactly once.
//!
//! Needs MariaDB/MySQL (`TEST_MYSQL_URL`, default root@127.0.0.1:3306), Redis
//! (`TEST_REDIS_URL`, default redis://127.0.0.1:6379/0), and the S3 server, Kafka
//! broker and PostgreSQL with pgvector that `scripts/test.sh` starts
//! (`TEST_S3_ENDPOINT`…, `TEST_KAFKA_BROKERS`, `TEST_PGVECTOR_URL`).

mod common;

use common::cluster::{Cluster, bucket_event, instance_id, item_ids, presigned_put, reference, speech_window};
use common::{collect_sse, statuses};
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(120);

#[tokio::test]
async fn two_instances_serve_as_one() {
    let cluster = Cluster::new(&[]).await;
    let bucket = cluster.bucket();
    let a = cluster.instance().await;
    let b = cluster.instance().await;
    // One secret: a token from either instance works on both.
    let token = a.token("ana", false);
    assert!(a.full_log().contains("jobs go through Kafka"), "{}", a.log());

    // Uploaded through A; streams opened on A and B before the object arrives; the
    // bucket's event reaches B only.
    let wav = reference("librivox_0870.wav");
    let id = presigned_put(&a, &token, "take.wav", wav.clone()).await;
    let on_a = a.sse(&token, &id).await;
    let on_b = b.sse(&token, &id).await;
    assert_eq!(on_b.status(), 200);
    bucket_event(&b, &bucket, &id, wav.len()).await;
    let rec = a.wait_terminal(&token, &id, T).await;
    assert_eq!(rec["status"], "COMPLETED", "{rec}");
    let full = ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "COMPLETED"];
    for (name, stream) in [("A", on_a), ("B", on_b)] {
        let events = collect_sse(stream, T).await;
        assert_eq!(statuses(&events), full, "stream on {name}: {events:?}");
    }
    // Whichever instance processed it, the other reports the same record.
    assert_eq!(b.get_json(&token, &format!("/api/records/{id}")).await["status"], "COMPLETED");

    // More takes of the same reader through both instances; voice search answers
    // the same on both.
    let mut ids = vec![id];
    for (n, clip) in ["librivox_0890.wav", "librivox_0920.wav", "librivox_0930.wav"].iter().enumerate() {
        let (s, other) = if n % 2 == 0 { (&b, &a) } else { (&a, &b) };
        let bytes = reference(clip);
        let id = presigned_put(s, &token, clip, bytes.clone()).await;
        bucket_event(other, &bucket, &id, bytes.len()).await;
        assert_eq!(s.wait_terminal(&token, &id, T).await["status"], "COMPLETED");
        ids.push(id);
    }
    let path = format!("/api/records/{}/similar?k=10", ids[0]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (from_a, from_b) = loop {
        let (x, y) = (a.get_json(&token, &path).await, b.get_json(&token, &path).await);
        if (item_ids(&x) == item_ids(&y) && item_ids(&x).len() == 3) || Instant::now() > deadline {
            break (x, y);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(item_ids(&from_a), item_ids(&from_b), "A: {from_a}\nB: {from_b}");
    assert_eq!(item_ids(&from_a).into_iter().collect::<HashSet<_>>(), ids[1..].iter().cloned().collect());
    // A listing on either instance shows all four.
    assert_eq!(b.get_json(&token, "/api/records").await["items"].as_array().unwrap().len(), 4);
    assert_eq!(cluster.db.query_count("SELECT COUNT(*) AS n FROM analyses").await, 4);
    assert_eq!(cluster.db.query_count("SELECT COUNT(*) AS n FROM embeddings").await, 4);
    assert_eq!(cluster.pg_count("COUNT(*)").await, 4, "one shared pgvector table");
}

#[tokio::test]
async fn a_killed_instance_jobs_are_finished_by_the_other_exactly_once() {
    // Short leases so the survivor takes the dead instance's jobs back quickly.
    let cluster = Cluster::new(&[("ORAK_PIPELINE__LEASE_SECONDS", "6"), ("ORAK_MODEL__ENABLED", "false")]).await;
    let mut servers = [cluster.instance().await, cluster.instance().await];
    let instance_ids = [instance_id(&servers[0]), instance_id(&servers[1])];
    // Four users: their jobs spread over the topic's partitions, so both instances get some.
    let tokens: Vec<String> = (0..4).map(|u| servers[0].token(&format!("user{u}"), false)).collect();
    // Long enough that an instance is mid-analysis when it dies.
    let wav = reference("speech_60s_22k.wav");
    let mut ids = Vec::new();
    for n in 0..8 {
        let token = &tokens[n % tokens.len()];
        let r = servers[n % 2].upload_multipart(token, &format!("take{n}.wav"), wav.clone(), None).await;
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        ids.push((body["record_id"].as_str().unwrap().to_owned(), token.clone()));
    }
    // Kill whichever instance first holds a lease.
    let held =
        |who: &str| format!("SELECT COUNT(*) AS n FROM records WHERE status = 'PROCESSING' AND lease_owner = '{who}'");
    let deadline = Instant::now() + T;
    let victim = loop {
        let mut found = None;
        for v in [0, 1] {
            if cluster.db.query_count(&held(&instance_ids[v])).await > 0 {
                found = Some(v);
                break;
            }
        }
        if let Some(v) = found {
            break v;
        }
        assert!(Instant::now() < deadline, "no instance took a job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    servers[victim].kill9();
    let survivor = &servers[1 - victim];
    for (id, token) in &ids {
        let rec = survivor.wait_terminal(token, id, Duration::from_secs(180)).await;
        assert_eq!(rec["status"], "COMPLETED", "{rec}");
    }
    let db = &cluster.db;
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM analyses").await, 8);
    assert_eq!(
        db.query_count("SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'completed'").await,
        8,
        "one result each"
    );
    // The dead instance's interrupted attempts are on record, and the survivor finished them.
    let dead = &instance_ids[victim];
    let interrupted =
        format!("SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'lease_expired' AND worker = '{dead}'");
    assert!(db.query_count(&interrupted).await > 0, "{}", survivor.log());
}

#[tokio::test]
async fn two_hundred_recordings_through_the_whole_distributed_path() {
    use futures_util::StreamExt;
    const N: usize = 200;
    // Four users' 50 recordings each wait at once: the per-user cap is off here.
    let cluster = Cluster::new(&[("ORAK_UPLOADS__MAX_ACTIVE_PER_USER", "0")]).await;
    let bucket = cluster.bucket();
    let (a, b) = (cluster.instance().await, cluster.instance().await);
    let tokens: Vec<String> = (0..4).map(|u| a.token(&format!("singer{u}"), false)).collect();
    let wav = reference("speech_60s_16k.wav");
    let pcm: Vec<i16> =
        hound::WavReader::new(std::io::Cursor::new(wav)).unwrap().samples().map(|s| s.unwrap()).collect();

    // Presigned on one instance, PUT into the bucket, the bucket event to the other;
    // 16 clients at a time.
    let (a_ref, b_ref, tokens_ref, pcm_ref, bucket_ref) = (&a, &b, &tokens, &pcm, &bucket);
    let ids: Vec<(String, usize)> = futures_util::stream::iter(0..N)
        .map(move |n| {
            let (s, other) = if n % 2 == 0 { (a_ref, b_ref) } else { (b_ref, a_ref) };
            let token = &tokens_ref[n % tokens_ref.len()];
            let body = speech_window(pcm_ref, n as f64 * 0.28, 1.8);
            let bucket = bucket_ref.clone();
            async move {
                let size = body.len();
                let id = presigned_put(s, token, &format!("take{n}.wav"), body).await;
                bucket_event(other, &bucket, &id, size).await;
                (id, n % tokens_ref.len())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(ids.len(), N);

    let db = &cluster.db;
    let deadline = Instant::now() + Duration::from_secs(400);
    loop {
        let done = db.query_count("SELECT COUNT(*) AS n FROM records WHERE status IN ('COMPLETED', 'FAILED')").await;
        if done as usize == N || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        db.query_count("SELECT COUNT(*) AS n FROM records WHERE status = 'COMPLETED'").await as usize,
        N,
        "{}\n{}",
        a.log(),
        b.log()
    );
    // Exactly once: one analysis, one completed attempt and one embedding per record.
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM analyses").await as usize, N);
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'completed'").await as usize, N);
    assert_eq!(db.query_count("SELECT COUNT(DISTINCT record_id) AS n FROM embeddings").await as usize, N);
    assert_eq!(db.query_count("SELECT COUNT(*) AS n FROM embeddings").await as usize, N);
    assert_eq!(cluster.pg_count("COUNT(*)").await as usize, N, "pgvector: one row per record");
    assert_eq!(cluster.pg_count("COUNT(DISTINCT key)").await as usize, N);
    // Both instances did work.
    for s in [&a, &b] {
        let me = instance_id(s);
        let n = db.query_count(&format!("SELECT COUNT(*) AS n FROM attempts WHERE worker = '{me}'")).await;
        assert!(n > 0, "instance {me} analysed nothing");
    }
    // Every record reads the same on both instances, and search never repeats one.
    for (id, user) in ids.iter().step_by(25) {
        let token = &tokens[*user];
        let (x, y) = (
            a.get_json(token, &format!("/api/records/{id}")).await,
            b.get_json(token, &format!("/api/records/{id}")).await,
        );
        assert_eq!((x["status"].as_str(), x["attempts"].as_i64()), (Some("COMPLETED"), Some(1)), "{x}");
        assert_eq!(x["analysis"], y["analysis"]);
        let similar = b.get_json(token, &format!("/api/records/{id}/similar?k=50")).await;
        let found = item_ids(&similar);
        assert_eq!(found.iter().collect::<HashSet<_>>().len(), found.len(), "repeated: {similar}");
        assert_eq!(found.len(), N / tokens.len() - 1, "all of this singer's other takes: {similar}");
    }
}

#[tokio::test]
async fn a_user_who_leaves_leaves_nothing_in_any_store() {
    use orakgaraki::store::ObjectStore;
    let cluster = Cluster::new(&[
        ("ORAK_RATE_LIMIT__ENABLED", "true"),
        ("ORAK_RATE_LIMIT__PER_SECOND", "1000"),
        ("ORAK_RATE_LIMIT__BURST", "1000"),
        ("ORAK_RATE_LIMIT__PER_USER_PER_SECOND", "1000"),
        ("ORAK_RATE_LIMIT__PER_USER_BURST", "1000"),
    ])
    .await;
    let bucket = cluster.bucket();
    let s = cluster.instance().await;
    let user = "leaver-dist-8b2d";
    let (me, keeper) = (s.token(user, false), s.token("keeper", false));
    let mut mine = Vec::new();
    for clip in ["librivox_0870.wav", "librivox_0890.wav"] {
        let bytes = reference(clip);
        let id = presigned_put(&s, &me, clip, bytes.clone()).await;
        bucket_event(&s, &bucket, &id, bytes.len()).await;
        assert_eq!(s.wait_terminal(&me, &id, T).await["status"], "COMPLETED");
        mine.push(id);
    }
    let bytes = reference("librivox_0920.wav");
    let kept = presigned_put(&s, &keeper, "keeper.wav", bytes.clone()).await;
    bucket_event(&s, &bucket, &kept, bytes.len()).await;
    assert_eq!(s.wait_terminal(&keeper, &kept, T).await["status"], "COMPLETED");
    let songs: Value = s
        .post_json(&me, "/api/recommendations/songs", &serde_json::json!({"record_id": mine[0]}))
        .await
        .json()
        .await
        .unwrap();
    let song = songs["items"][0]["song_id"].as_i64().expect("a recommendation");
    let r = s.post_json(&me, "/api/recommendations/dislikes", &serde_json::json!({"song_id": song})).await;
    assert_eq!(r.status(), 204);
    // Everything the user has is in every store (the fault is there to erase).
    let owned = |table: &str| format!("SELECT COUNT(*) AS n FROM {table} WHERE owner = '{user}'");
    assert_eq!(cluster.db.query_count(&owned("records")).await, 2);
    assert_eq!(cluster.db.query_count(&owned("song_dislikes")).await, 1);
    assert_eq!(cluster.pg_count(&format!("COUNT(*) FILTER (WHERE owner = '{user}')")).await, 2);
    let objects = cluster.objects().await;
    for id in &mine {
        assert!(objects.size(&format!("audio/{id}")).await.unwrap().is_some(), "{id} in the bucket");
    }
    let redis = common::cluster::env_or("TEST_REDIS_URL", "redis://127.0.0.1:6379/0");
    let prefix = cluster.env.iter().find(|(k, _)| k == "ORAK_REDIS__PREFIX").unwrap().1.clone();
    let keys = common::redis_keys(&redis, &prefix).await;
    assert!(keys.iter().any(|k| k.contains(user)), "a per-user counter: {keys:?}");

    let r = s.client.delete(s.url("/api/me")).query(&[("confirm", user)]).bearer_auth(&me).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", s.log());

    // No row in MySQL, no vector in pgvector, no object in S3, no key in Redis.
    for table in ["records", "song_dislikes", "dead_letter_audit"] {
        assert_eq!(cluster.db.query_count(&owned(table)).await, 0, "{table}");
    }
    assert_eq!(cluster.db.query_count(&format!("SELECT COUNT(*) AS n FROM outbox WHERE msg_key = '{user}'")).await, 0);
    let ids = mine.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    for table in ["analyses", "embeddings", "attempts"] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE record_id IN ({ids})");
        assert_eq!(cluster.db.query_count(&sql).await, 0, "{table}");
    }
    assert_eq!(cluster.pg_count(&format!("COUNT(*) FILTER (WHERE owner = '{user}')")).await, 0);
    for id in &mine {
        assert_eq!(objects.size(&format!("audio/{id}")).await.unwrap(), None, "{id} left in the bucket");
    }
    let keys = common::redis_keys(&redis, &prefix).await;
    assert!(!keys.iter().any(|k| k.contains(user) || mine.iter().any(|id| k.contains(id.as_str()))), "{keys:?}");
    // The keeper's recording is all there.
    assert_eq!(s.get_json(&keeper, &format!("/api/records/{kept}")).await["status"], "COMPLETED");
    assert!(objects.size(&format!("audio/{kept}")).await.unwrap().is_some());
    assert_eq!(cluster.pg_count("COUNT(*)").await, 1);
}
