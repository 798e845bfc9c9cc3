//! Email: the sender (`MAIL_FROM`) and the transport, SMTP over TLS
//! (`SMTP_URL`) or the outbox directory (`MAIL_OUTBOX_DIR`).

use app::ssr::infra::mail::MailTransport;
use url::Url;

use super::env::{ConfigError, Env};

pub(super) struct MailSettings {
    pub(super) from: String,
    pub(super) transport: MailTransport,
}

const SMTP_URL_EXPECTED: &str =
    "expected smtp://user:password@host:587?tls=required or smtps://…:465";

pub(super) fn read(env: &Env) -> Result<MailSettings, ConfigError> {
    let from = env.text(
        "MAIL_FROM",
        "Counsel Registry <no-reply@counsel-registry.localhost>",
    );
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(ConfigError::new(
            "MAIL_FROM",
            format!("expected a mailbox such as Registry <no-reply@example.org>, got {from:?}"),
        ));
    }
    let transport = match env.get("SMTP_URL") {
        Some(url) => {
            if lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url).is_err() {
                return Err(ConfigError::new("SMTP_URL", SMTP_URL_EXPECTED));
            }
            check_smtp_tls(&url)?;
            MailTransport::Smtp(url)
        }
        None => MailTransport::Outbox(env.text("MAIL_OUTBOX_DIR", "data/outbox").into()),
    };
    Ok(MailSettings { from, transport })
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
        return Err(ConfigError::new("SMTP_URL", SMTP_URL_EXPECTED));
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
    Err(ConfigError::new(
        "SMTP_URL",
        format!(
            "smtp://{host}{port} with {how} would send passwords and reset links in clear; \
             use smtp://…@{host}:587?tls=required (STARTTLS) or smtps://…@{host}:465 (TLS); \
             plain smtp:// only to a loopback host (127.0.0.1, ::1, localhost)"
        ),
    ))
}
