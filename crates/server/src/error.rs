//! API errors and their HTTP form (`{"error": "..."}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use camtrace_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// 429 with `Retry-After` (seconds).
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// 503 with `Retry-After` (seconds): the store is busy (another large write holds it) or
    /// timed out; the request can be repeated as is.
    #[error("{0}")]
    Unavailable(String, u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::NotFound(format!("{kind} `{id}` not found"))
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    /// A 404 (or 403) about something the caller did not name, such as the site a stored row
    /// belongs to, restated as "`kind` `id` not found" about the row the caller did name, so
    /// that the error discloses nothing the caller cannot read. Other errors pass unchanged.
    pub fn hide_as(self, kind: &str, id: &str) -> Self {
        match self {
            Self::NotFound(_) | Self::Forbidden(_) => Self::not_found(kind, id),
            other => other,
        }
    }
}

impl ApiError {
    /// The `Retry-After` seconds of a 429 or 503.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests(_, s) | Self::Unavailable(_, s) => Some(*s),
            _ => None,
        }
    }
}

/// Seconds a client is asked to wait when the store is busy.
pub const BUSY_RETRY_AFTER_SECS: u64 = 5;

fn busy() -> ApiError {
    ApiError::Unavailable(
        "the database is busy with another large change; try again shortly".into(),
        BUSY_RETRY_AFTER_SECS,
    )
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => Self::NotFound(format!("{kind} `{id}` not found")),
            StoreError::Invalid { .. } => Self::BadRequest(e.to_string()),
            StoreError::Conflict(m) => Self::Conflict(m),
            ref busy_error if busy_error.is_busy() => {
                tracing::warn!(error = %e, "store busy");
                busy()
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::Internal("storage error".into())
            }
        }
    }
}

impl From<camtrace_estate::EstateError> for ApiError {
    fn from(e: camtrace_estate::EstateError) -> Self {
        match e {
            camtrace_estate::EstateError::Store(s) => s.into(),
            camtrace_estate::EstateError::Invalid(m) => Self::BadRequest(m),
            camtrace_estate::EstateError::Kb(m) => Self::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = (
            status,
            axum::Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if let Some(secs) = self.retry_after() {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs.max(1)),
            );
        }
        if matches!(self, Self::Unauthenticated) {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"camtrace\""),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
