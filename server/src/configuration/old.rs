#![allow(dead_code, clippy::all)]
// old from environment variables, with defaults that run the
// portal locally. Every variable is listed in `.env.example`.

use std::net::SocketAddr;
use std::time::Duration;

use app::ssr::infra::mail::MailTransport;
use url::Url;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/counsel-registry.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the server listens (`BIND_ADDRESS`).
    pub bind_address: SocketAddr,
    /// The address users reach the portal at (`PUBLIC_URL`). An `https`
    /// URL makes the session cookie `Secure` and `__Host-` prefixed. When
    /// unset, the address the server is bound to.
    pub public_url: Option<Url>,
    pub database_url: String,
    pub database_max_connections: u32,
    /// How often expired sessions are deleted.
    pub session_cleanup_interval: Duration,
    /// How often the background worker looks for due jobs.
    pub job_poll_interval: Duration,
    /// How long a sign-in lasts however active (`SESSION_ABSOLUTE_TIMEOUT_SECS`).
    pub session_absolute_limit: Duration,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace: Duration,
    /// The directory cargo-leptos writes the site to (`LEPTOS_SITE_ROOT`).
    pub site_root: String,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeDelivery {
    Outbox(std::path::PathBuf),
    Twilio {
        account_sid: String,
        auth_token: String,
        from: String,
        api_base: String,
    },
}

/// An invalid variable; its message is one line that names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());

        let bind_address: SocketAddr = parse(
            "BIND_ADDRESS",
            read("BIND_ADDRESS"),
            "127.0.0.1:3000",
            "expected an address and port such as 127.0.0.1:3000",
        )?;
        let public_url = read("PUBLIC_URL")
            .map(|raw| parse_public_url(&raw))
            .transpose()?;
        // An https PUBLIC_URL is production here: the checks below refuse
        // development settings with it.
        let production = served_over_tls(public_url.as_ref());
        let database_url = read("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        app::ssr::infra::db::Engine::from_url(&database_url).map_err(|e| ConfigError {
            variable: "DATABASE_URL",
            message: e.to_string(),
        })?;
        let database_max_connections: u32 = parse(
            "DATABASE_MAX_CONNECTIONS",
            read("DATABASE_MAX_CONNECTIONS"),
            "10",
            "expected a whole number from 1 to 1000",
        )?;
        if !(1..=1000).contains(&database_max_connections) {
            return Err(ConfigError {
                variable: "DATABASE_MAX_CONNECTIONS",
                message: "expected a whole number from 1 to 1000".into(),
            });
        }
        let session_cleanup_interval = seconds(
            "SESSION_CLEANUP_INTERVAL_SECS",
            read("SESSION_CLEANUP_INTERVAL_SECS"),
            "300",
        )?;
        let job_poll_interval = seconds(
            "JOB_POLL_INTERVAL_SECS",
            read("JOB_POLL_INTERVAL_SECS"),
            "2",
        )?;
        let session_absolute_limit = seconds(
            "SESSION_ABSOLUTE_TIMEOUT_SECS",
            read("SESSION_ABSOLUTE_TIMEOUT_SECS"),
            "43200",
        )?;
        let shutdown_grace = seconds("SHUTDOWN_GRACE_SECS", read("SHUTDOWN_GRACE_SECS"), "30")?;
        let site_root = read("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".to_owned());
        let log_format = match read("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => {
                return Err(ConfigError {
                    variable: "LOG_FORMAT",
                    message: "expected pretty or json".into(),
                });
            }
        };

        let mail_from = read("MAIL_FROM")
            .unwrap_or_else(|| "Counsel Registry <no-reply@counsel-registry.localhost>".to_owned());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError {
                variable: "MAIL_FROM",
                message: format!(
                    "expected a mailbox such as Registry <no-reply@example.org>, got {mail_from:?}"
                ),
            });
        }
        let mail_transport = match read("SMTP_URL") {
            Some(url) => {
                if lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url).is_err() {
                    return Err(ConfigError {
                        variable: "SMTP_URL",
                        message:
                            "expected smtp://user:password@host:587?tls=required or smtps://…:465"
                                .into(),
                    });
                }
                check_smtp_tls(&url)?;
                MailTransport::Smtp(url)
            }
            None => MailTransport::Outbox(
                read("MAIL_OUTBOX_DIR")
                    .unwrap_or_else(|| "data/outbox".to_owned())
                    .into(),
            ),
        };

        let review_documents_dir = read("REVIEW_DOCUMENTS_DIR")
            .unwrap_or_else(|| "data/review-documents".to_owned())
            .into();
        let roster_files_dir = read("ROSTER_FILES_DIR")
            .unwrap_or_else(|| "data/roster-files".to_owned())
            .into();

        let auth_attempts_per_minute: u32 = parse(
            "AUTH_ATTEMPTS_PER_MINUTE",
            read("AUTH_ATTEMPTS_PER_MINUTE"),
            "20",
            "expected a whole number from 1 to 100000",
        )?;
        if !(1..=100_000).contains(&auth_attempts_per_minute) {
            return Err(ConfigError {
                variable: "AUTH_ATTEMPTS_PER_MINUTE",
                message: "expected a whole number from 1 to 100000".into(),
            });
        }

        let api_requests_per_second: u32 = parse(
            "API_REQUESTS_PER_SECOND",
            read("API_REQUESTS_PER_SECOND"),
            "100",
            "expected a whole number from 1 to 1000000",
        )?;
        let api_requests_per_second = std::num::NonZeroU32::new(api_requests_per_second)
            .filter(|value| value.get() <= 1_000_000)
            .ok_or_else(|| ConfigError {
                variable: "API_REQUESTS_PER_SECOND",
                message: "expected a whole number from 1 to 1000000".into(),
            })?;

        let trusted_proxy_hops: usize = parse(
            "TRUSTED_PROXY_HOPS",
            read("TRUSTED_PROXY_HOPS"),
            "0",
            "expected a whole number from 0 to 10",
        )?;
        if trusted_proxy_hops > 10 {
            return Err(ConfigError {
                variable: "TRUSTED_PROXY_HOPS",
                message: "expected a whole number from 0 to 10".into(),
            });
        }

        let metrics_token = match read("METRICS_TOKEN") {
            Some(token) if token.trim().chars().count() < 32 => {
                return Err(ConfigError {
                    variable: "METRICS_TOKEN",
                    message: "expected at least 32 characters (e.g. openssl rand -hex 32)".into(),
                });
            }
            token => token.map(|token| token.trim().to_owned()),
        };

        let webhook_allow_loopback = match read("WEBHOOK_ALLOW_LOOPBACK").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError {
                    variable: "WEBHOOK_ALLOW_LOOPBACK",
                    message: format!("expected true or false, got {other:?}"),
                });
            }
        };
        // Loopback webhooks are for a receiver on a developer's machine.
        // A server others reach (an https PUBLIC_URL, or listening beyond
        // loopback) is production here: there, a provider's endpoint on
        // loopback would reach this machine's own services.
        if webhook_allow_loopback && (production || !bind_address.ip().is_loopback()) {
            return Err(ConfigError {
                variable: "WEBHOOK_ALLOW_LOOPBACK",
                message: format!(
                    "true is for development only, refused with {}",
                    if production {
                        "an https PUBLIC_URL (production)".to_owned()
                    } else {
                        format!("BIND_ADDRESS {bind_address}, which is not loopback")
                    }
                ),
            });
        }

        let code_delivery = match (
            read("TWILIO_ACCOUNT_SID"),
            read("TWILIO_AUTH_TOKEN"),
            read("TWILIO_FROM_NUMBER"),
        ) {
            (None, None, None) => CodeDelivery::Outbox(
                read("CODE_OUTBOX_DIR")
                    .unwrap_or_else(|| "data/outbox".to_owned())
                    .into(),
            ),
            (Some(account_sid), Some(auth_token), Some(from)) => {
                if !(account_sid.starts_with("AC") && account_sid.len() == 34) {
                    return Err(ConfigError {
                        variable: "TWILIO_ACCOUNT_SID",
                        message: "expected AC followed by 32 characters".into(),
                    });
                }
                if !(from.starts_with('+') && from[1..].bytes().all(|b| b.is_ascii_digit())) {
                    return Err(ConfigError {
                        variable: "TWILIO_FROM_NUMBER",
                        message: "expected an E.164 number such as +12025550123".into(),
                    });
                }
                let api_base =
                    read("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".to_owned());
                if url::Url::parse(&api_base).is_err() {
                    return Err(ConfigError {
                        variable: "TWILIO_API_BASE",
                        message: "expected a URL such as https://api.twilio.com".into(),
                    });
                }
                CodeDelivery::Twilio {
                    account_sid,
                    auth_token,
                    from,
                    api_base,
                }
            }
            _ => {
                return Err(ConfigError {
                    variable: "TWILIO_ACCOUNT_SID",
                    message: "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER together, or none".into(),
                });
            }
        };

        // Twilio calls back on the public origin (delivery reports, a
        // call's script): without PUBLIC_URL that is the bind address,
        // which Twilio can reach only when it is a public one. Loopback is
        // left for development and the tests' fake.
        if matches!(code_delivery, CodeDelivery::Twilio { .. })
            && public_url.is_none()
            && !bind_address.ip().is_loopback()
        {
            return Err(ConfigError {
                variable: "PUBLIC_URL",
                message: "required with Twilio: the https address Twilio calls back on \
                          (delivery reports, the script of a voice call)"
                    .into(),
            });
        }

        let code_key = read("CODE_HMAC_KEY")
            .map(|raw| app::ssr::infra::secrets::CodeKey::from_hex(&raw))
            .transpose()
            .map_err(|error| ConfigError {
                variable: "CODE_HMAC_KEY",
                message: error.to_string(),
            })?;

        let secrets_keys = read("SECRETS_KEYS")
            .map(|raw| app::ssr::infra::sealing::Keyring::parse(&raw))
            .transpose()
            .map_err(|error| ConfigError {
                variable: "SECRETS_KEYS",
                message: error.to_string(),
            })?;
        // A key kept beside the values it seals protects nothing from a
        // copy of the database: production must bring its own.
        if secrets_keys.is_none() && production {
            return Err(ConfigError {
                variable: "SECRETS_KEYS",
                message: "required with an https PUBLIC_URL (production): set it to id:key, \
                          e.g. k1:$(openssl rand -hex 32)"
                    .into(),
            });
        }

        let percent = |variable: &'static str, default: &str| {
            let value: f64 = parse(
                variable,
                read(variable),
                default,
                "expected a percentage from 0 to 100",
            )?;
            if !(0.0..=100.0).contains(&value) {
                return Err(ConfigError {
                    variable,
                    message: format!("expected a percentage from 0 to 100, got {value}"),
                });
            }
            Ok(value)
        };
        let roster_brake = app::ssr::standing::roster::upload::BrakeRule {
            percent: percent("ROSTER_BRAKE_PERCENT", "2")?,
            attorneys: parse(
                "ROSTER_BRAKE_ATTORNEYS",
                read("ROSTER_BRAKE_ATTORNEYS"),
                "25",
                "expected a whole number of attorneys",
            )?,
            full_roster_percent: percent("ROSTER_BRAKE_FULL_PERCENT", "80")?,
        };
        let ttl_hours: u64 = parse(
            "ROSTER_PREVIEW_TTL_HOURS",
            read("ROSTER_PREVIEW_TTL_HOURS"),
            "24",
            "expected a whole number of hours, at least 1",
        )?;
        if ttl_hours == 0 {
            return Err(ConfigError {
                variable: "ROSTER_PREVIEW_TTL_HOURS",
                message: "expected a whole number of hours, at least 1".into(),
            });
        }
        let roster_preview_ttl = Duration::from_secs(ttl_hours * 3600);
        let retention_days: u64 = parse(
            "LOOKUP_COUNTS_RETENTION_DAYS",
            read("LOOKUP_COUNTS_RETENTION_DAYS"),
            "365",
            "expected a whole number of days, at least 1",
        )?;
        if retention_days == 0 {
            return Err(ConfigError {
                variable: "LOOKUP_COUNTS_RETENTION_DAYS",
                message: "expected a whole number of days, at least 1".into(),
            });
        }
        let lookup_counts_retention = Duration::from_secs(retention_days * 24 * 3600);
        let audit_numbers_per_hour: u32 = parse(
            "AUDIT_NUMBERS_PER_HOUR",
            read("AUDIT_NUMBERS_PER_HOUR"),
            "100000",
            "expected a whole number of numbers, at least 1",
        )?;
        if audit_numbers_per_hour == 0 {
            return Err(ConfigError {
                variable: "AUDIT_NUMBERS_PER_HOUR",
                message: "expected a whole number of numbers, at least 1".into(),
            });
        }

        Ok(Self {
            lookup_counts_retention,
            audit_numbers_per_hour,
            roster_brake,
            roster_preview_ttl,
            code_key,
            secrets_keys,
            bind_address,
            public_url,
            database_url,
            database_max_connections,
            session_cleanup_interval,
            job_poll_interval,
            session_absolute_limit,
            shutdown_grace,
            site_root,
            log_format,
            mail_from,
            mail_transport,
            auth_attempts_per_minute,
            api_requests_per_second,
            trusted_proxy_hops,
            code_delivery,
            review_documents_dir,
            roster_files_dir,
            outbound: app::ssr::infra::outbound::OutboundPolicy {
                allow_loopback: webhook_allow_loopback,
            },
            metrics_token,
        })
    }

    /// Whether users reach the portal over TLS (possibly through a proxy).
    pub fn served_over_tls(&self) -> bool {
        served_over_tls(self.public_url.as_ref())
    }

    /// The origin browsers send in `Origin` for the portal's own pages.
    pub fn public_origin(&self, bound_to: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.origin().ascii_serialization(),
            None => format!("http://{bound_to}"),
        }
    }
}

fn parse<T: std::str::FromStr>(
    variable: &'static str,
    value: Option<String>,
    default: &str,
    expected: &str,
) -> Result<T, ConfigError> {
    let raw = value.unwrap_or_else(|| default.to_owned());
    raw.trim().parse().map_err(|_| ConfigError {
        variable,
        message: format!("{expected}, got {raw:?}"),
    })
}

fn seconds(
    variable: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let secs: u64 = parse(
        variable,
        value,
        default,
        "expected a whole number of seconds",
    )?;
    if secs == 0 {
        return Err(ConfigError {
            variable,
            message: "expected at least 1 second".into(),
        });
    }
    Ok(Duration::from_secs(secs))
}

/// Mail carries passwords, reset links and sign-in codes, so it must not
/// cross a network in clear: `SMTP_URL` must use TLS (`smtps://`, TLS from
/// the first byte, RFC 8314) or required STARTTLS (`smtp://…?tls=required`,
/// RFC 3207), the forms lettre's `from_url` reads. Plain `smtp://` and
/// `?tls=opportunistic` (which an attacker on the path can downgrade by
/// hiding STARTTLS) are accepted only to a loopback host: `127.0.0.0/8`,
/// `::1` or `localhost`. The message names the host, never the password.
fn check_smtp_tls(raw: &str) -> Result<(), ConfigError> {
    let Ok(url) = Url::parse(raw.trim()) else {
        return Err(ConfigError {
            variable: "SMTP_URL",
            message: "expected smtp://user:password@host:587?tls=required or smtps://…:465".into(),
        });
    };
    // The first `tls` parameter, as lettre reads it.
    let tls = url
        .query_pairs()
        .find(|(name, _)| name == "tls")
        .map(|(_, value)| value.into_owned());
    if url.scheme() == "smtps" || tls.as_deref() == Some("required") {
        return Ok(());
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        // smtp: is not a special scheme to the URL standard, so an IPv4
        // host stays a name.
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|address| address.is_loopback())
        }
        None => false,
    };
    if loopback {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    let how = match tls.as_deref() {
        Some("opportunistic") => "tls=opportunistic, which falls back to clear text",
        _ => "no TLS",
    };
    Err(ConfigError {
        variable: "SMTP_URL",
        message: format!(
            "smtp://{host}{port} with {how} would send passwords and reset links in clear; \
             use smtp://…@{host}:587?tls=required (STARTTLS) or smtps://…@{host}:465 (TLS); \
             plain smtp:// only to a loopback host (127.0.0.1, ::1, localhost)"
        ),
    })
}

fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let invalid = |message: &str| ConfigError {
        variable: "PUBLIC_URL",
        message: format!("{message}, got {raw:?}"),
    };
    let url = Url::parse(raw.trim()).map_err(|_| invalid("expected an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("expected an absolute http(s) URL"));
    }
    Ok(url)
}

/// Whether a `PUBLIC_URL` means users reach the portal over TLS.
fn served_over_tls(public_url: Option<&Url>) -> bool {
    public_url.is_some_and(|url| url.scheme() == "https")
}

