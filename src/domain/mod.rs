//! The domain: records, their status machine, analysis results and status events.
//!
//! Pure types and rules only — no I/O, no clocks, no randomness. Everything here
//! can be unit-tested without a runtime.

pub mod alert;
pub mod analysis;
pub mod bucket_event;
pub mod catalog;
pub mod dead_letter;
pub mod embedding;
pub mod job;
pub mod offsets;
pub mod outbox;
pub mod record;
pub mod retry;
pub mod status;

pub use analysis::Analysis;
pub use embedding::Embedding;
pub use job::{FailureOutcome, Job, JobFailure};
pub use record::{RecordId, RecordView, StatusEvent, Visibility};
pub use retry::RetryPolicy;
pub use status::{RecordStatus, TransitionError};
