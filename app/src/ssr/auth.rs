//! Who is signed in, kept in the session with the time of sign-in: a
//! session ends after 30 idle minutes (the cookie's expiry) and, whatever
//! the activity, `AppState::session_absolute_limit` after sign-in.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::AppError;
use crate::ssr::accounts::{self, Account};
use crate::ssr::clock::now_millis;
use crate::ssr::state::AppState;

const SIGNED_IN_KEY: &str = "signed_in";

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SignedIn {
    user_id: i64,
    /// Unix milliseconds.
    since: i64,
}

pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::unexpected("AppState missing from context"))
}

/// Starts a signed-in session. The session id changes, so an id planted
/// before login is worthless after it.
pub async fn sign_in(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.cycle_id().await.map_err(AppError::unexpected)?;
    let signed_in = SignedIn {
        user_id,
        since: now_millis(),
    };
    session
        .insert(SIGNED_IN_KEY, signed_in)
        .await
        .map_err(AppError::unexpected)
}

/// Ends the session on the server, not only in the browser.
pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(AppError::unexpected)
}

pub async fn current_account(session: &Session) -> Result<Option<Account>, AppError> {
    let Some(signed_in) = session
        .get::<SignedIn>(SIGNED_IN_KEY)
        .await
        .map_err(AppError::unexpected)?
    else {
        return Ok(None);
    };
    let state = state()?;
    let limit_ms = i64::try_from(state.session_absolute_limit.as_millis()).unwrap_or(i64::MAX);
    if now_millis().saturating_sub(signed_in.since) > limit_ms {
        sign_out(session).await?;
        return Ok(None);
    }
    accounts::find_account(state.database.pool(), signed_in.user_id)
        .await
        .map_err(AppError::unexpected)
}
