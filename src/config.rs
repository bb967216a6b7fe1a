//! Configuration: defaults, then `config.toml` (or `--config FILE`), then `ORAK_`
//! environment variables (`ORAK_SERVER__BIND=0.0.0.0:8080`: sections and keys joined
//! by a double underscore), then command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::RetryPolicy;

/// Everything the service can be told.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub uploads: UploadConfig,
    pub auth: AuthConfig,
    pub pipeline: PipelineConfig,
    pub analysis: AnalysisConfig,
    pub model: ModelConfig,
    pub catalog: CatalogConfig,
    pub vectors: VectorsConfig,
    pub webhooks: WebhooksConfig,
    pub alerts: AlertsConfig,
    pub s3: crate::store::s3::S3Config,
    pub redis: crate::store::redis::RedisConfig,
    pub kafka: crate::store::kafka::KafkaConfig,
    pub retry: RetryConfig,
    pub supervision: SupervisionConfig,
    pub sweeper: SweeperConfig,
    pub http: crate::http::security::HttpConfig,
    pub rate_limit: crate::http::rate_limit::RateLimitConfig,
    pub sse: SseConfig,
    pub log: LogConfig,
    pub faults: FaultConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: String,
    /// Base URL that clients reach this service at, used in upload URLs.
    /// Empty: `http://` + the bound address.
    pub public_url: String,
    /// Seconds to let requests and jobs finish on shutdown.
    pub shutdown_grace_seconds: u64,
    /// Where `/metrics` is served. Empty: on `bind`, with the API. An address
    /// (e.g. an internal interface): only there, and the API has no `/metrics`.
    pub metrics_bind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Folder for the SQLite database, the audio objects and the generated secrets.
    pub data_dir: PathBuf,
    /// Database URL; empty means `<data_dir>/orakgaraki.sqlite3`.
    pub database_url: String,
    /// Connections for readers (the single writer is separate).
    pub read_connections: usize,
    /// Where the audio lives: `local` (`<data_dir>/objects`) or `s3` (the `[s3]` section).
    pub objects: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Largest accepted upload, bytes.
    pub max_bytes: u64,
    /// Lifetime of a signed upload URL, seconds.
    pub url_ttl_seconds: u64,
    /// PENDING records whose upload never came are removed after this many seconds.
    pub pending_ttl_seconds: u64,
    /// Recordings one user may have waiting or in analysis at once (PENDING up to
    /// PROCESSING and RETRYING); one more upload is 429.
    pub max_active_per_user: u64,
    /// Bytes of audio one user may store in all (declared sizes of open uploads
    /// included); an upload past it is 413. 0: no quota.
    pub quota_bytes_per_user: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 secret for tokens and upload-URL signatures. Empty: a random secret is
    /// generated once and kept in `<data_dir>/secret.key`.
    pub jwt_secret: String,
    /// "HS256" (tokens signed with `jwt_secret`) or "RS256" (tokens from an
    /// identity provider, verified with `public_key_file` and/or `jwks_file`).
    pub algorithm: String,
    /// RS256: the provider's public key (PEM).
    pub public_key_file: String,
    /// RS256: the provider's keys as a JWKS document (JSON); chosen by `kid`.
    pub jwks_file: String,
    /// RS256: a private key (PEM) for `orakgaraki token` to sign with (testing).
    pub private_key_file: String,
    pub issuer: String,
    pub audience: String,
    /// Lifetime of tokens printed by `orakgaraki token` and given by the
    /// sign-in link, seconds.
    pub token_ttl_seconds: u64,
    /// Lifetime of the tickets `POST /api/tickets` gives (one stream or one
    /// recording's audio), seconds.
    pub ticket_ttl_seconds: u64,
    /// The web page's "sign in as NAME" (`POST /api/dev/token`, user tokens
    /// only). Startup refuses it unless every address is loopback; always off
    /// with a shared (MySQL) database.
    pub dev_sign_in: bool,
    /// On a loopback-only instance, log a one-time sign-in link at start (and
    /// the next one each time it is used).
    pub sign_in_link: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Analysis workers; 0 means one per CPU core.
    pub workers: usize,
    /// How often the job source looks for queued work when nothing woke it, ms.
    pub poll_interval_ms: u64,
    /// How long a worker's lease on a job lasts; expired leases go back to the queue.
    pub lease_seconds: u64,
    /// How often expired leases and due retries are looked for, ms.
    pub sweep_interval_ms: u64,
    /// An analysis that runs longer is stopped (its thread included) and fails
    /// for good: a file that takes this long will take it again.
    pub analysis_deadline_seconds: u64,
    /// Longest recording analysed, seconds; a longer one fails at once, before
    /// decoding when its container declares its length.
    pub max_audio_seconds: u64,
    /// Most samples (rate × channels × seconds) one analysis decodes.
    pub max_audio_samples: u64,
}

impl PipelineConfig {
    /// The analysis limits, stopped by `cancel`, for the range from `pitch`.
    pub fn limits(
        &self,
        cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
        pitch: crate::audio::PitchTracker,
    ) -> crate::audio::Limits {
        crate::audio::Limits {
            max_duration_s: self.max_audio_seconds as f64,
            max_samples: self.max_audio_samples,
            cancel: Some(cancel),
            keep_track: false,
            follow_melody: pitch.follows_melody(),
        }
    }
}

/// How a recording is analysed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// The pitch tracker the vocal range comes from: `auto` (the one the singing
    /// evaluation scores best, see BENCHMARKS.md: pYIN held to the predominant
    /// melody), `pyin` (alone) or `swiftf0` (the neural
    /// tracker: better under a loud backing track by frame accuracy, about 5×
    /// the whole analysis's cost).
    pub pitch: crate::audio::PitchTracker,
}

impl PipelineConfig {
    /// A worker's lease on a job, milliseconds.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease_seconds).unwrap_or(3600).saturating_mul(1000)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    pub base_ms: u64,
    pub factor: f64,
    pub cap_ms: u64,
    pub max_retries: u32,
}

impl RetryConfig {
    /// Attempts a job gets in all: the first and `max_retries` more.
    pub fn max_attempts(&self) -> i32 {
        i32::try_from(self.max_retries).unwrap_or(i32::MAX - 1) + 1
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisionConfig {
    /// Restarts of one child allowed within `period_seconds` before the tree gives up.
    pub max_restarts: usize,
    pub period_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweeperConfig {
    /// Seconds between the batch sweeper's repair passes.
    pub interval_seconds: u64,
    /// A PENDING upload this old whose object is in the store is queued (its event was lost).
    pub missed_event_after_seconds: u64,
    /// A record QUEUED this long is announced again (Kafka) and reported.
    pub stuck_queued_seconds: u64,
    /// Days the dead-letter audit keeps whose recording it was (owner and
    /// filename); after that only what admins did remains.
    pub audit_retention_days: u64,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        SweeperConfig {
            interval_seconds: 300,
            missed_event_after_seconds: 120,
            stuck_queued_seconds: 900,
            audit_retention_days: 90,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SseConfig {
    /// Keep-alive comment interval on idle streams, seconds.
    pub keepalive_seconds: u64,
    /// Streams (status and alert streams together) one user may hold open; more is 429.
    pub max_streams_per_user: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `orakgaraki=debug,info`. `RUST_LOG` wins.
    pub level: String,
}

/// The voice-embedding model and its pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Compute voice embeddings for completed records.
    pub enabled: bool,
    /// A safetensors file with resemblyzer's layout; empty: the weights built into the binary.
    pub weights: PathBuf,
    /// Model actors (instances running at once).
    pub instances: usize,
    /// Partials per forward pass; partials of concurrent requests share a batch.
    pub max_batch: usize,
    /// Seconds of a recording the embedding is made from (memory: 64 kB per second).
    pub max_seconds: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { enabled: true, weights: PathBuf::new(), instances: 1, max_batch: 128, max_seconds: 600.0 }
    }
}

/// The song catalog recommendations rank.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Load the shipped catalog (118 Korean songs) at start when the catalog is empty.
    pub import_default: bool,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig { import_default: true }
    }
}

/// The voice-search index (embedded mode: usearch HNSW in `<data dir>/vectors/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VectorsConfig {
    /// `embedded` (a usearch index in the data dir) or `pgvector` (a table in
    /// PostgreSQL shared by every instance).
    pub backend: String,
    /// With `pgvector`: `postgres://user:password@host:5432/db`.
    pub pgvector_url: String,
    /// With `pgvector`: the table (several deployments can share a database).
    pub pgvector_table: String,
    /// Edges per graph node (HNSW `M`).
    pub connectivity: usize,
    /// Candidates kept while inserting (`efConstruction`).
    pub expansion_add: usize,
    /// Candidates kept while searching (`ef`).
    pub expansion_search: usize,
    /// How vectors are stored in the index: `f32`, `f16` or `i8`.
    pub quantization: crate::store::vectors::Quantization,
    /// Seconds between saves of a changed index (it is also saved at shutdown).
    pub save_interval_seconds: u64,
    /// Seconds between checks that the index matches the database.
    pub sync_interval_seconds: u64,
}

impl Default for VectorsConfig {
    fn default() -> Self {
        let p = crate::store::vectors::IndexParams::default();
        VectorsConfig {
            backend: "embedded".into(),
            pgvector_url: String::new(),
            pgvector_table: "voice_vectors".into(),
            connectivity: p.connectivity,
            expansion_add: p.expansion_add,
            expansion_search: p.expansion_search,
            quantization: p.quantization,
            save_interval_seconds: 300,
            sync_interval_seconds: 60,
        }
    }
}

impl VectorsConfig {
    /// The pgvector settings for vectors of `dimensions` values.
    pub fn pg_params(&self, dimensions: usize) -> crate::store::vectors::pg::PgParams {
        crate::store::vectors::pg::PgParams {
            url: self.pgvector_url.clone(),
            table: self.pgvector_table.clone(),
            dimensions,
            connectivity: self.connectivity,
            expansion_add: self.expansion_add,
            expansion_search: self.expansion_search,
        }
    }

    /// The index parameters for vectors of `dimensions` values.
    pub fn params(&self, dimensions: usize) -> crate::store::vectors::IndexParams {
        crate::store::vectors::IndexParams {
            dimensions,
            connectivity: self.connectivity.max(2),
            expansion_add: self.expansion_add.max(1),
            expansion_search: self.expansion_search.max(1),
            quantization: self.quantization,
        }
    }
}

/// Incoming webhooks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Shared secret of the webhooks (`POST /api/records/async/upload-completed`),
    /// sent as a bearer token or as an HMAC of the body; empty: the endpoint is off.
    pub secret: String,
    /// Networks (CIDRs) webhooks may come from; empty: any.
    pub allowed_cidrs: Vec<String>,
    /// Failed authentications a source may make within `failure_window_seconds`
    /// before it is refused until the window ends.
    pub max_failures: u32,
    pub failure_window_seconds: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            secret: String::new(),
            allowed_cidrs: Vec::new(),
            max_failures: 10,
            failure_window_seconds: 60,
        }
    }
}

/// Alertmanager's webhook (`POST /api/webhook/alertmanager`, authenticated like
/// the other webhooks by `[webhooks] secret`) and where alerts are forwarded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// A Mattermost (or Slack-compatible) incoming-webhook URL each new alert or
    /// status change is posted to; empty: not forwarded.
    pub mattermost_url: String,
    /// The name the messages are posted under.
    pub mattermost_username: String,
    /// Tries per message before it is given up (logged and counted).
    pub forward_attempts: u32,
    /// First retry delay; doubled each try, up to `forward_backoff_cap_ms`.
    pub forward_backoff_ms: u64,
    pub forward_backoff_cap_ms: u64,
    /// Seconds one forward may take.
    pub forward_timeout_seconds: u64,
    /// Messages waiting to be forwarded at most; beyond, new ones are dropped (counted).
    pub forward_queue: usize,
    /// Alerts a new admin stream is sent first (the most recent ones).
    pub stream_backlog: i64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            mattermost_url: String::new(),
            mattermost_username: "orakgaraki".into(),
            forward_attempts: 8,
            forward_backoff_ms: 1000,
            forward_backoff_cap_ms: 60_000,
            forward_timeout_seconds: 10,
            forward_queue: 1000,
            stream_backlog: 20,
        }
    }
}

/// Fault injection for tests; all off by default.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// A worker panics on the first attempt at a record whose filename contains this.
    pub worker_panic_filename: String,
    /// Milliseconds a worker sleeps before analysing (to hold jobs in flight).
    pub worker_delay_ms: u64,
    /// The first this-many model batches make their model actor panic.
    pub model_panics: u32,
    /// An attempt at a record whose filename contains this fails with a transient
    /// error while the attempt's number is at most `transient_failures`.
    pub transient_failure_filename: String,
    pub transient_failures: i32,
    /// The first attempt at a record whose filename contains this never finishes
    /// by itself (only the analysis deadline ends it).
    pub hang_filename: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            public_url: String::new(),
            shutdown_grace_seconds: 10,
            metrics_bind: String::new(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            read_connections: 4,
            objects: "local".into(),
        }
    }
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_bytes: 500 * 1024 * 1024,
            url_ttl_seconds: 15 * 60,
            pending_ttl_seconds: 3600,
            max_active_per_user: 20,
            quota_bytes_per_user: 5 * 1024 * 1024 * 1024,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: String::new(),
            algorithm: "HS256".into(),
            public_key_file: String::new(),
            jwks_file: String::new(),
            private_key_file: String::new(),
            issuer: "orakgaraki".into(),
            audience: "orakgaraki".into(),
            token_ttl_seconds: 12 * 3600,
            ticket_ttl_seconds: 60,
            dev_sign_in: false,
            sign_in_link: true,
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let limits = crate::audio::Limits::default();
        PipelineConfig {
            workers: 0,
            poll_interval_ms: 1000,
            lease_seconds: 360,
            sweep_interval_ms: 1000,
            analysis_deadline_seconds: 300,
            max_audio_seconds: limits.max_duration_s as u64,
            max_audio_samples: limits.max_samples,
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { base_ms: 5000, factor: 2.0, cap_ms: 300_000, max_retries: 3 }
    }
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        SupervisionConfig { max_restarts: 5, period_seconds: 30 }
    }
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig { keepalive_seconds: 15, max_streams_per_user: 16 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: "text".into(), level: "info".into() }
    }
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Overrides given on the command line.
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads defaults ← config file ← `ORAK_*` environment ← command line.
    ///
    /// Without `--config`, `./config.toml` is read when it exists.
    pub fn load(cli: &CliOverrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match &cli.config_file {
            Some(path) if !path.exists() => return Err(ConfigError::Missing(path.clone())),
            Some(path) => fig = fig.merge(Toml::file(path)),
            None if Path::new("config.toml").exists() => fig = fig.merge(Toml::file("config.toml")),
            None => {}
        }
        fig = fig.merge(Env::prefixed("ORAK_").split("__"));
        let mut cfg: Config = fig.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(bind) = &cli.bind {
            cfg.server.bind = bind.clone();
        }
        if let Some(dir) = &cli.data_dir {
            cfg.storage.data_dir = dir.clone();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.server
            .bind
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::Invalid(format!("server.bind {:?}: {e}", self.server.bind)))?;
        if self.uploads.max_bytes == 0 {
            return Err(ConfigError::Invalid("uploads.max_bytes must be positive".into()));
        }
        // Negated, so that NaN is refused too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(self.retry.factor >= 1.0) {
            return Err(ConfigError::Invalid("retry.factor must be at least 1".into()));
        }
        if self.model.instances == 0 || self.model.max_batch == 0 {
            return Err(ConfigError::Invalid("model.instances and model.max_batch must be positive".into()));
        }
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(self.model.max_seconds > 0.0) {
            return Err(ConfigError::Invalid("model.max_seconds must be positive".into()));
        }
        match self.auth.algorithm.as_str() {
            "HS256" => {}
            "RS256" if !self.auth.public_key_file.is_empty() || !self.auth.jwks_file.is_empty() => {}
            "RS256" => {
                return Err(ConfigError::Invalid(
                    "auth.algorithm RS256 needs auth.public_key_file or auth.jwks_file".into(),
                ));
            }
            other => return Err(ConfigError::Invalid(format!("auth.algorithm must be HS256 or RS256, not {other:?}"))),
        }
        crate::http::security::validate(&self.http).map_err(ConfigError::Invalid)?;
        crate::http::rate_limit::parse_cidrs("rate_limit.trusted_proxies", &self.rate_limit.trusted_proxies)
            .map_err(ConfigError::Invalid)?;
        crate::http::rate_limit::parse_cidrs("webhooks.allowed_cidrs", &self.webhooks.allowed_cidrs)
            .map_err(ConfigError::Invalid)?;
        if !self.server.metrics_bind.is_empty() {
            self.server.metrics_bind.parse::<SocketAddr>().map_err(|e| {
                ConfigError::Invalid(format!("server.metrics_bind {:?}: {e}", self.server.metrics_bind))
            })?;
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid(format!("log.format must be text or json, not {:?}", self.log.format)));
        }
        Ok(())
    }

    /// The database URL, defaulting to a file in the data dir.
    pub fn database_url(&self) -> String {
        if self.storage.database_url.is_empty() {
            self.storage.data_dir.join("orakgaraki.sqlite3").to_string_lossy().into_owned()
        } else {
            self.storage.database_url.clone()
        }
    }

    /// The database URL with any password replaced by `***`, for logs and messages.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url())
    }

    /// Number of analysis workers.
    pub fn workers(&self) -> usize {
        if self.pipeline.workers == 0 { num_cpus::get().max(1) } else { self.pipeline.workers }
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(self.retry.base_ms),
            factor: self.retry.factor,
            cap: Duration::from_millis(self.retry.cap_ms),
            max_retries: self.retry.max_retries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_file_parses_to_the_defaults() {
        let shipped: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")))
            .extract()
            .unwrap();
        let defaults = Config::default();
        assert_eq!(serde_json::to_value(&shipped).unwrap(), serde_json::to_value(&defaults).unwrap());
    }

    // figment's Jail returns its own (large) error type.
    #[allow(clippy::result_large_err)]
    #[test]
    fn environment_overrides_nested_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ORAK_SERVER__BIND", "127.0.0.1:9999");
            jail.set_env("ORAK_RETRY__MAX_RETRIES", "7");
            let cfg = Config::load(&CliOverrides::default()).unwrap();
            assert_eq!(cfg.server.bind, "127.0.0.1:9999");
            assert_eq!(cfg.retry.max_retries, 7);
            let cfg = Config::load(&CliOverrides { bind: Some("127.0.0.1:1".into()), ..Default::default() }).unwrap();
            assert_eq!(cfg.server.bind, "127.0.0.1:1");
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn bad_values_are_refused_with_a_reason() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ORAK_SERVER__BIND", "not an address");
            let err = Config::load(&CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("server.bind"), "{err}");
            Ok(())
        });
        let err = Config::load(&CliOverrides { config_file: Some("/nonexistent.toml".into()), ..Default::default() });
        assert!(matches!(err, Err(ConfigError::Missing(_))));
    }
}

/// `scheme://user:password@host/…` with the password replaced by `***`; other strings unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(redact_url("mysql://orak:s3cr@t@db:3306/orak"), "mysql://orak:***@db:3306/orak");
        assert_eq!(redact_url("mysql://root@127.0.0.1:3306/x"), "mysql://root@127.0.0.1:3306/x");
        assert_eq!(redact_url("redis://:pw@redis:6379/0"), "redis://:***@redis:6379/0");
        assert_eq!(redact_url("./data/orakgaraki.sqlite3"), "./data/orakgaraki.sqlite3");
    }
}
