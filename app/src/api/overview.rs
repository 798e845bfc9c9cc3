//! Site admins' overview: how the registry and its consumers are doing,
//! drawn as charts on the server (issue 16, item 6).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::chart::Point;
use crate::error::AppError;

/// Weeks the time charts cover, the current one last.
pub const WEEKS_SHOWN: usize = 12;
/// Days the delivery chart covers.
pub const DELIVERY_DAYS: i64 = 30;

/// Everything the overview draws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// The registry's head seq and how many numbers it holds now.
    pub head: i64,
    pub privileged: i64,
    /// New registrations per week, labelled by the week's first day.
    pub registrations: Vec<Point>,
    /// Privileged numbers at the end of each week.
    pub registry_size: Vec<Point>,
    /// Seqs each provider is behind the head.
    pub provider_lag: Vec<Point>,
    /// Minutes the oldest unacknowledged change has waited, by facility.
    pub facility_lag: Vec<Point>,
    /// Codes sent in the last [`DELIVERY_DAYS`] days by channel and
    /// outcome.
    pub deliveries: Vec<Point>,
}

#[server(endpoint = "overview_page")]
pub async fn overview_page() -> Result<Overview, AppError> {
    use crate::domain::Channel;
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::infra::clock::{now_millis, utc_date};
    use crate::ssr::providers::{self, facilities};
    use crate::ssr::{auth, infra::session, numbers, registry};

    const DAY: i64 = 86_400_000;
    const WEEK: i64 = 7 * DAY;

    let session = session::current().await?;
    auth::require(&session, Permission::ViewOverview).await?;
    let state = auth::state()?;
    let pool = state.database.pool();
    let now = now_millis();
    // Whole days, the last week ending with today.
    let from = now - now.rem_euclid(DAY) + DAY - WEEK * WEEKS_SHOWN as i64;
    let week_label = |index: usize| {
        let date = utc_date(from + WEEK * index as i64);
        // "2026-11-30" → "11-30": the year is in the heading's range.
        date.get(5..).unwrap_or(&date).to_owned()
    };
    let weekly = |values: Vec<i64>| {
        values
            .into_iter()
            .enumerate()
            .map(|(index, value)| Point {
                label: week_label(index),
                value,
            })
            .collect::<Vec<_>>()
    };
    let registrations =
        weekly(numbers::registrations_per_period(pool, from, WEEK, WEEKS_SHOWN).await?);
    let registry_size = weekly(registry::size_per_period(pool, from, WEEK, WEEKS_SHOWN).await?);
    let head = registry::head(pool).await?;
    let provider_lag = providers::overview(pool)
        .await?
        .into_iter()
        .map(|provider| Point {
            label: provider.name,
            value: head - provider.acked_seq.unwrap_or(0),
        })
        .collect();
    let facility_lag = facilities::health(pool)
        .await?
        .into_iter()
        .map(|health| Point {
            label: format!("{} {}", health.provider, health.facility.code),
            value: health.lag_ms / 60_000,
        })
        .collect();
    let deliveries = numbers::delivery_outcomes(pool, now - DELIVERY_DAYS * DAY)
        .await?
        .into_iter()
        .map(|(channel, status, count)| Point {
            label: format!(
                "{} {}",
                match channel {
                    Channel::Sms => "SMS",
                    Channel::Voice => "Call",
                },
                status.map_or("(no report)", |status| status.as_str())
            )
            .replace('_', " "),
            value: count,
        })
        .collect();
    Ok(Overview {
        head,
        privileged: state.registry.privileged_count() as i64,
        registrations,
        registry_size,
        provider_lag,
        facility_lag,
        deliveries,
    })
}
