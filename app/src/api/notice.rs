use leptos::prelude::*;

use crate::error::AppError;

#[cfg(feature = "ssr")]
const NOTICE_DISMISSED_KEY: &str = "notice_dismissed";

/// Whether this visitor has dismissed the pre-release notice.
#[server(endpoint = "notice_dismissed")]
pub async fn notice_dismissed() -> Result<bool, AppError> {
    let session = crate::ssr::infra::session::current().await?;
    let dismissed = session.get::<bool>(NOTICE_DISMISSED_KEY).await?;
    Ok(dismissed.unwrap_or(false))
}

/// Remembers, for this session, that the visitor dismissed the notice.
#[server(endpoint = "dismiss_notice")]
pub async fn dismiss_notice() -> Result<(), AppError> {
    let session = crate::ssr::infra::session::current().await?;
    session.insert(NOTICE_DISMISSED_KEY, true).await?;
    leptos_axum::redirect("/");
    Ok(())
}
