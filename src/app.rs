//! The composition root of `serve`: opens the stores, starts the actor tree and
//! the HTTP server, and shuts both down in order.

use crate::actors::supervisor::shutdown_tree;
use crate::actors::{Bus, Ctx, Directory, start_tree};
use crate::auth::{JwtKeys, SignInLink, TicketSigner, UploadSigner};
use crate::config::Config;
use crate::domain::catalog::parse_catalog;
use crate::http::rate_limit::RateLimiter;
use crate::http::{self, AppState};
use crate::store::lock::{DataDirLock, LockError};
use crate::store::redis::RedisBus;
use crate::store::s3::S3Objects;
use crate::store::vectors::pg::PgVectors;
use crate::store::vectors::{EmbeddedVectors, VectorError, VectorSource, VectorStore};
use crate::store::{
    CatalogStore, ImportOutcome, LeaseScope, LocalObjects, ObjectError, ObjectStore, RecordStore, StoreError,
    open_database, secrets,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot read or create the secret: {0}")]
    Secret(std::io::Error),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot open the database at {url}: {source}")]
    Database { url: String, source: StoreError },
    #[error(transparent)]
    Objects(#[from] ObjectError),
    #[error("invalid auth configuration: {0}")]
    Auth(String),
    #[error("refusing to start: {0}")]
    Exposed(#[from] crate::auth::exposure::ExposureError),
    #[error("cannot start the actor tree: {0}")]
    Actors(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid song catalog: {0}")]
    Catalog(String),
    #[error(transparent)]
    Vectors(#[from] VectorError),
    #[error("cannot connect to Redis at {url}: {source}")]
    Redis { url: String, source: crate::store::redis::BusError },
}

/// The HS256 secret: configured, or generated and kept in the data dir.
pub fn secret(config: &Config) -> Result<Vec<u8>, StartError> {
    if config.auth.jwt_secret.is_empty() {
        secrets::load_or_create(&config.storage.data_dir).map_err(StartError::Secret)
    } else {
        Ok(config.auth.jwt_secret.as_bytes().to_vec())
    }
}

/// JWT keys for this instance: HS256 over the secret, or RS256 over the
/// identity provider's key files.
pub fn jwt_keys(config: &Config) -> Result<JwtKeys, StartError> {
    if config.auth.algorithm == "RS256" { jwt_keys_with(config, &[]) } else { jwt_keys_with(config, &secret(config)?) }
}

/// [`jwt_keys`] with the HS256 secret already read (unused for RS256).
fn jwt_keys_with(config: &Config, secret: &[u8]) -> Result<JwtKeys, StartError> {
    let auth = &config.auth;
    let keys = if auth.algorithm == "RS256" {
        let read = |path: &str| -> Result<Option<Vec<u8>>, StartError> {
            if path.is_empty() {
                return Ok(None);
            }
            std::fs::read(path).map(Some).map_err(|e| StartError::Auth(format!("cannot read {path}: {e}")))
        };
        JwtKeys::rs256(
            read(&auth.public_key_file)?.as_deref(),
            read(&auth.jwks_file)?.as_deref(),
            read(&auth.private_key_file)?.as_deref(),
            &auth.issuer,
            &auth.audience,
        )
    } else {
        JwtKeys::hs256(secret, &auth.issuer, &auth.audience)
    };
    keys.map_err(|e| StartError::Auth(e.to_string()))
}

/// The record store and object store of the configured data dir, for the
/// maintenance commands (`reembed`), which run beside a serving instance.
pub async fn open_stores(config: &Config) -> Result<(Arc<dyn RecordStore>, Arc<dyn ObjectStore>), StartError> {
    let data_dir = &config.storage.data_dir;
    if !data_dir.exists() {
        return Err(StartError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("data dir {} does not exist", data_dir.display()),
        )));
    }
    let signer = UploadSigner::new(&secret(config)?);
    let store = open_database(&config.database_url(), config.storage.read_connections).await?.db;
    let objects = open_objects(config, signer, "http://127.0.0.1").await?;
    Ok((store, objects))
}

/// The configured object store: the data dir's `objects/` folder, or an S3 bucket.
pub async fn open_objects(
    config: &Config,
    signer: UploadSigner,
    public_url: &str,
) -> Result<Arc<dyn ObjectStore>, StartError> {
    let data_dir = &config.storage.data_dir;
    match config.storage.objects.as_str() {
        "local" => Ok(Arc::new(LocalObjects::open(&data_dir.join("objects"), signer, public_url)?)),
        "s3" => Ok(Arc::new(S3Objects::open(&config.s3, data_dir.join("tmp")).await?)),
        other => Err(StartError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("storage.objects must be \"local\" or \"s3\", not {other:?}"),
        ))),
    }
}

/// The song catalog shipped with the binary (`catalog/songs.csv`).
pub static DEFAULT_CATALOG: &str = include_str!("../catalog/songs.csv");

/// Loads the shipped catalog.
pub async fn import_default_catalog(catalog: &dyn CatalogStore) -> Result<ImportOutcome, StartError> {
    let songs = parse_catalog(DEFAULT_CATALOG)
        .map_err(|e| StartError::Catalog(e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    Ok(catalog.upsert_songs(&songs, crate::clock::now_ms()).await?)
}

/// Runs the service until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), StartError> {
    crate::telemetry::install();
    let data_dir = config.storage.data_dir.clone();
    std::fs::create_dir_all(&data_dir)?;
    check_exposure(&config)?;
    let _lock = DataDirLock::acquire(&data_dir)?;
    let secret = secret(&config)?;
    let jwt = jwt_keys_with(&config, &secret)?;
    let signer = UploadSigner::new(&secret);

    let database = open_database(&config.database_url(), config.storage.read_connections)
        .await
        .map_err(|source| StartError::Database { url: config.database_url_redacted(), source })?;
    let store = database.db;
    let database_shared = database.shared;
    if !config.kafka.brokers.is_empty() {
        // Jobs travel through Kafka: every change that announces one writes an outbox row.
        store.enable_outbox();
        tracing::info!(brokers = %config.kafka.brokers, group = %config.kafka.group_id, "jobs go through Kafka");
    }
    let listener = tokio::net::TcpListener::bind(&config.server.bind)
        .await
        .map_err(|source| StartError::Bind { addr: config.server.bind.clone(), source })?;
    let addr: SocketAddr = listener.local_addr()?;
    let public_url =
        if config.server.public_url.is_empty() { format!("http://{addr}") } else { config.server.public_url.clone() };
    let objects = open_objects(&config, signer.clone(), &public_url).await?;

    let instance_id: Arc<str> = uuid::Uuid::new_v4().simple().to_string()[..12].into();
    // Holding the data-dir lock over an embedded database, every lease in it
    // belongs to a dead process. A shared database's other leases may belong to
    // live instances: only expired ones come back (the lease sweep does that too).
    let max_attempts = config.retry.max_attempts();
    let scope = if database.shared { LeaseScope::Expired } else { LeaseScope::NotOwnedBy(&instance_id) };
    let reclaimed = store.reclaim_leases(crate::clock::now_ms(), scope, max_attempts).await?;
    if !reclaimed.is_empty() {
        tracing::warn!(count = reclaimed.len(), "re-queued jobs that were in flight when the last process stopped");
    }

    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    if config.catalog.import_default && store.count_songs().await? == 0 {
        let outcome = import_default_catalog(&*store).await?;
        tracing::info!(songs = outcome.total, "imported the shipped song catalog");
    }
    let vectors = open_vectors(&config, store.clone()).await?;
    let bus = if config.redis.url.is_empty() {
        None
    } else {
        let redis = Arc::new(
            RedisBus::connect(&config.redis)
                .await
                .map_err(|source| StartError::Redis { url: crate::config::redact_url(&config.redis.url), source })?,
        );
        tracing::info!(
            prefix = %config.redis.prefix,
            "connected to Redis: status events are shared with other instances",
        );
        Some(Bus { sender: redis.publisher(&instance_id), redis })
    };
    let ctx = Ctx {
        config: Arc::new(config),
        store: store.clone(),
        catalog: store.clone(),
        dead_letters: store.clone(),
        alerts: store.clone(),
        vectors: vectors.clone(),
        vector_source: store,
        objects,
        directory: Arc::new(Directory::default()),
        instance_id: instance_id.clone(),
        bus: bus.clone(),
    };
    let (root, root_handle) = start_tree(ctx.clone()).await.map_err(|e| StartError::Actors(e.to_string()))?;
    let cidrs = |what: &str, list: &[String]| {
        crate::http::rate_limit::parse_cidrs(what, list)
            .map_err(|e| StartError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))
    };
    let limiter = RateLimiter::new(&ctx.config.rate_limit, bus.as_ref().map(|b| b.redis.clone()))
        .map_err(|e| StartError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?
        .map(Arc::new);
    // check_exposure refused dev sign-in on an instance others can reach, so
    // here it is loopback-only; the sign-in link likewise.
    let dev_sign_in = ctx.config.auth.dev_sign_in && !database_shared && jwt.can_issue();
    if dev_sign_in {
        tracing::warn!("sign-in by name is on ([auth] dev_sign_in): anyone on this machine can get a user token");
    } else if ctx.config.auth.dev_sign_in && database_shared {
        tracing::info!("sign-in by name is off: the database is shared (distributed mode)");
    }
    let sign_in_link =
        (ctx.config.auth.sign_in_link && !database_shared && jwt.can_issue() && loopback_only(&ctx.config, addr))
            .then(|| Arc::new(SignInLink::new(&public_url)));
    if let Some(link) = &sign_in_link {
        tracing::info!(
            url = %link.url(),
            "open this link to sign in (it works once; the next one is logged when it is used)",
        );
    }
    let state = AppState::new(crate::http::AppStateInner {
        ctx: ctx.clone(),
        jwt: Arc::new(jwt),
        signer,
        limiter,
        trusted_proxies: cidrs("rate_limit.trusted_proxies", &ctx.config.rate_limit.trusted_proxies)?.into(),
        webhook_sources: cidrs("webhooks.allowed_cidrs", &ctx.config.webhooks.allowed_cidrs)?.into(),
        dev_sign_in,
        sign_in_link,
        tickets: TicketSigner::new(&secret),
        webhook_failures: Arc::new(crate::http::rate_limit::FailureLimiter::new(
            ctx.config.webhooks.max_failures,
            Duration::from_secs(ctx.config.webhooks.failure_window_seconds.max(1)),
        )),
        stream_slots: crate::http::stream_slots::StreamSlots::new(ctx.config.sse.max_streams_per_user),
        // Every change to a record passes through this process only without a shared database.
        record_cache: (!database_shared && ctx.config.http.record_cache_entries > 0)
            .then(|| Arc::new(crate::http::record_cache::RecordCache::new(ctx.config.http.record_cache_entries))),
    });
    // /metrics on its own (internal) address, when configured.
    let metrics_server = if ctx.config.server.metrics_bind.is_empty() {
        None
    } else {
        let bind = &ctx.config.server.metrics_bind;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| StartError::Bind { addr: bind.clone(), source })?;
        tracing::info!(addr = %listener.local_addr()?, "metrics served on their own address");
        std::fs::write(data_dir.join("metrics.addr"), listener.local_addr()?.to_string())?;
        Some(tokio::spawn(warp::serve(http::metrics_routes()).incoming(listener).run()))
    };

    std::fs::write(data_dir.join("server.addr"), addr.to_string())?;
    tracing::info!(
        addr = %addr,
        public_url = %public_url,
        instance = %instance_id,
        data_dir = %data_dir.display(),
        workers = ctx.config.workers(),
        "listening",
    );

    let upkeep = tokio::spawn(vector_upkeep(vectors.clone(), ctx.config.vectors.clone()));
    warp::serve(http::routes(state)).incoming(listener).graceful(shutdown_signal()).run().await;
    tracing::info!("HTTP server stopped; stopping actors");
    shutdown_tree(&ctx, root, root_handle, grace).await;
    upkeep.abort();
    if let Some(m) = metrics_server {
        m.abort();
    }
    match vectors.persist().await {
        Ok(saved) => tracing::info!(saved, size = vectors.len(), "vector index closed"),
        Err(e) => tracing::warn!(error = %e, "could not save the vector index; it is rebuilt at the next start"),
    }
    if let Some(bus) = bus {
        bus.redis.close().await;
    }
    let _ = std::fs::remove_file(data_dir.join("server.addr"));
    tracing::info!("stopped");
    Ok(())
}

/// Every address the service listens on, as configured (port 0 included).
fn bind_addresses(config: &Config) -> Vec<SocketAddr> {
    [&config.server.bind, &config.server.metrics_bind].into_iter().filter_map(|a| a.parse().ok()).collect()
}

/// Refuses a configuration that would open a door on an instance others can
/// reach: sign-in by name, or a short or placeholder secret.
pub fn check_exposure(config: &Config) -> Result<(), crate::auth::exposure::ExposureError> {
    let secrets: Vec<(&'static str, &str)> = vec![
        ("auth.jwt_secret (ORAK_AUTH__JWT_SECRET)", &config.auth.jwt_secret),
        ("webhooks.secret (ORAK_WEBHOOKS__SECRET)", &config.webhooks.secret),
    ];
    crate::auth::exposure::check(
        &bind_addresses(config),
        &config.server.public_url,
        &config.rate_limit.trusted_proxies,
        config.auth.dev_sign_in,
        &secrets,
    )
}

/// Whether only this machine can reach the instance (bound at `addr`).
fn loopback_only(config: &Config, addr: SocketAddr) -> bool {
    let mut binds = bind_addresses(config);
    binds.push(addr);
    crate::auth::exposure::exposure(&binds, &config.server.public_url, &config.rate_limit.trusted_proxies).is_none()
}

/// Opens the configured voice-search index: embedded in `<data dir>/vectors/`
/// (rebuilt from the database when it has to be), or the shared pgvector table.
pub async fn open_vectors(config: &Config, source: Arc<dyn VectorSource>) -> Result<Arc<dyn VectorStore>, StartError> {
    let (model, version) = (crate::model::MODEL_NAME, crate::model::MODEL_VERSION);
    match config.vectors.backend.as_str() {
        "embedded" => {
            let params = config.vectors.params(crate::model::EMBEDDING_DIM);
            let dir = config.storage.data_dir.join("vectors");
            let (vectors, report) = EmbeddedVectors::open(&dir, model, version, params, source).await?;
            tracing::info!(
                size = report.size,
                rebuilt = report.rebuilt.as_deref().unwrap_or("no"),
                added = report.added,
                removed = report.removed,
                seconds = report.seconds,
                memory_mb = vectors.memory_bytes() / (1024 * 1024),
                "vector index open"
            );
            Ok(Arc::new(vectors))
        }
        "pgvector" => {
            let params = config.vectors.pg_params(crate::model::EMBEDDING_DIM);
            let (vectors, report) = PgVectors::open(params, model, version, source).await?;
            tracing::info!(
                size = vectors.len(),
                added = report.added,
                removed = report.removed,
                table = %config.vectors.pgvector_table,
                "pgvector index open"
            );
            Ok(Arc::new(vectors))
        }
        other => Err(StartError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("vectors.backend must be \"embedded\" or \"pgvector\", not {other:?}"),
        ))),
    }
}

/// Keeps the vector index in line with the database and saved to disk.
async fn vector_upkeep(vectors: Arc<dyn VectorStore>, cfg: crate::config::VectorsConfig) {
    let mut sync = tokio::time::interval(Duration::from_secs(cfg.sync_interval_seconds.max(1)));
    let mut save = tokio::time::interval(Duration::from_secs(cfg.save_interval_seconds.max(1)));
    sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sync.tick().await;
    save.tick().await;
    loop {
        tokio::select! {
            _ = sync.tick() => {
                if let Err(e) = vectors.sync().await {
                    tracing::warn!(error = %e, "vector index sync failed");
                }
            }
            _ = save.tick() => {
                if let Err(e) = vectors.persist().await {
                    tracing::warn!(error = %e, "saving the vector index failed");
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
