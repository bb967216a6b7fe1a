//! Metrics: installs the process-wide Prometheus recorder (the `metrics` crate's
//! facade; actors and handlers record through its macros) and names the metrics
//! this service exports, so dashboards and alert rules have one list to match.
//!
//! Names follow Prometheus conventions: `orak_` prefix, `_total` for counters,
//! base units (`_seconds`, `_bytes`).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Times a supervised actor was restarted (label `actor`).
pub const ACTOR_RESTARTS: &str = "orak_actor_restarts_total";
/// Messages an actor handled (label `actor`).
pub const ACTOR_MESSAGES: &str = "orak_actor_messages_total";
/// Seconds an actor took per message (label `actor`).
pub const ACTOR_HANDLING: &str = "orak_actor_handling_seconds";
/// Times an actor died (label `actor`).
pub const ACTOR_FAILURES: &str = "orak_actor_failures_total";
/// Repairs made by the batch sweeper (label `kind`).
pub const SWEEPER_REPAIRS: &str = "orak_sweeper_repairs_total";
/// Records in each status (label `status`), as of the last sweep.
pub const RECORDS: &str = "orak_records";
/// FAILED records kept as dead letters, as of the last sweep.
pub const DEAD_LETTERS: &str = "orak_dead_letters";
/// Records that became dead letters.
pub const DEAD_LETTERED: &str = "orak_dead_lettered_total";
/// Failed attempts that were scheduled for a retry.
pub const RETRIES: &str = "orak_retries_total";
/// Dead letters requeued or discarded by an admin (label `action`).
pub const DEAD_LETTER_ACTIONS: &str = "orak_dead_letter_actions_total";
/// Seconds a job waited in QUEUED before a worker took it.
pub const QUEUE_WAIT: &str = "orak_queue_wait_seconds";
/// Seconds an analysis attempt took (label `outcome`).
pub const ANALYSIS_DURATION: &str = "orak_analysis_duration_seconds";

/// HTTP requests answered (labels `route` template, `method`, `status`).
pub const HTTP_REQUESTS: &str = "orak_http_requests_total";
/// Seconds to answer an HTTP request (labels `route`, `method`).
pub const HTTP_DURATION: &str = "orak_http_request_duration_seconds";
/// 1 while the database answers the batch sweeper's queries (every sweep interval), else 0.
pub const DATABASE_UP: &str = "orak_database_up";
/// Open SSE status streams.
pub const SSE_CONNECTIONS: &str = "orak_sse_connections";
/// Uploads that arrived (label `path`: `direct` through this service, `notified` by a bucket event, `found` by the sweeper).
pub const UPLOADS: &str = "orak_uploads_total";
/// Partials per embedding-model batch.
pub const MODEL_BATCH: &str = "orak_model_batch_partials";
/// Vectors in the voice-search index.
pub const INDEX_SIZE: &str = "orak_vector_index_size";
/// Always 1, labelled with the version: that the process is up and what it runs.
pub const BUILD_INFO: &str = "orak_build_info";
/// Requests refused by the rate limiter (label `class`).
pub const RATE_LIMITED: &str = "orak_rate_limited_total";
/// Messages sent to an actor (label `actor`); with the handled count, its mailbox depth.
pub const ACTOR_SENT: &str = "orak_actor_messages_sent_total";
/// Messages waiting in an actor's mailbox (label `actor`; summed over a pool's workers).
pub const ACTOR_MAILBOX: &str = "orak_actor_mailbox_depth";
/// Alerts Alertmanager reported that were news (label `status`: firing, resolved).
pub const ALERTS_RECEIVED: &str = "orak_alerts_received_total";
/// Alert messages forwarded to chat, by outcome (sent, retried, given_up, dropped).
pub const ALERT_FORWARDS: &str = "orak_alert_forwards_total";
/// Open admin alert streams.
pub const ALERT_STREAMS: &str = "orak_alert_streams";
/// Analyses stopped at their deadline.
pub const ANALYSIS_DEADLINES: &str = "orak_analysis_deadlines_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Counts one in gauge `name` while it lives (an open stream, say).
pub struct GaugeGuard(&'static str);

impl GaugeGuard {
    pub fn new(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        GaugeGuard(name)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// Installs the recorder (once per process) and returns its handle, or `None`
/// when another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0],
                )
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(MODEL_BATCH.into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    register_known_series();
                    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
                    let upkeep = handle.clone();
                    // Without the exporter's own HTTP listener, upkeep is ours to run.
                    std::thread::Builder::new()
                        .name("metrics-upkeep".into())
                        .spawn(move || {
                            loop {
                                std::thread::sleep(Duration::from_secs(5));
                                upkeep.run_upkeep();
                            }
                        })
                        .ok()?;
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// The process's own figures (CPU, memory, open files, threads), refreshed at each scrape.
pub fn collect_process() {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR
        .get_or_init(|| {
            let c = metrics_process::Collector::default();
            c.describe();
            c
        })
        .collect();
}

/// Every actor that reports metrics (labels of the per-actor series).
pub const ACTORS: [&str; 12] = [
    "sse-broadcaster",
    "retry-scheduler",
    "model-pool",
    "model-worker",
    "analysis-pool",
    "analysis-worker",
    "job-source",
    "s3-event",
    "upload-session",
    "outbox-relay",
    "batch-sweeper",
    "alert-webhook",
];

/// Creates the counters and gauges whose label values are known in advance, at
/// zero: a dashboard panel or alert over a counter that has not moved yet shows 0
/// (and `rate()` works from the first scrape) instead of "no data".
fn register_known_series() {
    for actor in ACTORS {
        metrics::counter!(ACTOR_RESTARTS, "actor" => actor).absolute(0);
        metrics::counter!(ACTOR_FAILURES, "actor" => actor).absolute(0);
    }
    for kind in ["lease_expired", "missed_event", "expired_upload", "stuck_queued", "audit_expired"] {
        metrics::counter!(SWEEPER_REPAIRS, "kind" => kind).absolute(0);
    }
    for path in ["direct", "notified", "found"] {
        metrics::counter!(UPLOADS, "path" => path).absolute(0);
    }
    for action in ["requeue", "discard"] {
        metrics::counter!(DEAD_LETTER_ACTIONS, "action" => action).absolute(0);
    }
    for class in ["api", "upload"] {
        metrics::counter!(RATE_LIMITED, "class" => class).absolute(0);
    }
    for status in ["firing", "resolved"] {
        metrics::counter!(ALERTS_RECEIVED, "status" => status).absolute(0);
    }
    for outcome in ["sent", "retried", "given_up", "dropped"] {
        metrics::counter!(ALERT_FORWARDS, "outcome" => outcome).absolute(0);
    }
    metrics::counter!(RETRIES).absolute(0);
    metrics::counter!(DEAD_LETTERED).absolute(0);
    metrics::gauge!(SSE_CONNECTIONS).set(0.0);
    metrics::gauge!(ALERT_STREAMS).set(0.0);
    metrics::counter!(ANALYSIS_DEADLINES).absolute(0);
    metrics::gauge!(DEAD_LETTERS).set(0.0);
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(ACTOR_RESTARTS, "Times a supervised actor was restarted");
    describe_counter!(ACTOR_MESSAGES, "Messages an actor handled");
    describe_histogram!(ACTOR_HANDLING, metrics::Unit::Seconds, "Time an actor took per message");
    describe_counter!(ACTOR_FAILURES, "Times an actor died (panic or fatal error)");
    describe_counter!(SWEEPER_REPAIRS, "Repairs made by the batch sweeper, by kind");
    describe_gauge!(RECORDS, "Records in each status");
    describe_gauge!(DEAD_LETTERS, "FAILED records kept as dead letters");
    describe_counter!(DEAD_LETTERED, "Records that became dead letters");
    describe_counter!(RETRIES, "Failed attempts scheduled for a retry");
    describe_counter!(DEAD_LETTER_ACTIONS, "Dead letters requeued or discarded by an admin");
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route template, method and status");
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route template and method"
    );
    describe_gauge!(DATABASE_UP, "1 while the database answers, else 0");
    describe_gauge!(SSE_CONNECTIONS, "Open SSE status streams");
    describe_counter!(UPLOADS, "Uploads that arrived, by path");
    describe_histogram!(MODEL_BATCH, "Partials per embedding-model batch");
    describe_gauge!(INDEX_SIZE, "Vectors in the voice-search index");
    describe_gauge!(BUILD_INFO, "1, labelled with the running version");
    describe_counter!(RATE_LIMITED, "Requests refused by the rate limiter, by route class");
    describe_counter!(ACTOR_SENT, "Messages sent to an actor");
    describe_gauge!(ACTOR_MAILBOX, "Messages waiting in an actor's mailbox (sent minus handled)");
    describe_counter!(ALERTS_RECEIVED, "New alerts and alert status changes received from Alertmanager");
    describe_counter!(ALERT_FORWARDS, "Alert messages forwarded to chat, by outcome");
    describe_gauge!(ALERT_STREAMS, "Open admin alert streams");
    describe_counter!(ANALYSIS_DEADLINES, "Analyses stopped at their deadline (their thread stopped too)");
    describe_histogram!(QUEUE_WAIT, metrics::Unit::Seconds, "Time a job waited in QUEUED");
    describe_histogram!(ANALYSIS_DURATION, metrics::Unit::Seconds, "Time an analysis attempt took, by outcome");
}
