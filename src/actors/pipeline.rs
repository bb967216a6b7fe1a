//! The work of one job: fetch the object, analyse it off the async runtime, and
//! classify what went wrong. The single place the analysis grows from.

use super::Ctx;
use crate::audio::{self, AudioError};
use crate::domain::{Analysis, Job, JobFailure};
use crate::store::ObjectError;

/// Analyses the job's recording.
pub async fn analyze(ctx: &Ctx, job: &Job) -> Result<Analysis, JobFailure> {
    let copy = ctx.objects.fetch(&job.object_key).await.map_err(|e| match e {
        ObjectError::NotFound(_) => {
            JobFailure { message: "the uploaded audio is missing from storage".into(), permanent: true }
        }
        other => JobFailure { message: other.to_string(), permanent: false },
    })?;
    let ext = std::path::Path::new(&job.filename).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let analysis = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&copy.path)?;
        audio::analyze(std::io::BufReader::with_capacity(256 * 1024, file), ext.as_deref(), audio::Limits::default())
    })
    .await;
    match analysis {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(e)) => Err(classify(e)),
        Err(join) => Err(JobFailure { message: format!("the analysis crashed: {join}"), permanent: false }),
    }
}

fn classify(e: AudioError) -> JobFailure {
    JobFailure { permanent: e.is_permanent(), message: e.to_string() }
}
