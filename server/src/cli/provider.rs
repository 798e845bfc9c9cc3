//! `server provider`: phone providers and their API keys (`create`, `key`,
//! `revoke-key`).

use anyhow::Context;
use app::ssr::infra::audit_trail::Actor;
use app::ssr::providers::{self, Scope};
use clap::Subcommand;

use super::open_database;
use crate::configuration::Settings;

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Register a phone provider.
    Create { name: String },
    /// Make an API key for a provider; it is printed once, and only its
    /// SHA-256 is stored.
    Key {
        name: String,
        /// registry:read (snapshot, changes, acks, lookups) and/or
        /// audit:write (call audits). Default: both.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Revoke a key by its visible prefix (crk_…); it stops working within 2 s.
    RevokeKey { prefix: String },
}

/// `server provider …`; a new key is printed once, on stdout.
pub async fn provider(settings: &Settings, command: ProviderCommand) -> anyhow::Result<()> {
    let database = open_database(settings).await?;
    let pool = database.pool();
    match command {
        ProviderCommand::Create { name } => {
            providers::create_provider(pool, &Actor::command_line(), &name).await?;
            println!("provider {name:?} created; make it a key with: server provider key {name:?}");
        }
        ProviderCommand::Key { name, scopes } => {
            let scopes: Vec<Scope> = if scopes.is_empty() {
                Scope::ALL.to_vec()
            } else {
                scopes
                    .iter()
                    .map(|raw| {
                        Scope::parse(raw).with_context(|| {
                            format!("unknown scope {raw:?}: use registry:read or audit:write")
                        })
                    })
                    .collect::<anyhow::Result<_>>()?
            };
            let key = providers::create_key(pool, &Actor::command_line(), &name, &scopes).await?;
            let scopes: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
            println!("key for {name:?} ({}), shown this once:", scopes.join(", "));
            println!("{}", key.key);
        }
        ProviderCommand::RevokeKey { prefix } => {
            providers::revoke_key(pool, &Actor::command_line(), &prefix).await?;
            println!("key {prefix} revoked; it stops working within 2 seconds");
        }
    }
    database.close().await;
    Ok(())
}
