//! The provider API, version 1: a public contract (paths and shapes never
//! change; fields may be added). Bearer keys with scopes, errors as
//! `application/problem+json` (RFC 9457), a per-key rate limit, and a log
//! of every read. Described by the OpenAPI document at
//! `/api/v1/openapi.json`, generated from these handlers (utoipa).

mod audit;
mod auth;
mod facilities;
mod openapi;
mod problem;
mod read_log;
mod registry;
mod time;
mod webhooks;

use app::ssr::state::AppState;
use axum::Router;
use axum::routing::{any, get, post};

pub use audit::AuditBudget;
pub use auth::{ApiLimits, KeyCache};
pub use read_log::ReadLog;

/// The routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/registry/snapshot", get(registry::snapshot))
        .route("/registry/changes", get(registry::changes))
        .route("/registry/acks", post(registry::acknowledge))
        .route("/registry/digests", get(registry::digests))
        .route("/facilities", get(facilities::list))
        .route(
            "/facilities/{code}",
            axum::routing::put(facilities::put).delete(facilities::retire),
        )
        .route("/facilities/{code}/acks", post(facilities::acknowledge))
        .route(
            "/facilities/{code}/reconciliations",
            post(facilities::reconcile),
        )
        .route("/numbers/{e164}", get(registry::lookup))
        .route("/audit/calls", post(audit::calls))
        .route(
            "/webhook",
            axum::routing::put(webhooks::register).delete(webhooks::unregister),
        )
        .route("/openapi.json", get(openapi::document))
        // A route, not a fallback: the server functions' `/api/{*fn_name}`
        // would otherwise answer unknown paths with a bare 405.
        .route("/{*rest}", any(problem::not_found))
}
