//! A provider registers where to be told that the registry changed.

use app::ssr::providers::Scope;
use app::ssr::providers::webhooks;
use app::ssr::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::ApiJson;
use super::auth::Caller;
use super::problem::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookRequest {
    /// HTTPS to a public internet address; loopback (over HTTP too) only
    /// when the server runs with `WEBHOOK_ALLOW_LOOPBACK=true`, for
    /// development.
    #[schema(
        format = "uri",
        max_length = 2000,
        example = "https://provider.example/registry-hook"
    )]
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookRegistered {
    pub url: String,
    /// The Standard Webhooks signing secret (`whsec_…`), shown this once.
    pub secret: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/webhook",
    tag = "webhooks",
    request_body = WebhookRequest,
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Registered (replacing any earlier endpoint, with a new secret). The server then POSTs {\"type\": \"registry.changed\", \"through_seq\": N} signed per Standard Webhooks, retrying for about three days; a 410 disables the endpoint.", body = WebhookRegistered),
        (status = 400, description = "Not a URL, or not HTTPS", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The URL names an address that is not on the public internet (private, loopback, link-local, shared, multicast, documentation or reserved, IPv4 or IPv6, incl. IPv4-mapped forms); the detail names the address and the range", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<WebhookRequest>,
) -> Result<Json<WebhookRegistered>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let url = webhooks::checked_endpoint(&request.url, state.outbound).await?;
    let secret = webhooks::register(
        state.database.pool(),
        &state.keyring,
        caller.0.provider_id,
        &url,
    )
    .await?;
    Ok(Json(WebhookRegistered {
        url: url.to_string(),
        secret,
    }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/webhook",
    tag = "webhooks",
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 204, description = "No more webhooks"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No endpoint was registered", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unregister(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::RegistryRead)?;
    match webhooks::unregister(state.database.pool(), caller.0.provider_id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound),
        Err(error) => Err(ApiError::internal(error)),
    }
}
