//! Test harness: runs the real `orakgaraki` binary on port 0 with its own temporary
//! data dir, and talks to it over real HTTP.
#![allow(dead_code)]

pub mod cluster;
pub mod mysql;
pub mod proxy;
pub mod records;
pub mod services;

use serde_json::Value;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_orakgaraki");

/// A running service.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub client: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a fresh instance with `ORAK_*` overrides.
    pub async fn start(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut s = Self::spawn(&dir, &env).await;
        s._tmp = Some(tmp);
        s
    }

    /// Starts an instance over an existing data dir (after a crash, say).
    pub async fn spawn(dir: &Path, env: &[(String, String)]) -> Server {
        let addr_file = dir.join("server.addr");
        let _ = std::fs::remove_file(&addr_file);
        std::fs::create_dir_all(dir).unwrap();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("RUST_LOG", "info")
            .env("ORAK_PIPELINE__POLL_INTERVAL_MS", "200")
            .env("ORAK_PIPELINE__SWEEP_INTERVAL_MS", "200")
            // Tests poll hard from one address; the rate-limit tests turn it back on.
            .env("ORAK_RATE_LIMIT__ENABLED", "false")
            .current_dir(dir)
            .stdin(Stdio::null())
            // JSON logs go to stdout, text logs to stderr: both into the log file.
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn orakgaraki");
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(&addr_file)
                && !a.is_empty()
            {
                break a;
            }
            assert!(Instant::now() < deadline, "server did not start; log:\n{}", read_log(dir));
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let s = Server {
            child,
            base: format!("http://{addr}"),
            data_dir: dir.to_owned(),
            env: env.to_vec(),
            client,
            _tmp: None,
        };
        s.wait_ready().await;
        s
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.client.get(self.url("/ready")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "server never became ready; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log(&self) -> String {
        read_log(&self.data_dir)
    }

    /// The server's own last lines: without the tests' polling and without
    /// librdkafka's connection chatter, which fill a tail while a broker is down.
    pub fn app_log(&self) -> String {
        let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
        let noise = ["http method=GET", "librdkafka", "warp::filters::trace"];
        let tail: Vec<&str> = log.lines().rev().filter(|l| !noise.iter().any(|n| l.contains(n))).take(60).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Whether the server process is still running (not exited and unreaped).
    pub fn alive(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The state follows the parenthesised command name.
        stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    }

    /// The whole server log so far.
    pub fn full_log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::Signal::SIGKILL)
            .unwrap();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to finish its shutdown.
    pub fn stop(&mut self) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::Signal::SIGTERM)
            .unwrap();
        let status = self.child.wait().expect("wait for the server");
        assert!(status.success(), "server exited with {status}; log:\n{}", self.log());
    }

    /// A token from `orakgaraki token`, signed with this instance's secret.
    pub fn token(&self, user: &str, admin: bool) -> String {
        let mut cmd = Command::new(BIN);
        cmd.args(["token", "--user", user, "--data-dir"]).arg(&self.data_dir).current_dir(&self.data_dir);
        if admin {
            cmd.arg("--admin");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run token");
        assert!(out.status.success(), "token failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `POST /api/tickets`: the URL (ticket included) that opens `scope` on
    /// `record` (None for the alert stream), and the answer's status.
    pub async fn ticket_url(&self, token: &str, scope: &str, record: Option<&str>) -> (u16, String) {
        let mut body = serde_json::json!({ "scope": scope });
        if let Some(id) = record {
            body["record_id"] = id.into();
        }
        let r = self.client.post(self.url("/api/tickets")).bearer_auth(token).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or_default();
        (status, v["url"].as_str().map(|u| self.url(u)).unwrap_or_default())
    }

    /// Peak resident memory of the server process so far, bytes.
    pub fn peak_rss(&self) -> u64 {
        proc_status_kb(self.pid(), "VmHWM:") * 1024
    }

    pub fn rss(&self) -> u64 {
        proc_status_kb(self.pid(), "VmRSS:") * 1024
    }

    /// Opens a presigned upload; returns the JSON answer.
    pub async fn presign(&self, token: &str, filename: &str, size: usize) -> Value {
        let r = self
            .client
            .post(self.url("/api/records/presigned-url"))
            .bearer_auth(token)
            .json(&serde_json::json!({"filename": filename, "content_type": "audio/wav", "size": size}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "presign: {}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// PUTs `bytes` to a presigned URL.
    pub async fn put(&self, url: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.client.put(url).header("content-type", "audio/wav").body(bytes).send().await.unwrap()
    }

    /// Presigned path end to end: returns the record id.
    pub async fn upload_presigned(&self, token: &str, filename: &str, bytes: Vec<u8>) -> String {
        let p = self.presign(token, filename, bytes.len()).await;
        let r = self.put(p["upload_url"].as_str().unwrap(), bytes).await;
        assert_eq!(r.status(), 200, "put: {}", r.text().await.unwrap());
        p["record_id"].as_str().unwrap().to_owned()
    }

    /// Multipart path; returns the raw response.
    pub async fn upload_multipart(
        &self,
        token: &str,
        filename: &str,
        bytes: Vec<u8>,
        metadata: Option<&str>,
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()).mime_str("audio/wav").unwrap(),
        );
        if let Some(m) = metadata {
            form = form.text("metadata", m.to_owned());
        }
        self.client.post(self.url("/api/records/upload")).bearer_auth(token).multipart(form).send().await.unwrap()
    }

    /// POST `body` as JSON to `path` with a token.
    pub async fn post_json(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    /// GET `path` with a token; the body as JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let r = self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// DELETE `path` with a token.
    pub async fn delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn get_record(&self, token: &str, id: &str) -> reqwest::Response {
        self.client.get(self.url(&format!("/api/records/{id}"))).bearer_auth(token).send().await.unwrap()
    }

    /// Polls until the record reaches a terminal status.
    pub async fn wait_terminal(&self, token: &str, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.get_record(token, id).await;
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            if matches!(v["status"].as_str(), Some("COMPLETED" | "FAILED")) {
                return v;
            }
            assert!(Instant::now() < deadline, "record {id} stuck at {}; log:\n{}", v["status"], self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of `/metrics` (on the service's own address).
    pub async fn metrics(&self) -> String {
        self.client.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap()
    }

    /// Opens the SSE stream; returns the response (check the status first).
    pub async fn sse(&self, token: &str, id: &str) -> reqwest::Response {
        self.client.get(self.url(&format!("/api/processing/status/{id}"))).bearer_auth(token).send().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    // Without the access lines of the tests' own polling, which would fill the tail.
    let tail: Vec<&str> = log.lines().rev().filter(|l| !l.contains("http method=GET")).take(60).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Reads `event: status` messages until the stream ends (after a terminal status)
/// or `timeout` passes.
pub async fn collect_sse(resp: reqwest::Response, timeout: Duration) -> Vec<Value> {
    use futures_util::StreamExt;
    let mut events = Vec::new();
    let mut buf = String::new();
    let mut stream = resp.bytes_stream();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let Ok(Some(Ok(chunk))) = next else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(v.trim().to_owned());
                }
            }
            if name.as_deref() == Some("status") {
                events.push(serde_json::from_str(&data.unwrap_or_default()).unwrap());
            }
        }
    }
    events
}

/// The value of the first sample line of a `/metrics` text that starts with `series`.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

pub fn statuses(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["status"].as_str().unwrap().to_owned()).collect()
}

/// A mono 16-bit WAV: a sine of `freq` Hz at `amp` of full scale.
/// The newest one-time sign-in link the server logged (`…/#signin/<code>`).
pub fn sign_in_link(s: &Server) -> String {
    let log = s.full_log();
    let at = log.rfind("/#signin/").unwrap_or_else(|| panic!("no sign-in link in the log:\n{log}"));
    let start = log[..at].rfind("http://").expect("the link's scheme");
    let end = log[at..].find(|c: char| c.is_whitespace() || c == '"').map_or(log.len(), |n| at + n);
    log[start..end].to_owned()
}

pub fn sine_wav(seconds: f64, rate: u32, freq: f64, amp: f64) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
    let n = (seconds * rate as f64) as usize;
    for i in 0..n {
        let v = (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() * amp * 32767.0;
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
    buf.into_inner()
}

/// Every Redis key under `prefix` (KEYS: fine for a test's own prefix).
pub async fn redis_keys(url: &str, prefix: &str) -> Vec<String> {
    use fred::prelude::{Builder, ClientLike, Config};
    let client = Builder::from_config(Config::from_url(url).unwrap()).build().unwrap();
    client.init().await.unwrap();
    let cmd = fred::types::CustomCommand::new_static("KEYS", None::<u16>, false);
    let keys: Vec<String> = client.custom(cmd, vec![format!("{prefix}*")]).await.unwrap();
    let _ = client.quit().await;
    keys
}

/// Whether `needle` occurs anywhere in the file at `path` (a database file, say).
pub fn file_contains(path: &Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.windows(needle.len()).any(|w| w == needle)
}
