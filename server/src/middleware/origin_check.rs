//! Refuses state-changing requests sent from another site (CSRF), by the
//! headers browsers set and pages cannot forge: `Sec-Fetch-Site` and
//! `Origin`. Requests without either (API clients, curl) pass; browser
//! sessions are additionally protected by `SameSite=Strict` cookies.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The one origin the portal is served from, e.g. `https://registry.example.org`.
#[derive(Clone, Debug)]
pub struct AllowedOrigin(pub String);

pub async fn refuse_cross_site(
    State(allowed): State<AllowedOrigin>,
    request: Request,
    next: Next,
) -> Response {
    if is_safe(request.method()) || comes_from_this_site(&request, &allowed) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "cross-site request refused");
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Cross-site request refused. Submit the form from the Counsel Registry site itself.",
    )
        .into_response()
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn comes_from_this_site(request: &Request, allowed: &AllowedOrigin) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        // "none": typed by the user; "same-origin": our own pages.
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    match headers.get(header::ORIGIN) {
        Some(origin) => origin.as_bytes() == allowed.0.as_bytes(),
        None => true,
    }
}
