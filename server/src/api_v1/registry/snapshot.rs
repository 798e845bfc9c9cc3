//! `GET /registry/snapshot`: the privileged set and the seq it reflects,
//! now or at a past seq, whole or one bucket, as JSON or NDJSON. This file
//! reads the request and opens the read; the body is streamed by
//! [`super::snapshot_body`].

use app::ssr::providers::Scope;
use app::ssr::registry::{self, digest};
use app::ssr::state::AppState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::auth::Caller;
use super::super::limits::ApiCaps;
use super::super::problem::{ApiError, Problem};
use super::super::read_log::ReadLog;
use super::snapshot_body::{self, Bounds, Reading};
use super::{digest_refusal, number_param};

/// A privileged number in the snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotNumber {
    /// E.164, e.g. "+12024561111".
    pub e164: String,
    /// When it became privileged (RFC 3339).
    pub since: String,
}

/// The privileged set and the seq it reflects (`application/json`).
/// With `Accept: application/x-ndjson`: a first line `{"as_of_seq": N}`,
/// then one `SnapshotNumber` a line.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    pub as_of_seq: i64,
    /// Sorted by e164.
    pub numbers: Vec<SnapshotNumber>,
}

/// The snapshot's query parameters, as text: a malformed one is a 400
/// naming it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// The registry as it was at this seq (at most the head); the head
    /// when absent.
    as_of_seq: Option<String>,
    /// Only the numbers of this bucket (0 to 255: the first byte of the
    /// SHA-256 of the E.164 text), as listed by /registry/digests.
    bucket: Option<String>,
}

// Streams the privileged set (the whole of it, or one bucket, now or at
// a past seq); 409 when `as_of_seq` is past the head; 429 or 503 when the
// key or the instance streams as many snapshots as it may; cut off at the
// snapshot's deadline (`limits::ApiCaps`).
#[utoipa::path(
    get,
    path = "/api/v1/registry/snapshot",
    tag = "registry",
    params(SnapshotQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "The privileged numbers, streamed. With `Accept: application/x-ndjson` the same as NDJSON: a first line {\"as_of_seq\": N}, then one SnapshotNumber a line.", body = Snapshot),
        (status = 400, description = "A malformed `as_of_seq` or `bucket`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`as_of_seq` is past the head", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit, or the key already has as many snapshots streaming as one key may (2 by default); `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The server already streams as many snapshots as it may for all keys; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn snapshot(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    Extension(caps): Extension<ApiCaps>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<SnapshotQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let ndjson = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/x-ndjson"));
    let as_of_seq = match query.as_of_seq.as_deref() {
        Some(raw) => Some(number_param(Some(raw), "as_of_seq", 0, 0..=i64::MAX)?),
        None => None,
    };
    let bucket = match query.bucket.as_deref() {
        Some(raw) => Some(number_param(Some(raw), "bucket", 0, 0..=255)? as u8),
        None => None,
    };
    // The deadline counts from the request; the place is held by the
    // stream's producer until the stream ends.
    let bounds = Bounds {
        permit: caps.snapshots.enter(caller.0.key_id)?,
        deadline: tokio::time::Instant::now() + caps.snapshot_deadline,
        spool_dir: caps.spool_dir.clone(),
    };
    let pool = state.database.pool().clone();
    // Begun before answering, so a seq past the head is a 409, not a
    // body cut short.
    let reading = match (as_of_seq, bucket) {
        (None, None) => Reading::Now(digest::begin_read(&pool).await?),
        (as_of_seq, bucket) => {
            let as_of_seq = match as_of_seq {
                Some(seq) => seq,
                None => registry::head(&pool).await?,
            };
            let transaction = digest::begin_read_at(&pool, as_of_seq)
                .await
                .map_err(digest_refusal)?;
            Reading::At {
                transaction,
                as_of_seq,
                bucket,
            }
        }
    };
    log.record(
        caller.0.key_id,
        match (as_of_seq, bucket) {
            (None, None) => "snapshot".into(),
            (seq, bucket) => format!("snapshot as_of_seq={seq:?} bucket={bucket:?}"),
        },
    );
    let body = snapshot_body::stream(pool, caller.0.key_id, reading, ndjson, bounds);
    let content_type = if ndjson {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
