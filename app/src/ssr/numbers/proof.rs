//! Proving a number with a code: each try counted before anything is
//! compared, against the attorney's hourly limit and the code's own, and
//! a right code making the registration proven (active if the attorney
//! is verified and no revocation binds it, else held: see `holds`) in a
//! registry write. Here because proving is the one step that turns a
//! code into a registration that counts.

use sqlx::AnyPool;

use crate::domain::RegistrationStatus;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::rate_limit;
use crate::ssr::infra::secrets::CodeKey;
use crate::ssr::registry;

use super::NumberError;
use super::holds::{HELD_FOR_REVIEW, NOT_BOUND_BY_REVOCATION, notify_held};

pub const MAX_WRONG_TRIES: i64 = 5;
pub const REGISTRATION_VALIDITY_MS: i64 = 365 * 24 * 60 * 60 * 1000;

/// Whether a proven registration counts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proven {
    /// Active: the number is in the registry.
    Active,
    /// Proven, but not counted yet: waiting for the attorney to be
    /// verified, or held for an admin's review (see `holds`; the
    /// registration's `status_reason` says which).
    AwaitingVerification,
}

/// Tries at proving, per attorney, across all their numbers and codes:
/// enough for a few typos on each of several numbers, far too few to
/// guess (each code also allows only [`MAX_WRONG_TRIES`]).
pub const PROOF_TRIES_PER_ATTORNEY: rate_limit::Limit = rate_limit::Limit {
    max_hits: 30,
    window: std::time::Duration::from_secs(60 * 60),
};

/// Checks `code` against the latest code sent for the registration. Only
/// the latest counts and each allows [`MAX_WRONG_TRIES`] tries. Every try
/// is counted before anything is compared, in one conditional statement
/// (so parallel tries cannot get past the limit), first against the
/// attorney's hourly [`PROOF_TRIES_PER_ATTORNEY`], then against the code;
/// the comparison is a keyed HMAC in constant time ([`CodeKey`]) and costs
/// microseconds. A right code proves the number for
/// [`REGISTRATION_VALIDITY_MS`] from now, in a registry write; a
/// registration a revocation binds is held instead, and the first time
/// its holder and the site admins are emailed (queued in that write).
pub async fn verify_code(
    pool: &AnyPool,
    key: &CodeKey,
    user_id: i64,
    registration_id: i64,
    code: &str,
) -> Result<Proven, NumberError> {
    let now = now_millis();
    let bucket = format!("prove:{user_id}");
    if let rate_limit::Decision::Refused { retry_after_secs } =
        rate_limit::hit(pool, &bucket, PROOF_TRIES_PER_ATTORNEY).await?
    {
        return Err(NumberError::TooManyProofTries { retry_after_secs });
    }
    let latest: Option<(i64, Option<i64>, i64, i64)> = sqlx::query_as(
        "SELECT id, used_at, expires_at, wrong_tries FROM number_codes \
         WHERE registration_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(registration_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    let Some((code_id, None, expires_at, wrong_tries)) = latest else {
        return Err(NumberError::NoValidCode);
    };
    if expires_at <= now {
        return Err(NumberError::NoValidCode);
    }
    if wrong_tries >= MAX_WRONG_TRIES {
        return Err(NumberError::TooManyTries);
    }
    // The try is counted first; a right code takes it back below.
    let counted: Option<(String, i64)> = sqlx::query_as(
        "UPDATE number_codes SET wrong_tries = wrong_tries + 1 \
         WHERE id = $1 AND used_at IS NULL AND wrong_tries < $2 RETURNING code_hash, wrong_tries",
    )
    .bind(code_id)
    .bind(MAX_WRONG_TRIES)
    .fetch_optional(pool)
    .await?;
    let Some((code_hash, tries)) = counted else {
        return Err(NumberError::TooManyTries);
    };
    let code = code.trim();
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    if !well_formed || !key.verify(registration_id, code, &code_hash) {
        return Err(if tries >= MAX_WRONG_TRIES {
            NumberError::TooManyTries
        } else {
            NumberError::WrongCode {
                tries_left: MAX_WRONG_TRIES - tries,
            }
        });
    }

    let mut write = registry::begin_write(pool).await?;
    // Conditional: of two requests with the right code, one proves.
    // The right code's try was not a wrong one: it is given back.
    let used = sqlx::query(
        "UPDATE number_codes SET used_at = $1, wrong_tries = wrong_tries - 1 \
         WHERE id = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(code_id)
    .execute(&mut *write.transaction)
    .await?;
    if used.rows_affected() != 1 {
        return Err(NumberError::NoValidCode);
    }
    // Held (see `holds`) when a revocation binds it; its holder and the
    // site admins are told the first time, in this transaction.
    let (e164, status, held_at): (String, RegistrationStatus, Option<i64>) =
        sqlx::query_as(&format!(
            "UPDATE registrations SET proven_at = $1, expires_at = $2, \
             first_proven_at = COALESCE(first_proven_at, $1), \
             reminded_30_at = NULL, reminded_7_at = NULL, \
             status = CASE WHEN (SELECT standing FROM users WHERE id = $3) = 'verified' \
                      AND {NOT_BOUND_BY_REVOCATION} THEN 'active' ELSE 'pending' END, \
             status_reason = CASE WHEN {NOT_BOUND_BY_REVOCATION} THEN NULL ELSE $5 END, \
             held_at = CASE WHEN {NOT_BOUND_BY_REVOCATION} THEN NULL \
                       ELSE COALESCE(held_at, $1) END \
             WHERE id = $4 AND user_id = $3 AND status NOT IN ('removed', 'revoked') \
             RETURNING e164, status, held_at"
        ))
        .bind(now)
        .bind(now + REGISTRATION_VALIDITY_MS)
        .bind(user_id)
        .bind(registration_id)
        .bind(HELD_FOR_REVIEW)
        .fetch_optional(&mut *write.transaction)
        .await?
        .ok_or(NumberError::NotFound)?;
    if held_at == Some(now) {
        notify_held(&mut write.transaction, registration_id).await?;
    }
    registry::refresh(&mut write, &e164).await?;
    write.commit().await?;
    Ok(if status == RegistrationStatus::Active {
        Proven::Active
    } else {
        Proven::AwaitingVerification
    })
}
