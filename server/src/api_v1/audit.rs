//! Call-record audits: which of a batch of calls were placed to a number
//! privileged at that instant (calls the provider must not have recorded).
//! Exports mix every kind of call, so a called number that is
//! international or unreadable is answered for that call, never by
//! refusing the batch (issue 14).

use app::domain::phone::{PhoneError, PhoneNumber};
use app::ssr::providers::Scope;
use app::ssr::registry;
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

/// How many numbers one key may have audited an hour
/// (`AUDIT_NUMBERS_PER_HOUR`), counted in the database so it holds across
/// instances. A key that may only audit learns nothing of the registry
/// but which of its calls were privileged; without a budget, 10,000 at a
/// request would let it sweep the numbering plan for attorneys' lines.
#[derive(Debug, Clone, Copy)]
pub struct AuditBudget(pub app::ssr::infra::rate_limit::Limit);

impl AuditBudget {
    pub fn per_hour(numbers: u32) -> Self {
        Self(app::ssr::infra::rate_limit::Limit {
            max_hits: i64::from(numbers),
            window: std::time::Duration::from_secs(60 * 60),
        })
    }
}

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
    /// The number called, in any common format. A number the registry
    /// cannot hold (international, or not readable as a number) is
    /// answered in that call's result, not by refusing the request.
    #[schema(example = "(202) 456-1111")]
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

/// What the audit found for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallVerdict {
    /// Placed to a number privileged at that instant: it must not have
    /// been recorded.
    Privileged,
    /// Read as a number the registry can hold, not privileged then (or a
    /// premium-rate number, which it never holds).
    NotPrivileged,
    /// Outside the US, its territories and Canada (another country, or
    /// another country of the +1 plan such as Jamaica): the registry never
    /// holds it, so the call was not privileged by the registry.
    NotNorthAmerican,
    /// Not readable as a phone number (see `reason`).
    Unreadable,
}

/// One call's answer, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallResult {
    pub call_id: String,
    pub result: CallVerdict,
    /// The number as read, in E.164; null when it could not be read.
    #[schema(nullable)]
    pub e164: Option<String>,
    /// When the number's privileged interval began (RFC 3339), for a
    /// privileged call; else null.
    #[schema(nullable)]
    pub privileged_since: Option<String>,
    /// Why the number is not one the registry holds, in words; null for
    /// `privileged` and `not_privileged` numbers it can hold.
    #[schema(nullable)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    /// The calls placed to privileged numbers, in request order.
    pub privileged_calls: Vec<PrivilegedCall>,
    /// Every call's answer, in request order (added in issue 14).
    pub results: Vec<CallResult>,
}

#[utoipa::path(
    post,
    path = "/api/v1/audit/calls",
    tag = "audit",
    request_body = AuditRequest,
    security(("bearer" = ["audit:write"])),
    responses(
        (status = 200, description = "Every call's result, and the calls placed to privileged numbers, in request order; an international or unreadable number is answered per call", body = AuditResponse),
        (status = 400, description = "Not the JSON described, over 10,000 calls, a call id over 200 characters or an unreadable instant", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks audit:write", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit, or over its hourly budget of audited numbers (AUDIT_NUMBERS_PER_HOUR)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn calls(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    Extension(budget): Extension<AuditBudget>,
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
    // The shape is checked before anything is looked up; numbers are
    // answered per call.
    let mut parsed = Vec::with_capacity(request.calls.len());
    for (index, call) in request.calls.into_iter().enumerate() {
        if call.call_id.chars().count() > 200 {
            return Err(ApiError::BadRequest(format!(
                "calls[{index}].call_id is longer than 200 characters"
            )));
        }
        let at = parse_rfc3339(&call.started_at, &format!("calls[{index}].started_at"))?;
        // A call record may carry the extension dialled: the line is the
        // number.
        let phone = PhoneNumber::read(&call.e164, "").map(|(phone, _)| phone);
        parsed.push((call.call_id, phone, at));
    }
    // Counted in one step with the key's other audits this hour; a batch
    // over the budget is refused whole and takes nothing of it.
    let pool = state.database.pool();
    let bucket = format!("audit-numbers:{}", caller.0.key_id);
    let asked = parsed.len() as i64;
    if let app::ssr::infra::rate_limit::Decision::Refused { retry_after_secs } =
        app::ssr::infra::rate_limit::hit_by(pool, &bucket, budget.0, asked).await?
    {
        app::ssr::infra::rate_limit::take_back(pool, &bucket, budget.0, asked).await?;
        log.record(
            caller.0.key_id,
            format!("audit of {asked} calls refused: over the hourly budget"),
        );
        return Err(ApiError::TooManyRequests(retry_after_secs.max(1)));
    }
    // What was asked, as a count: never the numbers.
    log.record(caller.0.key_id, format!("audit of {asked} calls"));

    // Each number's intervals are read once, however many calls it had.
    let found = {
        let asked: Vec<(&str, i64)> = parsed
            .iter()
            .filter_map(|(_, phone, at)| phone.as_ref().ok().map(|phone| (phone.as_str(), *at)))
            .collect();
        registry::privileged_at_each(pool, &asked).await?
    };
    let mut found = found.into_iter();
    let mut privileged_calls = Vec::new();
    let mut results = Vec::with_capacity(parsed.len());
    for (call_id, phone, _) in parsed {
        let phone = match phone {
            Ok(phone) => phone,
            Err(error) => {
                results.push(refused(call_id, &error));
                continue;
            }
        };
        let privilege = found
            .next()
            .expect("one answer for each call with a readable number");
        let privileged_since = privilege
            .privileged
            .then_some(privilege.since)
            .flatten()
            .map(rfc3339);
        if let Some(since) = &privileged_since {
            privileged_calls.push(PrivilegedCall {
                call_id: call_id.clone(),
                e164: phone.as_str().to_owned(),
                privileged_since: since.clone(),
            });
        }
        results.push(CallResult {
            call_id,
            result: if privileged_since.is_some() {
                CallVerdict::Privileged
            } else {
                CallVerdict::NotPrivileged
            },
            e164: Some(phone.as_str().to_owned()),
            privileged_since,
            reason: None,
        });
    }
    Ok(Json(AuditResponse {
        privileged_calls,
        results,
    }))
}

/// The answer for a call whose number the registry cannot hold.
fn refused(call_id: String, error: &PhoneError) -> CallResult {
    let (result, e164) = match error {
        PhoneError::NotNorthAmerican(read) | PhoneError::OtherCountry { read, .. } => {
            (CallVerdict::NotNorthAmerican, Some(read.clone()))
        }
        PhoneError::PremiumRate(read) => (CallVerdict::NotPrivileged, Some(read.clone())),
        _ => (CallVerdict::Unreadable, None),
    };
    CallResult {
        call_id,
        result,
        e164,
        privileged_since: None,
        reason: Some(error.to_string()),
    }
}
