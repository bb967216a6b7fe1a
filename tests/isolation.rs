//! Who gets what: every route and method, called by an anonymous client, the
//! owner, another user and an admin, against real recordings — SSE streams,
//! voice search and recommendations included. Another user's private recording
//! must never appear in anyone else's results.

mod common;

use common::Server;
use common::cluster::reference;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

struct Callers {
    alice: String,
    bob: String,
    admin: String,
}

/// The status of `method path` with `body`, as `token` (None: anonymous).
async fn status(s: &Server, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = s.client.request(method, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    r.status().as_u16()
}

/// Checks one row of the matrix: [anonymous, owner, other user, admin].
async fn row(s: &Server, who: &Callers, method: &str, path: &str, body: Option<Value>, want: [u16; 4]) {
    let callers = [None, Some(who.alice.as_str()), Some(who.bob.as_str()), Some(who.admin.as_str())];
    let mut got = [0u16; 4];
    for (i, token) in callers.into_iter().enumerate() {
        got[i] = status(s, method, path, body.as_ref(), token).await;
    }
    assert_eq!(got, want, "{method} {path} as [anonymous, owner, other, admin]");
}

fn ids(v: &Value) -> HashSet<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["record_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_it_should() {
    let s = Server::start(&[("ORAK_WEBHOOKS__SECRET", "hook")]).await;
    let who = Callers { alice: s.token("alice", false), bob: s.token("bob", false), admin: s.token("root", true) };
    let clips = ["librivox_0870.wav", "librivox_0890.wav", "librivox_0920.wav", "librivox_0930.wav"];
    let a1 = s.upload_presigned(&who.alice, "a1.wav", reference(clips[0])).await;
    let a2 = s.upload_presigned(&who.alice, "a2.wav", reference(clips[1])).await;
    let b1 = s.upload_presigned(&who.bob, "b1.wav", reference(clips[2])).await;
    let b2 = s.upload_presigned(&who.bob, "b2.wav", reference(clips[3])).await;
    for (id, t) in [(&a1, &who.alice), (&a2, &who.alice), (&b1, &who.bob), (&b2, &who.bob)] {
        assert_eq!(s.wait_terminal(t, id, T).await["status"], "COMPLETED");
    }
    let public = json!({"visibility": "public"});
    assert_eq!(status(&s, "PATCH", &format!("/api/records/{b1}"), Some(&public), Some(&who.bob)).await, 200);

    // Alice's private recording.
    let rec = format!("/api/records/{a1}");
    row(&s, &who, "GET", &rec, None, [401, 200, 404, 200]).await;
    row(&s, &who, "PATCH", &rec, Some(json!({"visibility": "private"})), [401, 200, 404, 200]).await;
    row(&s, &who, "GET", &format!("/api/processing/status/{a1}"), None, [401, 200, 404, 200]).await;
    row(&s, &who, "GET", &format!("{rec}/status"), None, [401, 200, 404, 200]).await;
    row(&s, &who, "GET", &format!("/api/audio/{a1}"), None, [401, 200, 404, 200]).await;
    row(&s, &who, "GET", &format!("{rec}/similar?k=5"), None, [401, 200, 404, 200]).await;
    row(&s, &who, "POST", "/api/search/similar", Some(json!({"record_id": a1, "k": 5})), [401, 200, 404, 200]).await;
    row(&s, &who, "POST", "/api/recommendations/songs", Some(json!({"record_id": a1})), [401, 200, 404, 200]).await;
    row(&s, &who, "GET", &format!("{rec}?include=embedding"), None, [401, 200, 404, 200]).await;
    // Tickets: the same rules as the URLs they open.
    let tickets = "/api/tickets";
    row(&s, &who, "POST", tickets, Some(json!({"scope": "status", "record_id": a1})), [401, 201, 404, 201]).await;
    row(&s, &who, "POST", tickets, Some(json!({"scope": "audio", "record_id": a1})), [401, 201, 404, 201]).await;
    row(&s, &who, "POST", tickets, Some(json!({"scope": "alerts"})), [401, 403, 403, 201]).await;
    // Raw voiceprints: searching by one is an admin's query.
    let raw = json!({"vector": vec![0.0625; 256], "k": 5});
    row(&s, &who, "POST", "/api/search/similar", Some(raw), [401, 403, 403, 200]).await;
    // Signing in never gives an admin token, and sign-in by name is off by default.
    let by_name = json!({"user": "x", "admin": true});
    row(&s, &who, "POST", "/api/dev/token", Some(by_name), [404, 404, 404, 404]).await;
    let bad_link = json!({"code": "0".repeat(48), "user": "x"});
    row(&s, &who, "POST", "/api/session/link", Some(bad_link), [401, 401, 401, 401]).await;
    // One's own data: exported by anyone signed in, for themselves; erasing needs
    // the name repeated (not given here: nobody's data goes yet).
    row(&s, &who, "GET", "/api/me/export", None, [401, 200, 200, 200]).await;
    row(&s, &who, "DELETE", "/api/me", None, [401, 400, 400, 400]).await;
    // Bob's public one: readable by others, changed only by him (or an admin).
    let pub_rec = format!("/api/records/{b1}");
    row(&s, &who, "GET", &pub_rec, None, [401, 200, 200, 200]).await;
    // Its audio plays for anyone signed in (the owner here is Bob: column 2).
    row(&s, &who, "GET", &format!("/api/audio/{b1}"), None, [401, 200, 200, 200]).await;
    row(&s, &who, "PATCH", &pub_rec, Some(public.clone()), [401, 403, 200, 200]).await;
    // Its voiceprint stays Bob's; its audio ticket is anyone's, its status stream his.
    row(&s, &who, "GET", &format!("{pub_rec}?include=embedding"), None, [401, 403, 200, 200]).await;
    let audio_ticket = json!({"scope": "audio", "record_id": b1});
    row(&s, &who, "POST", "/api/tickets", Some(audio_ticket), [401, 201, 201, 201]).await;
    let status_ticket = json!({"scope": "status", "record_id": b1});
    row(&s, &who, "POST", "/api/tickets", Some(status_ticket), [401, 404, 201, 201]).await;
    // Collections and creation: anyone signed in, each for themselves.
    row(&s, &who, "GET", "/api/records", None, [401, 200, 200, 200]).await;
    let presign = json!({"filename": "x.wav", "size": 1000});
    row(&s, &who, "POST", "/api/records/presigned-url", Some(presign), [401, 201, 201, 201]).await;
    let songs: Value =
        s.post_json(&who.alice, "/api/recommendations/songs", &json!({"record_id": a1})).await.json().await.unwrap();
    let song = songs["items"][0]["song_id"].as_i64().expect("a recommendation");
    row(&s, &who, "POST", "/api/recommendations/dislikes", Some(json!({"song_id": song})), [401, 204, 204, 204]).await;
    // Admin routes.
    row(&s, &who, "GET", "/api/admin/dead-letters", None, [401, 403, 403, 200]).await;
    row(&s, &who, "GET", "/api/admin/dead-letters/audit", None, [401, 403, 403, 200]).await;
    row(&s, &who, "GET", &format!("/api/admin/dead-letters/{a1}"), None, [401, 403, 403, 409]).await;
    row(&s, &who, "POST", &format!("/api/admin/dead-letters/{a1}/requeue"), None, [401, 403, 403, 409]).await;
    row(&s, &who, "DELETE", &format!("/api/admin/dead-letters/{a1}"), None, [401, 403, 403, 409]).await;
    row(&s, &who, "GET", "/api/admin/alerts", None, [401, 403, 403, 200]).await;
    // Webhooks take their secret, never a user's token.
    let note = json!({"Records": []});
    row(&s, &who, "POST", "/api/records/async/upload-completed", Some(note), [401, 401, 401, 401]).await;
    let alert = json!({"version": "4", "alerts": []});
    row(&s, &who, "POST", "/api/webhook/alertmanager", Some(alert), [401, 401, 401, 401]).await;
    // Uploads take a signed URL, never a bearer token.
    row(&s, &who, "PUT", &format!("/objects/audio/{a1}"), None, [403, 403, 403, 403]).await;

    // Deleting: strangers cannot, even learn that it exists; the owner and admins can.
    let del = |id: &str| format!("/api/records/{id}");
    assert_eq!(status(&s, "DELETE", &del(&a2), None, None).await, 401);
    assert_eq!(status(&s, "DELETE", &del(&a2), None, Some(&who.bob)).await, 404);
    assert_eq!(status(&s, "DELETE", &del(&b1), None, Some(&who.alice)).await, 403, "public, but not hers");
    assert_eq!(status(&s, "DELETE", &del(&a2), None, Some(&who.alice)).await, 204);
    assert_eq!(status(&s, "GET", &del(&a2), None, Some(&who.alice)).await, 404);

    // Lists hold only the caller's own.
    let bobs: Value = s.get_json(&who.bob, "/api/records").await;
    let bob_ids: HashSet<String> =
        bobs["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    assert!(bob_ids.contains(&b1) && bob_ids.contains(&b2) && !bob_ids.contains(&a1), "{bobs}");

    // Search: others' private recordings never show up; public ones do; admins see all.
    let search = |token: &str, id: &str| {
        s.client.post(s.url("/api/search/similar")).bearer_auth(token).json(&json!({"record_id": id, "k": 50})).send()
    };
    let for_bob: Value = search(&who.bob, &b2).await.unwrap().json().await.unwrap();
    assert!(!ids(&for_bob).contains(&a1), "alice's private take in bob's results: {for_bob}");
    let for_alice: Value = search(&who.alice, &a1).await.unwrap().json().await.unwrap();
    assert_eq!(ids(&for_alice), HashSet::from([b1.clone()]), "only bob's public take: {for_alice}");
    let by_record: Value = s.get_json(&who.alice, &format!("/api/records/{a1}/similar?k=50")).await;
    assert_eq!(ids(&by_record), HashSet::from([b1.clone()]), "{by_record}");
    let for_admin: Value = search(&who.admin, &a1).await.unwrap().json().await.unwrap();
    assert_eq!(ids(&for_admin), HashSet::from([b1.clone(), b2.clone()]), "{for_admin}");
    // Made private again, bob's take leaves alice's results.
    let private = json!({"visibility": "private"});
    assert_eq!(status(&s, "PATCH", &format!("/api/records/{b1}"), Some(&private), Some(&who.bob)).await, 200);
    let again: Value = search(&who.alice, &a1).await.unwrap().json().await.unwrap();
    assert!(ids(&again).is_empty(), "{again}");
    assert_eq!(status(&s, "GET", &format!("/api/records/{b1}"), None, Some(&who.alice)).await, 404);

    // Leaving: alice's name erases alice's data only, whoever else repeats it.
    row(&s, &who, "DELETE", "/api/me?confirm=alice", None, [401, 200, 400, 400]).await;
    assert_eq!(status(&s, "GET", &format!("/api/records/{a1}"), None, Some(&who.admin)).await, 404);
    assert_eq!(status(&s, "GET", &format!("/api/records/{b1}"), None, Some(&who.bob)).await, 200);
}
