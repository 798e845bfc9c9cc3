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
//!
//! One concern a file: `lifecycle` (a registration from adding to expiry,
//! removal and revocation, following the attorney's standing), `codes`
//! (issuing a code within the send limits), `delivery` (a code going out
//! by text or call through the code sender, its retries as jobs, and the
//! carrier's reports), `proof` (proving a number with a code),
//! `dashboard` (what the attorney's numbers page and the admins' overview
//! read), and `holds` (the hold a revocation puts on other registrations of
//! its number, who is told, and the admins' queue). This file keeps what
//! they share: the errors and what the attorney reads for each, and what
//! sending needs ([`Outgoing`]).

mod codes;
mod dashboard;
mod delivery;
mod holds;
mod lifecycle;
mod proof;

pub use codes::{
    CODE_VALIDITY_MS, RESEND_AFTER_MS, SENDS_PER_ATTORNEY_PER_DAY, SENDS_PER_NUMBER_PER_HOUR,
    SENDS_TO_NUMBER_CEILING_PER_HOUR, send_code,
};
pub use dashboard::{
    Registration, delivery_outcomes, delivery_words, latest_deliveries, list,
    registrations_per_period,
};
pub use delivery::{
    CallStep, CarrierStatus, SendCodeJob, call_answered, code_for_call, deliver_queued_code,
    forget_expired_call_codes, record_carrier_status,
};
pub use holds::{HELD_FOR_REVIEW, HeldRegistration, clear_revocation_hold, held_registrations};
pub use lifecycle::{
    Holder, add_number, expire_due, follow_account, follow_standing, holders, queue_reminders,
    remove_number, revoke,
};
pub use proof::{
    MAX_WRONG_TRIES, PROOF_TRIES_PER_ATTORNEY, Proven, REGISTRATION_VALIDITY_MS, verify_code,
};

use crate::domain::EmailAddress;
use crate::error::AppError;
use crate::ssr::infra::delivery::{Channel, CodeSender, Refusal, SendError};
use crate::ssr::infra::sealing::Keyring;
use crate::ssr::infra::secrets::CodeKey;

#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    #[error("you have already registered this number")]
    AlreadyRegistered,
    #[error("no such registration")]
    NotFound,
    /// This account asked for [`SENDS_PER_NUMBER_PER_HOUR`] codes to this
    /// number in the last hour.
    #[error("too many codes sent to this number for this attorney in the last hour")]
    TooManySendsForNumber,
    /// The number got [`SENDS_TO_NUMBER_CEILING_PER_HOUR`] codes in the
    /// last hour, whoever asked (its proven holder is never stopped by it).
    #[error("too many codes sent to this number in the last hour")]
    NumberCeilingReached,
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

/// An address read back from `users.email`, written there only after
/// parsing: a failure means the row was edited by hand.
fn parse_email(raw: &str) -> Result<EmailAddress, sqlx::Error> {
    EmailAddress::parse(raw).map_err(|error| sqlx::Error::Decode(Box::new(error)))
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

/// What the attorney reads for each refusal: written once, here.
impl From<NumberError> for AppError {
    fn from(error: NumberError) -> Self {
        match error {
            NumberError::AlreadyRegistered => {
                AppError::Conflict("You have already registered this number.".into())
            }
            NumberError::NotFound => AppError::NotFound,
            NumberError::TooManySendsForNumber => AppError::Validation(
                "Five codes were sent to this number for you in the last hour. Try again later."
                    .into(),
            ),
            NumberError::NumberCeilingReached => AppError::Validation(
                "This number has had as many codes as it may get in an hour. Try again later."
                    .into(),
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
