use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::{Role, Standing};
use crate::error::AppError;

/// The signed-in person, as pages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub full_name: String,
    pub email: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub role: Role,
    pub standing: Standing,
    /// Why, in words, when not verified.
    pub standing_reason: Option<String>,
    pub admin_jurisdiction: Option<String>,
    pub two_factor_enabled: bool,
    /// An attorney with a number in the registry and no two-step sign-in:
    /// the account page offers it (whoever takes the account over could
    /// remove the number, or add one).
    pub offer_two_step: bool,
}

#[server(endpoint = "current_account")]
pub async fn current_account() -> Result<Option<AccountSummary>, AppError> {
    use crate::ssr::{auth, infra::session};
    let session = session::current().await?;
    let Some(account) = auth::current_account(&session).await? else {
        return Ok(None);
    };
    let offer_two_step = account.role == Role::Attorney
        && !account.two_factor_enabled
        && has_live_number(account.id).await?;
    Ok(Some(AccountSummary {
        offer_two_step,
        full_name: account.full_name,
        email: account.email,
        jurisdiction: account.jurisdiction,
        bar_number: account.bar_number,
        role: account.role,
        standing: account.standing,
        standing_reason: account.standing_reason,
        admin_jurisdiction: account.admin_jurisdiction,
        two_factor_enabled: account.two_factor_enabled,
    }))
}

/// Whether the attorney has a number in the registry now (an active
/// registration).
#[cfg(feature = "ssr")]
async fn has_live_number(user_id: i64) -> Result<bool, AppError> {
    use crate::domain::RegistrationStatus;
    let state = crate::ssr::auth::state()?;
    let registrations = crate::ssr::numbers::list(state.database.pool(), user_id)
        .await
        .map_err(AppError::unexpected)?;
    Ok(registrations
        .iter()
        .any(|registration| registration.status == RegistrationStatus::Active))
}

/// Creates an account. Answers the same whether or not the email already
/// has one; the mailbox owner learns which.
#[server(endpoint = "sign_up")]
pub async fn sign_up(
    full_name: String,
    email: String,
    jurisdiction: String,
    bar_number: String,
    password: String,
) -> Result<(), AppError> {
    use crate::domain::{BarNumber, EmailAddress, Jurisdiction, NewPassword, PersonName};
    use crate::ssr::accounts::SignUp;

    let mut problems = Vec::new();
    let full_name = PersonName::parse(&full_name)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let email = EmailAddress::parse(&email)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let jurisdiction = Jurisdiction::parse(&jurisdiction)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let bar_number = BarNumber::parse(&bar_number)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let password = NewPassword::parse(&password, email.as_ref(), full_name.as_ref())
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let (Some(full_name), Some(email), Some(jurisdiction), Some(bar_number), Some(password)) =
        (full_name, email, jurisdiction, bar_number, password)
    else {
        return Err(AppError::Validation(problems.join(" ")));
    };

    let state = crate::ssr::auth::state()?;
    let form = SignUp {
        full_name,
        email,
        jurisdiction,
        bar_number,
        password,
    };
    crate::ssr::standing::sign_up(&state.database, &state.mailer, &state.base_url, form).await?;
    leptos_axum::redirect("/signup/check-email");
    Ok(())
}

/// What a confirmation link stands for, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationView {
    pub full_name: String,
    /// "CA 123456".
    pub bar: String,
    /// The jurisdiction by name: "California".
    pub jurisdiction: String,
    pub email: String,
    /// The address is the bar's email of record for the bar number:
    /// confirming proves the claim, so the page asks for the account's
    /// password and offers "this was not me".
    pub proves_claim: bool,
}

/// The confirmation a link stands for; `None` when the link is invalid,
/// expired or used. Reads only: the link is not used up.
#[server(endpoint = "confirmation_details")]
pub async fn confirmation_details(token: String) -> Result<Option<ConfirmationView>, AppError> {
    let state = crate::ssr::auth::state()?;
    let found =
        crate::ssr::standing::sign_up::confirmation(state.database.pool(), token.trim()).await?;
    Ok(found.map(|found| ConfirmationView {
        full_name: found.full_name,
        bar: found.bar,
        jurisdiction: found.jurisdiction,
        email: found.email,
        proves_claim: found.proves_claim,
    }))
}

/// Confirms the address. When that would prove a claim to a bar number,
/// `password` (the account's) is required: a bare click verifies no one
/// (issue 24). Redirects to `/login?verified=1`.
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String, password: Option<String>) -> Result<(), AppError> {
    use crate::ssr::accounts::AccountError;
    let state = crate::ssr::auth::state()?;
    let password = password.filter(|password| !password.is_empty());
    if password.as_ref().is_some_and(|p| p.chars().count() > 128) {
        return Err(AppError::Validation(
            "That is not the password of this account.".into(),
        ));
    }
    match crate::ssr::standing::confirm_email(&state.database, token.trim(), password).await {
        Ok(()) => {
            leptos_axum::redirect("/login?verified=1");
            Ok(())
        }
        Err(AccountError::InvalidToken) => Err(AppError::Validation(
            "This link is invalid, has expired or was already used. Sign in to ask for a new one."
                .into(),
        )),
        Err(AccountError::InvalidCredentials) => Err(AppError::Validation(
            "That is not the password of this account.".into(),
        )),
        Err(AccountError::TooManyFailures) => Err(AppError::Validation(
            "Too many wrong passwords for this account in the last hour. Try again later.".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

/// "This was not me" on a confirmation that would prove a claim: the
/// claim is blocked and the reviewers told. Redirects to
/// `/claim/answered?answer=not-mine`.
#[server(endpoint = "dispute_sign_up")]
pub async fn dispute_sign_up(token: String) -> Result<(), AppError> {
    use crate::ssr::accounts::AccountError;
    let state = crate::ssr::auth::state()?;
    match crate::ssr::standing::sign_up::refuse_confirmation(
        &state.database,
        &state.mailer,
        &state.base_url,
        token.trim(),
    )
    .await
    {
        Ok(()) => {
            leptos_axum::redirect("/claim/answered?answer=not-mine");
            Ok(())
        }
        Err(AccountError::InvalidToken) => Err(AppError::Validation(
            "This link is invalid, has expired or was already used.".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

#[server(endpoint = "log_in")]
pub async fn log_in(email: String, password: String) -> Result<(), AppError> {
    use crate::ssr::accounts;
    use crate::ssr::infra::rate_limit::ClientKey;
    use crate::ssr::{auth, infra::session};

    if email.len() > 254 || password.chars().count() > 128 {
        return Err(AppError::Validation("Wrong email or password.".into()));
    }
    let state = auth::state()?;
    // Who is trying, as the server's throttle counts clients: wrong
    // passwords are limited per client too (`accounts::sign_in`).
    let client = leptos_axum::extract::<axum::Extension<ClientKey>>()
        .await
        .map(|axum::Extension(client)| client)
        .unwrap_or_else(|_| ClientKey::unknown());
    match accounts::log_in(state.database.pool(), &email, password, &client).await {
        Ok(user_id) => {
            let session = session::current().await?;
            let account = accounts::find_account(state.database.pool(), user_id)
                .await?
                .ok_or(AppError::Unexpected)?;
            if account.two_factor_enabled {
                auth::await_second_factor(&session, account.id).await?;
                leptos_axum::redirect("/login/two-factor");
            } else {
                auth::sign_in(&session, &account, false).await?;
                leptos_axum::redirect(landing_page(&account));
            }
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

/// Where a sign-in lands: admins who have not set up their second factor
/// are sent to do so first.
#[cfg(feature = "ssr")]
fn landing_page(account: &crate::ssr::accounts::Account) -> &'static str {
    if account.role.requires_second_factor() && !account.two_factor_enabled {
        "/account/two-factor"
    } else {
        "/account"
    }
}

/// The second step of a sign-in: a code from the authenticator app or a
/// recovery code. Tries are counted per account before the code is
/// checked (`accounts::second_factor_attempt`).
#[server(endpoint = "verify_second_factor")]
pub async fn verify_second_factor(code: String) -> Result<(), AppError> {
    use crate::ssr::{accounts, accounts::two_factor, auth, infra::session};

    let session = session::current().await?;
    let Some(user_id) = auth::awaiting_second_factor(&session).await? else {
        return Err(AppError::Validation(
            "Your sign-in took too long. Enter your email and password again.".into(),
        ));
    };
    if code.len() > 64 {
        return Err(AppError::Validation("That code is not valid.".into()));
    }
    let state = auth::state()?;
    let pool = state.database.pool();
    let too_many = || {
        AppError::Validation(
            "Too many failed sign-ins for this account in the last hour. Try again later.".into(),
        )
    };
    if !accounts::second_factor_attempt(pool, user_id).await? {
        return Err(too_many());
    }
    if !two_factor::check(pool, &state.keyring, user_id, &code).await? {
        return Err(AppError::Validation(
            "That code is not valid, or was already used. Codes change every 30 seconds.".into(),
        ));
    }
    accounts::second_factor_succeeded(pool, user_id).await?;
    let account = accounts::find_account(pool, user_id)
        .await?
        .ok_or(AppError::Unexpected)?;
    auth::sign_in(&session, &account, true).await?;
    leptos_axum::redirect("/account");
    Ok(())
}

/// Replaces the password; every other session of the account ends.
#[server(endpoint = "change_password")]
pub async fn change_password(current_password: String, password: String) -> Result<(), AppError> {
    use crate::ssr::accounts::{self, AccountError};
    use crate::ssr::{auth, infra::session};

    if current_password.chars().count() > 128 {
        return Err(AppError::Validation(
            "Your current password is not right.".into(),
        ));
    }
    let session = session::current().await?;
    let account = auth::require_account(&session).await?;
    let state = auth::state()?;
    match accounts::change_password(
        state.database.pool(),
        account.id,
        current_password,
        &password,
    )
    .await
    {
        Ok(generation) => {
            auth::carry_over(&session, generation).await?;
            leptos_axum::redirect("/account?password_changed=1");
            Ok(())
        }
        Err(AccountError::InvalidCredentials) => Err(AppError::Validation(
            "Your current password is not right.".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

#[server(endpoint = "log_out")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::ssr::{auth, infra::session};
    let session = session::current().await?;
    auth::sign_out(&session).await?;
    leptos_axum::redirect("/");
    Ok(())
}

/// Emails a reset link. Answers the same whether or not the address has an
/// account.
#[server(endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use crate::domain::EmailAddress;
    use crate::ssr::accounts;
    let email = EmailAddress::parse(&email).map_err(|e| AppError::Validation(e.to_string()))?;
    let state = crate::ssr::auth::state()?;
    accounts::request_password_reset(&state.database, &state.mailer, &state.base_url, &email)
        .await?;
    leptos_axum::redirect("/forgot-password/sent");
    Ok(())
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::ssr::accounts::{self, AccountError};
    let state = crate::ssr::auth::state()?;
    match accounts::reset_password(state.database.pool(), token.trim(), &password).await {
        Ok(()) => {
            leptos_axum::redirect("/login?reset=1");
            Ok(())
        }
        Err(AccountError::InvalidToken) => Err(AppError::Validation(
            "This link is invalid, has expired or was already used. Ask for a new one.".into(),
        )),
        Err(other) => Err(other.into()),
    }
}
