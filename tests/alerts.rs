//! The alert-webhook actor with a real Alertmanager: a test alert posted to
//! Alertmanager's API fires into the running service, which stores it, streams it
//! to an admin's SSE stream and forwards it to a local HTTP receiver standing in
//! for Mattermost's incoming webhook (which refuses the first tries: the actor
//! retries); then the alert is resolved and the same happens again.

mod common;

use common::services::{Service, alertmanager};
use common::{Server, sample};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use warp::Filter;

/// A stand-in for Mattermost's incoming webhook: answers 503 to the first
/// `refuse` requests, then 200; keeps every body it was sent.
struct Chat {
    url: String,
    bodies: Arc<Mutex<Vec<(u16, Value)>>>,
}

async fn chat(refuse: usize) -> Chat {
    let bodies: Arc<Mutex<Vec<(u16, Value)>>> = Arc::default();
    let seen = bodies.clone();
    let route = warp::path!("hooks" / "orak").and(warp::post()).and(warp::body::json()).map(move |body: Value| {
        let mut seen = seen.lock().unwrap();
        let status = if seen.len() < refuse { 503 } else { 200 };
        seen.push((status, body));
        warp::reply::with_status("ok", warp::http::StatusCode::from_u16(status).unwrap())
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    Chat { url: format!("http://{addr}/hooks/orak"), bodies }
}

impl Chat {
    /// The texts it accepted (answered 200), in order.
    fn delivered(&self) -> Vec<String> {
        let b = self.bodies.lock().unwrap();
        b.iter().filter(|(s, _)| *s == 200).map(|(_, v)| v["text"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

/// Reads `event: alert` messages from an SSE response into a channel.
fn alert_events(resp: reqwest::Response) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if block.lines().any(|l| l.trim() == "event:alert" || l.trim() == "event: alert") {
                    let data: String = block.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                    if tx.send(serde_json::from_str(&data).unwrap()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The next alert event whose status is `status`.
async fn next_with_status(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>, status: &str, what: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(v)) if v["status"] == status => return v,
            Ok(Some(_)) => continue,
            _ => panic!("no {status} alert on the admin stream: {what}"),
        }
    }
}

fn am_config(service: &Server) -> String {
    format!(
        r#"route:
  receiver: orak
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: orak
    webhook_configs:
      - url: {}/api/webhook/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: hook-secret
"#,
        service.base
    )
}

async fn post_to_alertmanager(am: &Service, alert: Value) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/api/v2/alerts", am.port))
        .json(&json!([alert]))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "Alertmanager refused the alert: {}", r.status());
}

#[tokio::test]
async fn a_real_alertmanager_alert_is_stored_streamed_and_forwarded_with_retries() {
    let chat = chat(2).await;
    let s = Server::start(&[
        ("ORAK_WEBHOOKS__SECRET", "hook-secret"),
        ("ORAK_ALERTS__MATTERMOST_URL", &chat.url),
        ("ORAK_ALERTS__FORWARD_BACKOFF_MS", "100"),
    ])
    .await;
    let admin = s.token("ops", true);
    let stream = s.client.get(s.url("/api/admin/alerts/stream")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut events = alert_events(stream);

    let mut am = alertmanager(&am_config(&s));
    am.start();
    let started = chrono::Utc::now();
    let alert = json!({
        "labels": {"alertname": "OrakTestAlert", "severity": "critical", "instance": "test-instance"},
        "annotations": {"summary": "a test alert fired by tests/alerts.rs"},
        "startsAt": started.to_rfc3339(),
    });
    post_to_alertmanager(&am, alert.clone()).await;

    let firing = next_with_status(&mut events, "firing", &am.log()).await;
    assert_eq!(firing["name"], "OrakTestAlert");
    assert_eq!(firing["severity"], "critical");
    assert_eq!(firing["labels"]["instance"], "test-instance");
    assert_eq!(firing["annotations"]["summary"], "a test alert fired by tests/alerts.rs");

    // Resolve it: Alertmanager sends `resolved` (send_resolved) at the next group interval.
    let mut resolved = alert;
    resolved["endsAt"] = json!(chrono::Utc::now().to_rfc3339());
    post_to_alertmanager(&am, resolved).await;
    let resolved = next_with_status(&mut events, "resolved", &am.log()).await;
    assert_eq!(resolved["id"], firing["id"], "the same alert, now resolved");
    assert!(resolved["ends_at"].is_string());

    // Stored with both changes.
    let list = s.get_json(&admin, "/api/admin/alerts").await;
    let stored = list["items"].as_array().unwrap().iter().find(|a| a["id"] == firing["id"]).unwrap().clone();
    let changes: Vec<&str> =
        stored["changes"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(changes, ["firing", "resolved"]);
    let only_firing = s.get_json(&admin, "/api/admin/alerts?status=firing").await;
    assert!(only_firing["items"].as_array().unwrap().iter().all(|a| a["status"] == "firing"));

    // Chat got both, in order, after refusing the first two tries.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while chat.delivered().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = chat.delivered();
    assert_eq!(delivered.len(), 2, "chat messages: {delivered:?}\nservice log:\n{}", s.log());
    assert!(delivered[0].contains("FIRING") && delivered[0].contains("OrakTestAlert"), "{}", delivered[0]);
    assert!(delivered[0].contains("a test alert fired by tests/alerts.rs"));
    assert!(delivered[1].contains("RESOLVED") && delivered[1].contains("OrakTestAlert"), "{}", delivered[1]);
    assert!(chat.bodies.lock().unwrap().iter().all(|(_, b)| b["username"] == "orakgaraki"));

    let m = s.metrics().await;
    assert_eq!(sample(&m, r#"orak_alert_forwards_total{outcome="retried"}"#), Some(2.0), "{m}");
    assert_eq!(sample(&m, r#"orak_alert_forwards_total{outcome="sent"}"#), Some(2.0));
    assert_eq!(sample(&m, r#"orak_alerts_received_total{status="firing"}"#), Some(1.0));
    assert_eq!(sample(&m, r#"orak_alerts_received_total{status="resolved"}"#), Some(1.0));
    assert!(s.full_log().contains("alert-webhook") || s.full_log().contains("alert"), "alert logged");
}

fn payload(status: &str, fingerprint: &str) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"Direct\"}", "status": status, "receiver": "orak",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
        "alerts": [{
            "status": status,
            "labels": {"alertname": "Direct", "severity": "warning"},
            "annotations": {"summary": "posted by the test"},
            "startsAt": "2026-11-30T10:00:00Z",
            "endsAt": if status == "resolved" { "2026-11-30T10:05:00Z" } else { "0001-01-01T00:00:00Z" },
            "generatorURL": "", "fingerprint": fingerprint
        }]
    })
}

#[tokio::test]
async fn bad_payloads_are_refused_and_a_hanging_chat_never_delays_the_webhook() {
    // A chat endpoint that accepts connections and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("http://{}/hooks/orak", hang.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = hang.accept().await {
            held.push(conn);
        }
    });
    let s = Server::start(&[
        ("ORAK_WEBHOOKS__SECRET", "hook-secret"),
        ("ORAK_ALERTS__MATTERMOST_URL", &hang_url),
        ("ORAK_ALERTS__FORWARD_TIMEOUT_SECONDS", "60"),
    ])
    .await;
    let url = s.url("/api/webhook/alertmanager");
    // Each call must be answered long before the chat endpoint would time out.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    let r = client.post(&url).json(&payload("firing", "f1")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no secret");
    let r = client.post(&url).bearer_auth("wrong").json(&payload("firing", "f1")).send().await.unwrap();
    assert_eq!(r.status(), 401, "wrong secret");
    for (body, why) in [
        (json!({"version": "3", "alerts": []}), "old version"),
        (json!({"alerts": []}), "no version"),
        (
            json!({"version": "4", "alerts": [{"status": "burning", "labels": {"alertname": "X"}, "startsAt": "2026-11-30T10:00:00Z"}]}),
            "bad status",
        ),
        (
            json!({"version": "4", "alerts": [{"status": "firing", "labels": {}, "startsAt": "2026-11-30T10:00:00Z"}]}),
            "no alertname",
        ),
        (
            json!({"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "X"}, "startsAt": "soon"}]}),
            "bad time",
        ),
    ] {
        let r = client.post(&url).bearer_auth("hook-secret").json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{why}");
        let e: Value = r.json().await.unwrap();
        assert!(!e["error"]["message"].as_str().unwrap().is_empty(), "{why}: {e}");
    }
    let r = client.post(&url).bearer_auth("hook-secret").body("not json").send().await.unwrap();
    assert_eq!(r.status(), 400);

    // The chat endpoint hangs; the webhook still answers every time.
    let r = client.post(&url).bearer_auth("hook-secret").json(&payload("firing", "f1")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    assert_eq!((out["received"].as_u64(), out["changed"].as_u64()), (Some(1), Some(1)));
    // What the webhook says of one notification.
    let notify = |body: Value| {
        let request = client.post(&url).bearer_auth("hook-secret").json(&body).send();
        async move { request.await.unwrap().json::<Value>().await.unwrap() }
    };
    // Alertmanager repeats firing alerts: no news.
    let out = notify(payload("firing", "f1")).await;
    assert_eq!((out["changed"].as_u64(), out["repeated"].as_u64()), (Some(0), Some(1)));
    let out = notify(payload("resolved", "f1")).await;
    assert_eq!(out["changed"].as_u64(), Some(1));
    // A late firing after resolved (same start) does not reopen it.
    let out = notify(payload("firing", "f1")).await;
    assert_eq!(out["changed"].as_u64(), Some(0));
    // The HMAC form works too.
    let body = serde_json::to_vec(&payload("firing", "f2")).unwrap();
    let sig = orakgaraki::http::webhook_auth::sign("hook-secret", &body);
    let r = client
        .post(&url)
        .header("x-orak-signature", sig)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Admins only; the stream opens with an admin's ticket (EventSource).
    let user = s.token("someone", false);
    let admin = s.token("ops", true);
    assert_eq!(s.client.get(s.url("/api/admin/alerts")).bearer_auth(&user).send().await.unwrap().status(), 403);
    assert_eq!(s.client.get(s.url("/api/admin/alerts")).send().await.unwrap().status(), 401);
    assert_eq!(s.client.get(s.url("/api/admin/alerts/stream")).send().await.unwrap().status(), 401);
    assert_eq!(s.client.get(s.url("/api/admin/alerts/stream")).bearer_auth(&user).send().await.unwrap().status(), 403);
    assert_eq!(s.ticket_url(&user, "alerts", None).await.0, 403);
    assert_eq!(
        s.client.get(s.url("/api/admin/alerts?status=burning")).bearer_auth(&admin).send().await.unwrap().status(),
        400
    );
    let (_, url) = s.ticket_url(&admin, "alerts", None).await;
    let stream = s.client.get(url).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    // The backlog comes first: both alerts, oldest first.
    let mut events = alert_events(stream);
    let first = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
    assert_eq!((first["fingerprint"].as_str(), first["status"].as_str()), (Some("f1"), Some("resolved")));
    assert_eq!(second["fingerprint"], "f2");

    // Pages.
    let page = s.get_json(&admin, "/api/admin/alerts?limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let before = page["next_before"].as_i64().unwrap();
    let rest = s.get_json(&admin, &format!("/api/admin/alerts?limit=1&before={before}")).await;
    assert_eq!(rest["items"][0]["fingerprint"], "f1");
}

#[tokio::test]
async fn without_a_webhook_secret_the_endpoint_is_off() {
    let s = Server::start(&[]).await;
    let r = s.client.post(s.url("/api/webhook/alertmanager")).json(&payload("firing", "f")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
