//! What the web page needs before it has a token:
//!
//! - `GET /api/ui/config`: whether "sign in as NAME" is offered, and limits.
//! - `POST /api/dev/token` `{"user", "admin"}`: a token for any name — the
//!   single-machine mode's sign-in (`[auth] dev_sign_in`). Never in the
//!   distributed mode: with a shared MySQL database it is off whatever the setting,
//!   since anyone reaching the service could then act as anyone.

use super::records::json_body;
use super::{ApiError, AppState, with_state};
use crate::auth::Role;
use crate::clock::now_ms;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::reply::{Reply, Response};

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let config = warp::path!("api" / "ui" / "config").and(warp::get()).and(with_state(state.clone())).map(ui_config);
    let token = warp::path!("api" / "dev" / "token")
        .and(warp::post())
        .and(json_body::<TokenRequest>())
        .and(with_state(state))
        .and_then(dev_token);
    config.or(token)
}

#[derive(Serialize)]
struct UiConfig {
    dev_sign_in: bool,
    max_upload_bytes: u64,
    version: &'static str,
}

fn ui_config(state: AppState) -> Response {
    warp::reply::json(&UiConfig {
        dev_sign_in: state.dev_sign_in,
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
    let user = user.trim();
    if user.is_empty() || user.chars().count() > 64 || user.chars().any(char::is_control) {
        return Err(ApiError::bad_request("user must be 1 to 64 characters, without control characters"));
    }
    Ok(user)
}

async fn dev_token(req: TokenRequest, state: AppState) -> Result<Response, warp::Rejection> {
    if !state.dev_sign_in {
        return Err(
            ApiError::not_found("sign-in by name is off ([auth] dev_sign_in; never with a shared database)").reject()
        );
    }
    let user = check_name(&req.user).map_err(ApiError::reject)?;
    let role = if req.admin { Role::Admin } else { Role::User };
    let now = now_ms() / 1000;
    let ttl = state.ctx.config.auth.token_ttl_seconds;
    let token = state.jwt.issue(user, role, now, ttl).map_err(|e| ApiError::internal(e.to_string()).reject())?;
    tracing::info!(user, admin = req.admin, "signed in by name (dev sign-in)");
    let expires_at = crate::domain::record::rfc3339_millis((now + ttl as i64) * 1000);
    let role = if req.admin { "admin" } else { "user" };
    Ok(warp::reply::json(&TokenResponse { token, user: user.to_owned(), role, expires_at }).into_response())
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
