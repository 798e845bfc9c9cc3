//! Who is signed in, kept in the session with the time of sign-in: a
//! session ends after 30 idle minutes (the cookie's expiry) and, whatever
//! the activity, `AppState::session_absolute_limit` after sign-in. A
//! session also ends when the account's session generation moves on (a
//! password change or reset).

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::AppError;
use crate::ssr::accounts::permission::Permission;
use crate::ssr::accounts::{self, Account};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::state::AppState;

const SIGNED_IN_KEY: &str = "signed_in";
const AWAITING_SECOND_FACTOR_KEY: &str = "awaiting_second_factor";
/// How long the password step of a sign-in waits for the second factor.
const SECOND_FACTOR_WINDOW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SignedIn {
    user_id: i64,
    /// Unix milliseconds.
    since: i64,
    generation: i64,
    /// A TOTP or recovery code was given in this session.
    second_factor: bool,
}

/// The password was right; the code is still to come.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct AwaitingSecondFactor {
    user_id: i64,
    since: i64,
}

pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::unexpected("AppState missing from context"))
}

/// Starts a signed-in session from an empty one. The session id changes,
/// so an id planted before login is worthless after it.
pub async fn sign_in(
    session: &Session,
    account: &Account,
    second_factor: bool,
) -> Result<(), AppError> {
    // A sign-in starts from an empty session: nothing another person left
    // in it (a pending TOTP secret, recovery codes or an API key waiting
    // to be shown) carries over to this account.
    session.clear().await;
    session.cycle_id().await?;
    let signed_in = SignedIn {
        user_id: account.id,
        since: now_millis(),
        generation: account.session_generation,
        second_factor,
    };
    session
        .insert(SIGNED_IN_KEY, signed_in)
        .await
        .map_err(AppError::from)
}

/// Keeps this session signed in after its own password change moved the
/// account to `generation`, with a fresh id.
pub async fn carry_over(session: &Session, generation: i64) -> Result<(), AppError> {
    let Some(mut signed_in) = signed_in(session).await? else {
        return Err(AppError::Unauthorized);
    };
    signed_in.generation = generation;
    session.cycle_id().await?;
    session
        .insert(SIGNED_IN_KEY, signed_in)
        .await
        .map_err(AppError::from)
}

/// Records that this session has now given a second factor.
pub async fn mark_second_factor(session: &Session) -> Result<(), AppError> {
    let Some(mut signed_in) = signed_in(session).await? else {
        return Err(AppError::Unauthorized);
    };
    signed_in.second_factor = true;
    session
        .insert(SIGNED_IN_KEY, signed_in)
        .await
        .map_err(AppError::from)
}

/// Remembers that the password was right and a code is awaited. Whoever
/// was signed in on this session before is signed out.
pub async fn await_second_factor(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.clear().await;
    session.cycle_id().await?;
    session
        .insert(
            AWAITING_SECOND_FACTOR_KEY,
            AwaitingSecondFactor {
                user_id,
                since: now_millis(),
            },
        )
        .await
        .map_err(AppError::from)
}

/// Whose code this session is waiting for, if the password step was
/// recent enough.
pub async fn awaiting_second_factor(session: &Session) -> Result<Option<i64>, AppError> {
    let awaiting = session
        .get::<AwaitingSecondFactor>(AWAITING_SECOND_FACTOR_KEY)
        .await?;
    Ok(awaiting
        .filter(|a| now_millis().saturating_sub(a.since) <= SECOND_FACTOR_WINDOW_MS)
        .map(|a| a.user_id))
}

/// Ends the session on the server, not only in the browser.
pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    Ok(session.flush().await?)
}

async fn signed_in(session: &Session) -> Result<Option<SignedIn>, AppError> {
    session
        .get::<SignedIn>(SIGNED_IN_KEY)
        .await
        .map_err(AppError::from)
}

/// The signed-in account with whether this session gave a second factor.
async fn current(session: &Session) -> Result<Option<(Account, bool)>, AppError> {
    current_with(&state()?, session).await
}

/// [`current`], for handlers outside Leptos that hold the state.
async fn current_with(
    state: &AppState,
    session: &Session,
) -> Result<Option<(Account, bool)>, AppError> {
    let Some(signed_in) = signed_in(session).await? else {
        return Ok(None);
    };
    let limit_ms = i64::try_from(state.session_absolute_limit.as_millis()).unwrap_or(i64::MAX);
    if now_millis().saturating_sub(signed_in.since) > limit_ms {
        sign_out(session).await?;
        return Ok(None);
    }
    let account = accounts::find_account(state.database.pool(), signed_in.user_id).await?;
    match account {
        Some(account) if account.session_generation == signed_in.generation => {
            Ok(Some((account, signed_in.second_factor)))
        }
        _ => {
            sign_out(session).await?;
            Ok(None)
        }
    }
}

pub async fn current_account(session: &Session) -> Result<Option<Account>, AppError> {
    Ok(current(session).await?.map(|(account, _)| account))
}

/// The signed-in account, or `Unauthorized`.
pub async fn require_account(session: &Session) -> Result<Account, AppError> {
    current_account(session)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// The signed-in account if it may take `permission` and, when it is an
/// admin's, this session gave a second factor: the one check every
/// guarded page, server function and route goes through.
pub async fn require(session: &Session, permission: Permission) -> Result<Account, AppError> {
    require_with(&state()?, session, permission).await
}

/// [`require`], for handlers outside Leptos that hold the state.
pub async fn require_with(
    state: &AppState,
    session: &Session,
    permission: Permission,
) -> Result<Account, AppError> {
    let (account, second_factor) = current_with(state, session)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !account.may(permission) {
        return Err(AppError::Forbidden);
    }
    if account.role.requires_second_factor() && !(account.two_factor_enabled && second_factor) {
        return Err(AppError::SecondFactorRequired);
    }
    Ok(account)
}
