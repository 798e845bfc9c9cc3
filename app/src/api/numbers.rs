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
    /// A code was sent and can still be entered.
    pub code_pending: bool,
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
    use crate::ssr::numbers::{MAX_WRONG_TRIES, NumberError};
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
        NumberError::Send(cause) => {
            tracing::error!(error = %cause, "code not sent");
            AppError::Validation(
                "We could not send the code just now. Nothing was used up: try again in a minute."
                    .into(),
            )
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
    let account = attorney().await?;
    let state = crate::ssr::auth::state()?;
    let now = crate::ssr::clock::now_millis();
    let registrations = crate::ssr::numbers::list(state.database.pool(), account.id)
        .await
        .map_err(AppError::unexpected)?;
    Ok(registrations
        .into_iter()
        .map(|registration| NumberView {
            id: registration.id,
            display: crate::domain::phone::PhoneNumber::national_display(&registration.e164),
            label: registration.label,
            extension: registration.extension,
            status: registration.status,
            expires_on: registration.expires_at.map(utc_date),
            code_pending: registration
                .code_valid_until
                .is_some_and(|until| until > now),
        })
        .collect())
}

/// YYYY-MM-DD of a Unix-milliseconds instant, in UTC.
#[cfg(feature = "ssr")]
fn utc_date(millis: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(millis / 1000) {
        Ok(instant) => {
            let date = instant.date();
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        }
        Err(_) => "unknown".into(),
    }
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
    crate::ssr::numbers::send_code(
        state.database.pool(),
        &state.code_sender,
        account.id,
        id,
        channel,
    )
    .await
    .map_err(number_error)?;
    leptos_axum::redirect(&format!("/numbers?sent={id}"));
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
