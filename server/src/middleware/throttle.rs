//! Per-address limits on the endpoints that guess passwords or send email:
//! sign-in (both steps), password change, sign-up and password reset. Over
//! the limit the answer is 429 with `Retry-After`, before any work is done.

use std::net::SocketAddr;

use app::ssr::rate_limit::{self, Decision, Limit};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::AnyPool;

/// The server functions each client address may call only so often.
const THROTTLED: [&str; 6] = [
    "/api/log_in",
    "/api/verify_second_factor",
    "/api/change_password",
    "/api/sign_up",
    "/api/request_password_reset",
    "/api/reset_password",
];

#[derive(Clone, Debug)]
pub struct AuthThrottle {
    pub pool: AnyPool,
    pub limit: Limit,
}

pub async fn throttle_auth(
    State(throttle): State<AuthThrottle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if request.method() != Method::POST || !THROTTLED.contains(&path) {
        return next.run(request).await;
    }
    let bucket = format!("ip:{}:{path}", peer.ip());
    match rate_limit::hit(&throttle.pool, &bucket, throttle.limit).await {
        Ok(Decision::Refused { retry_after_secs }) => too_many(retry_after_secs),
        Ok(Decision::Allowed { .. }) => next.run(request).await,
        Err(error) => {
            tracing::error!(error = %error, "rate limit unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is busy. Try again shortly.",
            )
                .into_response()
        }
    }
}

fn too_many(retry_after_secs: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("Too many attempts from your network. Try again in {retry_after_secs} seconds."),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
