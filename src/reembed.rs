//! `orakgaraki reembed`: rolls a model version out by re-embedding every
//! COMPLETED record whose stored embedding is missing or from another model
//! version. Each new embedding is committed as soon as it is made, so an
//! interrupted run loses nothing and the next run continues with what is still
//! stale. Runs beside a serving instance (SQLite allows it; only embeddings are
//! written, each in its own transaction).

use crate::audio::capture::capture_voice;
use crate::clock::now_ms;
use crate::config::Config;
use crate::model::{self, Embedder, ModelError};
use crate::store::{ObjectStore, RecordStore, StaleEmbedding};
use std::sync::Arc;

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReembedStats {
    /// Records given a new embedding.
    pub embedded: u64,
    /// Records with no voice to embed (silence, music without voice).
    pub no_voice: u64,
    /// Records that could not be read or decoded (left as they were).
    pub failed: u64,
}

/// Why the run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReembedError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Re-embeds stale records; `progress(done, total)` is called after each one.
pub async fn run(
    config: &Config,
    store: Arc<dyn RecordStore>,
    objects: Arc<dyn ObjectStore>,
    mut progress: impl FnMut(u64, u64),
) -> Result<ReembedStats, ReembedError> {
    let (name, version) = (model::MODEL_NAME, model::MODEL_VERSION);
    let total = u64::try_from(store.count_stale_embeddings(name, version).await?).unwrap_or(0);
    let weights = config.model.weights.clone();
    let encoder = tokio::task::spawn_blocking(move || model::load_encoder(&weights, &model::default_device()))
        .await
        .map_err(|e| ModelError::Backend(e.to_string()))??;
    let embedder = Arc::new(Embedder::new(encoder).with_max_batch(config.model.max_batch));
    let mut stats = ReembedStats::default();
    let mut after: Option<String> = None;
    let mut done = 0;
    progress(0, total);
    loop {
        let page = store.stale_embeddings(name, version, after.as_deref(), 100).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.record_id.as_str().to_owned());
        for item in page {
            match embed_one(config, &*objects, &embedder, &item).await {
                Ok(Some(e)) => {
                    if store.put_embedding(&item.record_id, &e, now_ms()).await? {
                        stats.embedded += 1;
                    }
                }
                Ok(None) => stats.no_voice += 1,
                Err(why) => {
                    tracing::warn!(record_id = %item.record_id, error = %why, "cannot re-embed");
                    stats.failed += 1;
                }
            }
            done += 1;
            progress(done, total.max(done));
        }
    }
    Ok(stats)
}

async fn embed_one(
    config: &Config,
    objects: &dyn ObjectStore,
    embedder: &Arc<Embedder>,
    item: &StaleEmbedding,
) -> Result<Option<crate::domain::Embedding>, String> {
    let copy = objects.fetch(&item.object_key).await.map_err(|e| e.to_string())?;
    let ext = std::path::Path::new(&item.filename).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let (embedder, max_seconds) = (embedder.clone(), config.model.max_seconds);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&copy.path).map_err(|e| e.to_string())?;
        let voice =
            capture_voice(std::io::BufReader::new(file), ext.as_deref(), max_seconds).map_err(|e| e.to_string())?;
        match embedder.embed_wav(&voice.samples) {
            Ok(e) => Ok(Some(e)),
            Err(ModelError::NoVoice(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .map_err(|e| format!("crashed: {e}"))?
}
