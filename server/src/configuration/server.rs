//! Where the server listens and how users reach it: `BIND_ADDRESS`,
//! `PUBLIC_URL`, `LEPTOS_SITE_ROOT` and `LOG_FORMAT`.

use std::net::SocketAddr;

use url::Url;

use super::env::{ConfigError, Env};

/// How logs are written: for people, or one JSON object a line for log
/// collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

pub(super) struct Serving {
    pub(super) bind_address: SocketAddr,
    pub(super) public_url: Option<Url>,
    pub(super) site_root: String,
    pub(super) log_format: LogFormat,
}

pub(super) fn read(env: &Env) -> Result<Serving, ConfigError> {
    Ok(Serving {
        bind_address: env.parse(
            "BIND_ADDRESS",
            "127.0.0.1:3000",
            "expected an address and port such as 127.0.0.1:3000",
        )?,
        public_url: env.optional("PUBLIC_URL", parse_public_url)?,
        site_root: env.text("LEPTOS_SITE_ROOT", "target/site"),
        log_format: env.choice(
            "LOG_FORMAT",
            LogFormat::Pretty,
            &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)],
            "expected pretty or json",
        )?,
    })
}

fn parse_public_url(raw: &str) -> Result<Url, String> {
    let invalid = |message: &str| format!("{message}, got {raw:?}");
    let url = Url::parse(raw.trim()).map_err(|_| invalid("expected an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("expected an absolute http(s) URL"));
    }
    Ok(url)
}

/// Whether a `PUBLIC_URL` means users reach the portal over TLS. An https
/// `PUBLIC_URL` is production here: development settings are refused
/// with it.
pub(super) fn served_over_tls(public_url: Option<&Url>) -> bool {
    public_url.is_some_and(|url| url.scheme() == "https")
}
