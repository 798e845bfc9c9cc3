use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::ssr::infra::db::Database;
use crate::ssr::infra::delivery::CodeSender;
use crate::ssr::infra::mail::Mailer;

/// What every request handler and server function may reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub database: Database,
    pub mailer: Mailer,
    /// Sends one-time codes to phone numbers.
    pub code_sender: CodeSender,
    /// The key one-time phone codes are stored under (`CODE_HMAC_KEY`,
    /// else the database's own).
    pub code_key: crate::ssr::infra::secrets::CodeKey,
    /// The keys stored secrets are sealed under (`SECRETS_KEYS`, else the
    /// database's own).
    pub keyring: crate::ssr::infra::sealing::Keyring,
    /// Where the portal is reached, without a trailing slash: the base of
    /// links in emails.
    pub base_url: String,
    /// How long a sign-in lasts, however active the session.
    pub session_absolute_limit: std::time::Duration,
    /// Roster uploads being checked, by any instance.
    pub roster_progress: crate::ssr::standing::roster::upload::ProgressBoard,
    /// Where review documents are stored, outside the site root.
    pub review_documents_dir: std::path::PathBuf,
    /// Where previewed roster uploads' files are kept until decided
    /// ([`crate::ssr::standing::roster::kept_files`]).
    pub roster_files_dir: std::path::PathBuf,
    /// When a roster commit needs a confirmation repeating a count.
    pub roster_brake: crate::ssr::standing::roster::upload::BrakeRule,
    /// What calls out to provider-chosen addresses (webhooks) may reach:
    /// public addresses, and loopback only in development.
    pub outbound: crate::ssr::infra::outbound::OutboundPolicy,
    /// This instance's copy of the registry's present state: "now"
    /// look-ups and long-polls read it instead of the database
    /// ([`crate::ssr::registry::mirror`]).
    pub registry: crate::ssr::registry::mirror::Mirror,
    /// The client for those calls, built for `outbound`
    /// ([`crate::ssr::infra::outbound::client`]).
    pub outbound_client: reqwest::Client,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
