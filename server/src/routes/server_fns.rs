//! The server functions' answers, put right on the way out.
//!
//! - server_fn 0.8 answers every error with 500 (`error_response` in
//!   `server_fn::response::http`), so a refused password or a form that
//!   could not be read counted as the server's own failure in the logs,
//!   the metrics and at the proxy. The error's body is an [`AppError`] in
//!   JSON; its own status ([`AppError::status_code`]) is put back.
//! - A form posted without JavaScript is sent back to the page it came
//!   from with the error in `__path`/`__err` (server_fn's `ServerFnUrlError`),
//!   appended to that page's address: a form refused twice came back with
//!   two pairs, and the page showed the first. Only the latest is kept.

use app::error::AppError;
use app::ssr::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::prelude::provide_context;
use leptos_axum::handle_server_fns_with_context;

/// The header server_fn sets on an error's answer
/// (`server_fn::SERVER_FN_ERROR_HEADER`).
const ERROR_HEADER: &str = "serverfnerror";
/// An error's JSON is a sentence or two; anything longer is not ours.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// `POST /api/{fn_name}` for a name no server function has (leptos_axum
/// routes each server function by its own path, through [`answer`] too).
pub async fn handler(State(state): State<AppState>, request: Request<Body>) -> Response {
    handle_server_fns_with_context(move || provide_context(state.clone()), request)
        .await
        .into_response()
}

/// Middleware over every route: puts a server function's answer right
/// (see the module's documentation). Other answers pass unchanged.
pub async fn answer(request: Request<Body>, next: Next) -> Response {
    let response = with_error_status(next.run(request).await).await;
    with_latest_error_only(response)
}

/// Gives an error answer its [`AppError`]'s status instead of 500.
async fn with_error_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Keeps only the last `__path`/`__err` pair in a redirect's `Location`.
fn with_latest_error_only(mut response: Response) -> Response {
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
    else {
        return response;
    };
    if let Some(kept) = latest_error_only(location)
        && let Ok(value) = HeaderValue::from_str(&kept)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `location` with every `__path`/`__err` pair but the last removed; None
/// when there was at most one of each (nothing to change) or it is not an
/// absolute URL (server_fn only appends to the absolute `Referer`).
fn latest_error_only(location: &str) -> Option<String> {
    let mut url = url::Url::parse(location).ok()?;
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let count = |name: &str| pairs.iter().filter(|(key, _)| key == name).count();
    if count("__err") <= 1 && count("__path") <= 1 {
        return None;
    }
    let last = |name: &str| pairs.iter().rposition(|(key, _)| key == name);
    let (last_path, last_err) = (last("__path"), last("__err"));
    let kept = pairs
        .iter()
        .enumerate()
        .filter(|(index, (key, _))| match key.as_str() {
            "__path" => Some(*index) == last_path,
            "__err" => Some(*index) == last_err,
            _ => true,
        });
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept.map(|(_, pair)| pair));
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::latest_error_only;

    #[test]
    fn a_form_refused_twice_keeps_the_latest_error() {
        assert_eq!(
            latest_error_only(
                "http://127.0.0.1:3000/login?next=%2Fnumbers&__path=%2Fapi%2Flog_in&__err=Zmlyc3Q&__path=%2Fapi%2Flog_in&__err=c2Vjb25k"
            )
            .as_deref(),
            Some("http://127.0.0.1:3000/login?next=%2Fnumbers&__path=%2Fapi%2Flog_in&__err=c2Vjb25k")
        );
    }

    #[test]
    fn one_error_or_none_is_left_alone() {
        for location in [
            "http://127.0.0.1:3000/login?__path=%2Fapi%2Flog_in&__err=Zmlyc3Q",
            "http://127.0.0.1:3000/numbers?sent=3",
            "/numbers?sent=3",
        ] {
            assert_eq!(latest_error_only(location), None, "{location}");
        }
    }
}
