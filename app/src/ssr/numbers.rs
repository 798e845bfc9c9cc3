//! An attorney's numbers: adding one, proving control by a one-time code,
//! removing it, and following the attorney's standing. A registration is
//! `pending` until proven; proven, it is `active` while the attorney is
//! verified (else `suspended`) and for 365 days from the proof. Every
//! change to or from `active` goes through a registry write, so the change
//! log follows.

use rand::Rng;
use rand::rngs::OsRng;
use sqlx::AnyPool;

use crate::domain::EmailAddress;
use crate::domain::phone::{Extension, NumberLabel, PhoneNumber};
use crate::ssr::clock::now_millis;
use crate::ssr::code_sender::{Channel, CodeSender, SendError};
use crate::ssr::mail::Mailer;
use crate::ssr::registry::{self, Change, RegistryWrite};
use crate::ssr::secrets::{self, SecretError};

pub const CODE_VALIDITY_MS: i64 = 10 * 60 * 1000;
pub const MAX_WRONG_TRIES: i64 = 5;
pub const SENDS_PER_NUMBER_PER_HOUR: i64 = 5;
pub const SENDS_PER_ATTORNEY_PER_DAY: i64 = 20;
pub const REGISTRATION_VALIDITY_MS: i64 = 365 * 24 * 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    #[error("you have already registered this number")]
    AlreadyRegistered,
    #[error("no such registration")]
    NotFound,
    #[error("too many codes sent to this number in the last hour")]
    TooManySendsForNumber,
    #[error("too many codes sent for this attorney today")]
    TooManySendsForAttorney,
    #[error("no valid code: ask for a new one")]
    NoValidCode,
    #[error("wrong code; {tries_left} tries left")]
    WrongCode { tries_left: i64 },
    #[error("too many wrong tries: ask for a new code")]
    TooManyTries,
    #[error("the code could not be sent: {0}")]
    Send(#[from] SendError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn label_text(label: NumberLabel) -> &'static str {
    match label {
        NumberLabel::Office => "office",
        NumberLabel::Mobile => "mobile",
        NumberLabel::Switchboard => "switchboard",
        NumberLabel::Other => "other",
    }
}

/// Registers `phone` for the attorney, pending proof. Returns its id.
pub async fn add_number(
    pool: &AnyPool,
    user_id: i64,
    phone: &PhoneNumber,
    label: Option<NumberLabel>,
    extension: Option<&Extension>,
) -> Result<i64, NumberError> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO registrations (user_id, e164, label, extension, status, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(user_id)
    .bind(phone.as_str())
    .bind(label.map(label_text))
    .bind(extension.map(Extension::as_str))
    .bind(now_millis())
    .fetch_optional(pool)
    .await?;
    id.ok_or(NumberError::AlreadyRegistered)
}

/// Sends a fresh 6-digit code for the attorney's registration. The code is
/// stored only once the sender has taken it: a failed send is reported,
/// costs no quota and leaves no code behind. (Two sends racing may both
/// pass the limits: the overshoot is one code, not a way around them.)
pub async fn send_code(
    pool: &AnyPool,
    sender: &CodeSender,
    user_id: i64,
    registration_id: i64,
    channel: Channel,
) -> Result<(), NumberError> {
    let now = now_millis();
    let e164: String = sqlx::query_scalar(
        "SELECT e164 FROM registrations \
         WHERE id = $1 AND user_id = $2 AND status NOT IN ('removed', 'revoked')",
    )
    .bind(registration_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .ok_or(NumberError::NotFound)?;
    let to_number: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM number_codes WHERE e164 = $1 AND created_at > $2")
            .bind(&e164)
            .bind(now - 60 * 60 * 1000)
            .fetch_one(pool)
            .await?;
    if to_number >= SENDS_PER_NUMBER_PER_HOUR {
        return Err(NumberError::TooManySendsForNumber);
    }
    let for_attorney: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM number_codes WHERE user_id = $1 AND created_at > $2",
    )
    .bind(user_id)
    .bind(now - 24 * 60 * 60 * 1000)
    .fetch_one(pool)
    .await?;
    if for_attorney >= SENDS_PER_ATTORNEY_PER_DAY {
        return Err(NumberError::TooManySendsForAttorney);
    }

    let code = format!("{:06}", OsRng.gen_range(0..1_000_000u32));
    let code_hash = secrets::hash_code(code.clone()).await?;
    // Parsed when it was stored; one that no longer parses is a bug to
    // report, not to skip.
    let phone = PhoneNumber::parse(&e164).map_err(|_| NumberError::NotFound)?;
    sender.send(&phone, channel, &code).await?;
    sqlx::query(
        "INSERT INTO number_codes (registration_id, user_id, e164, channel, code_hash, \
         expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(registration_id)
    .bind(user_id)
    .bind(&e164)
    .bind(channel.as_str())
    .bind(&code_hash)
    .bind(now + CODE_VALIDITY_MS)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether a proven registration counts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proven {
    /// Active: the number is in the registry.
    Active,
    /// Proven, waiting for the attorney to be verified.
    AwaitingVerification,
}

/// Checks `code` against the latest code sent for the registration. Only
/// the latest counts, each allows [`MAX_WRONG_TRIES`] wrong tries, and the
/// comparison (argon2) takes the same time whatever the digits.
pub async fn verify_code(
    pool: &AnyPool,
    user_id: i64,
    registration_id: i64,
    code: &str,
) -> Result<Proven, NumberError> {
    let now = now_millis();
    let latest: Option<(i64, String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT id, code_hash, wrong_tries, used_at, expires_at FROM number_codes \
         WHERE registration_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(registration_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    let Some((code_id, code_hash, wrong_tries, None, expires_at)) = latest else {
        return Err(NumberError::NoValidCode);
    };
    if expires_at <= now {
        return Err(NumberError::NoValidCode);
    }
    if wrong_tries >= MAX_WRONG_TRIES {
        return Err(NumberError::TooManyTries);
    }
    let code = code.trim();
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    if !well_formed || !secrets::verify_password(code.to_owned(), Some(code_hash)).await? {
        let tries: i64 = sqlx::query_scalar(
            "UPDATE number_codes SET wrong_tries = wrong_tries + 1 WHERE id = $1 RETURNING wrong_tries",
        )
        .bind(code_id)
        .fetch_one(pool)
        .await?;
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
    let used = sqlx::query(
        "UPDATE number_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND wrong_tries < $3",
    )
    .bind(now)
    .bind(code_id)
    .bind(MAX_WRONG_TRIES)
    .execute(&mut *write.transaction)
    .await?;
    if used.rows_affected() != 1 {
        return Err(NumberError::NoValidCode);
    }
    let (e164, status): (String, String) = sqlx::query_as(
        "UPDATE registrations SET proven_at = $1, expires_at = $2, \
         reminded_30_at = NULL, reminded_7_at = NULL, \
         status = CASE WHEN (SELECT standing FROM users WHERE id = $3) = 'verified' \
                  THEN 'active' ELSE 'pending' END \
         WHERE id = $4 AND user_id = $3 AND status NOT IN ('removed', 'revoked') \
         RETURNING e164, status",
    )
    .bind(now)
    .bind(now + REGISTRATION_VALIDITY_MS)
    .bind(user_id)
    .bind(registration_id)
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(NumberError::NotFound)?;
    registry::refresh(&mut write, &e164).await?;
    write.commit().await?;
    Ok(if status == "active" {
        Proven::Active
    } else {
        Proven::AwaitingVerification
    })
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

/// Brings the attorney's registrations in line with their standing, in
/// the caller's registry write: verified, their proven and unexpired
/// numbers are active; otherwise active ones are suspended.
pub async fn follow_standing(
    write: &mut RegistryWrite<'_>,
    user_id: i64,
) -> Result<Vec<Change>, sqlx::Error> {
    let verified: bool =
        sqlx::query_scalar::<_, String>("SELECT standing FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *write.transaction)
            .await?
            .is_some_and(|standing| standing == "verified");
    let affected: Vec<String> = if verified {
        sqlx::query_scalar(
            "UPDATE registrations SET status = 'active', status_reason = NULL \
             WHERE user_id = $1 AND status IN ('pending', 'suspended') \
               AND proven_at IS NOT NULL AND expires_at > $2 RETURNING e164",
        )
        .bind(user_id)
        .bind(now_millis())
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

/// Emails attorneys whose active numbers expire within 30 days, and again
/// within 7. Each reminder is claimed by a conditional update before it is
/// sent, so several instances never send one twice; a failed send releases
/// the claim for the next round. A 7-day reminder also counts as the
/// 30-day one. Returns how many were sent.
pub async fn send_reminders(
    pool: &AnyPool,
    mailer: &Mailer,
    base_url: &str,
) -> Result<usize, NumberError> {
    let now = now_millis();
    let mut sent = 0;
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
            let claimed = sqlx::query(&format!(
                "UPDATE registrations SET {column} = $1{also} WHERE id = $2 AND {column} IS NULL"
            ))
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            let display = PhoneNumber::national_display(&e164);
            let days_left = (expires_at - now).div_euclid(DAY_MS).max(0);
            let body = format!(
                "Hello {name},\n\n\
                 Your number {display} leaves the Counsel Registry in\n\
                 {days_left} days unless you renew it: sign in, open your\n\
                 numbers and ask for a new code.\n\n\
                 {base_url}/numbers\n"
            );
            let delivered = match EmailAddress::parse(&email) {
                Ok(address) => mailer
                    .send(&address, "Renew your number in the Counsel Registry", body)
                    .await
                    .map_err(|error| tracing::error!(error = %error, "reminder not sent")),
                Err(_) => Err(()),
            };
            if delivered.is_ok() {
                sent += 1;
            } else {
                sqlx::query(&format!(
                    "UPDATE registrations SET {column} = NULL WHERE id = $1"
                ))
                .bind(id)
                .execute(pool)
                .await?;
            }
        }
    }
    Ok(sent)
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

/// A registration as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Registration {
    pub id: i64,
    pub e164: String,
    pub label: Option<String>,
    pub extension: Option<String>,
    pub status: String,
    pub expires_at: Option<i64>,
    /// Unix milliseconds until which the latest code can still be entered.
    pub code_valid_until: Option<i64>,
}

/// The attorney's current registrations (not removed or revoked), newest
/// first.
pub async fn list(pool: &AnyPool, user_id: i64) -> Result<Vec<Registration>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.e164, r.label, r.extension, r.status, r.expires_at, \
           (SELECT MAX(c.expires_at) FROM number_codes c \
             WHERE c.registration_id = r.id AND c.used_at IS NULL AND c.wrong_tries < $2) \
           AS code_valid_until \
         FROM registrations r \
         WHERE r.user_id = $1 AND r.status NOT IN ('removed', 'revoked') \
         ORDER BY r.created_at DESC, r.id DESC",
    )
    .bind(user_id)
    .bind(MAX_WRONG_TRIES)
    .fetch_all(pool)
    .await
}
