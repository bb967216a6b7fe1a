//! The web UI in a real browser: runs `tests/ui/flow.mjs` (playwright-core driving
//! Debian's Chromium, headless) against a fresh service. The script signs in,
//! uploads a reference recording and watches every status step, checks the range
//! keyboard, the pitch plot, recommendations and a dislike, voices like mine, my
//! recordings, a microphone recording (Chromium's fake device: WebM/Opus), a
//! phone-sized screen and the admin page with a live alert; no console errors and
//! every control labelled. Screenshots go to `$TEST_UI_ARTIFACTS` (default
//! `<target>/ui-artifacts`).
//!
//! Needs node, `npm ci --prefix tests/ui` and /usr/bin/chromium: `bash
//! scripts/test.sh` installs them.

mod common;

use common::Server;
use std::path::PathBuf;
use std::process::Command;

#[tokio::test]
async fn the_web_ui_works_end_to_end_in_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/ui/flow.mjs");
    assert!(
        root.join("tests/ui/node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/ui` (bash scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (bash scripts/test.sh does)"
    );
    let artifacts = std::env::var("TEST_UI_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-artifacts"));
    // Recordings named "doomed…" fail every attempt, with no retries: dead letters
    // for the admin page.
    let s = Server::start(&[
        ("ORAK_WEBHOOKS__SECRET", "ui-hook-secret"),
        ("ORAK_FAULTS__TRANSIENT_FAILURE_FILENAME", "doomed"),
        ("ORAK_FAULTS__TRANSIENT_FAILURES", "1000"),
        ("ORAK_RETRY__MAX_RETRIES", "0"),
    ])
    .await;
    let audio = root.join("../shared/reference/audio/librivox_0870.wav");
    let base = s.base.clone();
    let link = common::sign_in_link(&s);
    let admin = s.token("ops", true);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .env("ORAK_BASE", base)
            .env("ORAK_AUDIO", audio)
            .env("ORAK_WEBHOOK_SECRET", "ui-hook-secret")
            .env("ORAK_SIGNIN_LINK", link)
            .env("ORAK_ADMIN_TOKEN", admin)
            .env("TEST_UI_ARTIFACTS", &artifacts)
            .env("CHROMIUM", chromium)
            .output()
            .expect("run node (is Node.js installed?)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the UI flow failed:\n{stdout}\n{stderr}\nservice log:\n{}", s.log());
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_their_types_and_headers() {
    let s = Server::start(&[]).await;
    let r = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("/app.js") && html.contains("/app.css"));
    for (path, kind) in [("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        assert!(!r.bytes().await.unwrap().is_empty());
    }
    assert_eq!(s.client.get(s.url("/nope.js")).send().await.unwrap().status(), 404);
    // By default no sign-in by name; a loopback-only instance offers its one-time link.
    let c: serde_json::Value = s.client.get(s.url("/api/ui/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!((c["dev_sign_in"].as_bool(), c["sign_in_link"].as_bool()), (Some(false), Some(true)), "{c}");
}

#[tokio::test]
async fn the_one_time_link_signs_in_once_as_a_user() {
    let s = Server::start(&[]).await;
    let r = s.client.post(s.url("/api/dev/token")).json(&serde_json::json!({"user": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 404, "sign-in by name is off by default");
    let link = common::sign_in_link(&s);
    let code = link.rsplit('/').next().unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/#signin/", s.base)), "{link}");
    let redeem = |code: String, user: &'static str| {
        s.client.post(s.url("/api/session/link")).json(&serde_json::json!({"code": code, "user": user})).send()
    };
    assert_eq!(redeem("0".repeat(48), "민지").await.unwrap().status(), 401, "a made-up code");
    assert_eq!(redeem(code.clone(), "").await.unwrap().status(), 400, "a name is needed (the code is not used up)");
    let r = redeem(code.clone(), "  민지 ").await.unwrap();
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.unwrap();
    assert_eq!((t["user"].as_str(), t["role"].as_str()), (Some("민지"), Some("user")));
    let token = t["token"].as_str().unwrap();
    let r = s.client.get(s.url("/api/records")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "the token works");
    let r = s.client.get(s.url("/api/admin/dead-letters")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 403, "a user's token is not an admin's");
    assert_eq!(redeem(code, "mallory").await.unwrap().status(), 401, "a link works once");
    // Its use logged the next link, which works in turn.
    let next = common::sign_in_link(&s);
    assert_ne!(next, link);
    let next_code = next.rsplit('/').next().unwrap().to_owned();
    assert_eq!(redeem(next_code, "second").await.unwrap().status(), 200);
}

#[tokio::test]
async fn sign_in_by_name_gives_user_tokens_only_and_only_on_loopback() {
    let s = Server::start(&[("ORAK_AUTH__DEV_SIGN_IN", "true")]).await;
    let c: serde_json::Value = s.client.get(s.url("/api/ui/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!(c["dev_sign_in"], true);
    let r = s.client.post(s.url("/api/dev/token")).json(&serde_json::json!({"user": "  민지 "})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.unwrap();
    assert_eq!((t["user"].as_str(), t["role"].as_str()), (Some("민지"), Some("user")));
    let r = s
        .client
        .post(s.url("/api/dev/token"))
        .json(&serde_json::json!({"user": "x", "admin": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "never an admin token");
    assert!(r.text().await.unwrap().contains("orakgaraki token"));
    for bad in
        [serde_json::json!({"user": ""}), serde_json::json!({"user": "a\u{7}b"}), serde_json::json!({"name": "x"})]
    {
        let r = s.client.post(s.url("/api/dev/token")).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    drop(s);
    // Where others could reach it, startup refuses and says why.
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--bind", "0.0.0.0:0", "--data-dir"])
        .arg(tmp.path())
        .env("ORAK_AUTH__DEV_SIGN_IN", "true")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it must not start: {stderr}");
    assert!(stderr.contains("dev_sign_in") && stderr.contains("0.0.0.0:0"), "{stderr}");
}

#[tokio::test]
async fn audio_plays_for_those_who_may_see_the_record() {
    let s = Server::start(&[]).await;
    let alice = s.token("alice", false);
    let bob = s.token("bob", false);
    let wav = common::sine_wav(1.0, 16_000, 220.0, 0.5);
    let id = s.upload_presigned(&alice, "a.wav", wav.clone()).await;
    let get = |token: Option<String>, range: Option<&'static str>| {
        let mut r = s.client.get(s.url(&format!("/api/audio/{id}")));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(range) = range {
            r = r.header("range", range);
        }
        r.send()
    };
    let r = get(Some(alice.clone()), None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert_eq!(r.bytes().await.unwrap().as_ref(), wav.as_slice(), "the very bytes uploaded");
    let r = get(Some(alice.clone()), Some("bytes=0-3")).await.unwrap();
    assert_eq!(r.status(), 206, "players can seek");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"RIFF");
    assert_eq!(get(None, None).await.unwrap().status(), 401);
    assert_eq!(
        get(Some(bob.clone()), None).await.unwrap().status(),
        404,
        "private: others cannot even learn it exists"
    );
    let r = s
        .client
        .patch(s.url(&format!("/api/records/{id}")))
        .bearer_auth(&alice)
        .json(&serde_json::json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(Some(bob), None).await.unwrap().status(), 200, "public: anyone signed in may play it");
    let r = s.client.get(s.url("/api/audio/..%2Fsecret.key")).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn audio_and_streams_open_with_a_one_resource_ticket_never_a_bearer_token_in_the_url() {
    let s = Server::start(&[("ORAK_AUTH__TICKET_TTL_SECONDS", "2")]).await;
    let alice = s.token("alice", false);
    let bob = s.token("bob", false);
    let admin = s.token("root", true);
    let wav = common::sine_wav(1.0, 16_000, 220.0, 0.5);
    let id = s.upload_presigned(&alice, "a.wav", wav.clone()).await;
    let other = s.upload_presigned(&alice, "b.wav", wav.clone()).await;
    let ticket = |token: String, body: serde_json::Value| {
        s.client.post(s.url("/api/tickets")).bearer_auth(token).json(&body).send()
    };
    // The 7-day token in a URL is refused, and says what to do instead.
    let r = s.client.get(s.url(&format!("/api/audio/{id}"))).query(&[("access_token", &alice)]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("/api/tickets"));
    let r = ticket(alice.clone(), serde_json::json!({"scope": "audio", "record_id": id})).await.unwrap();
    assert_eq!(r.status(), 201);
    let t: serde_json::Value = r.json().await.unwrap();
    let url = t["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("/api/audio/{id}?ticket=")), "{url}");
    let r = s.client.get(s.url(&url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), wav.as_slice());
    // One record, one use: not the other record, not its status stream.
    let tk = t["ticket"].as_str().unwrap();
    let r = s.client.get(s.url(&format!("/api/audio/{other}?ticket={tk}"))).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.client.get(s.url(&format!("/api/processing/status/{id}?ticket={tk}"))).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A status ticket opens the stream.
    let t: serde_json::Value = ticket(alice.clone(), serde_json::json!({"scope": "status", "record_id": id}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = s.client.get(s.url(t["url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    drop(r);
    // Someone else's private record: no ticket, and no sign it exists.
    assert_eq!(
        ticket(bob.clone(), serde_json::json!({"scope": "audio", "record_id": id})).await.unwrap().status(),
        404
    );
    assert_eq!(ticket(bob.clone(), serde_json::json!({"scope": "alerts"})).await.unwrap().status(), 403);
    assert_eq!(ticket(bob.clone(), serde_json::json!({"scope": "status"})).await.unwrap().status(), 400);
    let r = ticket(admin.clone(), serde_json::json!({"scope": "alerts"})).await.unwrap();
    assert_eq!(r.status(), 201);
    let alerts: serde_json::Value = r.json().await.unwrap();
    let r = s.client.get(s.url(alerts["url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(r.status(), 200, "an admin's alerts ticket opens the stream");
    drop(r);
    // A ticket expires (2 s here).
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let r = s.client.get(s.url(&url)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("expired"));
}
