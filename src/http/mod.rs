//! The HTTP API (warp): routes, handlers, authentication and the SSE stream.
//! Handlers only translate HTTP to calls on actors and stores, and back.

pub mod auth;
pub mod bucket_events;
pub mod dead_letters;
pub mod error;
pub mod health;
pub mod objects;
pub mod recommendations;
pub mod records;
pub mod similar;
pub mod sse;

use crate::actors::Ctx;
use crate::auth::{JwtKeys, UploadSigner};
use std::convert::Infallible;
use std::sync::Arc;
use warp::Filter;

pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub jwt: Arc<JwtKeys>,
    pub signer: UploadSigner,
}

/// Passes the state into a handler.
pub fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// Every route of the service, with errors mapped to the one error shape.
pub fn routes(state: AppState) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    let api = records::routes(state.clone())
        .or(sse::routes(state.clone()))
        .or(bucket_events::routes(state.clone()))
        .or(similar::routes(state.clone()))
        .or(recommendations::routes(state.clone()))
        .or(objects::routes(state.clone()))
        .or(dead_letters::routes(state.clone()))
        .or(health::routes(state));
    api.recover(error::recover).with(warp::log::custom(|info| {
        tracing::info!(
            method = %info.method(),
            path = info.path(),
            status = info.status().as_u16(),
            ms = info.elapsed().as_secs_f64() * 1000.0,
            "http"
        );
    }))
}
