//! Site admins watch every facility: how far behind its list is, when it
//! last reconciled and whether that matched (issue 15).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::FacilityKind;
use crate::error::AppError;

/// One facility's row on the site admins' page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilityRow {
    pub id: i64,
    pub provider: String,
    pub code: String,
    pub name: String,
    pub state: String,
    pub kind: FacilityKind,
    /// After a vendor switch, until a reconciliation matches.
    pub pending: bool,
    /// "through seq N, 2026-12-01 10:00 UTC", or None: never.
    pub acked: Option<String>,
    pub lag_seqs: i64,
    pub lag_minutes: i64,
    /// "2026-12-01 10:00 UTC: matched" / ": did not match"; None: never.
    pub last_reconciliation: Option<String>,
    /// Past an hour of lag.
    pub stale: bool,
    /// No matching reconciliation for over 24 hours.
    pub unreconciled: bool,
    /// The facility it took over from another provider, in words.
    pub switched_from: Option<String>,
    /// Other providers' facilities in the same state it could be linked
    /// to: (id, "name (code) · provider").
    pub candidates: Vec<(i64, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilitiesOverview {
    pub head: i64,
    pub facilities: Vec<FacilityRow>,
}

#[server(endpoint = "facilities_page")]
pub async fn facilities_page() -> Result<FacilitiesOverview, AppError> {
    use crate::domain::FacilityStatus;
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::infra::clock::{now_millis, utc_date_time};
    use crate::ssr::providers::facilities;
    use crate::ssr::{auth, infra::session};

    let session = session::current().await?;
    auth::require(&session, Permission::ManageProviders).await?;
    let state = auth::state()?;
    let pool = state.database.pool();
    let head = crate::ssr::registry::head(pool).await?;
    let now = now_millis();
    let all = facilities::all_facilities(pool).await?;
    let describe = |id: i64| {
        all.iter()
            .find(|f| f.0 == id)
            .map(|(_, _, provider, code, name, _)| format!("{name} ({code}) · {provider}"))
    };
    let facilities = facilities::health(pool)
        .await?
        .into_iter()
        .map(|health| FacilityRow {
            id: health.facility.id,
            switched_from: health.facility.predecessor_id.and_then(describe),
            candidates: all
                .iter()
                .filter(|(_, provider_id, _, _, _, state)| {
                    *provider_id != health.facility.provider_id && *state == health.facility.state
                })
                .map(|(id, _, provider, code, name, _)| {
                    (*id, format!("{name} ({code}) · {provider}"))
                })
                .collect(),
            stale: health.stale(),
            unreconciled: health.unreconciled(now),
            provider: health.provider,
            code: health.facility.code,
            name: health.facility.name,
            state: health.facility.state,
            kind: health.facility.kind,
            pending: health.facility.status == FacilityStatus::Pending,
            acked: health
                .acked_seq
                .zip(health.acked_at)
                .map(|(seq, at)| format!("through seq {seq}, {}", utc_date_time(at))),
            lag_seqs: health.lag_seqs,
            lag_minutes: health.lag_ms / 60_000,
            last_reconciliation: health.reconciled_at.map(|at| {
                let result = if health.reconciled_matched == Some(true) {
                    "matched"
                } else {
                    "did not match"
                };
                format!("{}: {result}", utc_date_time(at))
            }),
        })
        .collect();
    Ok(FacilitiesOverview { head, facilities })
}

/// One facility as an attorney sees it for one of their numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRow {
    pub facility: String,
    pub state: String,
    pub provider: String,
    /// The date (UTC) it first applied the number; None: not yet.
    pub applied_on: Option<String>,
    /// The date (UTC) of its last matching reconciliation since; None:
    /// it has not reconciled since the number entered.
    pub reconciled_on: Option<String>,
    /// After a change of provider, until its list matched.
    pub pending: bool,
}

/// An attorney's number in the registry, with the facilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberFacilities {
    pub display: String,
    pub facilities: Vec<AppliedRow>,
}

/// At most this many facilities a number.
pub const FACILITIES_SHOWN: i64 = 200;

/// For each of the attorney's numbers in the registry, the facilities
/// that applied it and whether each reconciled since, matching `search`
/// (a part of a facility's name, or a state's USPS code; empty: all).
#[server(endpoint = "my_facilities")]
pub async fn my_facilities(search: String) -> Result<Vec<NumberFacilities>, AppError> {
    use crate::domain::{FacilityStatus, RegistrationStatus};
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::infra::clock::utc_date;
    use crate::ssr::providers::facilities;
    use crate::ssr::{auth, infra::session};

    let session = session::current().await?;
    let account = auth::require(&session, Permission::ManageOwnNumbers).await?;
    let state = auth::state()?;
    let pool = state.database.pool();
    let search: String = search.chars().take(100).collect();
    let mut answer = Vec::new();
    for registration in crate::ssr::numbers::list(pool, account.id).await? {
        if registration.status != RegistrationStatus::Active {
            continue;
        }
        let rows = facilities::applied_at(pool, &registration.e164, &search, FACILITIES_SHOWN)
            .await?
            .into_iter()
            .map(|row| AppliedRow {
                facility: row.name,
                state: row.state,
                provider: row.provider,
                applied_on: row.applied_at.map(utc_date),
                reconciled_on: row.reconciled_at.map(utc_date),
                pending: row.status == FacilityStatus::Pending,
            })
            .collect();
        answer.push(NumberFacilities {
            display: crate::domain::phone::PhoneNumber::national_display(&registration.e164),
            facilities: rows,
        });
    }
    Ok(answer)
}

/// A site admin marks a facility as the place another provider's
/// facility served before: it becomes pending until it reconciles with a
/// match.
#[server(endpoint = "link_facility")]
pub async fn link_facility(facility: String, predecessor: String) -> Result<(), AppError> {
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::infra::audit_trail::Actor;
    use crate::ssr::providers::facilities::{self, FacilityError};
    use crate::ssr::{auth, infra::session};

    let session = session::current().await?;
    let account = auth::require(&session, Permission::ManageProviders).await?;
    let id = |raw: &str| {
        raw.trim()
            .parse::<i64>()
            .map_err(|_| AppError::Validation("Choose the facility it took over from.".into()))
    };
    let state = auth::state()?;
    let actor = Actor::Account {
        id: account.id,
        email: account.email,
    };
    match facilities::link_predecessor(
        state.database.pool(),
        &actor,
        id(&facility)?,
        id(&predecessor)?,
    )
    .await
    {
        Ok(()) => {
            leptos_axum::redirect("/admin/facilities?linked=1");
            Ok(())
        }
        Err(FacilityError::Database(cause)) => Err(AppError::unexpected(cause)),
        Err(other) => Err(AppError::Validation(format!("{other}."))),
    }
}
