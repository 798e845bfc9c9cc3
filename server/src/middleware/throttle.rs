//! Per-address limits on the endpoints that guess passwords or codes or
//! send email: sign-in (both steps), password change, sign-up, password
//! reset and proving a phone number's code (which also has its limits per
//! attorney and per code, in `numbers`). Over
//! the limit the answer is 429 with `Retry-After`, before any work is done.

use std::net::{IpAddr, SocketAddr};

use app::ssr::infra::rate_limit::{self, Decision, Limit};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::AnyPool;

/// The server functions each client address may call only so often.
const THROTTLED: [&str; 9] = [
    "/api/log_in",
    "/api/verify_second_factor",
    "/api/change_password",
    "/api/enable_two_factor",
    "/api/disable_two_factor",
    "/api/sign_up",
    "/api/request_password_reset",
    "/api/reset_password",
    "/api/prove_number",
];

#[derive(Clone, Debug)]
pub struct AuthThrottle {
    pub pool: AnyPool,
    pub limit: Limit,
    /// Reverse proxies in front of us that append to `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
}

/// The client's address: the TCP peer, or behind `hops` trusted proxies
/// the entry they appended for it (`hops` from the right). Entries further
/// left are written by the client and could be anything.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, hops: usize) -> IpAddr {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    entries
        .len()
        .checked_sub(hops)
        .and_then(|index| entries.get(index))
        .and_then(|entry| entry.parse().ok())
        .unwrap_or(peer)
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
    let forwarded_for = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok());
    let client = client_ip(peer.ip(), forwarded_for, throttle.trusted_proxy_hops);
    let bucket = format!("ip:{client}:{path}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_entry_the_trusted_proxies_wrote() {
        let peer: IpAddr = "10.0.0.2".parse().expect("ip");
        let forged_then_real = Some("6.6.6.6, 203.0.113.7");
        assert_eq!(client_ip(peer, forged_then_real, 0), peer, "header ignored");
        assert_eq!(
            client_ip(peer, forged_then_real, 1).to_string(),
            "203.0.113.7"
        );
        assert_eq!(client_ip(peer, forged_then_real, 2).to_string(), "6.6.6.6");
        assert_eq!(
            client_ip(peer, forged_then_real, 3),
            peer,
            "too few entries"
        );
        assert_eq!(client_ip(peer, Some("not an address"), 1), peer);
        assert_eq!(client_ip(peer, None, 1), peer);
    }
}
