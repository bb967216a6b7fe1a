//! Servers a fault test owns, so it can stop and restart them without disturbing
//! other tests: a Redis, a tansu Kafka broker, a SeaweedFS S3 store — each the
//! real program on its own free ports.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on now (nor on `port + 10000`, where SeaweedFS puts its gRPC).
pub fn free_port() -> u16 {
    loop {
        let p = 20_000 + rand::random_range(0..9_000u16);
        if TcpListener::bind(("127.0.0.1", p)).is_ok() && TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

/// A program the test can kill and start again, same command, same data.
pub struct Service {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The port that accepts connections once it is up.
    pub port: u16,
    log: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Service {
    fn new(name: &'static str, program: PathBuf, args: Vec<String>, env: Vec<(String, String)>, port: u16) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let args = args.into_iter().map(|a| a.replace("{dir}", &dir.path().display().to_string())).collect();
        Service { name, program, args, env, port, log: dir.path().join("service.log"), child: None, _dir: dir }
    }

    /// Starts it and waits until its port accepts connections.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {} ({}): {e}", self.name, self.program.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "{} did not start:\n{}", self.name, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: the service vanishes mid-conversation.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis server on its own port, without persistence.
pub fn redis() -> Service {
    let port = free_port();
    let args =
        ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "{dir}"];
    Service::new("redis", "redis-server".into(), args.iter().map(|s| s.to_string()).collect(), vec![], port)
}

/// A tansu Kafka broker (in memory: a restart loses every topic, message and
/// group offset — the worst a broker restart can do).
pub fn tansu() -> Service {
    let bin = std::env::var("TEST_TANSU_BIN").expect("TEST_TANSU_BIN is not set: `bash scripts/test.sh` sets it");
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let args = vec![
        "broker".into(),
        "--listener-url".into(),
        url.clone(),
        "--advertised-listener-url".into(),
        url,
        "--storage-engine".into(),
        "memory://tansu/".into(),
    ];
    Service::new("tansu", bin.into(), args, vec![], port)
}

/// A SeaweedFS S3 store whose data survives a restart; returns it and its S3 endpoint.
pub fn seaweed(access_key: &str, secret_key: &str) -> Service {
    let s3 = free_port();
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let args = vec![
        "mini".into(),
        "-dir={dir}".into(),
        "-ip=127.0.0.1".into(),
        "-ip.bind=127.0.0.1".into(),
        format!("-s3.port={s3}"),
        format!("-master.port={}", ports[0]),
        format!("-volume.port={}", ports[1]),
        format!("-filer.port={}", ports[2]),
        format!("-webdav.port={}", ports[3]),
        "-admin.ui=false".into(),
        "-s3.port.iceberg=0".into(),
        "-s3.port.lance=0".into(),
    ];
    let env = vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), access_key.to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), secret_key.to_owned()),
    ];
    Service::new("seaweedfs", "weed".into(), args, env, s3)
}

/// The program `name` from `env_var`, else the first of `candidates` that exists.
fn program(env_var: &str, candidates: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(env_var) {
        return p.into();
    }
    let found = candidates.iter().map(PathBuf::from).find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!("none of {candidates:?} is installed (`bash scripts/test.sh` installs it; or set {env_var})")
    })
}

/// A real Alertmanager (Debian's prometheus-alertmanager) with `config` (YAML) and
/// no clustering; its API at `http://127.0.0.1:{port}`.
pub fn alertmanager(config: &str) -> Service {
    let bin = program("TEST_ALERTMANAGER_BIN", &["/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager"]);
    let port = free_port();
    let args = vec![
        "--config.file={dir}/alertmanager.yml".into(),
        "--storage.path={dir}/data".into(),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".into(),
    ];
    let s = Service::new("alertmanager", bin, args, vec![], port);
    std::fs::write(s._dir.path().join("alertmanager.yml"), config).unwrap();
    s
}

/// A real node-exporter (Debian's prometheus-node-exporter), for the host metrics
/// the dashboards chart.
pub fn node_exporter() -> Service {
    let bin = program("TEST_NODE_EXPORTER_BIN", &["/usr/bin/prometheus-node-exporter", "/usr/local/bin/node_exporter"]);
    let port = free_port();
    let args = vec![format!("--web.listen-address=127.0.0.1:{port}")];
    Service::new("node-exporter", bin, args, vec![], port)
}
