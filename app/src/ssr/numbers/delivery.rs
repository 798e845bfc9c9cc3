//! Carrier delivery: handing a reserved code to the code sender by text
//! or voice call, retrying a send that failed for a passing reason as a
//! job ([`SendCodeJob`]), alerting the site admins about a refusal on our
//! side, and Twilio's status callbacks and call script. Here because all
//! of it speaks to or hears from the carrier about a code already issued
//! by `codes`.

use sqlx::AnyPool;

use crate::domain::phone::{Extension, PhoneNumber};
use crate::domain::{DeliveryStatus, Role};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::infra::delivery::{Channel, Dispatch, Refusal, SendError};
use crate::ssr::infra::jobs::{Job, JobContext, JobFailure};
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::infra::rate_limit;
use crate::ssr::infra::sealing::Keyring;

use super::codes::{Reserved, insert_code, new_code};
use super::{NumberError, Outgoing, parse_email};

/// At most one alert an hour per error code, however many attorneys
/// meet it.
const DELIVERY_ALERTS: rate_limit::Limit = rate_limit::Limit {
    max_hits: 1,
    window: std::time::Duration::from_secs(60 * 60),
};

/// Queues an email to every site admin about a refusal on our side (the
/// worker sends it).
pub(super) async fn alert_site_admins(
    pool: &AnyPool,
    error: &SendError,
) -> Result<(), sqlx::Error> {
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

/// What a call's code is sealed for: its row.
fn sealed_code_purpose(code_id: i64) -> String {
    format!("number_codes.sealed_code:{code_id}")
}

/// Hands the reserved code to the sender, then records what it said: the
/// SID and `sent` (a voice call's code sealed for its script), or, when
/// the send failed, deletes the row so it costs no quota.
pub(super) async fn send_reserved(
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
}
