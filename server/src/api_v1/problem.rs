//! Every error of the API as `application/problem+json` (RFC 9457): the
//! one error type of this layer, mapped to HTTP here and nowhere else.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::limits::Busy;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// What can go wrong in a request to the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid API key is required: Authorization: Bearer <key>")]
    Unauthorized,
    #[error("this key lacks the {0} scope")]
    Forbidden(&'static str),
    #[error("no such resource")]
    NotFound,
    /// A 404 that names what was asked for.
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but refused for what it says (RFC 9110, 15.5.21).
    #[error("{0}")]
    Unprocessable(String),
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("too many requests for this key; retry after {0} s")]
    TooManyRequests(u64),
    #[error("something went wrong on our side")]
    Internal,
    /// The request ran past its deadline and was stopped (seconds).
    #[error("the request took longer than {0} s and was stopped; retry it")]
    DeadlinePassed(u64),
    /// The key (429) or the instance (503) has as much heavy work in
    /// progress as it may; `Retry-After` says when to try again.
    #[error(transparent)]
    Busy(#[from] super::limits::Busy),
    /// The provider has as many facilities as it may (409).
    #[error("{0}")]
    FacilityLimit(String),
}

/// A database failure is the opaque 500; its cause is logged once, here.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::internal(error)
    }
}

/// A refused webhook URL is the provider's 400 (not a URL, not HTTPS) or
/// 422 (an address off the public internet), in the capability's words.
impl From<app::ssr::providers::webhooks::WebhookError> for ApiError {
    fn from(error: app::ssr::providers::webhooks::WebhookError) -> Self {
        use app::ssr::providers::webhooks::WebhookError;
        match error {
            WebhookError::Database(cause) => ApiError::internal(cause),
            sealed @ WebhookError::Sealed { .. } => ApiError::internal(sealed),
            refused @ WebhookError::RefusedAddress { .. } => {
                ApiError::Unprocessable(refused.to_string())
            }
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// A facility's refusals in the capability's words: an unknown or
/// retired facility is the provider's 404, a seq out of order its 409.
impl From<app::ssr::providers::facilities::FacilityError> for ApiError {
    fn from(error: app::ssr::providers::facilities::FacilityError) -> Self {
        use app::ssr::providers::facilities::FacilityError;
        match error {
            FacilityError::Database(cause) => ApiError::internal(cause),
            error @ (FacilityError::Unknown(_)
            | FacilityError::Retired(_)
            | FacilityError::SameProvider) => ApiError::Missing(error.to_string()),
            other @ (FacilityError::AckPastHead { .. }
            | FacilityError::AckBehind { .. }
            | FacilityError::AsOfPastHead { .. }) => ApiError::Conflict(other.to_string()),
            limit @ FacilityError::TooMany { .. } => ApiError::FacilityLimit(limit.to_string()),
        }
    }
}

impl ApiError {
    /// Logs the cause and answers with a 500 that does not show it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "provider API failure");
        ApiError::Internal
    }

    /// Seconds for `Retry-After`, on the answers that have one.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests(seconds) => Some(*seconds),
            ApiError::Busy(busy) => Some(busy.retry_after_secs()),
            _ => None,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::Missing(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::DeadlinePassed(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Busy(Busy::Key { .. }) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy(Busy::Server { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::FacilityLimit(_) => StatusCode::CONFLICT,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound | ApiError::Missing(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unprocessable(_) => "unprocessable-content",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::TooManyRequests(_) => "too-many-requests",
            ApiError::Internal => "internal",
            ApiError::DeadlinePassed(_) => "deadline-passed",
            ApiError::Busy(Busy::Key { .. }) => "concurrency-limit",
            ApiError::Busy(Busy::Server { .. }) => "server-busy",
            ApiError::FacilityLimit(_) => "facility-limit",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = Problem {
            kind: format!("https://counsel-registry.example/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::Unauthorized = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Paths under `/api/v1` that do not exist.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
