//! Alerts to the site admins about facilities whose lists may not match
//! the registry (issue 15), sent in batches (issue 24, finding 7).
//!
//! A failed reconciliation, or housekeeping finding a facility stale or
//! unreconciled, opens an incident for the facility (once, until a
//! matching reconciliation closes it) and records why. No email goes then:
//! [`send_alerts`], which housekeeping runs every round, emails every site
//! admin one message naming each incident opened since the last batch, at
//! most once per [`ALERT_PERIOD_MS`] across instances. A provider whose
//! thousands of facilities fail at once so costs the admins one email a
//! period, not one per facility each; an incident a match closes before
//! its batch goes is never mailed.
//!
//! Owns the columns `facilities.incident_notified_at` (when the open
//! incident opened), `incident_reason` and `incident_alerted_at` (when a
//! batch named it), and the table `facility_alert_batches`.

use std::collections::HashMap;

use sqlx::{Any, AnyPool, Transaction};

use crate::domain::{EmailAddress, Role};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::messages::{self, FacilityIncident};
use crate::ssr::infra::{db, mail_queue};

use super::facilities::health;

/// At most one alert batch per this period, in milliseconds (15 minutes).
pub const ALERT_PERIOD_MS: i64 = 15 * 60 * 1000;

/// Opens an incident for facility `facility_id` with `reason` at `now`
/// (Unix ms), unless one is open already; in the caller's write
/// transaction. Returns whether this opened one. Its alert goes with the
/// next batch ([`send_alerts`]).
pub(super) async fn open_incident(
    transaction: &mut Transaction<'static, Any>,
    facility_id: i64,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let opened = sqlx::query(
        "UPDATE facilities SET incident_notified_at = $1, incident_reason = $2, \
         incident_alerted_at = NULL WHERE id = $3 AND incident_notified_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(facility_id)
    .execute(&mut **transaction)
    .await?;
    Ok(opened.rows_affected() == 1)
}

/// Closes facility `facility_id`'s incident, if open (a matching
/// reconciliation); in the caller's write transaction.
pub(super) async fn close_incident(
    transaction: &mut Transaction<'static, Any>,
    facility_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE facilities SET incident_notified_at = NULL, incident_reason = NULL, \
         incident_alerted_at = NULL WHERE id = $1",
    )
    .bind(facility_id)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Opens an incident for each facility that has become stale or gone
/// unreconciled, then sends the batch of alerts if one is due
/// ([`send_alerts`]). Housekeeping runs it every round. Returns how many
/// incidents were opened.
pub async fn notify_unhealthy(pool: &AnyPool, base_url: &str) -> Result<usize, sqlx::Error> {
    let now = now_millis();
    let mut unhealthy = Vec::new();
    for facility in health(pool).await? {
        let reason = if facility.stale() {
            format!(
                "it has not acknowledged changes for {} minutes ({} seqs behind)",
                facility.lag_ms / 60_000,
                facility.lag_seqs
            )
        } else if facility.unreconciled(now) {
            "it has not reconciled with a match for more than 24 hours".to_owned()
        } else {
            continue;
        };
        unhealthy.push((facility.facility.id, reason));
    }
    let mut opened = 0;
    if !unhealthy.is_empty() {
        let mut transaction = db::begin_write(pool).await?;
        for (facility_id, reason) in &unhealthy {
            if open_incident(&mut transaction, *facility_id, reason, now).await? {
                opened += 1;
            }
        }
        transaction.commit().await?;
    }
    send_alerts(pool, base_url).await?;
    Ok(opened)
}

/// (provider id, facility name, state, why) of a facility named in a batch.
type Named = (i64, String, String, Option<String>);

/// Emails every site admin one message naming each facility (not retired)
/// whose incident opened since the last batch, unless a batch went out
/// within [`ALERT_PERIOD_MS`]; the batch is logged in
/// `facility_alert_batches` and the emails queued in the same transaction
/// (the worker sends them). Instances take turns (a named lock), so two
/// never send a batch each. Returns how many facilities the batch named
/// (0: none was sent).
pub async fn send_alerts(pool: &AnyPool, base_url: &str) -> Result<usize, sqlx::Error> {
    let mut transaction = db::begin_write(pool).await?;
    db::lock_named(&mut transaction, "facility-alerts").await?;
    let now = now_millis();
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(sent_at) FROM facility_alert_batches")
        .fetch_one(&mut *transaction)
        .await?;
    if last.is_some_and(|last| now - last < ALERT_PERIOD_MS) {
        transaction.commit().await?;
        return Ok(0);
    }
    // Marked and read in one statement: an incident opened meanwhile is
    // either named here or left for the next batch, never marked unnamed.
    let named: Vec<Named> = sqlx::query_as(
        "UPDATE facilities SET incident_alerted_at = $1 \
         WHERE incident_notified_at IS NOT NULL AND incident_alerted_at IS NULL \
           AND retired_at IS NULL \
         RETURNING provider_id, name, state, incident_reason",
    )
    .bind(now)
    .fetch_all(&mut *transaction)
    .await?;
    if named.is_empty() {
        transaction.commit().await?;
        return Ok(0);
    }
    let providers: HashMap<i64, String> = sqlx::query_as("SELECT id, name FROM providers")
        .fetch_all(&mut *transaction)
        .await?
        .into_iter()
        .collect();
    let mut incidents: Vec<FacilityIncident> = named
        .into_iter()
        .map(|(provider_id, facility, state, reason)| FacilityIncident {
            facility,
            state,
            provider: providers.get(&provider_id).cloned().unwrap_or_default(),
            reason: reason.unwrap_or_else(|| "its list may differ from the registry".to_owned()),
        })
        .collect();
    incidents.sort_by(|a, b| {
        (&a.provider, &a.state, &a.facility).cmp(&(&b.provider, &b.state, &b.facility))
    });
    sqlx::query("INSERT INTO facility_alert_batches (sent_at, facilities) VALUES ($1, $2)")
        .bind(now)
        .bind(incidents.len() as i64)
        .execute(&mut *transaction)
        .await?;
    let message = messages::facility_incidents(
        &incidents,
        ALERT_PERIOD_MS / 60_000,
        &format!("{base_url}/admin/facilities"),
    );
    let admins: Vec<String> =
        sqlx::query_scalar("SELECT email FROM users WHERE role = $1 ORDER BY id")
            .bind(Role::SiteAdmin)
            .fetch_all(&mut *transaction)
            .await?;
    for admin in admins {
        let Ok(to) = EmailAddress::parse(&admin) else {
            continue;
        };
        let _queued = mail_queue::queue(&mut *transaction, &to, message.clone()).await?;
    }
    transaction.commit().await?;
    tracing::warn!(
        facilities = incidents.len(),
        "site admins alerted about facilities"
    );
    Ok(incidents.len())
}
