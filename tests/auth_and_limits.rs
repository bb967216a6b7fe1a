//! Authentication, isolation between users, upload-URL signatures and size limits.

mod common;

use common::{Server, collect_sse, sine_wav, statuses};
use orakgaraki::auth::UploadSigner;
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// A streamed body refused midway: the server answers 413 and closes the
/// connection without reading the rest, so the client either reads the 413 or,
/// if it was still writing, sees its write fail. Either way nothing was accepted.
async fn refused_as_too_large(r: Result<reqwest::Response, reqwest::Error>) {
    match r {
        Ok(resp) => assert_eq!(error_code(resp).await.0, 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "unexpected error: {e}"),
    }
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn every_record_endpoint_needs_a_valid_token() {
    let s = Server::start(&[]).await;
    let token = s.token("alice", false);
    let id = s.upload_presigned(&token, "a.wav", sine_wav(0.3, 8_000, 200.0, 0.3)).await;
    let c = &s.client;
    let reqs = || {
        vec![
            c.post(s.url("/api/records/presigned-url")).json(&serde_json::json!({"filename":"x.wav","size":10})),
            c.post(s.url("/api/records/upload")).body("x"),
            c.get(s.url("/api/records")),
            c.get(s.url(&format!("/api/records/{id}"))),
            c.delete(s.url(&format!("/api/records/{id}"))),
            c.get(s.url(&format!("/api/processing/status/{id}"))),
        ]
    };
    for req in reqs() {
        let r = req.send().await.unwrap();
        assert_eq!(r.headers().get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
        assert_eq!(error_code(r).await, (401, "unauthorized".to_owned()));
    }
    // A token signed by another instance's secret, or garbage, is refused the same way.
    let stranger = Server::start(&[]).await.token("alice", false);
    for bad in [stranger.as_str(), "garbage", ""] {
        for req in reqs() {
            let r = req.bearer_auth(bad).send().await.unwrap();
            assert_eq!(r.status(), 401);
        }
    }
    let r = c.get(s.url("/api/records")).header("authorization", format!("Basic {token}")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // The record survived all of that.
    assert_eq!(s.wait_terminal(&token, &id, T).await["status"], "COMPLETED");
}

#[tokio::test]
async fn users_only_see_their_own_records() {
    let s = Server::start(&[]).await;
    let alice = s.token("alice", false);
    let mallory = s.token("mallory", false);
    let admin = s.token("root", true);
    let id = s.upload_presigned(&alice, "mine.wav", sine_wav(0.3, 8_000, 200.0, 0.3)).await;
    s.wait_terminal(&alice, &id, T).await;

    assert_eq!(error_code(s.get_record(&mallory, &id).await).await, (404, "not_found".into()));
    assert_eq!(s.sse(&mallory, &id).await.status(), 404);
    assert_eq!(s.ticket_url(&mallory, "status", Some(&id)).await.0, 404, "no ticket for another's record");
    let del = s.delete(&mallory, &format!("/api/records/{id}")).await;
    assert_eq!(del.status(), 404);
    let list: Value = s.get_json(&mallory, "/api/records").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    // An id that does not exist looks exactly the same as someone else's.
    let missing = s.get_record(&mallory, "01a22995-0000-7000-8000-000000000000").await;
    assert_eq!(error_code(missing).await, (404, "not_found".into()));
    assert_eq!(s.get_record(&mallory, "not-a-uuid").await.status(), 404);

    // The owner (and an admin) still see it; the SSE stream opens with a ticket.
    assert_eq!(s.get_record(&alice, &id).await.status(), 200);
    assert_eq!(s.get_record(&admin, &id).await.status(), 200);
    let (status, url) = s.ticket_url(&alice, "status", Some(&id)).await;
    assert_eq!(status, 201);
    let via_ticket = s.client.get(url).send().await.unwrap();
    assert_eq!(statuses(&collect_sse(via_ticket, T).await), ["COMPLETED"]);
}

#[tokio::test]
async fn upload_urls_refuse_bad_signatures_and_expiry() {
    let s = Server::start(&[]).await;
    let token = s.token("alice", false);
    let wav = sine_wav(0.3, 8_000, 200.0, 0.3);
    let p = s.presign(&token, "a.wav", wav.len()).await;
    let url = p["upload_url"].as_str().unwrap().to_owned();
    let id = p["record_id"].as_str().unwrap().to_owned();

    let tampered_sig = format!("{}0000", &url[..url.len() - 4]);
    let bigger = url.replace(&format!("size={}", wav.len()), &format!("size={}", wav.len() + 1000));
    let unsigned = url.split('?').next().unwrap().to_owned();
    for bad in [tampered_sig, bigger, unsigned] {
        let r = s.put(&bad, wav.clone()).await;
        assert_eq!(error_code(r).await.0, 403, "{bad}");
    }
    // A correctly signed but expired URL (signed here with the instance's own secret).
    let secret = std::fs::read_to_string(s.data_dir.join("secret.key")).unwrap();
    let signer = UploadSigner::new(secret.trim().as_bytes());
    let key = format!("audio/{id}");
    let past = chrono::Utc::now().timestamp() - 5;
    let expired = format!(
        "{}/objects/{key}?expires={past}&size={}&sig={}",
        s.base,
        wav.len(),
        signer.sign(&key, past, wav.len() as u64)
    );
    let r = s.put(&expired, wav.clone()).await;
    let (status, _) = error_code(r).await;
    assert_eq!(status, 403);
    // Nothing was stored by any of those: the record is still waiting for its upload.
    assert_eq!(s.get_record(&token, &id).await.json::<Value>().await.unwrap()["status"], "PENDING");

    // The genuine URL works once; a second PUT is a conflict.
    assert_eq!(s.put(&url, wav.clone()).await.status(), 200);
    assert_eq!(s.wait_terminal(&token, &id, T).await["status"], "COMPLETED");
    assert_eq!(error_code(s.put(&url, wav).await).await, (409, "conflict".into()));
}

#[tokio::test]
async fn oversize_uploads_get_413_and_leave_nothing_behind() {
    let s = Server::start(&[("ORAK_UPLOADS__MAX_BYTES", "100000")]).await;
    let token = s.token("alice", false);
    // Declared over the cap.
    let r = s
        .client
        .post(s.url("/api/records/presigned-url"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"filename": "big.wav", "size": 100001}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (413, "payload_too_large".into()));

    // A body larger than the size the URL was signed for: refused by Content-Length…
    let wav = sine_wav(1.0, 16_000, 200.0, 0.3); // 32 044 bytes
    let p = s.presign(&token, "a.wav", 1000).await;
    let url = p["upload_url"].as_str().unwrap();
    assert_eq!(error_code(s.put(url, wav.clone()).await).await.0, 413);
    // …and when streamed without one (chunked), by counting bytes.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = wav.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    refused_as_too_large(s.client.put(url).body(body).send().await).await;
    assert_eq!(
        s.get_record(&token, p["record_id"].as_str().unwrap()).await.json::<Value>().await.unwrap()["status"],
        "PENDING"
    );

    // Multipart over the cap: 413, and no record is left behind.
    let r = s.upload_multipart(&token, "big.wav", sine_wav(4.0, 16_000, 200.0, 0.3), None).await;
    assert_eq!(error_code(r).await.0, 413);
    // (Audio-looking first bytes: a body that is plainly not audio is 415 before its size matters.)
    let mut big = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
    big.extend(b"x".repeat(150_000));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(big)];
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .file_name("big.wav");
    let form = reqwest::multipart::Form::new().part("file", part);
    refused_as_too_large(s.client.post(s.url("/api/records/upload")).bearer_auth(&token).multipart(form).send().await)
        .await;
    let list: Value = s.get_json(&token, "/api/records").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the still-pending presigned record: {list}");
    assert_eq!(items[0]["status"], "PENDING");
    let objects: Vec<_> = std::fs::read_dir(s.data_dir.join("objects/tmp")).unwrap().collect();
    assert!(objects.is_empty(), "no partial files");

    // Bad requests get 400 with the error shape.
    for body in [
        serde_json::json!({"filename": "", "size": 10}),
        serde_json::json!({"filename": "a.wav", "size": 0}),
        serde_json::json!({"size": 5}),
    ] {
        let r =
            s.client.post(s.url("/api/records/presigned-url")).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(error_code(r).await, (400, "bad_request".into()), "{body}");
    }
    let r = s
        .client
        .post(s.url("/api/records/presigned-url"))
        .bearer_auth(&token)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "bad_request".into()));
}

#[tokio::test]
async fn behind_an_identity_provider_rs256_tokens_are_verified_with_its_jwks() {
    let jwt = |f: &str| format!("{}/tests/fixtures/jwt/{f}", env!("CARGO_MANIFEST_DIR"));
    let (jwks, private) = (jwt("jwks.json"), jwt("rs256-private.pem"));
    let s = Server::start(&[
        ("ORAK_AUTH__ALGORITHM", "RS256"),
        ("ORAK_AUTH__JWKS_FILE", jwks.as_str()),
        // Lets `orakgaraki token` sign as the provider would (the JWKS has its key).
        ("ORAK_AUTH__PRIVATE_KEY_FILE", private.as_str()),
        ("ORAK_AUTH__ISSUER", "https://idp.example"),
    ])
    .await;
    let token = s.token("carol", false);
    // Signed RS256 without a kid: every JWKS key is tried.
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().alg, jsonwebtoken::Algorithm::RS256);
    let r = s.client.get(s.url("/api/records")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // An HS256 token (this instance's own secret) is refused: no algorithm confusion.
    let hs = std::process::Command::new(common::BIN)
        .args(["token", "--user", "mallory", "--admin", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    let hs = String::from_utf8(hs.stdout).unwrap();
    let r = s.client.get(s.url("/api/records")).bearer_auth(hs.trim()).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// `POST /api/records/presigned-url` for `size` bytes: (status, error code).
async fn open_upload(s: &Server, token: &str, size: u64) -> (u16, String) {
    let r = s
        .client
        .post(s.url("/api/records/presigned-url"))
        .bearer_auth(token)
        .json(&serde_json::json!({"filename": "take.wav", "content_type": "audio/wav", "size": size}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or_default();
    (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_user_may_have_only_so_many_recordings_waiting() {
    let s = Server::start(&[("ORAK_UPLOADS__MAX_ACTIVE_PER_USER", "2")]).await;
    let (alice, bob) = (s.token("alice", false), s.token("bob", false));
    // Two uploads opened and never sent: both wait (PENDING).
    assert_eq!(open_upload(&s, &alice, 1000).await.0, 201);
    assert_eq!(open_upload(&s, &alice, 1000).await.0, 201);
    assert_eq!(open_upload(&s, &alice, 1000).await, (429, "too_many_uploads".to_owned()));
    let r = s.upload_multipart(&alice, "x.wav", sine_wav(0.2, 8_000, 220.0, 0.3), None).await;
    assert_eq!(r.status(), 429, "the multipart path too");
    assert_eq!(open_upload(&s, &bob, 1000).await.0, 201, "bob has his own");
    // Once one is gone, there is room again.
    let list = s.get_json(&alice, "/api/records").await;
    let first = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.delete(&alice, &format!("/api/records/{first}")).await.status(), 204);
    assert_eq!(open_upload(&s, &alice, 1000).await.0, 201);
}

#[tokio::test]
async fn a_user_stores_at_most_their_quota() {
    let s = Server::start(&[("ORAK_UPLOADS__QUOTA_BYTES_PER_USER", "50000")]).await;
    let (alice, bob) = (s.token("alice", false), s.token("bob", false));
    let wav = sine_wav(1.0, 16_000, 220.0, 0.3); // 32 044 bytes
    let id = s.upload_presigned(&alice, "a.wav", wav.clone()).await;
    assert_eq!(s.wait_terminal(&alice, &id, T).await["status"], "COMPLETED");
    // 32 044 used: 20 000 more would pass 50 000.
    assert_eq!(open_upload(&s, &alice, 20_000).await, (413, "over_quota".to_owned()));
    assert_eq!(open_upload(&s, &alice, 10_000).await.0, 201, "what fits is fine");
    // A multipart upload, whose size is not declared, is cut off at the quota.
    let r = s.upload_multipart(&alice, "b.wav", wav.clone(), None).await;
    assert_eq!(r.status(), 413);
    let list = s.get_json(&alice, "/api/records").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "nothing left behind: {list}");
    assert_eq!(open_upload(&s, &bob, 40_000).await.0, 201, "bob's quota is his own");
}
