//! The one error shape of the API, `{"error":{"code","message"}}`, and the mapping
//! of every failure — ours and warp's own rejections — onto it.

use crate::actors::ActorError;
use crate::actors::upload_session::UploadError;
use crate::store::{ObjectError, StoreError};
use serde::Serialize;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reject::Rejection;
use warp::reply::{Reply, Response};

/// An error as the client sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl warp::reject::Reject for ApiError {}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError { retry_after: Some(1), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message) }
    }
    /// 429 with `Retry-After: secs`.
    pub fn too_many_requests(secs: u64) -> Self {
        Self::throttled("rate_limited", "too many requests; slow down", secs)
    }
    /// 429 with its own `code` and message, and `Retry-After: secs`.
    pub fn throttled(code: &'static str, message: impl Into<String>, secs: u64) -> Self {
        ApiError { retry_after: Some(secs), ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message) }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// As a rejection, for `and_then` filters.
    pub fn reject(self) -> Rejection {
        warp::reject::custom(self)
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: Inner { code: self.code, message: &self.message } };
        let mut resp = warp::reply::with_status(warp::reply::json(&body), self.status).into_response();
        let headers = resp.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert("www-authenticate", warp::http::HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is never read: tell the client not to reuse the connection.
            headers.insert("connection", warp::http::HeaderValue::from_static("close"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert("retry-after", warp::http::HeaderValue::from(secs));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("record"),
            StoreError::Conflict(t) => ApiError::conflict(t.to_string()),
            StoreError::NotDeadLetter(_) => ApiError::conflict(e.to_string()),
            StoreError::Pool(_) | StoreError::Database(_) => {
                tracing::error!(error = %e, "database error");
                ApiError::unavailable("the database is unavailable; try again")
            }
            StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "corrupt data");
                ApiError::internal("stored data could not be read")
            }
        }
    }
}

impl From<ObjectError> for ApiError {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::TooLarge { limit } => {
                ApiError::too_large(format!("the upload is larger than its limit of {limit} bytes"))
            }
            ObjectError::Body(m) => ApiError::bad_request(format!("the upload was interrupted: {m}")),
            ObjectError::NotFound(_) => ApiError::not_found("object"),
            ObjectError::BadKey(_) => ApiError::bad_request("invalid object key"),
            ObjectError::NoDirectUrl => ApiError::not_found("object URL"),
            ObjectError::Io(_) | ObjectError::Remote(_) => {
                tracing::error!(error = %e, "object storage error");
                ApiError::unavailable("object storage is unavailable; try again")
            }
        }
    }
}

impl From<crate::store::vectors::VectorError> for ApiError {
    fn from(e: crate::store::vectors::VectorError) -> Self {
        match e {
            crate::store::vectors::VectorError::Dimensions { .. } => ApiError::bad_request(e.to_string()),
            crate::store::vectors::VectorError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "vector search failed");
                ApiError::internal("vector search failed")
            }
        }
    }
}

impl From<ActorError> for ApiError {
    fn from(e: ActorError) -> Self {
        tracing::warn!(error = %e, "actor unavailable");
        ApiError::unavailable(e.to_string())
    }
}

impl From<crate::erase::EraseError> for ApiError {
    fn from(e: crate::erase::EraseError) -> Self {
        match e {
            crate::erase::EraseError::Store(s) => s.into(),
            crate::erase::EraseError::Object(o) => o.into(),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Store(s) => s.into(),
            UploadError::Object(o) => o.into(),
            e @ UploadError::TooManyActive { .. } => ApiError::throttled("too_many_uploads", e.to_string(), 30),
            e @ UploadError::OverQuota { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "over_quota", e.to_string())
            }
        }
    }
}

/// Turns every rejection into the one error shape.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    use warp::reject as r;
    let err = if let Some(e) = rejection.find::<ApiError>() {
        e.clone()
    } else if rejection.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    } else if let Some(e) = rejection.find::<r::MethodNotAllowed>() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", e.to_string())
    } else if rejection.find::<r::PayloadTooLarge>().is_some() {
        ApiError::too_large("the request body is too large")
    } else if let Some(e) = rejection.find::<r::UnsupportedMediaType>() {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", e.to_string())
    } else if let Some(e) = rejection.find::<r::LengthRequired>() {
        ApiError::new(StatusCode::LENGTH_REQUIRED, "length_required", e.to_string())
    } else if let Some(e) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        ApiError::bad_request(format!("invalid JSON body: {e}"))
    } else if let Some(e) = rejection.find::<r::InvalidQuery>() {
        ApiError::bad_request(e.to_string())
    } else if let Some(e) = rejection.find::<r::MissingHeader>() {
        ApiError::bad_request(e.to_string())
    } else if let Some(e) = rejection.find::<r::InvalidHeader>() {
        ApiError::bad_request(e.to_string())
    } else {
        tracing::warn!(rejection = ?rejection, "unhandled rejection");
        ApiError::internal("unexpected error")
    };
    Ok(err.into_response())
}
