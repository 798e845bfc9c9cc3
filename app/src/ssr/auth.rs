//! Who is signed in, kept in the session as the account id.

use tower_sessions::Session;

use crate::error::AppError;
use crate::ssr::accounts::{self, Account};
use crate::ssr::state::AppState;

const USER_ID_KEY: &str = "user_id";

pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::unexpected("AppState missing from context"))
}

/// Starts a signed-in session. The session id changes, so an id planted
/// before login is worthless after it.
pub async fn sign_in(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.cycle_id().await.map_err(AppError::unexpected)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(AppError::unexpected)
}

/// Ends the session on the server, not only in the browser.
pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(AppError::unexpected)
}

pub async fn current_account(session: &Session) -> Result<Option<Account>, AppError> {
    let Some(user_id) = session
        .get::<i64>(USER_ID_KEY)
        .await
        .map_err(AppError::unexpected)?
    else {
        return Ok(None);
    };
    let state = state()?;
    accounts::find_account(state.database.pool(), user_id)
        .await
        .map_err(AppError::unexpected)
}
