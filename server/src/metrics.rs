//! Operators' metrics in the Prometheus text format (exposition format
//! 0.0.4, <https://prometheus.io/docs/instrumenting/exposition_formats/>),
//! through the `metrics` facade and `metrics-exporter-prometheus`.
//!
//! Two kinds of figure:
//! - this instance's, recorded as requests pass: `http_requests_total`
//!   and `http_request_duration_seconds` by method, route template and
//!   status;
//! - the deployment's, read from the database at each scrape, so every
//!   instance reports the same: job queue, registry head, provider and
//!   facility lag, code deliveries, roster commits; and this instance's
//!   database pool.
//!
//! `/metrics` is not public: it asks for `Authorization: Bearer
//! <METRICS_TOKEN>` and answers 404 when no token is set.

use std::sync::OnceLock;
use std::time::Instant;

use app::ssr::infra::clock::now_millis;
use app::ssr::infra::jobs;
use app::ssr::numbers;
use app::ssr::providers::{self, facilities};
use app::ssr::standing::roster::upload;
use app::ssr::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, body::Body};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

/// The token `/metrics` asks for; `None` turns the route off.
#[derive(Clone, Debug)]
pub struct MetricsToken(pub Option<String>);

/// Latency buckets, in seconds: from a cached look-up to a long-poll.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// The process's recorder, installed on first use (a process has one).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder was set first (not done in this code):
            // render from one of our own, which then records nothing.
            Err(error) => {
                tracing::error!(error = %error, "metrics recorder not installed");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// Installs the recorder; called at start so the first requests count.
pub fn install() {
    handle();
}

/// Counts each request and times it, by its route's template (never the
/// raw path, whose numbers and E.164s would make a series each).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!(
        "http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status,
    )
    .increment(1);
    histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the figures, for a scraper holding the token.
pub async fn scrape(
    State(state): State<AppState>,
    Extension(token): Extension<MetricsToken>,
    headers: HeaderMap,
) -> Response {
    let Some(expected) = token.0 else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(offered.as_bytes().ct_eq(expected.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response();
    }
    if let Err(error) = read_deployment_figures(&state).await {
        // The request figures still render; the stale database ones say
        // their own age through `counsel_metrics_read_ok`.
        tracing::warn!(error = %error, "metrics: database figures not read");
        gauge!("counsel_metrics_read_ok").set(0.0);
    } else {
        gauge!("counsel_metrics_read_ok").set(1.0);
    }
    let handle = handle();
    handle.run_upkeep();
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .body(Body::from(handle.render()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Sets the gauges read from the database and the pool.
async fn read_deployment_figures(state: &AppState) -> Result<(), sqlx::Error> {
    let pool = state.database.pool();
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    gauge!("db_pool_connections", "state" => "in_use").set(f64::from(size.saturating_sub(idle)));
    gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    gauge!("db_pool_max_connections").set(f64::from(pool.options().get_max_connections()));

    let now = now_millis();
    for depth in jobs::queue_depth(pool).await? {
        gauge!("job_queue_queued", "kind" => depth.kind.clone()).set(depth.queued as f64);
        gauge!("job_queue_due", "kind" => depth.kind.clone()).set(depth.due as f64);
        let oldest = depth.oldest_due_at.map_or(0, |at| (now - at).max(0));
        gauge!("job_queue_oldest_due_seconds", "kind" => depth.kind).set(oldest as f64 / 1000.0);
    }

    let head = app::ssr::registry::head(pool).await?;
    gauge!("registry_head_seq").set(head as f64);
    gauge!("registry_copy_head_seq").set(state.registry.head() as f64);
    gauge!("registry_privileged_numbers").set(state.registry.privileged_count() as f64);

    for provider in providers::overview(pool).await? {
        let lag = head - provider.acked_seq.unwrap_or(0);
        gauge!("provider_lag_seqs", "provider" => provider.name).set(lag as f64);
    }
    for facility in facilities::health(pool).await? {
        let labels = [
            ("provider", facility.provider.clone()),
            ("facility", facility.facility.code.clone()),
        ];
        gauge!("facility_lag_seqs", &labels).set(facility.lag_seqs as f64);
        gauge!("facility_lag_seconds", &labels).set(facility.lag_ms as f64 / 1000.0);
    }

    for (channel, status, count) in numbers::delivery_outcomes(pool, 0).await? {
        gauge!(
            "code_deliveries",
            "channel" => channel.as_str(),
            "outcome" => status.map_or("unreported", |status| status.as_str()),
        )
        .set(count as f64);
    }
    gauge!("roster_commits").set(upload::commits(pool).await? as f64);
    Ok(())
}
