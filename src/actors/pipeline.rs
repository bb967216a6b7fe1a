//! The work of one job: fetch the object, analyse it off the async runtime, ask
//! the model pool for the voice embedding, and classify what went wrong. The
//! single place the analysis grows from.

use super::model_pool::ModelMsg;
use super::{Ctx, ask};
use crate::audio::capture::Captured;
use crate::audio::{self, AudioError};
use crate::domain::{Analysis, Embedding, Job, JobFailure};
use crate::model::{self, ModelError, frontend};
use crate::store::ObjectError;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Analyses the job's recording; setting `cancel` stops the decoding thread.
pub async fn analyze(ctx: &Ctx, job: &Job, cancel: Arc<AtomicBool>) -> Result<Analysis, JobFailure> {
    let copy = ctx.objects.fetch(&job.object_key).await.map_err(|e| match e {
        ObjectError::NotFound(_) => {
            JobFailure { message: "the uploaded audio is missing from storage".into(), permanent: true }
        }
        other => JobFailure { message: other.to_string(), permanent: false },
    })?;
    let ext = std::path::Path::new(&job.filename).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let model_cfg = &ctx.config.model;
    let voice_seconds = if model_cfg.enabled { model_cfg.max_seconds } else { 0.0 };
    let limits = ctx.config.pipeline.limits(cancel, ctx.config.analysis.pitch);
    let pitch = crate::model::pitch_model(ctx.config.analysis.pitch)
        .map_err(|e| JobFailure { message: format!("the pitch model: {e}"), permanent: false })?;
    let analysis = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&copy.path)?;
        let reader = std::io::BufReader::with_capacity(256 * 1024, file);
        audio::analyze_with_voice(reader, ext.as_deref(), limits, voice_seconds, pitch)
    })
    .await;
    let (mut analysis, voice) = match analysis {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return Err(classify(e)),
        Err(join) => return Err(JobFailure { message: format!("the analysis crashed: {join}"), permanent: false }),
    };
    if model_cfg.enabled {
        let deadline = Duration::from_secs(ctx.config.pipeline.analysis_deadline_seconds.max(1));
        analysis.embedding = embed(ctx, voice, deadline).await?;
    }
    Ok(analysis)
}

/// The voice embedding of the captured 16 kHz signal, through the model pool.
/// `None` when there is no voice to embed (silence, or nothing left after
/// trimming): the record still completes, without an embedding.
pub async fn embed(ctx: &Ctx, voice: Captured, deadline: Duration) -> Result<Option<Embedding>, JobFailure> {
    if voice.truncated {
        tracing::info!(
            max_seconds = ctx.config.model.max_seconds,
            "the embedding covers the start of the recording only"
        );
    }
    let prepared = tokio::task::spawn_blocking(move || {
        let wav = frontend::preprocess(&voice.samples);
        frontend::partial_mels(&wav)
    })
    .await
    .map_err(|e| JobFailure { message: format!("the model front end crashed: {e}"), permanent: false })?;
    let (mels, n) = match prepared {
        Ok(p) => p,
        Err(ModelError::NoVoice(why)) => {
            tracing::info!(reason = why, "no voice embedding");
            return Ok(None);
        }
        Err(e) => return Err(JobFailure { message: e.to_string(), permanent: false }),
    };
    let partials = ask(ctx.directory.model(), "model-pool", deadline, |reply| ModelMsg::Embed { mels, n, reply })
        .await
        .map_err(|e| JobFailure { message: e.to_string(), permanent: false })?
        .map_err(|e| JobFailure { message: format!("the voice model failed: {e}"), permanent: false })?;
    match model::embed::average(&partials) {
        Ok(vector) => {
            Ok(Some(Embedding { model: model::MODEL_NAME.into(), version: model::MODEL_VERSION.into(), vector }))
        }
        Err(ModelError::NoVoice(_)) => Ok(None),
        Err(e) => Err(JobFailure { message: e.to_string(), permanent: false }),
    }
}

fn classify(e: AudioError) -> JobFailure {
    JobFailure { permanent: e.is_permanent(), message: e.to_string() }
}
