//! Reading the registry: the snapshot, the change feed, acknowledgements
//! and the look-up of one number, now or at a past instant. One endpoint a
//! file, each with its OpenAPI description and its own shapes:
//!
//! | route                          | handler                      |
//! |--------------------------------|------------------------------|
//! | `GET /registry/snapshot`       | [`snapshot::snapshot`] (its body: [`snapshot_body`]) |
//! | `GET /registry/changes`        | [`changes::changes`]         |
//! | `POST /registry/acks`          | [`acks::acknowledge`]        |
//! | `GET /registry/digests`        | [`digests::digests`]         |
//! | `GET /numbers/{e164}`          | [`lookup::lookup`]           |
//!
//! The routes are mounted by `api_v1::router`; this module holds what the
//! endpoints share: the reading of whole-number parameters, the 409 of a
//! seq past the head, and how often a long request checks its key. The
//! queries are the registry capability's (`app::ssr::registry`) and the
//! providers' (`app::ssr::providers`).
//!
//! The handlers, and the shapes the OpenAPI document gives no
//! description, are described in `//` comments, not `///`: utoipa would
//! put a doc comment into the document, which stays as published.

pub(super) mod acks;
pub(super) mod changes;
pub(super) mod digests;
pub(super) mod lookup;
pub(super) mod snapshot;
mod snapshot_body;

use std::time::Duration;

use app::ssr::registry::digest;

use super::problem::ApiError;

pub use acks::{AckRequest, AckResponse};
pub use changes::{ChangeItem, ChangesPage};
pub use digests::{BucketDigest, DigestsResponse};
pub use lookup::Lookup;
pub use snapshot::{Snapshot, SnapshotNumber};
pub(super) use snapshot_body::sweep_spool;

/// Longest long-poll, in seconds.
pub(super) const MAX_WAIT_SECS: u64 = 60;
/// How often a long request (long-poll, snapshot) checks that its key is
/// still unrevoked: as often as a revoked key could pass the key cache.
const KEY_CHECK_EVERY: Duration = super::auth::KEY_CACHE_TTL;

/// A whole number in `range`, or a 400 naming the parameter.
fn number_param(
    raw: Option<&str>,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|value| range.contains(value))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

/// A seq past the head is the provider's 409.
fn digest_refusal(error: digest::DigestError) -> ApiError {
    match error {
        digest::DigestError::PastHead { .. } => ApiError::Conflict(error.to_string()),
        digest::DigestError::Database(cause) => ApiError::internal(cause),
    }
}
