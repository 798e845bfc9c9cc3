//! Security headers on every response. Pages get a Content-Security-Policy
//! with the per-response nonce of their hydration script (see
//! [`page_csp`]); everything else gets a policy that allows nothing.

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of a page whose scripts carry `nonce`. `'wasm-unsafe-eval'`
/// lets the bundle compile its WASM; `'self'` lets the nonced loader import
/// the bundle's JavaScript.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// For responses that are not pages (JSON, files, errors).
const STRICT_CSP: &str =
    "default-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds the fixed headers. Pages set their own CSP and a response may set
/// its own cache policy first (`if_not_present`); the rest is overridden.
pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>, over_tls: bool) -> Router<S> {
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STRICT_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Pages are per visitor and may be behind a login: never stored.
        // The bundle under /pkg sets its own policy.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    if over_tls {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ))
    } else {
        router
    }
}
