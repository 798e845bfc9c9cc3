//! Facilities: a provider's prisons and jails, each acknowledging the
//! seqs it applied and reconciling its own list with the registry by
//! count and digest (see `app::ssr::providers::facilities` and
//! `app::ssr::registry::digest` for the rules). A provider has at most
//! `API_FACILITIES_PER_PROVIDER` facilities, and reconciliations pass the
//! digest caps (`limits::ApiCaps`).

use app::domain::{FacilityCode, FacilityKind, FacilityName, Jurisdiction};
use app::ssr::providers::Scope;
use app::ssr::providers::facilities::{self, Claim, Facility, FacilityInput};
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::ApiJson;
use super::auth::Caller;
use super::limits::ApiCaps;
use super::problem::{ApiError, Problem};
use super::time::rfc3339;

/// What kind of place a facility is.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Prison,
    Jail,
    Detention,
    Juvenile,
    Other,
}

impl From<Kind> for FacilityKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Prison => FacilityKind::Prison,
            Kind::Jail => FacilityKind::Jail,
            Kind::Detention => FacilityKind::Detention,
            Kind::Juvenile => FacilityKind::Juvenile,
            Kind::Other => FacilityKind::Other,
        }
    }
}

/// A facility as the provider describes it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FacilityRequest {
    /// 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "King County Correctional Facility"
    )]
    pub name: String,
    /// The USPS code of the state, DC or territory it is in.
    #[schema(example = "WA", min_length = 2, max_length = 2)]
    pub state: String,
    pub kind: Kind,
}

/// A facility.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacilityResponse {
    /// The provider's own code.
    pub code: String,
    pub name: String,
    pub state: String,
    /// prison, jail, detention, juvenile or other.
    pub kind: String,
    /// "live", or "pending" after a vendor switch until a reconciliation
    /// matches.
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<Facility> for FacilityResponse {
    fn from(facility: Facility) -> Self {
        Self {
            code: facility.code,
            name: facility.name,
            state: facility.state,
            kind: facility.kind.as_str().to_owned(),
            status: facility.status.as_str().to_owned(),
            created_at: rfc3339(facility.created_at),
            updated_at: rfc3339(facility.updated_at),
        }
    }
}

/// The provider's facilities (not retired), by code.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacilityList {
    pub facilities: Vec<FacilityResponse>,
}

/// The facility code of a path, or a 400 naming what was read.
fn code_of(raw: &str) -> Result<FacilityCode, ApiError> {
    FacilityCode::parse(raw).map_err(|error| ApiError::BadRequest(error.to_string()))
}

#[utoipa::path(
    put,
    path = "/api/v1/facilities/{code}",
    operation_id = "put_facility",
    tag = "facilities",
    params(("code" = String, Path, description = "The provider's own code: 1 to 64 letters, digits, '-', '_' and '.'")),
    request_body = FacilityRequest,
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Created or updated (a retired facility comes back)", body = FacilityResponse),
        (status = 400, description = "A malformed code, name, state or kind", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A code with a slash matches no path", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`facility-limit`: the provider has as many facilities (not retired) as it may (5,000 by default), and this would add one; retire one, or ask the registry's administrators", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Extension(caps): Extension<ApiCaps>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(request): ApiJson<FacilityRequest>,
) -> Result<Json<FacilityResponse>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let code = code_of(&raw)?;
    let input = FacilityInput {
        name: FacilityName::parse(&request.name)
            .map_err(|error| ApiError::BadRequest(error.to_string()))?,
        state: Jurisdiction::parse(&request.state).map_err(|_| {
            ApiError::BadRequest(format!(
                "state {:?} is not the USPS code of a US state, DC or territory",
                request.state.chars().take(20).collect::<String>()
            ))
        })?,
        kind: request.kind.into(),
    };
    let (facility, _created) = facilities::put(
        state.database.pool(),
        caller.0.provider_id,
        &code,
        &input,
        caps.facilities_per_provider,
    )
    .await?;
    Ok(Json(facility.into()))
}

#[utoipa::path(
    get,
    path = "/api/v1/facilities",
    operation_id = "list_facilities",
    tag = "facilities",
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "The caller's facilities that are not retired, by code", body = FacilityList),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<FacilityList>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let found = facilities::list(state.database.pool(), caller.0.provider_id).await?;
    Ok(Json(FacilityList {
        facilities: found.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/facilities/{code}",
    operation_id = "retire_facility",
    tag = "facilities",
    params(("code" = String, Path, description = "The provider's own code")),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 204, description = "Retired; its acknowledgements and reconciliations are kept"),
        (status = 400, description = "A malformed code", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no facility with this code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retire(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let code = code_of(&raw)?;
    facilities::retire(state.database.pool(), caller.0.provider_id, code.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FacilityAckRequest {
    /// The last seq this facility has applied.
    #[schema(minimum = 0)]
    pub through_seq: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FacilityAckResponse {
    pub through_seq: i64,
    /// RFC 3339.
    pub acked_at: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/facilities/{code}/acks",
    operation_id = "acknowledge_facility",
    tag = "facilities",
    params(("code" = String, Path, description = "The provider's own code")),
    request_body = FacilityAckRequest,
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Recorded (the same seq again answers with its first time)", body = FacilityAckResponse),
        (status = 400, description = "A malformed code or body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such facility of the caller's, or retired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Past the head, or behind the facility's last acknowledgement", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(request): ApiJson<FacilityAckRequest>,
) -> Result<Json<FacilityAckResponse>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let code = code_of(&raw)?;
    if request.through_seq < 0 {
        return Err(ApiError::BadRequest(
            "through_seq must not be negative".into(),
        ));
    }
    let acked_at = facilities::acknowledge(
        state.database.pool(),
        &caller.0,
        code.as_str(),
        request.through_seq,
    )
    .await?;
    Ok(Json(FacilityAckResponse {
        through_seq: request.through_seq,
        acked_at: rfc3339(acked_at),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReconciliationRequest {
    /// The seq the facility's list reflects.
    #[schema(minimum = 0)]
    pub as_of_seq: i64,
    /// How many numbers the facility's list holds.
    #[schema(minimum = 0)]
    pub count: i64,
    /// SHA-256 (hex) of the list's E.164 numbers sorted by byte order,
    /// each followed by "\n".
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub digest: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationResponse {
    /// Whether count and digest equal the registry's at `as_of_seq`.
    #[serde(rename = "match")]
    pub matched: bool,
    pub as_of_seq: i64,
    /// The registry's count at `as_of_seq`.
    pub count: i64,
    /// The registry's digest at `as_of_seq` (lower-case hex).
    pub digest: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/facilities/{code}/reconciliations",
    operation_id = "reconcile_facility",
    tag = "facilities",
    params(("code" = String, Path, description = "The provider's own code")),
    request_body = ReconciliationRequest,
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Compared and stored; `match` false means the facility's list differs (find where with /registry/digests)", body = ReconciliationResponse),
        (status = 400, description = "A malformed code or body (a digest that is not 64 hex digits, a negative count or seq)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such facility of the caller's, or retired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "as_of_seq is past the head", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit, or the key already has as many digests and reconciliations computing as one key may (2 by default); `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The server already computes as many digests and reconciliations as it may for all keys; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reconcile(
    State(state): State<AppState>,
    Extension(caps): Extension<ApiCaps>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(request): ApiJson<ReconciliationRequest>,
) -> Result<Json<ReconciliationResponse>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let code = code_of(&raw)?;
    if request.as_of_seq < 0 || request.count < 0 {
        return Err(ApiError::BadRequest(
            "as_of_seq and count must not be negative".into(),
        ));
    }
    if request.digest.len() != 64 || !request.digest.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(format!(
            "digest must be 64 hex digits (a SHA-256); read {} characters",
            request.digest.chars().count()
        )));
    }
    let claim = Claim {
        as_of_seq: request.as_of_seq,
        count: request.count,
        digest: request.digest,
    };
    let _permit = caps.digests.enter(caller.0.key_id)?;
    let result = facilities::reconcile(
        state.database.pool(),
        &caps.digest_cache,
        &caller.0,
        code.as_str(),
        &claim,
    )
    .await?;
    Ok(Json(ReconciliationResponse {
        matched: result.matched,
        as_of_seq: result.as_of_seq,
        count: result.count,
        digest: result.digest,
    }))
}
