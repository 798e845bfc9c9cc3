//! Keys and tokens: the HMAC key of one-time phone codes
//! (`CODE_HMAC_KEY`), the keys stored secrets are sealed under
//! (`SECRETS_KEYS`, required in production) and the bearer token of
//! `/metrics` (`METRICS_TOKEN`). Messages never repeat a secret's value.

use app::ssr::infra::sealing::Keyring;
use app::ssr::infra::secrets::CodeKey;

use super::env::{ConfigError, Env};

pub(super) struct Secrets {
    pub(super) code_key: Option<CodeKey>,
    pub(super) secrets_keys: Option<Keyring>,
    pub(super) metrics_token: Option<String>,
}

/// Reads the secrets; `production` (an https `PUBLIC_URL`) requires
/// `SECRETS_KEYS`.
pub(super) fn read(env: &Env, production: bool) -> Result<Secrets, ConfigError> {
    let metrics_token = match env.get("METRICS_TOKEN") {
        Some(token) if token.trim().chars().count() < 32 => {
            return Err(ConfigError::new(
                "METRICS_TOKEN",
                "expected at least 32 characters (e.g. openssl rand -hex 32)",
            ));
        }
        token => token.map(|token| token.trim().to_owned()),
    };
    let code_key = env.optional("CODE_HMAC_KEY", CodeKey::from_hex)?;
    let secrets_keys = env.optional("SECRETS_KEYS", Keyring::parse)?;
    // A key kept beside the values it seals protects nothing from a
    // copy of the database: production must bring its own.
    if secrets_keys.is_none() && production {
        return Err(ConfigError::new(
            "SECRETS_KEYS",
            "required with an https PUBLIC_URL (production): set it to id:key, \
             e.g. k1:$(openssl rand -hex 32)",
        ));
    }
    Ok(Secrets {
        code_key,
        secrets_keys,
        metrics_token,
    })
}
