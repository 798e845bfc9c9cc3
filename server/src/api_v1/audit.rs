//! Call-record audits: which of a batch of calls were placed to a number
//! privileged at that instant (calls the provider must not have recorded).

use std::collections::HashMap;

use app::domain::phone::PhoneNumber;
use app::ssr::providers::Scope;
use app::ssr::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::{Extension, Json};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::read_log::ReadLog;
use super::time::{parse_rfc3339, rfc3339};

/// Most calls in one audit request.
const MAX_CALLS: usize = 10_000;

/// A JSON body whose problems are answered as problem documents.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Call {
    /// The provider's own id of the call (at most 200 characters).
    #[schema(max_length = 200)]
    pub call_id: String,
    /// The number called, in any common format (a North American number
    /// the registry can hold; anything else is answered 400).
    #[schema(min_length = 1, max_length = 40, example = "(202) 456-1111")]
    pub e164: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub started_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AuditRequest {
    /// At most 10,000.
    #[schema(max_items = 10000)]
    pub calls: Vec<Call>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrivilegedCall {
    pub call_id: String,
    pub e164: String,
    /// When the number's privileged interval began (RFC 3339).
    pub privileged_since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    pub privileged_calls: Vec<PrivilegedCall>,
}

#[utoipa::path(
    post,
    path = "/api/v1/audit/calls",
    tag = "audit",
    request_body = AuditRequest,
    security(("bearer" = ["audit:write"])),
    responses(
        (status = 200, description = "The calls placed to privileged numbers, in request order", body = AuditResponse),
        (status = 400, description = "Not the JSON described, over 10,000 calls, or an unreadable number or instant", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks audit:write", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn calls(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    caller: Caller,
    ApiJson(request): ApiJson<AuditRequest>,
) -> Result<Json<AuditResponse>, ApiError> {
    caller.require(Scope::AuditWrite)?;
    if request.calls.len() > MAX_CALLS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_CALLS} calls in one request; this one has {}",
            request.calls.len()
        )));
    }
    // Everything is checked before anything is looked up.
    let mut parsed = Vec::with_capacity(request.calls.len());
    for (index, call) in request.calls.into_iter().enumerate() {
        if call.call_id.chars().count() > 200 {
            return Err(ApiError::BadRequest(format!(
                "calls[{index}].call_id is longer than 200 characters"
            )));
        }
        let phone = PhoneNumber::parse(&call.e164)
            .map_err(|error| ApiError::BadRequest(format!("calls[{index}].e164: {error}")))?;
        let at = parse_rfc3339(&call.started_at, &format!("calls[{index}].started_at"))?;
        parsed.push((call.call_id, phone, at));
    }
    log.record(caller.0.key_id, format!("audit of {} calls", parsed.len()));

    // Each number's intervals are read once, however many calls it had.
    let pool = state.database.pool();
    let mut intervals: HashMap<String, Vec<(i64, Option<i64>)>> = HashMap::new();
    let mut privileged_calls = Vec::new();
    for (call_id, phone, at) in parsed {
        if !intervals.contains_key(phone.as_str()) {
            let rows: Vec<(i64, Option<i64>)> =
                sqlx::query_as("SELECT since, until FROM privileged_intervals WHERE e164 = $1")
                    .bind(phone.as_str())
                    .fetch_all(pool)
                    .await?;
            intervals.insert(phone.as_str().to_owned(), rows);
        }
        let during = intervals[phone.as_str()]
            .iter()
            .find(|(since, until)| *since <= at && until.is_none_or(|until| until > at));
        if let Some((since, _)) = during {
            privileged_calls.push(PrivilegedCall {
                call_id,
                e164: phone.as_str().to_owned(),
                privileged_since: rfc3339(*since),
            });
        }
    }
    Ok(Json(AuditResponse { privileged_calls }))
}
