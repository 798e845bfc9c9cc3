//! An attorney's numbers: adding one, proving control by a one-time code,
//! removing it, and following the attorney's standing. A registration is
//! `pending` until proven; proven, it is `active` while the attorney is
//! verified (else `suspended`) and for 365 days from the proof. Every
//! change to or from `active` goes through a registry write, so the change
//! log follows.
//!
//! Owns the tables `registrations` and `number_codes`, and the job that
//! retries a code delivery ([`SendCodeJob`]). May use: `registry` (every
//! flip of a number goes through a registry write), `accounts`' types,
//! infrastructure (delivery, jobs, mail queue, messages).

use rand::Rng;
use rand::rngs::OsRng;
use sqlx::AnyPool;
use std::collections::HashMap;

use crate::domain::phone::{Extension, NumberLabel, PhoneNumber};
use crate::domain::{DeliveryStatus, EmailAddress, RegistrationStatus, Role, Standing};
use crate::error::AppError;
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::infra::delivery::{Channel, CodeSender, Dispatch, Refusal, SendError};
use crate::ssr::infra::jobs::{self, Job, JobContext, JobFailure};
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::infra::rate_limit;
use crate::ssr::infra::sealing::Keyring;
use crate::ssr::infra::secrets::CodeKey;
use crate::ssr::registry::{self, Change, RegistryWrite};

pub const CODE_VALIDITY_MS: i64 = 10 * 60 * 1000;
pub const MAX_WRONG_TRIES: i64 = 5;
pub const SENDS_PER_NUMBER_PER_HOUR: i64 = 5;
pub const SENDS_PER_ATTORNEY_PER_DAY: i64 = 20;
pub const REGISTRATION_VALIDITY_MS: i64 = 365 * 24 * 60 * 60 * 1000;
/// Least time between two codes for one registration: long enough for a
/// text or a call to arrive, so a second press is not a second code.
pub const RESEND_AFTER_MS: i64 = 30 * 1000;

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
    #[error("a code was sent {waited_ms} ms ago; wait before asking again")]
    TooSoon { waited_ms: i64 },
    #[error("this number was revoked for this attorney: {reason}")]
    Revoked { reason: String },
    #[error("the code could not be sent yet; it is queued to be tried again: {0}")]
    SendQueued(SendError),
    #[error("no valid code: ask for a new one")]
    NoValidCode,
    #[error("wrong code; {tries_left} tries left")]
    WrongCode { tries_left: i64 },
    #[error("too many wrong tries: ask for a new code")]
    TooManyTries,
    #[error("the code could not be sent by {}: {error}", channel.as_str())]
    Send { error: SendError, channel: Channel },
    #[error("too many tries at proving codes; wait {retry_after_secs} s")]
    TooManyProofTries { retry_after_secs: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// True in an `UPDATE registrations` for a row that may become active:
/// no admin revoked another account's registration of the same number, or
/// an admin cleared this one after review (issue 12: a revocation binds
/// the number, not only the account).
const NOT_BOUND_BY_REVOCATION: &str = "(registrations.revocation_cleared_at IS NOT NULL \
    OR NOT EXISTS (SELECT 1 FROM registrations x WHERE x.e164 = registrations.e164 \
    AND x.status = 'revoked' AND x.user_id <> registrations.user_id))";

/// The reason a proven registration shows while its number is bound.
pub const HELD_FOR_REVIEW: &str =
    "held for review: the registry's administrators revoked this number before";

/// An address read back from `users.email`, written there only after
/// parsing: a failure means the row was edited by hand.
fn parse_email(raw: &str) -> Result<EmailAddress, sqlx::Error> {
    EmailAddress::parse(raw).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

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

/// Sends a fresh 6-digit code for the attorney's registration.
///
/// The limits ([`RESEND_AFTER_MS`] per registration,
/// [`SENDS_PER_NUMBER_PER_HOUR`] per number across attorneys,
/// [`SENDS_PER_ATTORNEY_PER_DAY`]) are counted and the code's row written
/// in one write transaction that holds a lock on the attorney and on the
/// number ([`db::lock_named`]), and the code goes out only after that
/// commit: however many requests arrive at once, each sees the rows of
/// those before it. (Checked first and written after sending, 20 parallel
/// requests sent 13 codes.) A send the provider refuses, or that fails for
/// a passing reason (network, Twilio's 5xx or 429), deletes its row again
/// so it costs no quota; a passing failure is queued and retried by the
/// worker ([`NumberError::SendQueued`]), never dropped.
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

/// At most one alert an hour per error code, however many attorneys
/// meet it.
const DELIVERY_ALERTS: rate_limit::Limit = rate_limit::Limit {
    max_hits: 1,
    window: std::time::Duration::from_secs(60 * 60),
};

/// Queues an email to every site admin about a refusal on our side (the
/// worker sends it).
async fn alert_site_admins(pool: &AnyPool, error: &SendError) -> Result<(), sqlx::Error> {
    let code = error
        .code()
        .map_or_else(|| "none".to_owned(), |c| c.to_string());
    let bucket = format!("delivery_alert:{code}");
    if rate_limit::hit(pool, &bucket, DELIVERY_ALERTS).await?
        != (rate_limit::Decision::Allowed { hits: 1 })
    {
        return Ok(());
    }
    let admins: Vec<String> = sqlx::query_scalar("SELECT email FROM users WHERE role = $1")
        .bind(Role::SiteAdmin)
        .fetch_all(pool)
        .await?;
    let message = match error {
        SendError::Refused { message, .. } => message.as_str(),
        _ => "no message",
    };
    let mut transaction = db::begin_write(pool).await?;
    for admin in admins {
        let to = parse_email(&admin)?;
        let _queued = mail_queue::queue(
            &mut *transaction,
            &to,
            messages::delivery_refused_alert(error.code(), message),
        )
        .await?;
    }
    transaction.commit().await
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
    // A delivery the carrier reported failed gave its send back.
    let to_number: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM number_codes \
         WHERE e164 = $1 AND created_at > $2 AND given_back_at IS NULL",
    )
    .bind(&e164)
    .bind(now - 60 * 60 * 1000)
    .fetch_one(&mut *transaction)
    .await?;
    // Given back or not, a number gets at most twice the limit an hour:
    // failed sends still cost, and a carrier's reports can be wrong.
    let all_to_number: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM number_codes WHERE e164 = $1 AND created_at > $2")
            .bind(&e164)
            .bind(now - 60 * 60 * 1000)
            .fetch_one(&mut *transaction)
            .await?;
    if to_number >= SENDS_PER_NUMBER_PER_HOUR || all_to_number >= 2 * SENDS_PER_NUMBER_PER_HOUR {
        return Err(NumberError::TooManySendsForNumber);
    }
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

/// A code delivery to try again, queued when a send failed in a way
/// that may pass (network, Twilio 5xx or 429).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SendCodeJob {
    pub registration_id: i64,
    pub user_id: i64,
    pub channel: Channel,
}

impl SendCodeJob {
    /// One queued delivery per registration.
    pub fn key(registration_id: i64) -> String {
        format!("send_code:{registration_id}")
    }
}

impl Job for SendCodeJob {
    const KIND: &'static str = "send_code";
    // 30 s, 1, 2 and 4 min apart: a code that cannot go out in about
    // eight minutes is better asked for again.
    const MAX_ATTEMPTS: i64 = 5;

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::key(self.registration_id))
    }

    async fn run(self, context: &JobContext) -> Result<(), JobFailure> {
        let outgoing = Outgoing {
            sender: &context.code_sender,
            key: &context.code_key,
            keyring: &context.keyring,
            base_url: &context.base_url,
        };
        match deliver_queued_code(context.database.pool(), outgoing, &self).await {
            // Removed or revoked meanwhile: nothing left to deliver.
            Ok(()) | Err(NumberError::NotFound) => Ok(()),
            Err(NumberError::Send { error, .. }) if error.is_transient() => {
                Err(JobFailure::Transient(error.to_string()))
            }
            Err(NumberError::Send { error, .. }) => {
                // A retry refused for a reason on our side is as much the
                // admins' business as a refusal at the first try.
                if error.refusal() == Some(Refusal::OurSide)
                    && let Err(failure) = alert_site_admins(context.database.pool(), &error).await
                {
                    tracing::error!(error = %failure, "site admins not alerted");
                }
                Err(JobFailure::Permanent(error.to_string()))
            }
            Err(other) => Err(JobFailure::Permanent(other.to_string())),
        }
    }
}

/// The worker's retry of a queued delivery. The limits were checked when
/// the attorney asked; the registration must still be theirs and live.
pub async fn deliver_queued_code(
    pool: &AnyPool,
    outgoing: Outgoing<'_>,
    job: &SendCodeJob,
) -> Result<(), NumberError> {
    let (e164, extension) = live_registration(pool, job.user_id, job.registration_id).await?;
    let code = new_code();
    let (code_id, token) = insert_code(
        pool,
        outgoing,
        job.user_id,
        job.registration_id,
        &e164,
        job.channel,
        &code,
    )
    .await?;
    let reserved = Reserved {
        code_id,
        token,
        e164,
        extension,
    };
    send_reserved(pool, outgoing, &reserved, job.channel, &code).await
}

/// The number and extension of the attorney's registration, unless
/// removed or revoked.
async fn live_registration(
    pool: &AnyPool,
    user_id: i64,
    registration_id: i64,
) -> Result<(String, Option<String>), NumberError> {
    sqlx::query_as(
        "SELECT e164, extension FROM registrations \
         WHERE id = $1 AND user_id = $2 AND status NOT IN ('removed', 'revoked')",
    )
    .bind(registration_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .ok_or(NumberError::NotFound)
}

/// A fresh 6-digit code from the operating system's generator.
fn new_code() -> String {
    format!("{:06}", OsRng.gen_range(0..1_000_000u32))
}

/// What sending a code needs from the server: the sender, the key codes
/// are stored under, the keys a call's code is sealed under while the
/// call waits to read it, and the portal's public origin (the base of
/// Twilio's callback URLs).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub sender: &'a CodeSender,
    pub key: &'a CodeKey,
    pub keyring: &'a Keyring,
    pub base_url: &'a str,
}

/// A code's row, written before it is sent, and where it goes.
struct Reserved {
    code_id: i64,
    /// The last segment of its callback paths.
    token: String,
    e164: String,
    extension: Option<String>,
}

/// What a call's code is sealed for: its row.
fn sealed_code_purpose(code_id: i64) -> String {
    format!("number_codes.sealed_code:{code_id}")
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
async fn insert_code<'e>(
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

/// Hands the reserved code to the sender, then records what it said: the
/// SID and `sent` (a voice call's code sealed for its script), or, when
/// the send failed, deletes the row so it costs no quota.
async fn send_reserved(
    pool: &AnyPool,
    outgoing: Outgoing<'_>,
    reserved: &Reserved,
    channel: Channel,
    code: &str,
) -> Result<(), NumberError> {
    // Parsed when it was stored; one that no longer parses is a bug to
    // report, not to skip.
    let phone = PhoneNumber::parse(&reserved.e164).map_err(|_| NumberError::NotFound)?;
    let extension = reserved
        .extension
        .as_deref()
        .map(Extension::parse)
        .transpose()
        .ok()
        .flatten()
        .flatten();
    // Sealed before the call starts: Twilio may fetch the script as soon
    // as it is answered, before the send's answer is back here.
    if channel == Channel::Voice && outgoing.sender.twilio().is_some() {
        sqlx::query("UPDATE number_codes SET sealed_code = $1 WHERE id = $2")
            .bind(
                outgoing
                    .keyring
                    .seal(&sealed_code_purpose(reserved.code_id), code),
            )
            .bind(reserved.code_id)
            .execute(pool)
            .await?;
    }
    let dispatch = Dispatch {
        base_url: outgoing.base_url,
        token: &reserved.token,
        extension: extension.as_ref(),
    };
    match outgoing.sender.send(&phone, channel, code, dispatch).await {
        Ok(sid) => {
            if let Some(sid) = sid {
                sqlx::query(
                    "UPDATE number_codes SET delivery_sid = $1, \
                     delivery_status = COALESCE(delivery_status, 'sent'), \
                     delivery_updated_at = $2 WHERE id = $3",
                )
                .bind(sid)
                .bind(now_millis())
                .bind(reserved.code_id)
                .execute(pool)
                .await?;
            }
            Ok(())
        }
        Err(error) => {
            sqlx::query("DELETE FROM number_codes WHERE id = $1")
                .bind(reserved.code_id)
                .execute(pool)
                .await?;
            Err(NumberError::Send { error, channel })
        }
    }
}

/// What one of Twilio's status callbacks says about a delivery: its
/// `MessageStatus` or `CallStatus`, read into ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierStatus {
    /// Not the last word (queued, sending, sent, ringing, in-progress…).
    Pending,
    /// The last word.
    Final(DeliveryStatus),
    /// A call ended; whether the code was heard is known here, not by
    /// Twilio.
    CallCompleted,
}

impl CarrierStatus {
    /// Twilio's words for messages
    /// (<https://www.twilio.com/docs/messaging/api/message-resource#message-status-values>)
    /// and calls
    /// (<https://www.twilio.com/docs/voice/api/call-resource#call-status-values>).
    /// An unknown word is pending: a later callback may settle it.
    pub fn from_twilio(word: &str) -> Self {
        use DeliveryStatus::*;
        match word {
            "delivered" | "read" => CarrierStatus::Final(Delivered),
            "undelivered" => CarrierStatus::Final(Undelivered),
            "failed" => CarrierStatus::Final(Failed),
            "canceled" => CarrierStatus::Final(Canceled),
            "busy" => CarrierStatus::Final(Busy),
            "no-answer" => CarrierStatus::Final(NoAnswer),
            "completed" => CarrierStatus::CallCompleted,
            _ => CarrierStatus::Pending,
        }
    }
}

/// A delivery's row, found by the token in its callback path.
#[derive(Debug, sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    registration_id: i64,
    delivery_sid: Option<String>,
    sealed_code: Option<String>,
    used_at: Option<i64>,
    expires_at: i64,
}

async fn delivery_by_token(
    pool: &AnyPool,
    token: &str,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, registration_id, delivery_sid, sealed_code, used_at, expires_at \
         FROM number_codes WHERE delivery_token = $1",
    )
    .bind(token)
    .fetch_optional(pool)
    .await
}

/// Sets a delivery's final word, unless it has one already (the first
/// final word wins: a call's `completed` after the code was heard keeps
/// `heard`); a status by which nothing reached the phone gives the send
/// back to the limits. A final word also forgets a call's sealed code,
/// except `heard`: the caller may press a key to hear it again.
async fn settle(
    pool: &AnyPool,
    code_id: i64,
    status: DeliveryStatus,
    error: Option<i64>,
) -> Result<(), sqlx::Error> {
    let now = now_millis();
    sqlx::query(
        "UPDATE number_codes SET delivery_status = $1, delivery_error = $2, \
         delivery_updated_at = $3, \
         sealed_code = CASE WHEN $6 = 1 THEN sealed_code ELSE NULL END, \
         given_back_at = CASE WHEN $4 = 1 THEN $3 ELSE given_back_at END \
         WHERE id = $5 AND (delivery_status IS NULL OR delivery_status = 'sent')",
    )
    .bind(status)
    .bind(error)
    .bind(now)
    .bind(i64::from(status.gives_back()))
    .bind(code_id)
    .bind(i64::from(status == DeliveryStatus::Heard))
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a status callback for the delivery behind `token`: `sid` is
/// Twilio's `MessageSid` or `CallSid` (it must be the one the send was
/// given, once known), `error` its `ErrorCode`. Returns whether the
/// delivery was found. The caller has checked Twilio's signature.
pub async fn record_carrier_status(
    pool: &AnyPool,
    token: &str,
    sid: &str,
    status: CarrierStatus,
    error: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let Some(row) = delivery_by_token(pool, token).await? else {
        return Ok(false);
    };
    if row
        .delivery_sid
        .as_deref()
        .is_some_and(|known| known != sid)
    {
        return Ok(false);
    }
    match status {
        CarrierStatus::Pending => {}
        CarrierStatus::Final(status) => settle(pool, row.id, status, error).await?,
        CarrierStatus::CallCompleted => {
            settle(pool, row.id, DeliveryStatus::NotHeard, None).await?;
            // A call that ended after its code was heard still forgets it.
            sqlx::query("UPDATE number_codes SET sealed_code = NULL WHERE id = $1")
                .bind(row.id)
                .execute(pool)
                .await?;
        }
    }
    Ok(true)
}

/// What a call's script says next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallStep {
    /// A machine answered: hang up without a word.
    HangUp,
    /// Ask for a key press before reading anything.
    Greet,
    /// Read this code.
    ReadCode(String),
    /// The code can no longer be used (expired, used, overtaken by a newer
    /// one, or unknown).
    Gone,
}

/// The call behind `token` was answered; `answered_by` is Twilio's
/// answering-machine verdict when detection ran (`human`, `unknown`,
/// `machine_start`, `machine_end_beep`, `machine_end_silence`,
/// `machine_end_other`, `fax`;
/// <https://www.twilio.com/docs/voice/answering-machine-detection>).
/// A machine or fax settles the delivery as `voicemail`.
pub async fn call_answered(
    pool: &AnyPool,
    token: &str,
    answered_by: Option<&str>,
) -> Result<CallStep, sqlx::Error> {
    let Some(row) = delivery_by_token(pool, token).await? else {
        return Ok(CallStep::Gone);
    };
    if answered_by.is_some_and(|verdict| verdict.starts_with("machine") || verdict == "fax") {
        settle(pool, row.id, DeliveryStatus::Voicemail, None).await?;
        return Ok(CallStep::HangUp);
    }
    Ok(CallStep::Greet)
}

/// A key was pressed on the call behind `token`: its code, opened from
/// its seal, if it can still be used; the delivery is then `heard`.
pub async fn code_for_call(
    pool: &AnyPool,
    keyring: &Keyring,
    token: &str,
) -> Result<CallStep, sqlx::Error> {
    let Some(row) = delivery_by_token(pool, token).await? else {
        return Ok(CallStep::Gone);
    };
    let newer: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM number_codes WHERE registration_id = $1 AND id > $2",
    )
    .bind(row.registration_id)
    .bind(row.id)
    .fetch_one(pool)
    .await?;
    let usable = row.used_at.is_none() && row.expires_at > now_millis() && newer == 0;
    let Some(sealed) = row.sealed_code.filter(|_| usable) else {
        return Ok(CallStep::Gone);
    };
    match keyring.open(&sealed_code_purpose(row.id), &sealed) {
        Ok(opened) => {
            // Heard, and perhaps asked for again: the seal stays until the
            // call ends or the code expires.
            settle(pool, row.id, DeliveryStatus::Heard, None).await?;
            Ok(CallStep::ReadCode(opened.plaintext))
        }
        Err(error) => {
            tracing::error!(code_id = row.id, %error, "a call's sealed code does not open");
            Ok(CallStep::Gone)
        }
    }
}

/// Forgets the sealed codes of calls whose codes expired without the
/// call's end being reported (the housekeeping task). Returns how many.
pub async fn forget_expired_call_codes(pool: &AnyPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE number_codes SET sealed_code = NULL \
         WHERE sealed_code IS NOT NULL AND expires_at < $1",
    )
    .bind(now_millis())
    .execute(pool)
    .await?
    .rows_affected())
}

/// For each of the attorney's registrations, its latest code's delivery as
/// the carrier reported it (channel, status, Twilio error code), by
/// registration id, in one query; absent when not reported (yet).
pub async fn latest_deliveries(
    pool: &AnyPool,
    user_id: i64,
) -> Result<HashMap<i64, (Channel, DeliveryStatus, Option<i64>)>, sqlx::Error> {
    let rows: Vec<(i64, Channel, Option<DeliveryStatus>, Option<i64>)> = sqlx::query_as(
        "SELECT c.registration_id, c.channel, c.delivery_status, c.delivery_error \
         FROM number_codes c WHERE c.user_id = $1 \
           AND c.id = (SELECT MAX(l.id) FROM number_codes l \
                       WHERE l.registration_id = c.registration_id)",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(registration, channel, status, error)| {
            status.map(|status| (registration, (channel, status, error)))
        })
        .collect())
}

/// What the dashboard says about a delivery, in words an attorney can act
/// on. Twilio's error codes: 30003 unreachable, 30005 unknown or inactive
/// number, 30006 a landline or a line that cannot take texts, 30007
/// filtered by the carrier (<https://www.twilio.com/docs/api/errors>).
pub fn delivery_words(channel: Channel, status: DeliveryStatus, error: Option<i64>) -> String {
    use DeliveryStatus::*;
    let given_back = if status.gives_back() {
        " It did not count against your limits."
    } else {
        ""
    };
    let words = match (channel, status, error) {
        (_, Sent, _) => return "Sent; waiting for the phone company to confirm.".to_owned(),
        (_, Delivered, _) => return "Delivered to this phone.".to_owned(),
        (_, Heard, _) => return "The call was answered and the code read out.".to_owned(),
        (Channel::Sms, Undelivered | Failed, Some(30006)) => {
            "This line cannot take text messages (a landline?). Ask for a voice call instead."
        }
        (Channel::Sms, Undelivered | Failed, Some(30007)) => {
            "The phone company filtered the text message. Ask for a voice call instead."
        }
        (Channel::Sms, Undelivered | Failed, Some(30003 | 30005)) => {
            "The phone company could not reach this number: it may be switched off or out of \
             service. Check the number, or try again later."
        }
        (Channel::Sms, _, _) => {
            "The text message was not delivered. Try again, or ask for a voice call."
        }
        (Channel::Voice, NoAnswer, _) => {
            "Nobody answered the call. Ask again when you can pick up."
        }
        (Channel::Voice, Busy, _) => "The line was busy. Ask again in a moment.",
        (Channel::Voice, Voicemail, _) => {
            "Voicemail answered, so the code was not read out. Ask again when you can pick up."
        }
        (Channel::Voice, NotHeard, _) => {
            "The call was answered but no key was pressed, so the code was not read out. Ask \
             again, and press a key when the call asks."
        }
        (Channel::Voice, _, _) => "The call could not be placed. Try again later.",
    };
    format!("{words}{given_back}")
}

/// Whether a proven registration counts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proven {
    /// Active: the number is in the registry.
    Active,
    /// Proven, waiting for the attorney to be verified.
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
/// microseconds.
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
    let (e164, status): (String, RegistrationStatus) = sqlx::query_as(&format!(
        "UPDATE registrations SET proven_at = $1, expires_at = $2, \
         reminded_30_at = NULL, reminded_7_at = NULL, \
         status = CASE WHEN (SELECT standing FROM users WHERE id = $3) = 'verified' \
                  AND {NOT_BOUND_BY_REVOCATION} THEN 'active' ELSE 'pending' END, \
         status_reason = CASE WHEN {NOT_BOUND_BY_REVOCATION} THEN NULL ELSE $5 END \
         WHERE id = $4 AND user_id = $3 AND status NOT IN ('removed', 'revoked') \
         RETURNING e164, status"
    ))
    .bind(now)
    .bind(now + REGISTRATION_VALIDITY_MS)
    .bind(user_id)
    .bind(registration_id)
    .bind(HELD_FOR_REVIEW)
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(NumberError::NotFound)?;
    registry::refresh(&mut write, &e164).await?;
    write.commit().await?;
    Ok(if status == RegistrationStatus::Active {
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

/// A site admin ends a registration, with a reason the attorney is
/// emailed (queued in the same transaction). The attorney cannot add the
/// number back ([`add_number`] refuses it); others who hold it keep it.
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
}

/// Every registration of `phone`, current ones first, for the admin's
/// look-up.
pub async fn holders(pool: &AnyPool, phone: &PhoneNumber) -> Result<Vec<Holder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS registration_id, u.full_name, u.email, u.jurisdiction, u.bar_number, \
           r.status, r.status_reason, r.expires_at \
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

/// A site admin clears a registration held because its number was
/// revoked for another account, after review: it counts from now on if
/// its attorney is verified and its proof current. `NotFound` unless it is
/// pending or suspended.
pub async fn clear_revocation_hold(
    pool: &AnyPool,
    admin_id: i64,
    registration_id: i64,
) -> Result<(), NumberError> {
    let mut write = registry::begin_write(pool).await?;
    let user_id: i64 = sqlx::query_scalar(
        "UPDATE registrations SET revocation_cleared_by = $1, revocation_cleared_at = $2 \
         WHERE id = $3 AND status IN ('pending', 'suspended') RETURNING user_id",
    )
    .bind(admin_id)
    .bind(now_millis())
    .bind(registration_id)
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(NumberError::NotFound)?;
    follow_standing(&mut write, user_id).await?;
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
    let affected: Vec<String> = if verified {
        sqlx::query(&format!(
            "UPDATE registrations SET status_reason = $1 \
             WHERE user_id = $2 AND status IN ('pending', 'suspended') \
               AND proven_at IS NOT NULL AND NOT {NOT_BOUND_BY_REVOCATION}"
        ))
        .bind(HELD_FOR_REVIEW)
        .bind(user_id)
        .execute(&mut *write.transaction)
        .await?;
        sqlx::query_scalar(&format!(
            "UPDATE registrations SET status = 'active', status_reason = NULL \
             WHERE user_id = $1 AND status IN ('pending', 'suspended') \
               AND proven_at IS NOT NULL AND expires_at > $2 \
               AND {NOT_BOUND_BY_REVOCATION} RETURNING e164"
        ))
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

/// A registration as stored, with what the dashboard says about its code.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Registration {
    pub id: i64,
    pub e164: String,
    pub label: Option<String>,
    pub extension: Option<String>,
    pub status: RegistrationStatus,
    pub status_reason: Option<String>,
    pub expires_at: Option<i64>,
    /// Unix milliseconds until which the latest code can still be entered.
    pub code_valid_until: Option<i64>,
    /// When the latest code went out.
    pub last_code_at: Option<i64>,
}

/// How many codes went out by channel and what became of them, since
/// `since` (Unix ms): `(channel, status, count)`, with `None` for a code
/// whose delivery has nothing to report (the development outbox). For the
/// metrics and the site admins' overview.
pub async fn delivery_outcomes(
    pool: &AnyPool,
    since: i64,
) -> Result<Vec<(Channel, Option<DeliveryStatus>, i64)>, sqlx::Error> {
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT channel, delivery_status, COUNT(*) FROM number_codes \
         WHERE created_at >= $1 GROUP BY channel, delivery_status \
         ORDER BY channel, delivery_status",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(channel, status, count)| {
            let channel = Channel::from_db(&channel).map_err(|e| sqlx::Error::Decode(e.into()))?;
            let status = status
                .map(|status| DeliveryStatus::from_db(&status))
                .transpose()
                .map_err(|e| sqlx::Error::Decode(e.into()))?;
            Ok((channel, status, count))
        })
        .collect()
}

/// Registrations made per period of `period_ms` from `from` (Unix ms):
/// the count of each period in order, `periods` of them, zero where none.
pub async fn registrations_per_period(
    pool: &AnyPool,
    from: i64,
    period_ms: i64,
    periods: usize,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (created_at - $1) / $2 AS period, COUNT(*) FROM registrations \
         WHERE created_at >= $1 GROUP BY period",
    )
    .bind(from)
    .bind(period_ms)
    .fetch_all(pool)
    .await?;
    let mut counts = vec![0; periods];
    for (period, count) in rows {
        if let Some(slot) = usize::try_from(period).ok().and_then(|p| counts.get_mut(p)) {
            *slot = count;
        }
    }
    Ok(counts)
}

/// The attorney's registrations that still concern them (not removed),
/// newest first; revoked ones stay, with the reason.
pub async fn list(pool: &AnyPool, user_id: i64) -> Result<Vec<Registration>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.e164, r.label, r.extension, r.status, r.status_reason, r.expires_at, \
           (SELECT MAX(c.expires_at) FROM number_codes c \
             WHERE c.registration_id = r.id AND c.used_at IS NULL AND c.wrong_tries < $2) \
           AS code_valid_until, \
           (SELECT MAX(c.created_at) FROM number_codes c WHERE c.registration_id = r.id) \
           AS last_code_at \
         FROM registrations r \
         WHERE r.user_id = $1 AND r.status <> 'removed' \
         ORDER BY r.created_at DESC, r.id DESC",
    )
    .bind(user_id)
    .bind(MAX_WRONG_TRIES)
    .fetch_all(pool)
    .await
}

/// What the attorney reads for each refusal: written once, here.
impl From<NumberError> for AppError {
    fn from(error: NumberError) -> Self {
        match error {
            NumberError::AlreadyRegistered => {
                AppError::Conflict("You have already registered this number.".into())
            }
            NumberError::NotFound => AppError::NotFound,
            NumberError::TooManySendsForNumber => AppError::Validation(
                "Five codes were sent to this number in the last hour. Try again later.".into(),
            ),
            NumberError::TooManySendsForAttorney => AppError::Validation(
                "You have asked for 20 codes today. Try again tomorrow.".into(),
            ),
            NumberError::NoValidCode => AppError::Validation(
                "That code has expired or was already used. Ask for a new one.".into(),
            ),
            NumberError::WrongCode { tries_left } => AppError::Validation(format!(
                "That code is not right. {tries_left} of {MAX_WRONG_TRIES} tries left."
            )),
            NumberError::TooManyTries => AppError::Validation(
                "Too many wrong tries for that code. Ask for a new one.".into(),
            ),
            NumberError::TooManyProofTries { retry_after_secs } => {
                AppError::RateLimited { retry_after_secs }
            }
            NumberError::TooSoon { waited_ms } => {
                let wait = ((RESEND_AFTER_MS - waited_ms + 999) / 1000).max(1);
                AppError::Validation(format!(
                    "A code went out moments ago. Wait {wait} seconds before asking for another."
                ))
            }
            NumberError::Revoked { reason } => AppError::Conflict(format!(
                "The registry's administrators revoked this number for you: {reason} \
                 Reply to their email if you think this is wrong."
            )),
            NumberError::Send { error, channel } => {
                tracing::error!(error = %error, "code not sent");
                let why = match (error.refusal(), channel) {
                    (Some(Refusal::CannotTakeTexts), Channel::Sms) => {
                        "the phone service says this number cannot take text messages (a \
                         landline, or not a mobile number). Ask for a voice call instead."
                    }
                    (Some(Refusal::CannotTakeTexts), Channel::Voice) => {
                        "the phone service refused this number as not valid. Check it."
                    }
                    (Some(Refusal::RepliedStop), _) => {
                        "this phone once replied STOP to our text messages, so the carrier blocks \
                         them. Reply START to one of our earlier texts, then ask again, or ask \
                         for a voice call."
                    }
                    _ => {
                        "of a problem on our side, not with your number, and our administrators \
                         have been alerted. Try again later, or ask for a voice call."
                    }
                };
                AppError::Validation(format!(
                    "We could not send the code because {why} Nothing was used up."
                ))
            }
            other => AppError::unexpected(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilios_status_words_read_into_ours() {
        use DeliveryStatus::*;
        for (word, expected) in [
            ("queued", CarrierStatus::Pending),
            ("sending", CarrierStatus::Pending),
            ("sent", CarrierStatus::Pending),
            ("ringing", CarrierStatus::Pending),
            ("in-progress", CarrierStatus::Pending),
            ("delivered", CarrierStatus::Final(Delivered)),
            ("undelivered", CarrierStatus::Final(Undelivered)),
            ("failed", CarrierStatus::Final(Failed)),
            ("busy", CarrierStatus::Final(Busy)),
            ("no-answer", CarrierStatus::Final(NoAnswer)),
            ("canceled", CarrierStatus::Final(Canceled)),
            ("completed", CarrierStatus::CallCompleted),
            ("something-new", CarrierStatus::Pending),
        ] {
            assert_eq!(CarrierStatus::from_twilio(word), expected, "{word}");
        }
    }

    #[test]
    fn only_what_never_reached_the_phone_gives_its_send_back() {
        for status in DeliveryStatus::ALL {
            let never_reached = matches!(
                status,
                DeliveryStatus::Undelivered | DeliveryStatus::Failed | DeliveryStatus::Canceled
            );
            assert_eq!(status.gives_back(), never_reached, "{status:?}");
            let words = delivery_words(Channel::Voice, *status, None);
            assert_eq!(
                words.contains("did not count"),
                status.gives_back(),
                "{words}"
            );
        }
        assert!(
            delivery_words(Channel::Sms, DeliveryStatus::Undelivered, Some(30007))
                .contains("filtered")
        );
    }
}
