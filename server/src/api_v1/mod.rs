//! The provider API, version 1: a public contract (paths and shapes never
//! change; fields may be added). Bearer keys with scopes, errors as
//! `application/problem+json` (RFC 9457), a per-key rate limit, caps on
//! heavy work per key and per instance ([`ApiCaps`]), and a log of every
//! read. Described by the OpenAPI document at
//! `/api/v1/openapi.json`, generated from these handlers (utoipa).

mod audit;
mod auth;
mod facilities;
mod limits;
mod openapi;
mod problem;
mod read_log;
mod registry;
mod time;
mod webhooks;

use std::time::Duration;

use app::ssr::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

pub use audit::AuditBudget;
pub use auth::{ApiLimits, KeyCache};
pub use limits::ApiCaps;
pub use read_log::ReadLog;

/// How long a provider request may take, reading its body included: the
/// longest long-poll (`wait` at most 60 s) and 30 s for a slow database.
/// A stalled client or a stuck query cannot hold a task, and with it
/// perhaps a pooled connection, for longer. The snapshot is not under it:
/// it has its own deadlines (300 s to read the registry into a file, 120 s
/// for a reader that stops reading, `API_SNAPSHOT_DEADLINE_SECS` for the
/// whole stream).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(registry::MAX_WAIT_SECS + 30);

/// The routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/registry/changes", get(registry::changes::changes))
        .route("/registry/acks", post(registry::acks::acknowledge))
        .route("/registry/digests", get(registry::digests::digests))
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
        .route("/numbers/{e164}", get(registry::lookup::lookup))
        .route("/audit/calls", post(audit::calls))
        .route(
            "/webhook",
            axum::routing::put(webhooks::register).delete(webhooks::unregister),
        )
        .route("/openapi.json", get(openapi::document))
        // A route, not a fallback: the server functions' `/api/{*fn_name}`
        // would otherwise answer unknown paths with a bare 405.
        .route("/{*rest}", any(problem::not_found))
        .route_layer(middleware::from_fn_with_state(REQUEST_DEADLINE, deadline))
        .route("/registry/snapshot", get(registry::snapshot::snapshot))
}

/// Answers 503 (problem+json) when the request is not done within `limit`;
/// the handler's future is dropped, which ends its queries and frees its
/// connection.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem::ApiError::DeadlinePassed(limit.as_secs()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_past_its_deadline_gets_a_problem_not_a_hang() {
        let limit = Duration::from_millis(50);
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "too late"
                }),
            )
            .route("/quick", get(|| async { "in time" }))
            .route_layer(middleware::from_fn_with_state(limit, deadline));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let slow = client
            .get(format!("http://{address}/slow"))
            .send()
            .await
            .expect("answer");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "cut at the deadline"
        );
        assert_eq!(slow.status(), 503);
        assert_eq!(slow.headers()["content-type"], "application/problem+json");
        let body = slow.text().await.expect("body");
        assert!(body.contains("deadline-passed"), "{body}");
        let quick = client
            .get(format!("http://{address}/quick"))
            .send()
            .await
            .expect("answer");
        assert_eq!(quick.status(), 200);
    }
}
