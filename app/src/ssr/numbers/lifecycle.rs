//! A registration's life: added pending proof, removed by the attorney,
//! revoked by a site admin (the hold that may follow is `holds`'),
//! following the attorney's standing, renewal reminders and expiry a
//! year after the proof. Here because each of these moves a
//! registration's status, and every move to or from `active` goes
//! through a registry write.

use sqlx::AnyPool;

use crate::domain::phone::{Extension, NumberLabel, PhoneNumber};
use crate::domain::{RegistrationStatus, Role, Standing};
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::registry::{self, Change, RegistryWrite};

use super::holds::{HELD_FOR_REVIEW, NOT_BOUND_BY_REVOCATION, notify_held};
use super::{NumberError, parse_email};

/// Registers `phone` for the attorney, pending proof. Returns its id.
pub async fn add_number(
    pool: &AnyPool,
    user_id: i64,
    phone: &PhoneNumber,
    label: Option<NumberLabel>,
    extension: Option<&Extension>,
) -> Result<i64, NumberError> {
    // A revocation is a decision about this attorney and this number: it
    // holds until an administrator says otherwise, not until re-added.
    let revoked: Option<Option<String>> = sqlx::query_scalar(
        "SELECT status_reason FROM registrations \
         WHERE user_id = $1 AND e164 = $2 AND status = 'revoked' ORDER BY id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(phone.as_str())
    .fetch_optional(pool)
    .await?;
    if let Some(reason) = revoked {
        return Err(NumberError::Revoked {
            reason: reason.unwrap_or_default(),
        });
    }
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO registrations (user_id, e164, label, extension, status, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(user_id)
    .bind(phone.as_str())
    .bind(label.map(NumberLabel::as_str))
    .bind(extension.map(Extension::as_str))
    .bind(now_millis())
    .fetch_optional(pool)
    .await?;
    id.ok_or(NumberError::AlreadyRegistered)
}

/// The attorney removes one of their numbers.
pub async fn remove_number(
    pool: &AnyPool,
    user_id: i64,
    registration_id: i64,
) -> Result<(), NumberError> {
    let mut write = registry::begin_write(pool).await?;
    let e164: String = sqlx::query_scalar(
        "UPDATE registrations SET status = 'removed', status_reason = 'removed by the attorney' \
         WHERE id = $1 AND user_id = $2 AND status NOT IN ('removed', 'revoked') RETURNING e164",
    )
    .bind(registration_id)
    .bind(user_id)
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(NumberError::NotFound)?;
    registry::refresh(&mut write, &e164).await?;
    write.commit().await?;
    Ok(())
}

/// A site admin ends a registration, with a reason the attorney is
/// emailed (queued in the same transaction). The attorney cannot add the
/// number back ([`add_number`] refuses it). Others who hold it keep it;
/// if it was proven, other accounts' registrations of the number first
/// proven after it are held for review when they would next become
/// active (their proof or renewal, a change of standing): see `holds`.
/// `NotFound` unless the registration is current.
pub async fn revoke(
    pool: &AnyPool,
    actor: &Actor,
    admin_id: i64,
    registration_id: i64,
    reason: &str,
    base_url: &str,
) -> Result<(), NumberError> {
    let mut write = registry::begin_write(pool).await?;
    let (e164, user_id): (String, i64) = sqlx::query_as(
        "UPDATE registrations SET status = 'revoked', status_reason = $1, revoked_by = $2, \
           revoked_at = $3 \
         WHERE id = $4 AND status NOT IN ('removed', 'revoked') RETURNING e164, user_id",
    )
    .bind(reason)
    .bind(admin_id)
    .bind(now_millis())
    .bind(registration_id)
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(NumberError::NotFound)?;
    registry::refresh(&mut write, &e164).await?;
    let (email, name): (String, String) =
        sqlx::query_as("SELECT email, full_name FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *write.transaction)
            .await?;
    let display = PhoneNumber::national_display(&e164);
    let message = messages::revocation_notice(&name, &display, reason, base_url);
    let _queued =
        mail_queue::queue(&mut *write.transaction, &parse_email(&email)?, message).await?;
    audit_trail::append(
        &mut write.transaction,
        actor,
        AuditAction::RegistrationRevoked,
        &format!("registration {registration_id} of {e164} (attorney {user_id} <{email}>)"),
        reason,
    )
    .await?;
    write.commit().await?;
    Ok(())
}

/// One attorney's registration of a number, as a site admin sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Holder {
    pub registration_id: i64,
    pub full_name: String,
    pub email: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub status: RegistrationStatus,
    pub status_reason: Option<String>,
    pub expires_at: Option<i64>,
    /// When it was held for review (Unix ms), while it is.
    pub held_at: Option<i64>,
}

/// Every registration of `phone`, current ones first, for the admin's
/// look-up.
pub async fn holders(pool: &AnyPool, phone: &PhoneNumber) -> Result<Vec<Holder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS registration_id, u.full_name, u.email, u.jurisdiction, u.bar_number, \
           r.status, r.status_reason, r.expires_at, r.held_at \
         FROM registrations r JOIN users u ON u.id = r.user_id WHERE r.e164 = $1 \
         ORDER BY CASE WHEN r.status IN ('removed', 'revoked', 'expired') THEN 1 ELSE 0 END, \
           r.id DESC",
    )
    .bind(phone.as_str())
    .fetch_all(pool)
    .await
}

/// Brings one account's numbers in line with its standing and role in a
/// registry write of its own (after a promotion to admin, for instance).
pub async fn follow_account(pool: &AnyPool, user_id: i64) -> Result<(), sqlx::Error> {
    let mut write = registry::begin_write(pool).await?;
    follow_standing(&mut write, user_id).await?;
    write.commit().await
}

/// Brings the attorney's registrations in line with their standing, in
/// the caller's registry write: verified, their proven and unexpired
/// numbers are active, except those a revocation binds (see `holds`),
/// which are held for review, their holder and the site admins told by
/// email queued in the same transaction the first time; otherwise active
/// ones are suspended. Returns the changes to the log.
pub async fn follow_standing(
    write: &mut RegistryWrite<'_>,
    user_id: i64,
) -> Result<Vec<Change>, sqlx::Error> {
    // Only an attorney's numbers count: an account promoted to admin
    // holds none (it could no longer be suspended by its roster).
    let verified =
        sqlx::query_as::<_, (Standing, Role)>("SELECT standing, role FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *write.transaction)
            .await?
            .is_some_and(|(standing, role)| {
                standing == Standing::Verified && role == Role::Attorney
            });
    let now = now_millis();
    let affected: Vec<String> = if verified {
        let held: Vec<(i64, Option<i64>)> = sqlx::query_as(&format!(
            "UPDATE registrations SET status_reason = $1, held_at = COALESCE(held_at, $3) \
             WHERE user_id = $2 AND status IN ('pending', 'suspended') \
               AND proven_at IS NOT NULL AND expires_at > $3 \
               AND NOT {NOT_BOUND_BY_REVOCATION} RETURNING id, held_at"
        ))
        .bind(HELD_FOR_REVIEW)
        .bind(user_id)
        .bind(now)
        .fetch_all(&mut *write.transaction)
        .await?;
        for (id, held_at) in held {
            if held_at == Some(now) {
                notify_held(&mut write.transaction, id).await?;
            }
        }
        sqlx::query_scalar(&format!(
            "UPDATE registrations SET status = 'active', status_reason = NULL, held_at = NULL \
             WHERE user_id = $1 AND status IN ('pending', 'suspended') \
               AND proven_at IS NOT NULL AND expires_at > $2 \
               AND {NOT_BOUND_BY_REVOCATION} RETURNING e164"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&mut *write.transaction)
        .await?
    } else {
        sqlx::query_scalar(
            "UPDATE registrations SET status = 'suspended', \
             status_reason = 'the attorney is not verified' \
             WHERE user_id = $1 AND status = 'active' RETURNING e164",
        )
        .bind(user_id)
        .fetch_all(&mut *write.transaction)
        .await?
    };
    let mut changes = Vec::new();
    for e164 in affected {
        changes.extend(registry::refresh(write, &e164).await?);
    }
    Ok(changes)
}

/// Days before expiry at which the attorney is reminded to renew, latest
/// first, with the column that records each reminder.
const REMINDERS: [(i64, &str); 2] = [(7, "reminded_7_at"), (30, "reminded_30_at")];
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Queues reminder emails to attorneys whose active numbers expire within
/// 30 days, and again within 7. Each reminder is claimed and its email
/// queued in one transaction, so several instances never queue one twice
/// and a crash never leaves one claimed but unsent; the worker retries the
/// email until it goes out. A 7-day reminder also counts as the 30-day
/// one. Returns how many were queued.
pub async fn queue_reminders(pool: &AnyPool, base_url: &str) -> Result<usize, NumberError> {
    let now = now_millis();
    let mut queued = 0;
    for (days, column) in REMINDERS {
        let due: Vec<(i64, String, i64, String, String)> = sqlx::query_as(&format!(
            "SELECT r.id, r.e164, r.expires_at, u.email, u.full_name \
             FROM registrations r JOIN users u ON u.id = r.user_id \
             WHERE r.status = 'active' AND r.expires_at > $1 AND r.expires_at <= $2 \
               AND r.{column} IS NULL"
        ))
        .bind(now)
        .bind(now + days * DAY_MS)
        .fetch_all(pool)
        .await?;
        for (id, e164, expires_at, email, name) in due {
            // The 7-day reminder also stands for the 30-day one.
            let also = if column == "reminded_7_at" {
                ", reminded_30_at = COALESCE(reminded_30_at, $1)"
            } else {
                ""
            };
            let mut transaction = db::begin_write(pool).await?;
            let claimed = sqlx::query(&format!(
                "UPDATE registrations SET {column} = $1{also} WHERE id = $2 AND {column} IS NULL"
            ))
            .bind(now)
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            let display = PhoneNumber::national_display(&e164);
            let days_left = (expires_at - now).div_euclid(DAY_MS).max(0);
            let message = messages::renewal_reminder(&name, &display, days_left, base_url);
            // Left to the worker: reminders are not urgent.
            let _queued =
                mail_queue::queue(&mut *transaction, &parse_email(&email)?, message).await?;
            transaction.commit().await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Ends the registrations whose proof is more than a year old; their
/// numbers leave the registry unless someone else holds them. Safe to run
/// on several instances at once: the registry write serialises them and
/// the update only takes what is still due. Returns how many expired.
pub async fn expire_due(pool: &AnyPool) -> Result<usize, sqlx::Error> {
    let mut write = registry::begin_write(pool).await?;
    let expired: Vec<String> = sqlx::query_scalar(
        "UPDATE registrations SET status = 'expired', status_reason = 'not renewed within a year' \
         WHERE status IN ('active', 'suspended', 'pending') AND expires_at <= $1 RETURNING e164",
    )
    .bind(now_millis())
    .fetch_all(&mut *write.transaction)
    .await?;
    for e164 in &expired {
        registry::refresh(&mut write, e164).await?;
    }
    write.commit().await?;
    Ok(expired.len())
}
