//! `GET /api/records/{id}` answers hot COMPLETED records from the in-process
//! cache (embedded mode): the answer is the same as from the database, access is
//! checked on every read, and a visibility change or a delete shows at once.

mod common;

use common::{Server, sine_wav};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn cached_reads_follow_visibility_changes_and_deletes_at_once() {
    let s = Server::start(&[]).await;
    let alice = s.token("alice", false);
    let bob = s.token("bob", false);
    let admin = s.token("root", true);
    let id = s.upload_presigned(&alice, "a.wav", sine_wav(1.0, 16_000, 220.0, 0.5)).await;
    assert_eq!(s.wait_terminal(&alice, &id, Duration::from_secs(60)).await["status"], "COMPLETED");
    let path = format!("/api/records/{id}");

    // The first read fills the cache, the second comes from it: the same JSON.
    let first: Value = s.get_record(&alice, &id).await.json().await.unwrap();
    let r = s.get_record(&alice, &id).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let second: Value = r.json().await.unwrap();
    assert_eq!(first, second);
    assert!(second["analysis"]["pitch"].is_object());
    // Access is checked on cached entries too.
    assert_eq!(s.get_record(&bob, &id).await.status(), 404, "private");
    assert_eq!(s.get_record(&admin, &id).await.status(), 200);
    assert_eq!(s.client.get(s.url(&path)).send().await.unwrap().status(), 401);

    let patch =
        |v: &'static str| s.client.patch(s.url(&path)).bearer_auth(&alice).json(&json!({"visibility": v})).send();
    assert_eq!(patch("public").await.unwrap().status(), 200);
    let seen: Value = s.get_record(&bob, &id).await.json().await.unwrap();
    assert_eq!(seen["visibility"], "public", "the change shows at once");
    assert_eq!(s.get_record(&bob, &id).await.status(), 200);
    assert_eq!(patch("private").await.unwrap().status(), 200);
    assert_eq!(s.get_record(&bob, &id).await.status(), 404, "made private: gone for others at once");
    let own: Value = s.get_record(&alice, &id).await.json().await.unwrap();
    assert_eq!(own["visibility"], "private");

    // Extras bypass the cache.
    let with = s.get_json(&alice, &format!("{path}?include=embedding")).await;
    assert_eq!(with["id"], id.as_str());

    assert_eq!(s.delete(&alice, &path).await.status(), 204);
    assert_eq!(s.get_record(&alice, &id).await.status(), 404, "deleted: gone at once");
    assert_eq!(s.get_record(&admin, &id).await.status(), 404);
}
