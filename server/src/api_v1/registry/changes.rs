//! `GET /registry/changes`: the change feed, a page of changes after a
//! seq, waiting up to a minute (long-poll) when there is none yet.

use std::time::Duration;

use app::ssr::providers::{self, Scope};
use app::ssr::registry;
use app::ssr::state::AppState;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::auth::Caller;
use super::super::problem::{ApiError, Problem};
use super::super::read_log::ReadLog;
use super::super::time::rfc3339;
use super::{KEY_CHECK_EVERY, MAX_WAIT_SECS, number_param};

/// Default and largest page of the change feed.
const DEFAULT_LIMIT: i64 = 1000;
const MAX_LIMIT: i64 = 10_000;

/// The feed's query parameters, as text: a malformed one is a 400 naming
/// it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Changes after this seq (default 0: from the start).
    after: Option<String>,
    /// At most this many (default 1000, at most 10000).
    limit: Option<String>,
    /// Seconds to wait for a change when there is none yet (at most 60).
    wait: Option<String>,
}

// One change of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeItem {
    pub seq: i64,
    pub e164: String,
    /// "add" or "remove".
    pub op: String,
    /// RFC 3339.
    pub at: String,
}

// A page of the feed, and where the next begins.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<ChangeItem>,
    /// The `after` of the next request.
    pub next_after: i64,
    pub has_more: bool,
}

// The changes after `after` in seq order; with `wait`, held open until
// one is committed (or the wait ends). 401 if the key is revoked while
// it waits.
#[utoipa::path(
    get,
    path = "/api/v1/registry/changes",
    tag = "registry",
    params(ChangesQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Changes after `after`, in seq order", body = ChangesPage),
        (status = 400, description = "A malformed `after`, `limit` or `wait`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn changes(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    caller: Caller,
    Query(query): Query<ChangesQuery>,
) -> Result<Json<ChangesPage>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let after = number_param(query.after.as_deref(), "after", 0, 0..=i64::MAX)?;
    let limit = number_param(
        query.limit.as_deref(),
        "limit",
        DEFAULT_LIMIT,
        1..=MAX_LIMIT,
    )?;
    let wait = number_param(query.wait.as_deref(), "wait", 0, 0..=MAX_WAIT_SECS as i64)?;
    log.record(
        caller.0.key_id,
        format!("changes after={after} limit={limit}"),
    );
    let pool = state.database.pool();
    // Subscribed before the first read, so a change committed between the
    // two still wakes the wait.
    let mut head = state.registry.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
    let mut rows = registry::changes_after(pool, after, limit + 1).await?;
    // The wait holds no connection: it sleeps on the instance's copy of
    // the head ([`app::ssr::registry::mirror`]), checking only now and
    // then that the key is still active.
    while rows.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::select! {
            // The guard `wait_for` returns is dropped at once: it holds
            // the watch's lock.
            moved = async { head.wait_for(|head| *head > after).await.is_ok() } => {
                if !moved {
                    break;
                }
                rows = registry::changes_after(pool, after, limit + 1).await?;
                if rows.is_empty() {
                    // Not expected (the copy's head comes from the same
                    // log), but never a busy loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
            () = tokio::time::sleep(KEY_CHECK_EVERY) => {
                // A long-poll of a key revoked meanwhile ends as a new
                // request with it would: 401.
                if !providers::key_is_active(pool, caller.0.key_id).await? {
                    return Err(ApiError::Unauthorized);
                }
            }
        }
    }
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_after = rows.last().map_or(after, |change| change.seq);
    Ok(Json(ChangesPage {
        changes: rows
            .into_iter()
            .map(|change| ChangeItem {
                seq: change.seq,
                e164: change.e164,
                op: change.op.as_str().to_owned(),
                at: rfc3339(change.at),
            })
            .collect(),
        next_after,
        has_more,
    }))
}
