//! What webhooks may reach (`WEBHOOK_ALLOW_LOOPBACK`): loopback only in
//! development.

use std::net::SocketAddr;

use app::ssr::infra::outbound::OutboundPolicy;

use super::env::{ConfigError, Env};

/// Reads the policy; `production` is an https `PUBLIC_URL`.
pub(super) fn read(
    env: &Env,
    production: bool,
    bind_address: SocketAddr,
) -> Result<OutboundPolicy, ConfigError> {
    let allow_loopback = env.choice(
        "WEBHOOK_ALLOW_LOOPBACK",
        false,
        &[("false", false), ("true", true)],
        "expected true or false",
    )?;
    // Loopback webhooks are for a receiver on a developer's machine.
    // A server others reach (an https PUBLIC_URL, or listening beyond
    // loopback) is production here: there, a provider's endpoint on
    // loopback would reach this machine's own services.
    if allow_loopback && (production || !bind_address.ip().is_loopback()) {
        let because = if production {
            "an https PUBLIC_URL (production)".to_owned()
        } else {
            format!("BIND_ADDRESS {bind_address}, which is not loopback")
        };
        return Err(ConfigError::new(
            "WEBHOOK_ALLOW_LOOPBACK",
            format!("true is for development only, refused with {because}"),
        ));
    }
    Ok(OutboundPolicy { allow_loopback })
}
