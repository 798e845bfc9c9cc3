//! `GET /registry/digests`: the registry's digests at a seq, the whole
//! set's and the 256 buckets' (`app::ssr::registry::digest`), computed
//! once per seq on each instance (the instance's `DigestCache`) and within
//! the digest caps (`limits::ApiCaps`).

use app::ssr::providers::Scope;
use app::ssr::registry;
use app::ssr::state::AppState;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::auth::Caller;
use super::super::limits::ApiCaps;
use super::super::problem::{ApiError, Problem};
use super::super::read_log::ReadLog;
use super::{digest_refusal, number_param};

/// The digests' query parameters, as text: a malformed one is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DigestsQuery {
    /// The registry as it was at this seq (at most the head); the head
    /// when absent.
    as_of_seq: Option<String>,
}

/// One bucket's share of the registry at a seq.
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketDigest {
    /// 0 to 255: the first byte of the SHA-256 of a number's E.164 text.
    pub bucket: u8,
    pub count: i64,
    /// SHA-256 (lower-case hex) of the bucket's E.164 numbers sorted by
    /// byte order, each followed by "\n".
    pub digest: String,
}

/// The registry's digests at a seq: the whole set's and the 256
/// buckets', so a facility whose reconciliation failed can fetch only the
/// buckets that differ.
#[derive(Debug, Serialize, ToSchema)]
pub struct DigestsResponse {
    pub as_of_seq: i64,
    /// The whole set's count and digest (what a reconciliation compares).
    pub count: i64,
    pub digest: String,
    /// 256 of them, by bucket.
    pub buckets: Vec<BucketDigest>,
}

// The digests at `as_of_seq` (the head when absent); 409 past the head;
// 429 or 503 when the key or the instance computes as many digests as it
// may.
#[utoipa::path(
    get,
    path = "/api/v1/registry/digests",
    tag = "registry",
    params(DigestsQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "The whole set's and the 256 buckets' counts and digests", body = DigestsResponse),
        (status = 400, description = "A malformed `as_of_seq`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`as_of_seq` is past the head", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit, or the key already has as many digests and reconciliations computing as one key may (2 by default); `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The server already computes as many digests and reconciliations as it may for all keys; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn digests(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    Extension(caps): Extension<ApiCaps>,
    caller: Caller,
    Query(query): Query<DigestsQuery>,
) -> Result<Json<DigestsResponse>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let _permit = caps.digests.enter(caller.0.key_id)?;
    let pool = state.database.pool();
    let as_of_seq = match query.as_of_seq.as_deref() {
        Some(raw) => number_param(Some(raw), "as_of_seq", 0, 0..=i64::MAX)?,
        None => registry::head(pool).await?,
    };
    log.record(caller.0.key_id, format!("digests as_of_seq={as_of_seq}"));
    let digests = caps
        .digest_cache
        .digests_at(pool, as_of_seq)
        .await
        .map_err(digest_refusal)?;
    Ok(Json(DigestsResponse {
        as_of_seq: digests.as_of_seq,
        count: digests.whole.count,
        digest: digests.whole.digest.clone(),
        buckets: digests
            .buckets
            .iter()
            .enumerate()
            .map(|(bucket, set)| BucketDigest {
                bucket: bucket as u8,
                count: set.count,
                digest: set.digest.clone(),
            })
            .collect(),
    }))
}
