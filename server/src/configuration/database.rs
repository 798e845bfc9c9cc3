//! The database: `DATABASE_URL` (SQLite or PostgreSQL) and
//! `DATABASE_MAX_CONNECTIONS`.

use super::env::{ConfigError, Env};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/counsel-registry.db";

pub(super) struct DatabaseSettings {
    pub(super) url: String,
    pub(super) max_connections: u32,
}

pub(super) fn read(env: &Env) -> Result<DatabaseSettings, ConfigError> {
    let url = env.text("DATABASE_URL", DEFAULT_DATABASE_URL);
    app::ssr::infra::db::Engine::from_url(&url)
        .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()))?;
    let max_connections = env.range(
        "DATABASE_MAX_CONNECTIONS",
        "10",
        1..=1000,
        "expected a whole number from 1 to 1000",
    )?;
    Ok(DatabaseSettings {
        url,
        max_connections,
    })
}
