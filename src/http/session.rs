//! What the web page needs before it has a token:
//!
//! - `GET /api/ui/config`: which sign-ins are offered, and limits.
//! - `POST /api/session/link` `{"code", "user"}`: redeems the one-time sign-in
//!   link a loopback-only instance logs at start, for a user token.
//! - `POST /api/dev/token` `{"user"}`: a user token for any name (`[auth]
//!   dev_sign_in`, which startup refuses unless every address is loopback; off
//!   with a shared database). Neither ever gives an admin token: those come only
//!   from `orakgaraki token --admin` on the machine.

use super::records::json_body;
use super::{ApiError, AppState, with_state};
use crate::auth::Role;
use crate::clock::now_ms;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let config = warp::path!("api" / "ui" / "config").and(warp::get()).and(with_state(state.clone())).map(ui_config);
    let token = warp::path!("api" / "dev" / "token")
        .and(warp::post())
        .and(json_body::<TokenRequest>())
        .and(with_state(state.clone()))
        .and_then(dev_token);
    let link = warp::path!("api" / "session" / "link")
        .and(warp::post())
        .and(json_body::<LinkRequest>())
        .and(with_state(state))
        .and_then(redeem_link);
    config.or(token).or(link)
}

#[derive(Serialize)]
struct UiConfig {
    dev_sign_in: bool,
    /// A sign-in link was logged where the service runs.
    sign_in_link: bool,
    max_upload_bytes: u64,
    version: &'static str,
}

fn ui_config(state: AppState) -> Response {
    warp::reply::json(&UiConfig {
        dev_sign_in: state.dev_sign_in,
        sign_in_link: state.sign_in_link.is_some(),
        max_upload_bytes: state.ctx.config.uploads.max_bytes,
        version: env!("CARGO_PKG_VERSION"),
    })
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user: String,
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    code: String,
    user: String,
}

#[derive(Serialize)]
struct TokenResponse {
    token: String,
    user: String,
    role: &'static str,
    expires_at: String,
}

/// A user name as the UI may pick one: 1–64 characters, no control characters,
/// no surrounding spaces.
fn check_name(user: &str) -> Result<&str, ApiError> {
    crate::domain::record::clean_name(user)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::bad_request("user must be 1 to 64 characters, without control characters"))
}

async fn dev_token(req: TokenRequest, state: AppState) -> Result<Response, warp::Rejection> {
    if !state.dev_sign_in {
        let why = "sign-in by name is off ([auth] dev_sign_in: loopback-only instances, never with a shared database)";
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", why).reject());
    }
    if req.admin {
        return Err(ApiError::forbidden(
            "sign-in by name never gives an admin token; run `orakgaraki token --user NAME --admin` on the server",
        )
        .reject());
    }
    let user = check_name(&req.user).map_err(ApiError::reject)?;
    tracing::info!(user, "signed in by name (dev sign-in)");
    user_token(&state, user).map_err(ApiError::reject)
}

async fn redeem_link(req: LinkRequest, state: AppState) -> Result<Response, warp::Rejection> {
    let Some(link) = &state.sign_in_link else {
        let why = "this instance has no sign-in link (only loopback-only instances log one)";
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", why).reject());
    };
    let user = check_name(&req.user).map_err(ApiError::reject)?;
    let Some(next) = link.redeem(req.code.trim()) else {
        return Err(ApiError::unauthorized(
            "this sign-in link was used already or is not this instance's; open the newest link in the service's log",
        )
        .reject());
    };
    tracing::info!(user, next = %next, "signed in with the sign-in link; the next link");
    user_token(&state, user).map_err(ApiError::reject)
}

/// A user token for `user`, as JSON.
fn user_token(state: &AppState, user: &str) -> Result<Response, ApiError> {
    let now = now_ms() / 1000;
    let ttl = state.ctx.config.auth.token_ttl_seconds;
    let token = state.jwt.issue(user, Role::User, now, ttl).map_err(|e| ApiError::internal(e.to_string()))?;
    let expires_at = crate::domain::record::rfc3339_millis((now + ttl as i64) * 1000);
    Ok(warp::reply::json(&TokenResponse { token, user: user.to_owned(), role: "user", expires_at }).into_response())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  alice ").unwrap(), "alice");
        assert_eq!(check_name("가수").unwrap(), "가수");
        assert!(check_name("").is_err());
        assert!(check_name("   ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert!(check_name(&"x".repeat(64)).is_ok());
    }
}
