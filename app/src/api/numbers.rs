//! The attorney's numbers: list, add, send a code, prove, remove.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One registration as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberView {
    pub id: i64,
    /// As people write it, e.g. "(202) 456-1111".
    pub display: String,
    pub label: Option<String>,
    pub extension: Option<String>,
    pub status: String,
    /// When the proof runs out, as YYYY-MM-DD (UTC), once proven.
    pub expires_on: Option<String>,
    /// Why it is suspended or revoked, in words, when it is.
    pub status_reason: Option<String>,
    /// A code was sent and can still be entered.
    pub code_pending: bool,
    /// Seconds before another code may be asked for (0: now).
    pub resend_in_secs: i64,
    /// A code that has not gone out yet or could not, in words.
    pub delivery: Option<String>,
    /// Providers that have applied the number since it last entered the
    /// registry, with the date (UTC) they first acknowledged it.
    pub applied_by: Vec<(String, String)>,
}

impl NumberView {
    /// What a card shows, apart from the countdown: when this changes the
    /// card is drawn again; otherwise it stays (with what was typed in it).
    pub fn shown(&self) -> (i64, String, Option<String>, bool, Option<String>, usize) {
        (
            self.id,
            self.status.clone(),
            self.expires_on.clone(),
            self.code_pending,
            self.delivery.clone(),
            self.applied_by.len(),
        )
    }
}

#[cfg(feature = "ssr")]
async fn attorney() -> Result<crate::ssr::accounts::Account, AppError> {
    use crate::domain::Role;
    use crate::ssr::{auth, session};
    let session = session::current().await?;
    auth::require_role(&session, Role::Attorney).await
}

#[cfg(feature = "ssr")]
fn number_error(error: crate::ssr::numbers::NumberError) -> AppError {
    use crate::ssr::code_sender::SendError;
    use crate::ssr::numbers::{MAX_WRONG_TRIES, NumberError, RESEND_AFTER_MS};
    match error {
        NumberError::AlreadyRegistered => {
            AppError::Conflict("You have already registered this number.".into())
        }
        NumberError::NotFound => AppError::NotFound,
        NumberError::TooManySendsForNumber => AppError::Validation(
            "Five codes were sent to this number in the last hour. Try again later.".into(),
        ),
        NumberError::TooManySendsForAttorney => {
            AppError::Validation("You have asked for 20 codes today. Try again tomorrow.".into())
        }
        NumberError::NoValidCode => AppError::Validation(
            "That code has expired or was already used. Ask for a new one.".into(),
        ),
        NumberError::WrongCode { tries_left } => AppError::Validation(format!(
            "That code is not right. {tries_left} of {MAX_WRONG_TRIES} tries left."
        )),
        NumberError::TooManyTries => {
            AppError::Validation("Too many wrong tries for that code. Ask for a new one.".into())
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
        NumberError::Send(cause) => {
            tracing::error!(error = %cause, "code not sent");
            let why = match &cause {
                SendError::Refused { status, .. } if *status == 400 || *status == 404 => {
                    "the phone service refused this number. Check it; for a landline choose a \
                     voice call."
                }
                _ => "of a problem on our side, and we have been alerted. Try again later.",
            };
            AppError::Validation(format!(
                "We could not send the code because {why} Nothing was used up."
            ))
        }
        other => AppError::unexpected(other),
    }
}

#[cfg(feature = "ssr")]
fn registration_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::NotFound)
}

#[server(endpoint = "my_numbers")]
pub async fn my_numbers() -> Result<Vec<NumberView>, AppError> {
    use crate::ssr::numbers::RESEND_AFTER_MS;
    let account = attorney().await?;
    let state = crate::ssr::auth::state()?;
    let pool = state.database.pool();
    let now = crate::ssr::clock::now_millis();
    let registrations = crate::ssr::numbers::list(pool, account.id)
        .await
        .map_err(AppError::unexpected)?;
    let mut views = Vec::with_capacity(registrations.len());
    for registration in registrations {
        let delivery = delivery_report(pool, &registration)
            .await
            .map_err(AppError::unexpected)?;
        let applied_by = if registration.status == "active" {
            crate::ssr::providers::applied_by(pool, &registration.e164)
                .await
                .map_err(AppError::unexpected)?
                .into_iter()
                .map(|(name, at)| (name, crate::ssr::clock::utc_date(at)))
                .collect()
        } else {
            Vec::new()
        };
        let resend_in_secs = registration
            .last_code_at
            .map_or(0, |at| ((at + RESEND_AFTER_MS - now).max(0) + 999) / 1000);
        views.push(NumberView {
            id: registration.id,
            display: crate::domain::phone::PhoneNumber::national_display(&registration.e164),
            label: registration.label,
            extension: registration.extension,
            expires_on: registration.expires_at.map(crate::ssr::clock::utc_date),
            status_reason: matches!(registration.status.as_str(), "revoked" | "suspended")
                .then_some(registration.status_reason)
                .flatten(),
            status: registration.status,
            code_pending: registration
                .code_valid_until
                .is_some_and(|until| until > now),
            resend_in_secs,
            delivery,
            applied_by,
        });
    }
    Ok(views)
}

/// What the attorney should know about a code delivery the worker holds:
/// one being retried, or one that failed for good since the last code.
#[cfg(feature = "ssr")]
async fn delivery_report(
    pool: &sqlx::AnyPool,
    registration: &crate::ssr::numbers::Registration,
) -> Result<Option<String>, sqlx::Error> {
    use crate::ssr::worker::SendCodeJob;
    let Some(job) = crate::ssr::jobs::latest(pool, &SendCodeJob::key(registration.id)).await?
    else {
        return Ok(None);
    };
    let superseded = registration
        .last_code_at
        .is_some_and(|sent| sent >= job.created_at);
    Ok(match job.state.as_str() {
        "queued" => Some(format!(
            "We could not send your code yet and are trying again (next try at {} UTC).",
            crate::ssr::clock::utc_time(job.run_at)
        )),
        "failed" if !superseded => Some(format!(
            "We could not send your code after {} tries. Ask for a new one, or try the other way \
             (text or call).",
            job.attempts + 1
        )),
        _ => None,
    })
}

#[server(endpoint = "add_number")]
pub async fn add_number(
    number: String,
    label: Option<String>,
    extension: String,
) -> Result<(), AppError> {
    use crate::domain::phone::{Extension, NumberLabel, PhoneNumber};
    let account = attorney().await?;
    let phone = PhoneNumber::parse(&number).map_err(|e| AppError::Validation(e.to_string()))?;
    let extension =
        Extension::parse(&extension).map_err(|e| AppError::Validation(e.to_string()))?;
    let label = match label.as_deref().unwrap_or("") {
        "" => None,
        "office" => Some(NumberLabel::Office),
        "mobile" => Some(NumberLabel::Mobile),
        "switchboard" => Some(NumberLabel::Switchboard),
        "other" => Some(NumberLabel::Other),
        _ => return Err(AppError::Validation("Choose a label from the list.".into())),
    };
    let state = crate::ssr::auth::state()?;
    crate::ssr::numbers::add_number(
        state.database.pool(),
        account.id,
        &phone,
        label,
        extension.as_ref(),
    )
    .await
    .map_err(number_error)?;
    leptos_axum::redirect("/numbers");
    Ok(())
}

#[server(endpoint = "send_number_code")]
pub async fn send_number_code(
    registration: String,
    channel: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::code_sender::Channel;
    let account = attorney().await?;
    let id = registration_id(&registration)?;
    let channel = channel
        .as_deref()
        .and_then(Channel::parse)
        .ok_or_else(|| AppError::Validation("Choose text message or voice call.".into()))?;
    let state = crate::ssr::auth::state()?;
    match crate::ssr::numbers::send_code(
        state.database.pool(),
        &state.code_sender,
        account.id,
        id,
        channel,
    )
    .await
    {
        Ok(()) => leptos_axum::redirect(&format!("/numbers?sent={id}")),
        // Not an error the attorney can fix: the worker keeps trying and
        // the dashboard says how it goes.
        Err(crate::ssr::numbers::NumberError::SendQueued(cause)) => {
            tracing::warn!(error = %cause, "code send queued for a retry");
            leptos_axum::redirect(&format!("/numbers?queued={id}"));
        }
        Err(other) => return Err(number_error(other)),
    }
    Ok(())
}

#[server(endpoint = "prove_number")]
pub async fn prove_number(registration: String, code: String) -> Result<(), AppError> {
    let account = attorney().await?;
    let id = registration_id(&registration)?;
    if code.len() > 32 {
        return Err(AppError::Validation("A code is 6 digits.".into()));
    }
    let state = crate::ssr::auth::state()?;
    crate::ssr::numbers::verify_code(state.database.pool(), account.id, id, &code)
        .await
        .map_err(number_error)?;
    leptos_axum::redirect(&format!("/numbers?proven={id}"));
    Ok(())
}

#[server(endpoint = "remove_number")]
pub async fn remove_number(registration: String) -> Result<(), AppError> {
    let account = attorney().await?;
    let id = registration_id(&registration)?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::numbers::remove_number(state.database.pool(), account.id, id)
        .await
        .map_err(number_error)?;
    leptos_axum::redirect("/numbers?removed=1");
    Ok(())
}
