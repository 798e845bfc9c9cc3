//! The hold a revocation puts on other registrations of its number: which
//! registrations it binds, telling their holders and the site admins when
//! one is held, the admins' queue of held registrations, and an admin
//! allowing one after review. Here because the rule and everything that
//! follows from it must agree, and each writer of a registration's status
//! (`proof`, `lifecycle`) applies the same rule.
//!
//! The rule (issue 24): a revocation is a decision about one attorney's
//! proven control of a number. Revoking a registration that was never
//! proven holds nobody (anyone may add any number unproven, so it says
//! nothing about the number). Revoking a proven one holds the other
//! accounts' registrations of the number first proven at or after it was
//! first proven (whoever proved the number later may be acting with the
//! revoked attorney), never those proven before it, and never one an
//! admin allowed after that revocation. A registration is held where it
//! would become active: at its proof or renewal, and when its attorney's
//! standing is followed; it is never held silently.

use sqlx::{Any, AnyPool, Transaction};

use crate::domain::phone::PhoneNumber;
use crate::domain::{RegistrationStatus, Role};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::registry;

use super::lifecycle::follow_standing;
use super::{NumberError, parse_email};

/// True in an `UPDATE registrations` for a row no revocation binds: no
/// other account's revoked registration of the same number was proven
/// before this row was first proven (a row not proven yet is proven now),
/// unless an admin allowed this row after that revocation. See the
/// module's rule.
pub(super) const NOT_BOUND_BY_REVOCATION: &str = "NOT EXISTS (SELECT 1 FROM registrations x \
    WHERE x.e164 = registrations.e164 AND x.status = 'revoked' \
    AND x.user_id <> registrations.user_id AND x.first_proven_at IS NOT NULL \
    AND (registrations.first_proven_at IS NULL \
         OR registrations.first_proven_at >= x.first_proven_at) \
    AND (registrations.revocation_cleared_at IS NULL \
         OR registrations.revocation_cleared_at < COALESCE(x.revoked_at, 0)))";

/// The reason a proven registration shows while its number is bound.
pub const HELD_FOR_REVIEW: &str =
    "held for review: the registry's administrators revoked this number before";

/// Tells the holder of a registration just held, and every site admin,
/// by email queued in the caller's transaction (so neither is sent for a
/// hold that rolled back). Neither email names the attorney whose
/// registration was revoked.
pub(super) async fn notify_held(
    transaction: &mut Transaction<'_, Any>,
    registration_id: i64,
) -> Result<(), sqlx::Error> {
    let (e164, email, name): (String, String, String) = sqlx::query_as(
        "SELECT r.e164, u.email, u.full_name FROM registrations r \
         JOIN users u ON u.id = r.user_id WHERE r.id = $1",
    )
    .bind(registration_id)
    .fetch_one(&mut **transaction)
    .await?;
    let display = PhoneNumber::national_display(&e164);
    let notice = messages::registration_held_notice(&name, &display);
    let _queued = mail_queue::queue(&mut **transaction, &parse_email(&email)?, notice).await?;
    let admins: Vec<String> = sqlx::query_scalar("SELECT email FROM users WHERE role = $1")
        .bind(Role::SiteAdmin)
        .fetch_all(&mut **transaction)
        .await?;
    for admin in admins {
        let alert = messages::registration_held_alert(&display);
        let _queued = mail_queue::queue(&mut **transaction, &parse_email(&admin)?, alert).await?;
    }
    Ok(())
}

/// A registration held for review, as the site admins' queue shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldRegistration {
    pub registration_id: i64,
    /// E.164.
    pub e164: String,
    pub full_name: String,
    pub email: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub status: RegistrationStatus,
    /// Unix milliseconds.
    pub held_at: i64,
}

/// The registrations held for review and not yet allowed, ended or
/// removed, longest held first, at most `limit`: the site admins' queue.
pub async fn held_registrations(
    pool: &AnyPool,
    limit: i64,
) -> Result<Vec<HeldRegistration>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS registration_id, r.e164, u.full_name, u.email, u.jurisdiction, \
           u.bar_number, r.status, r.held_at \
         FROM registrations r JOIN users u ON u.id = r.user_id \
         WHERE r.held_at IS NOT NULL AND r.status IN ('pending', 'suspended') \
         ORDER BY r.held_at, r.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A site admin allows, after review, a registration held because its
/// number was revoked for another account: no revocation made before now
/// holds it again, it leaves the queue, and it counts from now on if its
/// attorney is verified and its proof current (a registry write).
/// `NotFound` unless it is pending or suspended.
pub async fn clear_revocation_hold(
    pool: &AnyPool,
    admin_id: i64,
    registration_id: i64,
) -> Result<(), NumberError> {
    let mut write = registry::begin_write(pool).await?;
    let user_id: i64 = sqlx::query_scalar(
        "UPDATE registrations SET revocation_cleared_by = $1, revocation_cleared_at = $2, \
           held_at = NULL, \
           status_reason = CASE WHEN status_reason = $4 THEN NULL ELSE status_reason END \
         WHERE id = $3 AND status IN ('pending', 'suspended') RETURNING user_id",
    )
    .bind(admin_id)
    .bind(now_millis())
    .bind(registration_id)
    .bind(HELD_FOR_REVIEW)
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(NumberError::NotFound)?;
    follow_standing(&mut write, user_id).await?;
    write.commit().await?;
    Ok(())
}
