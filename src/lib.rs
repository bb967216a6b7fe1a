//! # orakgaraki
//!
//! A voice-analysis backend: a person uploads a recording (up to 500 MB, directly
//! through a signed URL or as a multipart form), a supervised actor tree analyses
//! it, and the status is streamed live over server-sent events.
//!
//! ## Layout
//!
//! - [`domain`] — records, the status machine, retry policy, analysis results.
//!   Pure: no I/O, no clock.
//! - [`audio`] — decoding and measurements: pure functions from bytes to numbers.
//! - [`model`] — the GE2E voice embedding in burn (front end, network, shipped
//!   weights) and the SwiftF0 pitch tracker (hand-written kernels, shipped weights).
//! - [`auth`] — bearer JWTs and signed upload URLs (computation over a secret).
//! - [`store`] — the outside world: the record database (diesel, SQLite),
//!   object storage, data-dir secrets and lock. One trait per system.
//! - [`actors`] — the ractor supervision tree that glues domain, audio and store.
//! - [`http`] — warp routes, handlers, SSE; translation only.
//! - [`config`] — layered configuration (`config.toml`, `ORAK_*` variables, flags).
//! - [`app`] — the composition root that `orakgaraki serve` runs.
//! - [`telemetry`] — the Prometheus recorder and the names of the exported metrics.
//! - [`reembed`] — `orakgaraki reembed`: rolls a model version out to stored records.
//! - [`erase`] — deleting a recording, or everything of a user, completely.

pub mod actors;
pub mod app;
pub mod audio;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod erase;
pub mod http;
pub mod model;
pub mod reembed;
pub mod store;
pub mod telemetry;
