//! End-to-end load harness (issue 11): starts the real service itself (the
//! release binary, its own data dir, embedded mode unless `--distributed`) and
//! measures it as users load it. Every figure in BENCHMARKS.md's "End to end"
//! section comes from here:
//!
//!   cargo build --release && cargo run --release --example load -- <scenario> [options]
//!
//! Scenarios:
//!   latency     upload → COMPLETED for 30-s recordings at 1, 8, 32 and 128 concurrent
//!               uploaders (p50/p95/p99, queue wait, refusals)  [--uploaders 1,8,32,128 --rounds 3]
//!   throughput  seconds of audio fully analysed per wall-clock second   [--recordings 48]
//!   read        GET /api/records/{id} under wrk, against a bare warp hello-world
//!               server this harness runs in the same session           [--seconds 10 --connections 64]
//!   sse         10,000 idle status streams on one instance, over HTTP/1.1 and over
//!               HTTP/2, each beside a bare warp SSE route run by this harness: memory
//!               per stream, and the delay from a status change to its arrival at
//!               every subscriber
//!               [--streams 10000 --records 100 --h2-per-connection 200 (1: a
//!               connection per HTTP/2 stream too, as browsers reaching it directly)]
//!   upload      a 500 MB upload through each upload path; the service's peak memory  [--mb 500]
//!   coldstart   process start → /ready with N records and their vectors in the
//!               database, rebuilding the index and with a warm one     [--records 1000000]
//!   all         every scenario above with its defaults
//!
//! `--distributed` (latency, throughput) runs two instances on MariaDB, Redis, S3
//! and Kafka instead (uploads through the service: the bucket here sends no
//! notifications, and watched on the other instance), from the TEST_* variables `scripts/test.sh` exports (or
//! `bash bench/load.sh`, which starts those servers and then runs this).

use futures_util::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAV_RATE: u32 = 22_050;

// ------------------------------------------------------------------ arguments

struct Args {
    scenario: String,
    opts: HashMap<String, String>,
    distributed: bool,
}

impl Args {
    fn parse() -> Args {
        let mut it = std::env::args().skip(1);
        let scenario = it.next().unwrap_or_else(|| "help".into());
        let mut opts = HashMap::new();
        let mut distributed = false;
        while let Some(a) = it.next() {
            if a == "--distributed" {
                distributed = true;
            } else if let Some(k) = a.strip_prefix("--") {
                opts.insert(k.to_owned(), it.next().unwrap_or_default());
            }
        }
        Args { scenario, opts, distributed }
    }

    fn num(&self, key: &str, default: usize) -> usize {
        self.opts.get(key).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    fn list(&self, key: &str, default: &[usize]) -> Vec<usize> {
        self.opts
            .get(key)
            .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_else(|| default.to_vec())
    }
}

// ------------------------------------------------------------------ the service

/// The service binary: the release build, or `LOAD_BIN` (a quick check with a debug one).
fn binary() -> PathBuf {
    if let Ok(b) = std::env::var("LOAD_BIN") {
        return b.into();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    let bin = target.join("release/orakgaraki");
    assert!(bin.exists(), "{} is missing: cargo build --release first", bin.display());
    bin
}

/// A running instance of the service.
struct Service {
    child: Child,
    base: String,
    dir: PathBuf,
    client: reqwest::Client,
    env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

impl Service {
    fn start(env: &[(String, String)]) -> Service {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let mut s = Service::spawn(&dir, env);
        s._tmp = Some(tmp);
        s
    }

    fn spawn(dir: &Path, env: &[(String, String)]) -> Service {
        let _ = std::fs::remove_file(dir.join("server.addr"));
        std::fs::create_dir_all(dir).unwrap();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut cmd = Command::new(binary());
        // In the data dir: the defaults, not whatever config.toml the caller's directory holds.
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .env("ORAK_RATE_LIMIT__ENABLED", "false")
            // Capacity is measured, not the per-user policy: no caps on one
            // user's waiting recordings, bytes or streams.
            .env("ORAK_UPLOADS__MAX_ACTIVE_PER_USER", "0")
            .env("ORAK_UPLOADS__QUOTA_BYTES_PER_USER", "0")
            .env("ORAK_SSE__MAX_STREAMS_PER_USER", "1000000")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the service");
        let deadline = Instant::now() + Duration::from_secs(3600);
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(dir.join("server.addr"))
                && !a.is_empty()
            {
                break a;
            }
            assert!(Instant::now() < deadline, "the service did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
        Service { child, base: format!("http://{addr}"), dir: dir.to_owned(), client, env: env.to_vec(), _tmp: None }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn wait_ready(&self) {
        loop {
            if let Ok(r) = self.client.get(self.url("/ready")).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn token(&self, user: &str) -> String {
        let mut cmd = Command::new(binary());
        cmd.args(["token", "--user", user, "--data-dir"]).arg(&self.dir);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// VmRSS and VmHWM (peak), KiB.
    /// Resident and peak resident memory, KiB.
    fn memory_kib(&self) -> (u64, u64) {
        let status = proc_status(self.child.id());
        (status_kib(&status, "VmRSS:"), status_kib(&status, "VmHWM:"))
    }

    fn stop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment of a distributed instance (MariaDB, Redis, S3, Kafka) from the
/// TEST_* variables, with a fresh database, bucket and key prefix per run.
fn distributed_env(run: &str) -> Vec<(String, String)> {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run through bench/load.sh"));
    let mysql = std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let db = format!("orak_bench_{run}");
    let status =
        Command::new("mariadb").args(["-uroot", "-h127.0.0.1", "-e", &format!("CREATE DATABASE {db}")]).status();
    assert!(status.is_ok_and(|s| s.success()), "could not create database {db}");
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    vec![
        ("ORAK_STORAGE__DATABASE_URL".into(), format!("{mysql}/{db}")),
        ("ORAK_STORAGE__OBJECTS".into(), "s3".into()),
        ("ORAK_S3__ENDPOINT".into(), var("TEST_S3_ENDPOINT")),
        ("ORAK_S3__BUCKET".into(), format!("bench-{run}")),
        ("ORAK_S3__CREATE_BUCKET".into(), "true".into()),
        ("ORAK_S3__ACCESS_KEY_ID".into(), var("TEST_S3_ACCESS_KEY")),
        ("ORAK_S3__SECRET_ACCESS_KEY".into(), var("TEST_S3_SECRET_KEY")),
        ("ORAK_REDIS__URL".into(), redis),
        ("ORAK_REDIS__PREFIX".into(), format!("bench-{run}:")),
        ("ORAK_KAFKA__BROKERS".into(), var("TEST_KAFKA_BROKERS")),
        ("ORAK_KAFKA__GROUP_ID".into(), format!("bench-{run}")),
        ("ORAK_WEBHOOKS__SECRET".into(), "bench".into()),
        ("ORAK_AUTH__JWT_SECRET".into(), "bench-shared-secret-bench-shared-secret".into()),
    ]
}

// ------------------------------------------------------------------ audio

/// `seconds` of real speech (the shared reference recordings, one after another)
/// as a 16-bit mono WAV at 22 050 Hz.
fn speech_wav(seconds: f64) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/audio");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("librivox_"))
                && p.extension().is_some_and(|e| e == "wav")
        })
        .collect();
    names.sort();
    let want = (seconds * f64::from(WAV_RATE)) as usize;
    let mut samples: Vec<i16> = Vec::with_capacity(want);
    'outer: loop {
        for p in &names {
            let mut r = hound::WavReader::open(p).unwrap();
            let spec = r.spec();
            let mono: Vec<f32> = match spec.sample_format {
                hound::SampleFormat::Int => r
                    .samples::<i32>()
                    .map(|s| s.unwrap() as f32 / (1i64 << (spec.bits_per_sample - 1)) as f32)
                    .collect(),
                hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
            };
            let mono: Vec<f32> =
                mono.chunks(spec.channels as usize).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect();
            // Linear resampling is good enough for load (the service resamples properly).
            let step = spec.sample_rate as f64 / f64::from(WAV_RATE);
            let mut t = 0.0;
            while (t as usize) + 1 < mono.len() {
                let i = t as usize;
                let f = (t - i as f64) as f32;
                samples.push(((mono[i] * (1.0 - f) + mono[i + 1] * f) * 32_000.0) as i16);
                if samples.len() == want {
                    break 'outer;
                }
                t += step;
            }
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: WAV_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

// ------------------------------------------------------------------ one upload, watched

/// What happened to one recording, as its uploader saw it.
#[derive(Default, Clone)]
struct Trip {
    /// Presign to COMPLETED (seconds); `None` when it did not complete.
    total: Option<f64>,
    /// QUEUED → PROCESSING as the stream reported them.
    queue_wait: Option<f64>,
    /// PROCESSING → COMPLETED.
    analysis: Option<f64>,
    /// First PROCESSING and COMPLETED arrival, for throughput windows.
    processing_at: Option<Instant>,
    completed_at: Option<Instant>,
    /// The refusal status (429/503) or error, if any.
    refused: Option<String>,
}

impl Trip {
    fn refused(why: String) -> Trip {
        Trip { refused: Some(why), ..Trip::default() }
    }
}

/// Uploads one recording and follows it to COMPLETED on `watch`'s status stream.
/// `multipart`: through the service (POST /api/records/upload) instead of the
/// presigned PUT — the distributed mode's bucket has no notifications here.
async fn upload_and_watch(
    base: String,
    token: String,
    body: Arc<Vec<u8>>,
    client: reqwest::Client,
    watch: String,
) -> Trip {
    let multipart = MULTIPART.load(std::sync::atomic::Ordering::Relaxed);
    if multipart {
        return multipart_and_watch(base, token, body, client, watch).await;
    }
    let t0 = Instant::now();
    let ticket: Value = match success(presign(&client, &base, &token, "load.wav", body.len() as u64).await) {
        Ok(r) => r.json().await.unwrap(),
        Err(why) => return Trip::refused(why),
    };
    let id = ticket["record_id"].as_str().unwrap().to_owned();
    // Subscribe before the bytes go, so every step is seen (on `watch`, another
    // instance in the distributed mode).
    let stream =
        match success(client.get(format!("{watch}/api/processing/status/{id}")).bearer_auth(&token).send().await) {
            Ok(s) => s,
            Err(why) => return Trip::refused(why),
        };
    if let Err(why) = success(put_ticket(&client, &ticket, body.as_ref().clone()).send().await) {
        return Trip::refused(why);
    }
    follow(stream, t0, None, Trip::default()).await
}

/// The response if it succeeded; otherwise why not (its status, or the error).
fn success(r: Result<reqwest::Response, reqwest::Error>) -> Result<reqwest::Response, String> {
    match r {
        Ok(r) if r.status().is_success() => Ok(r),
        Ok(r) => Err(r.status().as_u16().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Asks `base` for a signed upload URL for a WAV of `size` bytes.
async fn presign(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    filename: &str,
    size: u64,
) -> Result<reqwest::Response, reqwest::Error> {
    client
        .post(format!("{base}/api/records/presigned-url"))
        .bearer_auth(token)
        .json(&serde_json::json!({"filename": filename, "size": size, "content_type": "audio/wav"}))
        .send()
        .await
}

/// The PUT a presign answer describes, with `body`.
fn put_ticket(client: &reqwest::Client, ticket: &Value, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    let mut put = client.put(ticket["upload_url"].as_str().unwrap_or_default()).body(body);
    if let Some(h) = ticket["headers"].as_object() {
        for (k, v) in h {
            put = put.header(k, v.as_str().unwrap_or_default());
        }
    }
    put
}

static MULTIPART: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn multipart_and_watch(
    base: String,
    token: String,
    body: Arc<Vec<u8>>,
    client: reqwest::Client,
    watch: String,
) -> Trip {
    let t0 = Instant::now();
    let part =
        reqwest::multipart::Part::bytes(body.as_ref().clone()).file_name("load.wav").mime_str("audio/wav").unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = client.post(format!("{base}/api/records/upload")).bearer_auth(&token).multipart(form).send().await;
    let id = match success(r) {
        Ok(r) => r.json::<Value>().await.unwrap()["record_id"].as_str().unwrap().to_owned(),
        Err(why) => return Trip::refused(why),
    };
    let stream =
        match success(client.get(format!("{watch}/api/processing/status/{id}")).bearer_auth(&token).send().await) {
            Ok(s) => s,
            Err(why) => return Trip::refused(why),
        };
    follow(stream, t0, Some(Instant::now()), Trip::default()).await
}

/// Reads a status stream until COMPLETED or FAILED, filling in `trip`.
/// The event blocks of an SSE response as they arrive (keep-alive comments left out).
fn sse_blocks(resp: reqwest::Response) -> impl futures_util::Stream<Item = String> + Unpin {
    let state = (resp.bytes_stream(), String::new());
    Box::pin(futures_util::stream::unfold(state, |(mut bytes, mut buf)| async move {
        loop {
            if let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if !block.starts_with(':') {
                    return Some((block, (bytes, buf)));
                }
                continue;
            }
            match bytes.next().await {
                Some(Ok(chunk)) => buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }))
}

async fn follow(stream: reqwest::Response, t0: Instant, mut queued_at: Option<Instant>, mut trip: Trip) -> Trip {
    let mut blocks = sse_blocks(stream);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    while let Ok(Some(block)) = tokio::time::timeout_at(deadline, blocks.next()).await {
        let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else { continue };
        let ev: Value = serde_json::from_str(data.trim()).unwrap_or_default();
        let now = Instant::now();
        match ev["status"].as_str() {
            Some("QUEUED") => queued_at = Some(now),
            Some("PROCESSING") => {
                trip.queue_wait = queued_at.map(|q| (now - q).as_secs_f64());
                trip.processing_at.get_or_insert(now);
            }
            Some("COMPLETED") => {
                trip.total = Some((now - t0).as_secs_f64());
                trip.analysis = trip.processing_at.map(|p| (now - p).as_secs_f64());
                trip.completed_at = Some(now);
                return trip;
            }
            Some("FAILED") => {
                trip.refused = Some(format!("FAILED: {}", ev["error"]));
                return trip;
            }
            _ => {}
        }
    }
    trip.refused.get_or_insert_with(|| "stream ended early".into());
    trip
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn summary(values: impl Iterator<Item = f64>) -> (f64, f64, f64, f64, usize) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    (percentile(&v, 0.5), percentile(&v, 0.95), percentile(&v, 0.99), mean, v.len())
}

/// Instances for a run: one embedded, or two distributed ones on shared servers.
fn instances(distributed: bool, extra: &[(&str, &str)]) -> Vec<Service> {
    let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if distributed {
        // A fresh database, bucket and prefix for every call (one per level).
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let run = format!("{}x{n}", std::process::id());
        let mut env = distributed_env(&run);
        env.extend(extra);
        vec![Service::start(&env), Service::start(&env)]
    } else {
        vec![Service::start(&extra)]
    }
}

// ------------------------------------------------------------------ scenarios

async fn latency(args: &Args) {
    let levels = args.list("uploaders", &[1, 8, 32, 128]);
    let rounds = args.num("rounds", 3);
    let seconds = args.num("seconds", 30) as f64;
    let body = Arc::new(speech_wav(seconds));
    let mode = if args.distributed {
        "distributed (2 instances: MariaDB, Redis, S3, Kafka)"
    } else {
        "embedded (SQLite, local files)"
    };
    println!("## latency: upload → COMPLETED, {seconds:.0}-s recordings ({} KiB), {mode}", body.len() / 1024);
    println!(
        "| uploaders | uploads | completed | refused (429/503) | other errors | p50 s | p95 s | p99 s | queue wait p50 / p95 s | analysis p50 s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &c in &levels {
        // A fresh service per level: no backlog carried over.
        let services = instances(args.distributed, &[]);
        for s in &services {
            s.wait_ready().await;
        }
        let token = services[0].token("load");
        let client = services[0].client.clone();
        let bases: Vec<String> = services.iter().map(|s| s.base.clone()).collect();
        // Warm-up: one upload end to end (model weights, first connections).
        upload_and_watch(bases[0].clone(), token.clone(), body.clone(), client.clone(), bases[0].clone()).await;
        let mut tasks = Vec::new();
        for u in 0..c {
            let (token, body, client) = (token.clone(), body.clone(), client.clone());
            // Distributed: upload through one instance, watch on the other, alternating.
            let base = bases[u % bases.len()].clone();
            let watch = bases[(u + 1) % bases.len()].clone();
            tasks.push(tokio::spawn(async move {
                let mut trips = Vec::new();
                for _ in 0..rounds {
                    trips.push(
                        upload_and_watch(base.clone(), token.clone(), body.clone(), client.clone(), watch.clone())
                            .await,
                    );
                }
                trips
            }));
        }
        let mut trips = Vec::new();
        for t in tasks {
            trips.extend(t.await.unwrap());
        }
        let done: Vec<&Trip> = trips.iter().filter(|t| t.total.is_some()).collect();
        let backpressure = trips.iter().filter(|t| matches!(t.refused.as_deref(), Some("429") | Some("503"))).count();
        let other = trips.iter().filter(|t| t.refused.is_some()).count() - backpressure;
        let (p50, p95, p99, _, _) = summary(done.iter().filter_map(|t| t.total));
        let (q50, q95, _, _, _) = summary(done.iter().filter_map(|t| t.queue_wait));
        let (a50, _, _, _, _) = summary(done.iter().filter_map(|t| t.analysis));
        println!(
            "| {c} | {} | {} | {backpressure} | {other} | {p50:.2} | {p95:.2} | {p99:.2} | {q50:.2} / {q95:.2} | {a50:.2} |",
            trips.len(),
            done.len()
        );
        if other > 0 {
            let samples: Vec<&str> = trips.iter().filter_map(|t| t.refused.as_deref()).take(3).collect();
            println!("  errors, e.g.: {samples:?}");
        }
    }
}

async fn throughput(args: &Args) {
    let n = args.num("recordings", 48);
    let seconds = args.num("seconds", 30) as f64;
    let body = Arc::new(speech_wav(seconds));
    let services = instances(args.distributed, &[]);
    for s in &services {
        s.wait_ready().await;
    }
    let token = services[0].token("load");
    let client = services[0].client.clone();
    let base = services[0].base.clone();
    upload_and_watch(base.clone(), token.clone(), body.clone(), client.clone(), base.clone()).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (token, body, client) = (token.clone(), body.clone(), client.clone());
            let b = services[i % services.len()].base.clone();
            tokio::spawn(async move { upload_and_watch(b.clone(), token, body, client, b).await })
        })
        .collect();
    let mut trips = Vec::new();
    for t in tasks {
        trips.push(t.await.unwrap());
    }
    let wall = started.elapsed().as_secs_f64();
    let done = trips.iter().filter(|t| t.total.is_some()).count();
    let first = trips.iter().filter_map(|t| t.processing_at).min();
    let last = trips.iter().filter_map(|t| t.completed_at).max();
    let busy = match (first, last) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => f64::NAN,
    };
    let audio = done as f64 * seconds;
    println!(
        "## throughput: {n} recordings of {seconds:.0} s uploaded at once ({})",
        if args.distributed { "distributed" } else { "embedded" }
    );
    println!(
        "| completed | audio s | wall s (first upload → last COMPLETED) | × real time | analysing s (first PROCESSING → last COMPLETED) | × real time |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    println!("| {done} | {audio:.0} | {wall:.1} | {:.0} | {busy:.1} | {:.0} |", audio / wall, audio / busy);
}

/// Runs wrk against `url`; (requests/s, p99 ms).
fn wrk(url: &str, token: Option<&str>, seconds: usize, connections: usize) -> (f64, f64) {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd.arg(url).output().expect("wrk is not installed: apt-get install wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|v| {
            let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
            let n: f64 = num.parse().unwrap_or(f64::NAN);
            match unit {
                "us" => n / 1000.0,
                "ms" => n,
                "s" => n * 1000.0,
                _ => f64::NAN,
            }
        })
        .unwrap_or(f64::NAN);
    let errors = text.lines().find(|l| l.contains("Non-2xx") || l.contains("Socket errors")).unwrap_or("");
    if !errors.is_empty() {
        println!("  wrk {url}: {}", errors.trim());
    }
    (rps, p99)
}

async fn read(args: &Args) {
    let seconds = args.num("seconds", 10);
    let conns = args.num("connections", 64);
    let s = Service::start(&[]);
    s.wait_ready().await;
    let token = s.token("reader");
    let body = Arc::new(speech_wav(5.0));
    let trip = upload_and_watch(s.base.clone(), token.clone(), body, s.client.clone(), s.base.clone()).await;
    assert!(trip.total.is_some(), "the record to read did not complete");
    let list: Value =
        s.client.get(s.url("/api/records")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    // The bare server: this harness in `hello` mode (warp, one route, same build profile).
    let hello = Hello::start();
    let hello_url = format!("http://{}/", hello.addr);
    // Alternate twice so drift on a noisy machine hits both alike.
    let mut ours = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..2 {
        ours.push(wrk(&s.url(&format!("/api/records/{id}")), Some(&token), seconds, conns));
        bare.push(wrk(&hello_url, None, seconds, conns));
    }
    drop(hello);
    let best = |v: &[(f64, f64)]| v.iter().copied().fold((0.0f64, f64::NAN), |a, b| if b.0 > a.0 { b } else { a });
    let (o, op99) = best(&ours);
    let (b, bp99) = best(&bare);
    println!("## read path: wrk -t2 -c{conns} -d{seconds}s, best of 2 alternating runs");
    println!("| server | requests/s | p99 ms |");
    println!("|---|---:|---:|");
    println!("| `GET /api/records/{{id}}` (token checked, SQLite read, JSON with the analysis) | {o:.0} | {op99:.2} |");
    println!("| bare warp hello-world | {b:.0} | {bp99:.2} |");
    println!("ratio: {:.2} of the bare server's rate", o / b);
}

async fn hello() {
    use warp::Filter;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    // `/sse`: one event, then an idle stream with keep-alive comments — the floor a
    // status stream cannot go under with warp and hyper.
    let sse = warp::path("sse").map(|| {
        let first = futures_util::stream::once(async {
            Ok::<_, std::convert::Infallible>(warp::sse::Event::default().event("status").data("PENDING"))
        });
        let events = first.chain(futures_util::stream::pending());
        warp::sse::reply(warp::sse::keep_alive().interval(Duration::from_secs(15)).stream(events))
    });
    let route = sse.or(warp::any().map(|| "hello"));
    warp::serve(route).incoming(listener).run().await;
}

/// The bare server of `hello`, started from this harness.
struct Hello {
    child: Child,
    addr: String,
}

impl Hello {
    fn start() -> Hello {
        let mut child =
            Command::new(std::env::current_exe().unwrap()).arg("hello").stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
        Hello { child, addr: line.trim().to_owned() }
    }

    fn rss_kib(&self) -> u64 {
        status_kib(&proc_status(self.child.id()), "VmRSS:")
    }
}

impl Drop for Hello {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default()
}

/// One KiB figure of a `/proc/{pid}/status` text (`VmRSS:`, `VmHWM:`).
fn status_kib(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Opens `n` streams to `url` (1 000 at a time; over HTTP/1.1 each stream is its
/// own connection, over HTTP/2 (prior knowledge) `h2` streams share one — 200 is
/// the server's default stream limit per connection) and waits until each has its
/// first event. Every stream reports each later
/// event block on `events` and stays open until `stop` fires. Returns how many opened
/// and how long that took.
async fn open_streams(
    url: impl Fn(usize) -> String,
    token: Option<&str>,
    n: usize,
    h2: Option<usize>,
    events: tokio::sync::mpsc::UnboundedSender<(usize, String, Instant)>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (usize, f64) {
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut clients = Vec::new();
    let started = Instant::now();
    for i in 0..n {
        if i % h2.unwrap_or(500).max(1) == 0 {
            let builder = reqwest::Client::builder();
            let builder =
                if h2.is_some() { builder.http2_prior_knowledge() } else { builder.pool_max_idle_per_host(0) };
            clients.push(builder.build().unwrap());
        }
        let client = clients.last().unwrap().clone();
        let mut req = client.get(url(i));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let (ready_tx, events, mut stop) = (ready_tx.clone(), events.clone(), stop.clone());
        tokio::spawn(async move {
            let resp = match req.send().await {
                Ok(r) if r.status().is_success() => r,
                _ => return,
            };
            let mut blocks = sse_blocks(resp);
            let mut first = true;
            loop {
                let block = tokio::select! {
                    b = blocks.next() => b,
                    _ = stop.wait_for(|s| *s) => return,
                };
                let Some(block) = block else { return };
                if std::mem::take(&mut first) {
                    let _ = ready_tx.send(());
                } else if events.send((i, block, Instant::now())).is_err() {
                    return;
                }
            }
        });
        if i % 1000 == 999 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    drop(ready_tx);
    let mut open = 0;
    while open < n {
        match tokio::time::timeout(Duration::from_secs(120), ready_rx.recv()).await {
            Ok(Some(())) => open += 1,
            _ => break,
        }
    }
    (open, started.elapsed().as_secs_f64())
}

fn raise_fd_limit(n: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let want = n.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, want, hard).unwrap();
}

async fn sse(args: &Args) {
    let streams = args.num("streams", 10_000);
    let records = args.num("records", 100).max(1);
    let per_connection = args.num("h2-per-connection", 200).max(1);
    raise_fd_limit(streams as u64 * 2 + 1024);
    let mut rows = Vec::new();
    for h2 in [None, Some(per_connection)] {
        let protocol = match h2 {
            Some(1) => "HTTP/2 (a connection per stream)".to_owned(),
            Some(k) => format!("HTTP/2 ({k} streams per connection)"),
            None => "HTTP/1.1 (a connection per stream)".to_owned(),
        };
        let bare = sse_bare(streams, h2).await;
        let ours = sse_ours(streams, records, h2).await;
        rows.push(format!("| orakgaraki | {protocol} | {ours} |"));
        rows.push(format!("| bare warp SSE route | {protocol} | {bare} | | | | |"));
    }
    println!(
        "## SSE: {streams} status streams on one instance ({records} records, {} streams each)",
        streams / records
    );
    println!(
        "| server | protocol | streams open | time to open all s | RSS before → with streams | per idle stream | arrivals | delay p50 ms | p99 ms | max ms |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
}

/// The floor: as many idle streams on a bare warp SSE route (`hello`'s `/sse`).
async fn sse_bare(streams: usize, h2: Option<usize>) -> String {
    let hello = Hello::start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = hello.rss_kib();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (events_tx, _events_rx) = tokio::sync::mpsc::unbounded_channel();
    let url = format!("http://{}/sse", hello.addr);
    let (open, open_s) = open_streams(|_| url.clone(), None, streams, h2, events_tx, stop_rx).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with = hello.rss_kib();
    let _ = stop_tx.send(true);
    memory_row(open, open_s, before, with)
}

fn memory_row(open: usize, open_s: f64, before_kib: u64, with_kib: u64) -> String {
    format!(
        "{open} | {open_s:.1} | {:.1} → {:.1} MiB | {:.2} KiB",
        before_kib as f64 / 1024.0,
        with_kib as f64 / 1024.0,
        with_kib.saturating_sub(before_kib) as f64 / open.max(1) as f64
    )
}

/// Status streams on the service: memory per idle stream, then the delay from a
/// status change to its arrival at every subscriber.
async fn sse_ours(streams: usize, records: usize, h2: Option<usize>) -> String {
    let s = Service::start(&[("ORAK_SSE__KEEPALIVE_SECONDS".into(), "15".into())]);
    s.wait_ready().await;
    let token = s.token("watcher");
    let body = Arc::new(speech_wav(1.0));
    // Records waiting for their upload: their streams stay open.
    let mut tickets = Vec::new();
    for _ in 0..records {
        let t = presign(&s.client, &s.base, &token, "w.wav", body.len() as u64).await.unwrap();
        tickets.push(t.json::<Value>().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_before, _) = s.memory_kib();
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ids: Vec<String> = tickets.iter().map(|t| t["record_id"].as_str().unwrap().to_owned()).collect();
    let url = |i: usize| s.url(&format!("/api/processing/status/{}", ids[i % records]));
    let (open, open_s) = open_streams(url, Some(&token), streams, h2, events_tx, stop_rx).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_open, _) = s.memory_kib();
    // Status changes: each record's upload makes it UPLOADED; every subscriber of
    // that record must hear it. Delay = arrival − the moment the upload's answer
    // came back (the transition is committed before the answer; an arrival before
    // it counts as 0).
    let mut changed_at = vec![None; records];
    for (rec, t) in tickets.iter().enumerate() {
        let r = put_ticket(&s.client, t, body.as_ref().clone()).send().await.unwrap();
        assert!(r.status().is_success());
        changed_at[rec] = Some(Instant::now());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut delays = Vec::new();
    let mut heard = vec![false; streams];
    while let Ok(Some((i, block, at))) = tokio::time::timeout(Duration::from_secs(30), events_rx.recv()).await {
        if !block.contains("UPLOADED") || std::mem::replace(&mut heard[i], true) {
            continue;
        }
        let changed = changed_at[i % records].unwrap_or(at);
        delays.push(at.saturating_duration_since(changed).as_secs_f64() * 1000.0);
        if delays.len() == open {
            break;
        }
    }
    let _ = stop_tx.send(true);
    let (p50, _, p99, _, n) = summary(delays.iter().copied());
    let max = delays.iter().copied().fold(0.0, f64::max);
    format!("{} | {n} | {p50:.1} | {p99:.1} | {max:.1}", memory_row(open, open_s, rss_before, rss_open))
}

/// A streamed WAV of `total` bytes (header + a tone), never held in memory.
fn big_wav_stream(
    total: u64,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let data_len = (total - 44) as u32;
    let mut header = Vec::with_capacity(44);
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&(data_len + 36).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&WAV_RATE.to_le_bytes());
    header.extend_from_slice(&(WAV_RATE * 2).to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&data_len.to_le_bytes());
    let chunk: bytes::Bytes = (0..32_768u32)
        .flat_map(|i| (((i as f32 * 0.0627).sin() * 8000.0) as i16).to_le_bytes())
        .collect::<Vec<u8>>()
        .into();
    let mut left = total - 44;
    let head = futures_util::stream::once(async move { Ok(bytes::Bytes::from(header)) });
    let body = futures_util::stream::iter(std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.min(chunk.len() as u64) as usize;
        left -= n as u64;
        Some(Ok(chunk.slice(..n)))
    }));
    head.chain(body)
}

async fn upload(args: &Args) {
    let mb = args.num("mb", 500) as u64;
    let total = mb * 1_000_000;
    println!("## a {mb} MB upload through each path");
    println!("| path | seconds | MB/s | server RSS before | peak RSS (VmHWM) after | peak rise |");
    println!("|---|---:|---:|---:|---:|---:|");
    for path in ["presigned PUT", "multipart POST"] {
        // Analysis off: this measures the upload (a 3-hour analysis is measured in
        // "A one-hour recording in bounded memory").
        let s = Service::start(&[
            ("ORAK_PIPELINE__WORKERS".into(), "1".into()),
            ("ORAK_FAULTS__HANG_FILENAME".into(), "big".into()),
        ]);
        s.wait_ready().await;
        let token = s.token("big");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, before) = s.memory_kib();
        let started = Instant::now();
        let client = reqwest::Client::new();
        let status = if path == "presigned PUT" {
            let t: Value = presign(&client, &s.base, &token, "big.wav", total).await.unwrap().json().await.unwrap();
            let put = put_ticket(&client, &t, reqwest::Body::wrap_stream(big_wav_stream(total)));
            put.header("content-length", total).send().await.unwrap().status()
        } else {
            let part =
                reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(big_wav_stream(total)), total)
                    .file_name("big.wav")
                    .mime_str("audio/wav")
                    .unwrap();
            let form = reqwest::multipart::Form::new().part("file", part);
            client.post(s.url("/api/records/upload")).bearer_auth(&token).multipart(form).send().await.unwrap().status()
        };
        let secs = started.elapsed().as_secs_f64();
        let (_, after) = s.memory_kib();
        assert!(status.is_success(), "{path}: {status}");
        println!(
            "| {path} | {secs:.1} | {:.0} | {:.1} MiB | {:.1} MiB | **{:.1} MiB** |",
            mb as f64 / secs,
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            (after - before) as f64 / 1024.0
        );
    }
}

async fn coldstart(args: &Args) {
    let n = args.num("records", 1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    // A first start creates the database (migrations); then the rows go in directly.
    {
        let mut s = Service::spawn(&dir, &[]);
        s.wait_ready().await;
        s.stop();
    }
    let _ = std::fs::remove_dir_all(dir.join("vectors"));
    let fill = Instant::now();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/fill_records.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(dir.join("orakgaraki.sqlite3"))
        .arg(n.to_string())
        .arg(orakgaraki::model::MODEL_NAME)
        .arg(orakgaraki::model::MODEL_VERSION)
        .status()
        .unwrap();
    assert!(status.success(), "fill_records.py failed");
    let db_mb = std::fs::metadata(dir.join("orakgaraki.sqlite3")).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "## cold start with {n} records and their 256-d vectors ({db_mb:.0} MB database, filled in {:.0} s)",
        fill.elapsed().as_secs_f64()
    );
    println!("| start | process start → /ready s | RSS at ready |");
    println!("|---|---:|---:|");
    for label in ["no index on disk (rebuilt from the database)", "warm persisted index"] {
        let t0 = Instant::now();
        let mut s = Service::spawn(&dir, &[]);
        s.wait_ready().await;
        let secs = t0.elapsed().as_secs_f64();
        let (rss, _) = s.memory_kib();
        println!("| {label} | {secs:.1} | {:.0} MiB |", rss as f64 / 1024.0);
        // A clean stop saves the index for the next start.
        s.stop();
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    MULTIPART.store(args.distributed, std::sync::atomic::Ordering::Relaxed);
    match args.scenario.as_str() {
        "latency" => latency(&args).await,
        "throughput" => throughput(&args).await,
        "read" => read(&args).await,
        "hello" => hello().await,
        "sse" => sse(&args).await,
        "upload" => upload(&args).await,
        "coldstart" => coldstart(&args).await,
        "all" => {
            latency(&args).await;
            throughput(&args).await;
            read(&args).await;
            sse(&args).await;
            upload(&args).await;
            coldstart(&args).await;
        }
        _ => {
            eprintln!(
                "usage: cargo run --release --example load -- latency|throughput|read|sse|upload|coldstart|all [--distributed] [options]"
            );
            eprintln!("(see the doc comment at the top of bench/load.rs)");
            std::process::exit(2);
        }
    }
}
