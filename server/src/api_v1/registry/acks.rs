//! `POST /registry/acks`: a provider's acknowledgement that it applied
//! the change log through a seq, kept forever (`app::ssr::providers`).

use app::ssr::providers::{self, ProviderError, Scope};
use app::ssr::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::audit::ApiJson;
use super::super::auth::Caller;
use super::super::problem::{ApiError, Problem};
use super::super::time::rfc3339;

// The acknowledgement's body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AckRequest {
    /// The last seq the provider has applied.
    #[schema(minimum = 0)]
    pub through_seq: i64,
}

// The acknowledgement as recorded: the same seq again answers with its
// first time.
#[derive(Debug, Serialize, ToSchema)]
pub struct AckResponse {
    pub through_seq: i64,
    /// RFC 3339.
    pub acked_at: String,
}

// Records the acknowledgement; 409 past the head or behind the
// provider's last one.
#[utoipa::path(
    post,
    path = "/api/v1/registry/acks",
    tag = "registry",
    request_body = AckRequest,
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Recorded (the same seq again answers with its first time)", body = AckResponse),
        (status = 400, description = "Not the JSON described", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Past the head, or behind the last acknowledgement", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<AckRequest>,
) -> Result<Json<AckResponse>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    if request.through_seq < 0 {
        return Err(ApiError::BadRequest(
            "through_seq must not be negative".into(),
        ));
    }
    match providers::acknowledge(state.database.pool(), &caller.0, request.through_seq).await {
        Ok(acked_at) => Ok(Json(AckResponse {
            through_seq: request.through_seq,
            acked_at: rfc3339(acked_at),
        })),
        Err(error @ (ProviderError::AckPastHead { .. } | ProviderError::AckBehind { .. })) => {
            Err(ApiError::Conflict(error.to_string()))
        }
        Err(other) => Err(ApiError::internal(other)),
    }
}
