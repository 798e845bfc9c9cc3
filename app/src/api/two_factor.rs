//! Setting up two-step sign-in: a secret shown as a QR code and as text,
//! confirmed by a first code, then ten recovery codes shown once.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[cfg(feature = "ssr")]
const PENDING_SECRET_KEY: &str = "totp_enrolment_secret";
#[cfg(feature = "ssr")]
const FRESH_RECOVERY_CODES_KEY: &str = "fresh_recovery_codes";
/// How long a secret being enrolled waits, sealed in the session, for its
/// first code: long enough to find the phone, not a day.
#[cfg(feature = "ssr")]
const ENROLMENT_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// How long fresh recovery codes wait for the page that shows them (the
/// redirect right after enrolment).
#[cfg(feature = "ssr")]
const SHOWN_ONCE_FOR: std::time::Duration = std::time::Duration::from_secs(10 * 60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TwoFactorStatus {
    Enabled {
        recovery_codes_left: i64,
        /// Attorneys may turn it off; admins must keep it.
        may_turn_off: bool,
    },
    /// Not yet set up: what the authenticator app needs.
    Enrol {
        secret: String,
        otpauth_url: String,
        qr_data_uri: String,
        required: bool,
    },
}

#[server(endpoint = "two_factor_setup")]
pub async fn two_factor_setup() -> Result<TwoFactorStatus, AppError> {
    use crate::ssr::{accounts::two_factor, auth, infra::session};

    let session = session::current().await?;
    let account = auth::require_account(&session).await?;
    let state = auth::state()?;
    if account.two_factor_enabled {
        let left = two_factor::recovery_codes_left(state.database.pool(), account.id).await?;
        return Ok(TwoFactorStatus::Enabled {
            recovery_codes_left: left,
            may_turn_off: !account.role.requires_second_factor(),
        });
    }
    // The secret waits in the session, sealed, until a code confirms it,
    // so a reload shows the same QR code rather than a new one.
    let secret =
        match session::get_secret::<String>(&session, &state.keyring, PENDING_SECRET_KEY).await? {
            Some(secret) => secret,
            None => {
                let secret = two_factor::new_secret();
                session::put_secret(
                    &session,
                    &state.keyring,
                    PENDING_SECRET_KEY,
                    &secret,
                    ENROLMENT_TTL,
                )
                .await?;
                secret
            }
        };
    let (otpauth_url, qr_data_uri) = two_factor::provisioning(&secret, &account.email)?;
    Ok(TwoFactorStatus::Enrol {
        secret,
        otpauth_url,
        qr_data_uri,
        required: account.role.requires_second_factor(),
    })
}

/// Turns two-step sign-in on once the current password and the first
/// code from the app are right. The session id changes and the owner is
/// emailed.
#[server(endpoint = "enable_two_factor")]
pub async fn enable_two_factor(code: String, current_password: String) -> Result<(), AppError> {
    use crate::ssr::{accounts, accounts::two_factor, auth, infra::session};

    let session = session::current().await?;
    let account = auth::require_account(&session).await?;
    let state = auth::state()?;
    if !accounts::confirm_password(state.database.pool(), account.id, current_password).await? {
        return Err(AppError::Validation(
            "Your current password is not right.".into(),
        ));
    }
    let Some(secret) =
        session::get_secret::<String>(&session, &state.keyring, PENDING_SECRET_KEY).await?
    else {
        return Err(AppError::Validation(
            "Reload this page to get a new QR code, then try again.".into(),
        ));
    };
    match two_factor::enrol(
        state.database.pool(),
        &state.keyring,
        account.id,
        &secret,
        &code,
    )
    .await
    {
        Ok(Some(codes)) => {
            session.remove_value(PENDING_SECRET_KEY).await?;
            session.cycle_id().await?;
            session::put_secret(
                &session,
                &state.keyring,
                FRESH_RECOVERY_CODES_KEY,
                &codes,
                SHOWN_ONCE_FOR,
            )
            .await?;
            auth::mark_second_factor(&session).await?;
            accounts::tell_two_factor_changed(&state.database, &state.mailer, account.id, true)
                .await?;
            leptos_axum::redirect("/account/two-factor/recovery-codes");
            Ok(())
        }
        Ok(None) => Err(AppError::Validation(
            "That code is not right. Enter the 6 digits the app shows now; if it keeps \
             failing, check that your phone's clock is set automatically."
                .into(),
        )),
        Err(other) => Err(other.into()),
    }
}

/// An attorney turns two-step sign-in off with their password and a
/// current code (or a recovery code); admins cannot. The owner is emailed.
#[server(endpoint = "disable_two_factor")]
pub async fn disable_two_factor(current_password: String, code: String) -> Result<(), AppError> {
    use crate::ssr::{accounts, accounts::two_factor, auth, infra::session};

    let session = session::current().await?;
    let account = auth::require_account(&session).await?;
    if account.role.requires_second_factor() {
        return Err(AppError::Forbidden);
    }
    let state = auth::state()?;
    let pool = state.database.pool();
    if !accounts::confirm_password(pool, account.id, current_password).await? {
        return Err(AppError::Validation(
            "Your current password is not right.".into(),
        ));
    }
    if code.len() > 64
        || !accounts::second_factor_attempt(pool, account.id).await?
        || !two_factor::check(pool, &state.keyring, account.id, &code).await?
    {
        return Err(AppError::Validation(
            "That code is not valid, or was already used. Codes change every 30 seconds.".into(),
        ));
    }
    accounts::second_factor_succeeded(pool, account.id).await?;
    two_factor::disable(pool, account.id).await?;
    session.cycle_id().await?;
    accounts::tell_two_factor_changed(&state.database, &state.mailer, account.id, false).await?;
    leptos_axum::redirect("/account/two-factor?off=1");
    Ok(())
}

/// The recovery codes made by the enrolment that just happened, handed
/// out once: a reload shows none.
#[server(endpoint = "take_recovery_codes")]
pub async fn take_recovery_codes() -> Result<Vec<String>, AppError> {
    use crate::ssr::{auth, infra::session};

    let session = session::current().await?;
    auth::require_account(&session).await?;
    let state = auth::state()?;
    Ok(
        session::take_secret::<Vec<String>>(&session, &state.keyring, FRESH_RECOVERY_CODES_KEY)
            .await?
            .unwrap_or_default(),
    )
}
