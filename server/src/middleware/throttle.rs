//! Per-address limits on the endpoints that guess passwords or codes or
//! send email: sign-in (both steps), password change, sign-up, password
//! reset and proving a phone number's code (which also has its limits per
//! attorney and per code, in `numbers`). Over
//! the limit the answer is 429 with `Retry-After`, before any work is done.

use std::net::{IpAddr, SocketAddr};

use app::ssr::infra::rate_limit::{self, ClientKey, Decision, Limit};
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

/// The client's address: the TCP peer, or, behind `hops` trusted
/// proxies, the entry the outermost of them appended to
/// `X-Forwarded-For`: the `hops`-th entry from the right.
///
/// `forwarded_for` is every `X-Forwarded-For` field line in the order
/// received: a proxy may add its own line instead of extending the
/// client's, and lines of one field are one comma-separated list in order
/// (RFC 9110, 5.3), so all are read and joined; reading only the first
/// would take an entry the client wrote. Entries left of the one taken are
/// the client's own and could be anything.
///
/// Falls back to the peer when the header is ignored (`hops` 0), holds
/// fewer entries than `hops` (a proxy did not append: misconfigured, and
/// any entry there could be the client's), or when the entry where the
/// client should be is not an address (with or without a port) or a line
/// is not ASCII: the peer is then the proxy, so such clients share one
/// count instead of choosing their own.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a HeaderValue>,
    hops: usize,
) -> IpAddr {
    if hops == 0 {
        return peer;
    }
    let mut entries: Vec<&str> = Vec::new();
    for line in forwarded_for {
        let Ok(line) = line.to_str() else {
            return peer;
        };
        entries.extend(
            line.split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty()),
        );
    }
    entries
        .len()
        .checked_sub(hops)
        .and_then(|index| entries.get(index))
        .and_then(|entry| {
            entry
                .parse::<IpAddr>()
                .or_else(|_| entry.parse::<SocketAddr>().map(|address| address.ip()))
                .ok()
        })
        .unwrap_or(peer)
}

/// What one client is counted as: an IPv4 address on its own, an IPv6
/// address by its /64, since one subscriber usually gets a whole /64 (RFC
/// 6177, RFC 7934) and could otherwise take a fresh address per attempt.
/// An IPv4-mapped IPv6 peer (a dual-stack socket) counts as its IPv4
/// address.
pub fn rate_limit_key(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = std::net::Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128));
                format!("{network}/64")
            }
        },
    }
}

/// Counts the request against its client's limit for the endpoint, and
/// hands the endpoint the client it counted ([`ClientKey`], a request
/// extension), for limits the endpoint keeps per client of its own (wrong
/// passwords per account and client, `accounts::sign_in`).
pub async fn throttle_auth(
    State(throttle): State<AuthThrottle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if request.method() != Method::POST || !THROTTLED.contains(&path) {
        return next.run(request).await;
    }
    let client = client_ip(
        peer.ip(),
        request.headers().get_all("x-forwarded-for"),
        throttle.trusted_proxy_hops,
    );
    let client = rate_limit_key(client);
    let bucket = format!("ip:{client}:{path}");
    request.extensions_mut().insert(ClientKey::new(&client));
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

    fn lines(values: &[&'static str]) -> Vec<HeaderValue> {
        values
            .iter()
            .map(|value| HeaderValue::from_static(value))
            .collect()
    }

    fn client(peer: &str, values: &[&'static str], hops: usize) -> String {
        client_ip(peer.parse().expect("peer"), &lines(values), hops).to_string()
    }

    #[test]
    fn the_client_is_the_entry_the_trusted_proxies_wrote() {
        let peer = "10.0.0.2";
        let forged_then_real = ["6.6.6.6, 203.0.113.7"];
        assert_eq!(client(peer, &forged_then_real, 0), peer, "header ignored");
        assert_eq!(client(peer, &forged_then_real, 1), "203.0.113.7");
        assert_eq!(client(peer, &forged_then_real, 2), "6.6.6.6");
        assert_eq!(client(peer, &forged_then_real, 3), peer, "too few entries");
        assert_eq!(client(peer, &["not an address"], 1), peer);
        assert_eq!(client(peer, &[], 1), peer);
    }

    #[test]
    fn every_header_line_is_read_in_order() {
        let peer = "10.0.0.2";
        // The client sent its own line; the proxy added another.
        assert_eq!(client(peer, &["6.6.6.6", "203.0.113.7"], 1), "203.0.113.7");
        assert_eq!(
            client(peer, &["6.6.6.6, 7.7.7.7", "203.0.113.7, 10.0.0.1"], 2),
            "203.0.113.7"
        );
        assert_eq!(
            client(peer, &["6.6.6.6", "", "203.0.113.7, 10.0.0.1"], 2),
            "203.0.113.7",
            "empty lines and entries are skipped"
        );
    }

    #[test]
    fn an_unreadable_client_entry_falls_back_to_the_peer() {
        let peer = "10.0.0.2";
        assert_eq!(client(peer, &["203.0.113.7, garbage"], 1), peer);
        assert_eq!(client(peer, &["unknown", "10.0.0.1"], 2), peer);
        // A forged entry left of the client's is never reached.
        assert_eq!(client(peer, &["garbage, 203.0.113.7"], 1), "203.0.113.7");
        let not_ascii = HeaderValue::from_bytes(b"6.6.6.6, \xff").expect("opaque bytes");
        let real = HeaderValue::from_static("203.0.113.7");
        let peer_ip: IpAddr = peer.parse().expect("peer");
        assert_eq!(client_ip(peer_ip, [&not_ascii, &real], 1), peer_ip);
    }

    #[test]
    fn entries_with_ports_and_ipv6_are_read() {
        let peer = "10.0.0.2";
        assert_eq!(client(peer, &["203.0.113.7:51234"], 1), "203.0.113.7");
        assert_eq!(client(peer, &["2001:db8::7"], 1), "2001:db8::7");
        assert_eq!(client(peer, &["[2001:db8::7]:443"], 1), "2001:db8::7");
    }

    #[test]
    fn ipv6_clients_count_per_64_and_ipv4_per_address() {
        let key = |address: &str| rate_limit_key(address.parse().expect("address"));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
    }
}
