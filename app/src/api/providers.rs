//! Site admins manage phone providers and their API keys, and watch how
//! far behind each provider is.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A provider whose last acknowledgement is older than this, while the
/// registry has moved on, is flagged.
pub const LAG_ALERT_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub prefix: String,
    pub scopes: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    pub name: String,
    pub acked_seq: Option<i64>,
    pub last_ack: Option<String>,
    /// Head seq − acknowledged seq.
    pub behind: i64,
    /// Minutes since the last acknowledgement (None: never).
    pub minutes_since_ack: Option<i64>,
    /// Behind, and not acknowledged for over an hour (or never).
    pub flagged: bool,
    pub keys: Vec<KeyView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidersOverview {
    pub head: i64,
    pub providers: Vec<ProviderView>,
    /// A key made just now, shown this once: (provider, key).
    pub new_key: Option<(String, String)>,
}

#[cfg(feature = "ssr")]
const FRESH_KEY: &str = "fresh_provider_key";
/// How long a new key waits, sealed in the session, for the page that
/// shows it (the redirect right after creating it).
#[cfg(feature = "ssr")]
const SHOWN_ONCE_FOR: std::time::Duration = std::time::Duration::from_secs(10 * 60);

#[cfg(feature = "ssr")]
async fn site_admin() -> Result<tower_sessions::Session, AppError> {
    Ok(site_admin_acting().await?.0)
}

/// The session and, for the audit trail, the site admin acting.
#[cfg(feature = "ssr")]
async fn site_admin_acting() -> Result<
    (
        tower_sessions::Session,
        crate::ssr::infra::audit_trail::Actor,
    ),
    AppError,
> {
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::{auth, infra::session};
    let session = session::current().await?;
    let account = auth::require(&session, Permission::ManageProviders).await?;
    let actor = crate::ssr::infra::audit_trail::Actor::Account {
        id: account.id,
        email: account.email,
    };
    Ok((session, actor))
}

#[server(endpoint = "providers_page")]
pub async fn providers_page() -> Result<ProvidersOverview, AppError> {
    use crate::ssr::infra::clock::{now_millis, utc_date_time};
    let session = site_admin().await?;
    let state = crate::ssr::auth::state()?;
    let pool = state.database.pool();
    let head = crate::ssr::registry::head(pool).await?;
    let now = now_millis();
    let providers = crate::ssr::providers::overview(pool)
        .await?
        .into_iter()
        .map(|provider| {
            let behind = head - provider.acked_seq.unwrap_or(0);
            let stale = provider.acked_at.is_none_or(|at| now - at > LAG_ALERT_MS);
            ProviderView {
                name: provider.name,
                acked_seq: provider.acked_seq,
                last_ack: provider.acked_at.map(utc_date_time),
                behind,
                minutes_since_ack: provider.acked_at.map(|at| (now - at) / 60_000),
                flagged: behind > 0 && stale,
                keys: provider
                    .keys
                    .into_iter()
                    .map(|key| KeyView {
                        prefix: key.prefix,
                        scopes: key.scopes,
                        created: utc_date_time(key.created_at),
                        last_used: key.last_used_at.map(utc_date_time),
                        revoked: key.revoked_at.map(utc_date_time),
                    })
                    .collect(),
            }
        })
        .collect();
    // Shown once: taken out of the session as it is shown.
    let new_key = crate::ssr::infra::session::take_secret::<(String, String)>(
        &session,
        &state.keyring,
        FRESH_KEY,
    )
    .await?;
    Ok(ProvidersOverview {
        head,
        providers,
        new_key,
    })
}

#[server(endpoint = "create_provider")]
pub async fn create_provider(name: String) -> Result<(), AppError> {
    let (_, actor) = site_admin_acting().await?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::providers::create_provider(state.database.pool(), &actor, &name).await?;
    leptos_axum::redirect("/admin/providers?created=1");
    Ok(())
}

#[server(endpoint = "create_provider_key")]
pub async fn create_provider_key(
    provider: String,
    registry_read: Option<String>,
    audit_write: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::providers::Scope;
    let (session, actor) = site_admin_acting().await?;
    let scopes: Vec<Scope> = [
        (registry_read.is_some(), Scope::RegistryRead),
        (audit_write.is_some(), Scope::AuditWrite),
    ]
    .into_iter()
    .filter_map(|(chosen, scope)| chosen.then_some(scope))
    .collect();
    if scopes.is_empty() {
        return Err(AppError::Validation(
            "Choose what the key may do: read the registry, audit calls, or both.".into(),
        ));
    }
    let state = crate::ssr::auth::state()?;
    let key = crate::ssr::providers::create_key(state.database.pool(), &actor, &provider, &scopes)
        .await?;
    crate::ssr::infra::session::put_secret(
        &session,
        &state.keyring,
        FRESH_KEY,
        &(provider.trim().to_owned(), key.key),
        SHOWN_ONCE_FOR,
    )
    .await?;
    leptos_axum::redirect("/admin/providers?key=1");
    Ok(())
}

#[server(endpoint = "revoke_provider_key")]
pub async fn revoke_provider_key(prefix: String) -> Result<(), AppError> {
    let (_, actor) = site_admin_acting().await?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::providers::revoke_key(state.database.pool(), &actor, &prefix).await?;
    leptos_axum::redirect("/admin/providers?revoked=1");
    Ok(())
}
