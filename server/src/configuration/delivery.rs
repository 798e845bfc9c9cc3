//! Where one-time codes for phone numbers go: Twilio (`TWILIO_ACCOUNT_SID`,
//! `TWILIO_AUTH_TOKEN`, `TWILIO_FROM_NUMBER`, `TWILIO_API_BASE`) or files
//! in the outbox directory (`CODE_OUTBOX_DIR`).

use std::net::SocketAddr;

use url::Url;

use super::env::{ConfigError, Env};

/// How one-time phone codes are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeDelivery {
    /// Written as `.txt` files in this directory.
    Outbox(std::path::PathBuf),
    /// Sent through Twilio's API at `api_base` from the number `from`
    /// (E.164).
    Twilio {
        account_sid: String,
        auth_token: String,
        from: String,
        api_base: String,
    },
}

/// Reads the delivery; Twilio needs an address it can call back on, so
/// without `public_url` the server must listen on loopback (development,
/// the tests' fake).
pub(super) fn read(
    env: &Env,
    public_url: Option<&Url>,
    bind_address: SocketAddr,
) -> Result<CodeDelivery, ConfigError> {
    let delivery = match (
        env.get("TWILIO_ACCOUNT_SID"),
        env.get("TWILIO_AUTH_TOKEN"),
        env.get("TWILIO_FROM_NUMBER"),
    ) {
        (None, None, None) => {
            CodeDelivery::Outbox(env.text("CODE_OUTBOX_DIR", "data/outbox").into())
        }
        (Some(account_sid), Some(auth_token), Some(from)) => {
            twilio(env, account_sid, auth_token, from)?
        }
        _ => {
            return Err(ConfigError::new(
                "TWILIO_ACCOUNT_SID",
                "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER together, or none",
            ));
        }
    };
    // Twilio calls back on the public origin (delivery reports, a
    // call's script): without PUBLIC_URL that is the bind address,
    // which Twilio can reach only when it is a public one. Loopback is
    // left for development and the tests' fake.
    if matches!(delivery, CodeDelivery::Twilio { .. })
        && public_url.is_none()
        && !bind_address.ip().is_loopback()
    {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            "required with Twilio: the https address Twilio calls back on \
             (delivery reports, the script of a voice call)",
        ));
    }
    Ok(delivery)
}

fn twilio(
    env: &Env,
    account_sid: String,
    auth_token: String,
    from: String,
) -> Result<CodeDelivery, ConfigError> {
    if !(account_sid.starts_with("AC") && account_sid.len() == 34) {
        return Err(ConfigError::new(
            "TWILIO_ACCOUNT_SID",
            "expected AC followed by 32 characters",
        ));
    }
    if !(from.starts_with('+') && from[1..].bytes().all(|b| b.is_ascii_digit())) {
        return Err(ConfigError::new(
            "TWILIO_FROM_NUMBER",
            "expected an E.164 number such as +12025550123",
        ));
    }
    let api_base = env.text("TWILIO_API_BASE", "https://api.twilio.com");
    if Url::parse(&api_base).is_err() {
        return Err(ConfigError::new(
            "TWILIO_API_BASE",
            "expected a URL such as https://api.twilio.com",
        ));
    }
    Ok(CodeDelivery::Twilio {
        account_sid,
        auth_token,
        from,
        api_base,
    })
}
