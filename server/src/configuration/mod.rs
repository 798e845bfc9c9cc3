//! Configuration from environment variables, with defaults that run the
//! portal locally. Every variable is listed in `.env.example`.
//!
//! [`Settings::from_lookup`] composes the settings of each concern, each
//! read in its own module through one reader (`env.rs`) that names the
//! variable, the value read and what was expected when a value is wrong.

mod database;
mod delivery;
mod env;
mod intervals;
mod limits;
mod mail;
mod outbound;
mod provider_caps;
mod roster;
mod secrets;
mod server;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use app::ssr::infra::mail::MailTransport;
use url::Url;

pub use database::DEFAULT_DATABASE_URL;
pub use delivery::CodeDelivery;
pub use env::ConfigError;
pub use provider_caps::ProviderCaps;
pub use server::LogFormat;

use env::Env;

/// Everything the server reads from its environment; each field names its
/// variable.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the server listens (`BIND_ADDRESS`).
    pub bind_address: SocketAddr,
    /// The address users reach the portal at (`PUBLIC_URL`). An `https`
    /// URL makes the session cookie `Secure` and `__Host-` prefixed. When
    /// unset, the address the server is bound to.
    pub public_url: Option<Url>,
    /// The database (`DATABASE_URL`): `sqlite://path` or `postgres://…`;
    /// default [`DEFAULT_DATABASE_URL`].
    pub database_url: String,
    /// Connections in the application pool (`DATABASE_MAX_CONNECTIONS`,
    /// 1 to 1000, default 10).
    pub database_max_connections: u32,
    /// How often expired sessions are deleted
    /// (`SESSION_CLEANUP_INTERVAL_SECS`, default 300).
    pub session_cleanup_interval: Duration,
    /// How often the background worker looks for due jobs
    /// (`JOB_POLL_INTERVAL_SECS`, default 2).
    pub job_poll_interval: Duration,
    /// How long a sign-in lasts however active (`SESSION_ABSOLUTE_TIMEOUT_SECS`).
    pub session_absolute_limit: Duration,
    /// How long in-flight requests may run after a shutdown signal
    /// (`SHUTDOWN_GRACE_SECS`, default 30).
    pub shutdown_grace: Duration,
    /// The directory cargo-leptos writes the site to (`LEPTOS_SITE_ROOT`).
    pub site_root: String,
    /// How logs are written (`LOG_FORMAT`: `pretty`, the default, or `json`).
    pub log_format: LogFormat,
    /// The sender of every email (`MAIL_FROM`).
    pub mail_from: String,
    /// SMTP when `SMTP_URL` is set, else the outbox directory
    /// (`MAIL_OUTBOX_DIR`).
    pub mail_transport: MailTransport,
    /// Sign-in, sign-up and reset requests per client address and minute,
    /// per endpoint (`AUTH_ATTEMPTS_PER_MINUTE`).
    pub auth_attempts_per_minute: u32,
    /// Provider API requests per key and second, per instance
    /// (`API_REQUESTS_PER_SECOND`).
    pub api_requests_per_second: std::num::NonZeroU32,
    /// How many reverse proxies in front of the server append to
    /// `X-Forwarded-For` (`TRUSTED_PROXY_HOPS`); 0 ignores the header.
    pub trusted_proxy_hops: usize,
    /// Where one-time codes for phone numbers go: Twilio when
    /// `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `TWILIO_FROM_NUMBER`
    /// are set, else files in `CODE_OUTBOX_DIR`.
    pub code_delivery: CodeDelivery,
    /// Where documents attorneys upload for review are kept, outside the
    /// site root (`REVIEW_DOCUMENTS_DIR`).
    pub review_documents_dir: std::path::PathBuf,
    /// Where the files of roster previews are kept until decided, so a
    /// column named on a preview reads the file again
    /// (`ROSTER_FILES_DIR`, default `data/roster-files`).
    pub roster_files_dir: std::path::PathBuf,
    /// When a roster commit needs a confirmation repeating a count
    /// (`ROSTER_BRAKE_PERCENT`, default 2; `ROSTER_BRAKE_ATTORNEYS`, 25;
    /// `ROSTER_BRAKE_FULL_PERCENT`, 80).
    pub roster_brake: app::ssr::standing::roster::upload::BrakeRule,
    /// How long a roster preview may wait for a decision before the
    /// housekeeping task discards it (`ROSTER_PREVIEW_TTL_HOURS`, 24).
    pub roster_preview_ttl: Duration,
    /// How long the hourly counts of providers' look-ups are kept
    /// (`LOOKUP_COUNTS_RETENTION_DAYS`, 365, at least 1).
    pub lookup_counts_retention: Duration,
    /// Numbers one API key may have audited an hour
    /// (`AUDIT_NUMBERS_PER_HOUR`, 100000, at least 1; across instances).
    pub audit_numbers_per_hour: u32,
    /// The HMAC key one-time phone codes are stored under
    /// (`CODE_HMAC_KEY`, 64 hex digits). Unset: a key generated once and
    /// kept in the database, which then holds everything needed to
    /// search its codes; set it in production.
    pub code_key: Option<app::ssr::infra::secrets::CodeKey>,
    /// The keys stored secrets are sealed under (`SECRETS_KEYS`:
    /// `id:hex,id:hex`, the current key first, each 64 hex digits; see
    /// [`app::ssr::infra::sealing`]). Unset: a key generated once and kept
    /// in the database (development), refused with an https `PUBLIC_URL`.
    pub secrets_keys: Option<app::ssr::infra::sealing::Keyring>,
    /// What webhooks may reach: public internet addresses, and loopback
    /// too with `WEBHOOK_ALLOW_LOOPBACK=true`, which is refused unless the
    /// server listens on loopback only and `PUBLIC_URL` is not https.
    pub outbound: app::ssr::infra::outbound::OutboundPolicy,
    /// The bearer token `/metrics` asks for (`METRICS_TOKEN`, at least 32
    /// characters). Unset: `/metrics` answers 404, so the figures are
    /// never public by accident.
    pub metrics_token: Option<String>,
    /// What one key, one provider and the instance may have the provider
    /// API do: concurrent snapshots and digests, a snapshot's deadline and
    /// spool directory, facilities per provider (`API_SNAPSHOTS_PER_KEY`,
    /// `API_SNAPSHOTS_TOTAL`, `API_DIGESTS_PER_KEY`, `API_DIGESTS_TOTAL`,
    /// `API_SNAPSHOT_DEADLINE_SECS`, `SNAPSHOT_SPOOL_DIR`,
    /// `API_FACILITIES_PER_PROVIDER`; see [`ProviderCaps`]).
    pub provider_caps: ProviderCaps,
}

impl Settings {
    /// Reads settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment. A value that is empty or only spaces counts as unset.
    /// Errors: the first invalid variable, with the value read and what
    /// was expected.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let serving = server::read(&env)?;
        // An https PUBLIC_URL is production here: the checks below refuse
        // development settings with it.
        let production = server::served_over_tls(serving.public_url.as_ref());
        let database = database::read(&env)?;
        let intervals = intervals::read(&env)?;
        let mail = mail::read(&env)?;
        let review_documents_dir = env
            .text("REVIEW_DOCUMENTS_DIR", "data/review-documents")
            .into();
        let limits = limits::read(&env)?;
        let outbound = outbound::read(&env, production, serving.bind_address)?;
        let code_delivery =
            delivery::read(&env, serving.public_url.as_ref(), serving.bind_address)?;
        let secrets = secrets::read(&env, production)?;
        let roster = roster::read(&env)?;
        let provider_caps = provider_caps::read(&env)?;

        Ok(Self {
            bind_address: serving.bind_address,
            public_url: serving.public_url,
            database_url: database.url,
            database_max_connections: database.max_connections,
            session_cleanup_interval: intervals.session_cleanup,
            job_poll_interval: intervals.job_poll,
            session_absolute_limit: intervals.session_absolute_limit,
            shutdown_grace: intervals.shutdown_grace,
            site_root: serving.site_root,
            log_format: serving.log_format,
            mail_from: mail.from,
            mail_transport: mail.transport,
            auth_attempts_per_minute: limits.auth_attempts_per_minute,
            api_requests_per_second: limits.api_requests_per_second,
            trusted_proxy_hops: limits.trusted_proxy_hops,
            code_delivery,
            review_documents_dir,
            roster_files_dir: roster.files_dir,
            roster_brake: roster.brake,
            roster_preview_ttl: roster.preview_ttl,
            lookup_counts_retention: limits.lookup_counts_retention,
            audit_numbers_per_hour: limits.audit_numbers_per_hour,
            code_key: secrets.code_key,
            secrets_keys: secrets.secrets_keys,
            outbound,
            metrics_token: secrets.metrics_token,
            provider_caps,
        })
    }

    /// Whether users reach the portal over TLS (possibly through a proxy).
    pub fn served_over_tls(&self) -> bool {
        server::served_over_tls(self.public_url.as_ref())
    }

    /// The origin browsers send in `Origin` for the portal's own pages.
    pub fn public_origin(&self, bound_to: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.origin().ascii_serialization(),
            None => format!("http://{bound_to}"),
        }
    }
}
