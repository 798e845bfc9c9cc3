//! Issuing one-time codes: a fresh code for a registration, its keyed tag
//! stored (never the code) with a delivery token, and the send limits
//! counted in the same write transaction, so parallel requests cannot get
//! past them. Here because the limits and the row they count are one
//! step; how the code then goes out is `delivery`'s.

use rand::Rng;
use rand::rngs::OsRng;
use sqlx::AnyPool;

use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::infra::delivery::{Channel, Refusal};
use crate::ssr::infra::jobs;

use super::delivery::{SendCodeJob, alert_site_admins, send_reserved};
use super::{NumberError, Outgoing};

pub const CODE_VALIDITY_MS: i64 = 10 * 60 * 1000;
/// Codes one account may have sent to one number in an hour (twice as
/// many counting those the carrier gave back): per account, so nobody
/// else's requests for a number spend its holder's.
pub const SENDS_PER_NUMBER_PER_HOUR: i64 = 5;
/// Codes one number may get in an hour from everyone who registers it,
/// given back or not, so a phone is not flooded by strangers who add its
/// number. Its proven current holder is never stopped by it: otherwise
/// strangers could use it up and keep the holder from renewing.
pub const SENDS_TO_NUMBER_CEILING_PER_HOUR: i64 = 10;
pub const SENDS_PER_ATTORNEY_PER_DAY: i64 = 20;
/// Least time between two codes for one registration: long enough for a
/// text or a call to arrive, so a second press is not a second code.
pub const RESEND_AFTER_MS: i64 = 30 * 1000;

/// Sends a fresh 6-digit code for the attorney's registration.
///
/// The limits ([`RESEND_AFTER_MS`] per registration,
/// [`SENDS_PER_NUMBER_PER_HOUR`] per number and account,
/// [`SENDS_TO_NUMBER_CEILING_PER_HOUR`] per number across accounts except
/// for its proven current holder, [`SENDS_PER_ATTORNEY_PER_DAY`]) are
/// counted and the code's row written in one write transaction that holds
/// a lock on the attorney and on the number ([`db::lock_named`]), and the
/// code goes out only after that commit: however many requests arrive at
/// once, each sees the rows of those before it. (Checked first and written
/// after sending, 20 parallel requests sent 13 codes.) A send the
/// provider refuses, or that fails for a passing reason (network, Twilio's
/// 5xx or 429), deletes its row again so it costs no quota; a passing
/// failure is queued and retried by the worker
/// ([`NumberError::SendQueued`]), never dropped.
pub async fn send_code(
    pool: &AnyPool,
    outgoing: Outgoing<'_>,
    user_id: i64,
    registration_id: i64,
    channel: Channel,
) -> Result<(), NumberError> {
    let code = new_code();
    let reserved = reserve_code(pool, outgoing, user_id, registration_id, channel, &code).await?;
    let sent = send_reserved(pool, outgoing, &reserved, channel, &code).await;
    let key = SendCodeJob::key(registration_id);
    match sent {
        Ok(()) => {
            // Asked again and it went out: an older retry is overtaken.
            jobs::cancel_queued(pool, &key).await?;
            Ok(())
        }
        Err(NumberError::Send { error, .. }) if error.is_transient() => {
            let job = SendCodeJob {
                registration_id,
                user_id,
                channel,
            };
            jobs::enqueue(pool, &job, now_millis() + jobs::backoff_ms(1)).await?;
            Err(NumberError::SendQueued(error))
        }
        Err(NumberError::Send { error, channel }) => {
            if error.refusal() == Some(Refusal::OurSide) {
                // The attorney is told it is not their fault; the people
                // who can fix it are told too.
                if let Err(failure) = alert_site_admins(pool, &error).await {
                    tracing::error!(error = %failure, "site admins not alerted");
                }
            }
            Err(NumberError::Send { error, channel })
        }
        Err(other) => Err(other),
    }
}

/// Checks the send limits and stores the code's tag, as one step: see
/// [`send_code`]. Returns the code's row and the number to send it to.
async fn reserve_code(
    pool: &AnyPool,
    outgoing: Outgoing<'_>,
    user_id: i64,
    registration_id: i64,
    channel: Channel,
    code: &str,
) -> Result<Reserved, NumberError> {
    let mut transaction = db::begin_write(pool).await?;
    let (e164, extension): (String, Option<String>) = sqlx::query_as(
        "SELECT e164, extension FROM registrations \
         WHERE id = $1 AND user_id = $2 AND status NOT IN ('removed', 'revoked')",
    )
    .bind(registration_id)
    .bind(user_id)
    .fetch_optional(&mut *transaction)
    .await?
    .ok_or(NumberError::NotFound)?;
    // Attorney first, then number, always: two sends never wait on each
    // other in a circle.
    db::lock_named(&mut transaction, &format!("send_code:user:{user_id}")).await?;
    db::lock_named(&mut transaction, &format!("send_code:number:{e164}")).await?;
    let now = now_millis();
    let last_sent: Option<i64> =
        sqlx::query_scalar("SELECT MAX(created_at) FROM number_codes WHERE registration_id = $1")
            .bind(registration_id)
            .fetch_one(&mut *transaction)
            .await?;
    if let Some(waited_ms) = last_sent.map(|at| now - at)
        && waited_ms < RESEND_AFTER_MS
    {
        return Err(NumberError::TooSoon { waited_ms });
    }
    check_number_limits(&mut transaction, user_id, registration_id, &e164, now).await?;
    let for_attorney: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM number_codes \
         WHERE user_id = $1 AND created_at > $2 AND given_back_at IS NULL",
    )
    .bind(user_id)
    .bind(now - 24 * 60 * 60 * 1000)
    .fetch_one(&mut *transaction)
    .await?;
    if for_attorney >= SENDS_PER_ATTORNEY_PER_DAY {
        return Err(NumberError::TooManySendsForAttorney);
    }
    let (code_id, token) = insert_code(
        &mut *transaction,
        outgoing,
        user_id,
        registration_id,
        &e164,
        channel,
        code,
    )
    .await?;
    transaction.commit().await?;
    Ok(Reserved {
        code_id,
        token,
        e164,
        extension,
    })
}

/// Refuses a code beyond the number's hourly limits: this account's own
/// ([`SENDS_PER_NUMBER_PER_HOUR`], a send the carrier reported failed
/// given back, but never more than twice that) and, unless the
/// registration is its number's proven current holder (active, proven,
/// unexpired), the number's [`SENDS_TO_NUMBER_CEILING_PER_HOUR`]. Runs in
/// [`reserve_code`]'s transaction, under its locks.
async fn check_number_limits(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    registration_id: i64,
    e164: &str,
    now: i64,
) -> Result<(), NumberError> {
    let hour_ago = now - 60 * 60 * 1000;
    let (kept, all): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(CASE WHEN given_back_at IS NULL THEN 1 END), COUNT(*) FROM number_codes \
         WHERE e164 = $1 AND user_id = $2 AND created_at > $3",
    )
    .bind(e164)
    .bind(user_id)
    .bind(hour_ago)
    .fetch_one(&mut **transaction)
    .await?;
    if kept >= SENDS_PER_NUMBER_PER_HOUR || all >= 2 * SENDS_PER_NUMBER_PER_HOUR {
        return Err(NumberError::TooManySendsForNumber);
    }
    let holder: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registrations WHERE id = $1 AND status = 'active' \
         AND proven_at IS NOT NULL AND expires_at > $2",
    )
    .bind(registration_id)
    .bind(now)
    .fetch_one(&mut **transaction)
    .await?;
    if holder == 0 {
        let to_number: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM number_codes WHERE e164 = $1 AND created_at > $2",
        )
        .bind(e164)
        .bind(hour_ago)
        .fetch_one(&mut **transaction)
        .await?;
        if to_number >= SENDS_TO_NUMBER_CEILING_PER_HOUR {
            return Err(NumberError::NumberCeilingReached);
        }
    }
    Ok(())
}

/// A fresh 6-digit code from the operating system's generator.
pub(super) fn new_code() -> String {
    format!("{:06}", OsRng.gen_range(0..1_000_000u32))
}

/// A code's row, written before it is sent, and where it goes.
pub(super) struct Reserved {
    pub(super) code_id: i64,
    /// The last segment of its callback paths.
    pub(super) token: String,
    pub(super) e164: String,
    pub(super) extension: Option<String>,
}

/// 24 random bytes, URL-safe: the last segment of a delivery's callback
/// paths, so a callback names its code without an id one could guess.
fn new_delivery_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 24];
    OsRng.fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a code's tag (never the code), valid [`CODE_VALIDITY_MS`] from
/// now, with a fresh delivery token. Returns its id and that token.
pub(super) async fn insert_code<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    outgoing: Outgoing<'_>,
    user_id: i64,
    registration_id: i64,
    e164: &str,
    channel: Channel,
    code: &str,
) -> Result<(i64, String), sqlx::Error> {
    let now = now_millis();
    let token = new_delivery_token();
    let code_id: i64 = sqlx::query_scalar(
        "INSERT INTO number_codes (registration_id, user_id, e164, channel, code_hash, \
         expires_at, created_at, delivery_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(registration_id)
    .bind(user_id)
    .bind(e164)
    .bind(channel.as_str())
    .bind(outgoing.key.tag(registration_id, code))
    .bind(now + CODE_VALIDITY_MS)
    .bind(now)
    .bind(&token)
    .fetch_one(executor)
    .await?;
    Ok((code_id, token))
}
