//! The attorney's numbers: list, add, send a code, prove, remove.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::{NumberLabel, RegistrationStatus};
use crate::error::AppError;

/// One registration as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberView {
    pub id: i64,
    /// As people write it, e.g. "(202) 456-1111".
    pub display: String,
    pub label: Option<NumberLabel>,
    pub extension: Option<String>,
    pub status: RegistrationStatus,
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
    pub fn shown(
        &self,
    ) -> (
        i64,
        RegistrationStatus,
        Option<String>,
        bool,
        Option<String>,
        usize,
    ) {
        (
            self.id,
            self.status,
            self.expires_on.clone(),
            self.code_pending,
            self.delivery.clone(),
            self.applied_by.len(),
        )
    }
}

#[cfg(feature = "ssr")]
async fn attorney() -> Result<crate::ssr::accounts::Account, AppError> {
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::{auth, infra::session};
    let session = session::current().await?;
    auth::require(&session, Permission::ManageOwnNumbers).await
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
    let now = crate::ssr::infra::clock::now_millis();
    let registrations = crate::ssr::numbers::list(pool, account.id).await?;
    // Three queries for the whole list, not three a number: the page
    // polls it.
    let keys: Vec<String> = registrations
        .iter()
        .map(|registration| crate::ssr::numbers::SendCodeJob::key(registration.id))
        .collect();
    let mut retries = crate::ssr::infra::jobs::latest_of(pool, &keys).await?;
    let mut reports = crate::ssr::numbers::latest_deliveries(pool, account.id).await?;
    let active: Vec<String> = registrations
        .iter()
        .filter(|registration| registration.status == RegistrationStatus::Active)
        .map(|registration| registration.e164.clone())
        .collect();
    let mut applied = crate::ssr::providers::applied_by_each(pool, &active).await?;
    let mut views = Vec::with_capacity(registrations.len());
    for (registration, key) in registrations.into_iter().zip(keys) {
        let delivery = delivery_report(
            &registration,
            retries.remove(&key),
            reports.remove(&registration.id),
        );
        let applied_by = if registration.status == RegistrationStatus::Active {
            applied
                .remove(&registration.e164)
                .unwrap_or_default()
                .into_iter()
                .map(|(name, at)| (name, crate::ssr::infra::clock::utc_date(at)))
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
            expires_on: registration
                .expires_at
                .map(crate::ssr::infra::clock::utc_date),
            status_reason: matches!(
                registration.status,
                RegistrationStatus::Revoked | RegistrationStatus::Suspended
            )
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

/// What the attorney should know about a code's delivery: one the worker
/// is retrying (`retry`, the latest send job), or one that failed for good
/// since the last code; else what the phone company reported of the
/// latest code (`report`).
#[cfg(feature = "ssr")]
fn delivery_report(
    registration: &crate::ssr::numbers::Registration,
    retry: Option<crate::ssr::infra::jobs::JobStatus>,
    report: Option<(
        crate::ssr::infra::delivery::Channel,
        crate::domain::DeliveryStatus,
        Option<i64>,
    )>,
) -> Option<String> {
    use crate::domain::JobState;
    let held = retry.and_then(|job| {
        let superseded = registration
            .last_code_at
            .is_some_and(|sent| sent >= job.created_at);
        match job.state {
            JobState::Queued => Some(format!(
                "We could not send your code yet and are trying again (next try at {} UTC).",
                crate::ssr::infra::clock::utc_time(job.run_at)
            )),
            JobState::Failed if !superseded => Some(format!(
                "We could not send your code after {} tries. Ask for a new one, or try the \
                     other way (text or call).",
                job.attempts + 1
            )),
            // A later code took its place, or it went out.
            JobState::Failed | JobState::Done => None,
        }
    });
    held.or_else(|| {
        report.map(|(channel, status, error)| {
            crate::ssr::numbers::delivery_words(channel, status, error)
        })
    })
}

#[server(endpoint = "add_number")]
pub async fn add_number(
    number: String,
    label: Option<String>,
    extension: String,
) -> Result<(), AppError> {
    use crate::domain::phone::PhoneNumber;
    let account = attorney().await?;
    let (phone, extension) =
        PhoneNumber::read(&number, &extension).map_err(|e| AppError::Validation(e.to_string()))?;
    let label = match label.as_deref().map(str::trim).unwrap_or("") {
        "" => None,
        chosen => Some(
            NumberLabel::parse(chosen)
                .ok_or_else(|| AppError::Validation("Choose a label from the list.".into()))?,
        ),
    };
    let state = crate::ssr::auth::state()?;
    crate::ssr::numbers::add_number(
        state.database.pool(),
        account.id,
        &phone,
        label,
        extension.as_ref(),
    )
    .await?;
    // The confirmation shows the number as read (digits for a vanity
    // number, the extension moved out of the number field) and warns
    // about a toll-free one.
    let mut location = format!(
        "/numbers?added={}",
        PhoneNumber::national_display(phone.as_str()).replace(' ', "%20")
    );
    if let Some(extension) = &extension {
        location.push_str(&format!("&ext={}", extension.as_str()));
    }
    if phone.is_toll_free() {
        location.push_str("&toll_free=1");
    }
    leptos_axum::redirect(&location);
    Ok(())
}

#[server(endpoint = "send_number_code")]
pub async fn send_number_code(
    registration: String,
    channel: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::infra::delivery::Channel;
    let account = attorney().await?;
    let id = registration_id(&registration)?;
    let channel = channel
        .as_deref()
        .and_then(Channel::parse)
        .ok_or_else(|| AppError::Validation("Choose text message or voice call.".into()))?;
    let state = crate::ssr::auth::state()?;
    let outgoing = crate::ssr::numbers::Outgoing {
        sender: &state.code_sender,
        key: &state.code_key,
        keyring: &state.keyring,
        base_url: &state.base_url,
    };
    match crate::ssr::numbers::send_code(state.database.pool(), outgoing, account.id, id, channel)
        .await
    {
        Ok(()) => leptos_axum::redirect(&format!("/numbers?sent={id}")),
        // Not an error the attorney can fix: the worker keeps trying and
        // the dashboard says how it goes.
        Err(crate::ssr::numbers::NumberError::SendQueued(cause)) => {
            tracing::warn!(error = %cause, "code send queued for a retry");
            leptos_axum::redirect(&format!("/numbers?queued={id}"));
        }
        Err(other) => return Err(other.into()),
    }
    Ok(())
}

#[server(endpoint = "prove_number")]
pub async fn prove_number(registration: String, code: String) -> Result<(), AppError> {
    let account = attorney().await?;
    let id = registration_id(&registration)?;
    // Mistyped is not a wrong guess: refused here, it costs no try.
    let code = crate::domain::code::OneTimeCode::parse(&code)
        .map_err(|error| AppError::Validation(error.to_string()))?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::numbers::verify_code(
        state.database.pool(),
        &state.code_key,
        account.id,
        id,
        code.as_str(),
    )
    .await?;
    leptos_axum::redirect(&format!("/numbers?proven={id}"));
    Ok(())
}

#[server(endpoint = "remove_number")]
pub async fn remove_number(registration: String) -> Result<(), AppError> {
    let account = attorney().await?;
    let id = registration_id(&registration)?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::numbers::remove_number(state.database.pool(), account.id, id).await?;
    leptos_axum::redirect("/numbers?removed=1");
    Ok(())
}
