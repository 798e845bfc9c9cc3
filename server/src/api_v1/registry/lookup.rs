//! `GET /numbers/{e164}`: whether one number is privileged now (from this
//! instance's copy of the registry) or was at a past instant
//! ([`app::ssr::registry::privileged_at`]).

use app::domain::phone::PhoneNumber;
use app::ssr::providers::Scope;
use app::ssr::registry::mirror::PrivilegeNow;
use app::ssr::registry::{self, PrivilegeAt};
use app::ssr::state::AppState;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::auth::Caller;
use super::super::problem::{ApiError, Problem};
use super::super::read_log::ReadLog;
use super::super::time::{parse_rfc3339, rfc3339};

/// The look-up's query parameters, as text: an unreadable instant is a
/// 400.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// An RFC 3339 instant; now when absent.
    at: Option<String>,
}

// A number's state at an instant, and the interval around it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lookup {
    pub e164: String,
    pub privileged: bool,
    /// Privileged: when it became so. Otherwise: when it last stopped.
    pub since: Option<String>,
    /// Privileged: when it stopped (null while it is). Otherwise: when it
    /// next became privileged (null if it has not).
    pub until: Option<String>,
}

// Whether the number is privileged now, or was at `at`; 400 for an
// unreadable number or instant.
#[utoipa::path(
    get,
    path = "/api/v1/numbers/{e164}",
    tag = "numbers",
    params(("e164" = String, Path, description = "The number, in any common format"), LookupQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Whether the number is (was) privileged", body = Lookup),
        (status = 400, description = "An unreadable number or instant", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    caller: Caller,
    Path(raw): Path<String>,
    Query(query): Query<LookupQuery>,
) -> Result<Json<Lookup>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    // A number sent exactly as the registry keeps it (E.164, as providers'
    // systems send it) and held in this instance's copy was read and
    // checked when it entered the registry: it is answered from the copy
    // without libphonenumber, whose reading costs more than the rest of
    // the look-up's own work (measured: `.ci/bench-api`). Anything else is
    // read in full, so an unreadable number still gets its 400.
    let held = match query.at {
        None => state.registry.known_now(&raw).await?,
        Some(_) => None,
    };
    let (e164, found) = match held {
        Some(now) => (raw, at_now(now)),
        None => {
            let phone = PhoneNumber::parse(&raw)
                .map_err(|error| ApiError::BadRequest(error.to_string()))?;
            let found = match query.at.as_deref() {
                Some(at) => {
                    let at = parse_rfc3339(at, "at")?;
                    registry::privileged_at(state.database.pool(), phone.as_str(), at).await?
                }
                // Now: from this instance's copy, no query.
                None => at_now(state.registry.privilege_now(phone.as_str()).await?),
            };
            (phone.as_str().to_owned(), found)
        }
    };
    log.record_lookup(caller.0.key_id);
    Ok(Json(Lookup {
        e164,
        privileged: found.privileged,
        since: found.since.map(rfc3339),
        until: found.until.map(rfc3339),
    }))
}

/// A number's state now in the shape of a point-in-time answer: nothing
/// has become privileged after now, so `until` is always null.
fn at_now(now: PrivilegeNow) -> PrivilegeAt {
    PrivilegeAt {
        privileged: now.privileged,
        since: now.since,
        until: None,
    }
}
