//! The HTTP edge against the real binary: security headers on every response,
//! CORS closed unless configured, rate limits (429 + Retry-After, per client,
//! shared across instances through Redis, X-Forwarded-For only from trusted
//! proxies), webhook HMAC signatures and source allowlists, /metrics on its own
//! address, and secrets that never reach the logs.

mod common;

use common::Server;
use serde_json::json;
use std::time::Duration;

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_cors_stays_closed() {
    let s = Server::start(&[]).await;
    let token = s.token("alice", false);
    let responses = [
        s.client.get(s.url("/health")).send().await.unwrap(),
        s.client.get(s.url("/no/such/route")).send().await.unwrap(),
        s.client.get(s.url("/api/records")).send().await.unwrap(),
        s.client.get(s.url("/api/records")).bearer_auth(&token).send().await.unwrap(),
        s.client.put(s.url("/objects/audio/nope")).body("x").send().await.unwrap(),
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses[..4], [200, 404, 401, 200]);
    for r in &responses {
        assert_eq!(header(r, "x-frame-options"), Some("DENY"), "{}", r.url());
        assert_eq!(header(r, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(r, "referrer-policy"), Some("strict-origin-when-cross-origin"));
        assert!(header(r, "content-security-policy").unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(header(r, "strict-transport-security"), None, "no HSTS over plain HTTP");
    }
    // No CORS unless configured: a foreign page gets no permission to read.
    let r =
        s.client.get(s.url("/api/records")).bearer_auth(&token).header("origin", "https://evil.example").send().await;
    assert_eq!(header(&r.unwrap(), "access-control-allow-origin"), None);
    let pre = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/api/records"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn configured_origins_get_cors_and_https_gets_hsts() {
    let s = Server::start(&[
        ("ORAK_HTTP__CORS_ALLOWED_ORIGINS", "[\"https://app.example\"]"),
        ("ORAK_SERVER__PUBLIC_URL", "https://voice.example"),
    ])
    .await;
    let preflight = |origin: &'static str| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url("/api/records"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://app.example").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "access-control-allow-origin"), Some("https://app.example"));
    let evil = preflight("https://evil.example").await.unwrap();
    assert_eq!(evil.status(), 403);
    assert_eq!(header(&evil, "access-control-allow-origin"), None);
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    assert!(header(&r, "strict-transport-security").unwrap().starts_with("max-age=31536000"));
}

#[tokio::test]
async fn clients_over_their_rate_get_429_with_retry_after() {
    let s = Server::start(&[
        ("ORAK_RATE_LIMIT__ENABLED", "true"),
        ("ORAK_RATE_LIMIT__PER_SECOND", "2"),
        ("ORAK_RATE_LIMIT__BURST", "5"),
    ])
    .await;
    let token = s.token("alice", false);
    let mut codes = Vec::new();
    for i in 0..8 {
        // Spoofed X-Forwarded-For from an untrusted peer changes nothing.
        let r = s
            .client
            .get(s.url("/api/records"))
            .bearer_auth(&token)
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            let wait: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
            assert!((1..=2).contains(&wait), "Retry-After {wait}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
            codes.push(429);
        } else {
            codes.push(r.status().as_u16());
        }
    }
    assert_eq!(codes, [200, 200, 200, 200, 200, 429, 429, 429]);
    // Probes are never limited.
    for _ in 0..10 {
        assert_eq!(s.client.get(s.url("/health")).send().await.unwrap().status(), 200);
    }
    // The budget refills: 2 per second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.client.get(s.url("/api/records")).bearer_auth(&token).send().await.unwrap().status(), 200);
    let metrics = s.metrics().await;
    assert!(metrics.contains("orak_rate_limited_total{class=\"api\"} 3"), "{metrics}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let s = Server::start(&[
        ("ORAK_RATE_LIMIT__ENABLED", "true"),
        ("ORAK_RATE_LIMIT__PER_SECOND", "1"),
        ("ORAK_RATE_LIMIT__BURST", "2"),
        ("ORAK_RATE_LIMIT__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]"),
    ])
    .await;
    let get = |client: &'static str| s.client.get(s.url("/api/records")).header("x-forwarded-for", client).send();
    let mut a = Vec::new();
    for _ in 0..3 {
        a.push(get("203.0.113.1").await.unwrap().status().as_u16());
    }
    assert_eq!(a, [401, 401, 429], "limited before authentication");
    assert_eq!(get("203.0.113.2").await.unwrap().status(), 401, "another client, its own budget");
}

#[tokio::test]
async fn the_limit_holds_across_instances_through_redis() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let prefix = format!("orak-rl-{}:", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let env = [
        ("ORAK_REDIS__URL", redis.as_str()),
        ("ORAK_REDIS__PREFIX", prefix.as_str()),
        ("ORAK_RATE_LIMIT__ENABLED", "true"),
        ("ORAK_RATE_LIMIT__PER_SECOND", "1"),
        ("ORAK_RATE_LIMIT__BURST", "4"),
    ];
    let (a, b) = (Server::start(&env).await, Server::start(&env).await);
    let mut codes = Vec::new();
    for i in 0..6 {
        let s = if i % 2 == 0 { &a } else { &b };
        codes.push(s.client.get(s.url("/api/records")).send().await.unwrap().status().as_u16());
    }
    assert_eq!(codes, [401, 401, 401, 401, 429, 429], "one budget of 4 for both instances");
}

#[tokio::test]
async fn webhooks_take_a_bearer_or_an_hmac_and_can_be_fenced_by_network() {
    let body = json!({"Records": []}).to_string();
    let s = Server::start(&[("ORAK_WEBHOOKS__SECRET", "hook-secret")]).await;
    let post = |sig: Option<String>, bearer: Option<&'static str>| {
        let mut r = s.client.post(s.url("/api/records/async/upload-completed")).body(body.clone());
        if let Some(sig) = sig {
            r = r.header("x-orak-signature", sig);
        }
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send()
    };
    let good = orakgaraki::http::webhook_auth::sign("hook-secret", body.as_bytes());
    let bad = orakgaraki::http::webhook_auth::sign("guess", body.as_bytes());
    assert_eq!(post(Some(good.clone()), None).await.unwrap().status(), 200);
    assert_eq!(post(None, Some("hook-secret")).await.unwrap().status(), 200);
    assert_eq!(post(Some(bad), None).await.unwrap().status(), 401);
    assert_eq!(post(None, None).await.unwrap().status(), 401);

    let fenced = Server::start(&[
        ("ORAK_WEBHOOKS__SECRET", "hook-secret"),
        ("ORAK_WEBHOOKS__ALLOWED_CIDRS", "[\"10.0.0.0/8\"]"),
    ])
    .await;
    let r = fenced
        .client
        .post(fenced.url("/api/records/async/upload-completed"))
        .header("x-orak-signature", good)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "127.0.0.1 is outside 10.0.0.0/8");
}

#[tokio::test]
async fn metrics_can_live_on_their_own_address() {
    let s = Server::start(&[("ORAK_SERVER__METRICS_BIND", "127.0.0.1:0")]).await;
    let addr = std::fs::read_to_string(s.data_dir.join("metrics.addr")).unwrap();
    assert_eq!(s.client.get(s.url("/metrics")).send().await.unwrap().status(), 404, "not on the public address");
    let token = s.token("alice", false);
    let missing = "/api/records/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(s.client.get(s.url(missing)).bearer_auth(&token).send().await.unwrap().status(), 404);
    assert_eq!(s.client.get(s.url("/wp-login.php")).send().await.unwrap().status(), 404);
    let r = s.client.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("orak_build_info"), "the metrics are there");
    for process in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"] {
        assert!(text.lines().any(|l| l.starts_with(process)), "{process} missing:\n{text}");
    }
    // Requests are counted by route template (ids folded), method and status.
    let line = |route: &str, status: &str| {
        text.lines().any(|l| {
            l.starts_with("orak_http_requests_total{")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains("method=\"GET\"")
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(line("/api/records/{id}", "404"), "{text}");
    assert!(line("other", "404"), "{text}");
    assert!(text.contains("orak_http_request_duration_seconds_bucket{"), "{text}");
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let secrets = [
        ("ORAK_AUTH__JWT_SECRET", "jwt-secret-7f3a9c"),
        ("ORAK_WEBHOOKS__SECRET", "webhook-secret-2b8e1d"),
        ("ORAK_S3__ACCESS_KEY_ID", "s3-key-id-5c4b3a"),
        ("ORAK_S3__SECRET_ACCESS_KEY", "s3-secret-9d8c7b"),
    ];
    let s = Server::start(&secrets).await;
    let token = s.token("alice", false);
    // Exercise the paths that log: uploads, failures, webhooks with wrong secrets.
    let id = s.upload_presigned(&token, "a.wav", common::sine_wav(0.3, 8_000, 220.0, 0.3)).await;
    s.wait_terminal(&token, &id, Duration::from_secs(60)).await;
    let _ = s.client.get(s.url("/api/records")).bearer_auth("not-a-token").send().await;
    let _ = s.client.post(s.url("/api/records/async/upload-completed")).bearer_auth("wrong").body("{}").send().await;
    let r = s.client.get(s.url("/api/records")).bearer_auth(&token).send().await.unwrap();
    let body = r.text().await.unwrap();
    let log = s.full_log();
    assert!(log.len() > 1000, "the log has content");
    for (_, secret) in secrets {
        assert!(!log.contains(secret), "{secret} in the log");
        assert!(!body.contains(secret));
    }
    // A password in a URL that cannot be reached is not printed in the error either.
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(s.data_dir.join("second"))
        .env("ORAK_STORAGE__DATABASE_URL", "mysql://orak:db-password-4e5f@127.0.0.1:1/orak")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("127.0.0.1:1"), "the error says where: {printed}");
    assert!(!printed.contains("db-password-4e5f"), "{printed}");
}

#[tokio::test]
async fn uploads_that_are_not_audio_get_415_and_leave_nothing() {
    let s = Server::start(&[]).await;
    let token = s.token("alice", false);
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".repeat(50);
    let r = s.upload_multipart(&token, "song.wav", pdf.clone(), None).await;
    assert_eq!(r.status(), 415);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let list: serde_json::Value = s.get_json(&token, "/api/records").await;
    assert!(list["items"].as_array().unwrap().is_empty(), "no record left behind: {list}");

    // Through a signed URL: refused, and the URL still takes the real recording.
    let wav = common::sine_wav(0.3, 8_000, 220.0, 0.3);
    let ticket = s.presign(&token, "take.wav", wav.len()).await;
    let url = ticket["upload_url"].as_str().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(wav.len(), 0);
    assert_eq!(s.put(url, png).await.status(), 415);
    assert_eq!(s.put(url, wav).await.status(), 200);
    let id = ticket["record_id"].as_str().unwrap();
    assert_eq!(s.wait_terminal(&token, id, Duration::from_secs(60)).await["status"], "COMPLETED");

    // A signed URL is only ever for audio: other declared types are refused up
    // front; none declared, the filename's extension decides.
    for (filename, content_type) in [("page.html", "text/html"), ("x.svg", "image/svg+xml"), ("notes.txt", "")] {
        let r = s
            .client
            .post(s.url("/api/records/presigned-url"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"filename": filename, "content_type": content_type, "size": 100}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{filename} {content_type}");
        assert!(r.text().await.unwrap().contains("audio/*"));
    }
    let r = s
        .client
        .post(s.url("/api/records/presigned-url"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"filename": "take.m4a", "size": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let opened: serde_json::Value = r.json().await.unwrap();
    assert_eq!(opened["headers"]["Content-Type"], "audio/mp4", "{opened}");
    // Played back, it is audio and a download.
    let r = s.client.get(s.url(&format!("/api/audio/{id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(
        (r.headers()["content-type"].to_str().unwrap(), r.headers()["content-disposition"].to_str().unwrap()),
        ("audio/wav", "attachment")
    );
}

#[tokio::test]
async fn status_polls_are_answered_from_the_redis_cache_for_the_owner_only() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let prefix = format!("orak-st-{}:", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let s = Server::start(&[("ORAK_REDIS__URL", redis.as_str()), ("ORAK_REDIS__PREFIX", prefix.as_str())]).await;
    let (alice, bob, admin) = (s.token("alice", false), s.token("bob", false), s.token("root", true));
    let id = s.upload_presigned(&alice, "a.wav", common::sine_wav(0.3, 8_000, 220.0, 0.3)).await;
    s.wait_terminal(&alice, &id, Duration::from_secs(60)).await;
    let path = format!("/api/records/{id}/status");
    let first: serde_json::Value = s.get_json(&alice, &path).await;
    assert_eq!((first["status"].as_str(), first["cached"].as_bool()), (Some("COMPLETED"), Some(false)), "{first}");
    let second: serde_json::Value = s.get_json(&alice, &path).await;
    assert_eq!((second["status"].as_str(), second["cached"].as_bool()), (Some("COMPLETED"), Some(true)), "{second}");
    assert_eq!(second["attempt"], 1);
    // The cache answers only those who may see the record.
    assert_eq!(s.client.get(s.url(&path)).bearer_auth(&bob).send().await.unwrap().status(), 404);
    assert_eq!(s.client.get(s.url(&path)).bearer_auth(&admin).send().await.unwrap().status(), 200);
    assert_eq!(s.client.get(s.url(&path)).send().await.unwrap().status(), 401);
    // Deleted: gone from the cache too.
    assert_eq!(s.delete(&alice, &format!("/api/records/{id}")).await.status(), 204);
    assert_eq!(s.client.get(s.url(&path)).bearer_auth(&alice).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_line() {
    let s = Server::start(&[("ORAK_LOG__FORMAT", "json")]).await;
    let token = s.token("alice", false);
    let r = s.client.get(s.url("/api/records")).bearer_auth(&token).header("x-request-id", "req-42").send().await;
    assert_eq!(r.unwrap().status(), 200);
    let r = s.client.get(s.url("/api/records")).header("x-request-id", "no spaces allowed").send().await;
    assert_eq!(r.unwrap().status(), 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = s.full_log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 5, "{log}");
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string() && l["target"].is_string(), "{l}");
    }
    let http: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "http").collect();
    let ids: Vec<&str> = http.iter().filter_map(|l| l["span"]["request_id"].as_str()).collect();
    assert_eq!(ids.len(), http.len(), "every request line has an id: {http:?}");
    assert!(ids.contains(&"req-42"), "{ids:?}");
    assert!(!ids.contains(&"no spaces allowed"), "a hostile id is replaced: {ids:?}");
    assert!(ids.iter().any(|i| i.len() == 32 && i.bytes().all(|b| b.is_ascii_hexdigit())), "{ids:?}");
}

/// Sends a request's head alone over a raw connection (the body it announces
/// never comes) and reads what the server answers, within 5 s.
async fn answer_without_a_body(s: &Server, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("the server answered before any body arrived")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn webhook_strangers_are_refused_before_the_body_and_shut_out_after_repeated_failures() {
    let s = Server::start(&[
        ("ORAK_WEBHOOKS__SECRET", "hook-secret"),
        ("ORAK_WEBHOOKS__MAX_FAILURES", "3"),
        ("ORAK_WEBHOOKS__FAILURE_WINDOW_SECONDS", "3"),
    ])
    .await;
    let path = "/api/records/async/upload-completed";
    // A wrong bearer announcing 100 MB is refused at once: the body is never read.
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer guess\r\nContent-Length: 100000000\r\n\r\n");
    let answer = answer_without_a_body(&s, &head).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // With the right secret, a body over 256 KiB is refused by its announced length.
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hook-secret\r\nContent-Length: 300000\r\n\r\n"
    );
    let answer = answer_without_a_body(&s, &head).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let post =
        |bearer: &'static str| s.client.post(s.url(path)).bearer_auth(bearer).json(&json!({"Records": []})).send();
    assert_eq!(post("hook-secret").await.unwrap().status(), 200);
    // Two more failures make three: the source is shut out, the right secret included.
    assert_eq!(post("guess-2").await.unwrap().status(), 401);
    assert_eq!(post("guess-3").await.unwrap().status(), 401);
    let r = post("hook-secret").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| (1..=3).contains(&n))));
    // Until its window ends.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(post("hook-secret").await.unwrap().status(), 200);
    assert!(s.log().contains("webhook with a missing or wrong secret refused"));
}

#[tokio::test]
async fn a_user_has_one_budget_whatever_addresses_and_an_ipv6_host_counts_as_its_slash_64() {
    let s = Server::start(&[
        ("ORAK_RATE_LIMIT__ENABLED", "true"),
        ("ORAK_RATE_LIMIT__PER_SECOND", "1"),
        ("ORAK_RATE_LIMIT__BURST", "2"),
        ("ORAK_RATE_LIMIT__PER_USER_PER_SECOND", "1"),
        ("ORAK_RATE_LIMIT__PER_USER_BURST", "3"),
        ("ORAK_RATE_LIMIT__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]"),
    ])
    .await;
    let alice = s.token("alice", false);
    let bob = s.token("bob", false);
    let get = |from: &'static str, token: &str| {
        s.client.get(s.url("/api/records")).header("x-forwarded-for", from).bearer_auth(token).send()
    };
    // Three addresses, one user: the user's budget (3) runs out, not the addresses'.
    let mut codes = Vec::new();
    for from in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"] {
        codes.push(get(from, &alice).await.unwrap().status().as_u16());
    }
    assert_eq!(codes, [200, 200, 200, 429], "one budget for alice");
    assert_eq!(get("203.0.113.5", &bob).await.unwrap().status(), 200, "bob has his own");
    // Two addresses of one /64 share a budget (2); the next /64 has its own.
    let anon = |from: &'static str| s.client.get(s.url("/api/records")).header("x-forwarded-for", from).send();
    let mut codes = Vec::new();
    for from in ["2001:db8:0:7::1", "2001:db8:0:7::2", "2001:db8:0:7:ffff::9"] {
        codes.push(anon(from).await.unwrap().status().as_u16());
    }
    assert_eq!(codes, [401, 401, 429], "one /64, one budget");
    assert_eq!(anon("2001:db8:0:8::1").await.unwrap().status(), 401, "another /64");
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_live_streams() {
    // Keep-alives each second, so a closed stream is noticed at once.
    let s = Server::start(&[("ORAK_SSE__MAX_STREAMS_PER_USER", "2"), ("ORAK_SSE__KEEPALIVE_SECONDS", "1")]).await;
    let alice = s.token("alice", false);
    let bob = s.token("bob", false);
    // A record whose upload never comes: its stream stays open.
    let id = s.presign(&alice, "later.wav", 1000).await["record_id"].as_str().unwrap().to_owned();
    let open = |token: &str| s.client.get(s.url(&format!("/api/processing/status/{id}"))).bearer_auth(token).send();
    let first = open(&alice).await.unwrap();
    let second = open(&alice).await.unwrap();
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let third = open(&alice).await.unwrap();
    assert_eq!(third.status(), 429);
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
    assert_eq!(open(&bob).await.unwrap().status(), 404, "bob may not see it (and his slots are his own)");
    // Closing one gives its slot back.
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = open(&alice).await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the closed stream's slot never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(second);
}
