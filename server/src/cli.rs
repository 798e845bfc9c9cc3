use anyhow::Context;
use app::ssr::db::Database;
use clap::{Parser, Subcommand};

use crate::configuration::Settings;

/// Counsel Registry: the registry of attorney phone numbers that
/// correctional phone providers must not record.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal and the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let database = Database::connect(&settings.database_url, 1)
        .await
        .context("cannot open the database")?;
    database
        .migrate()
        .await
        .context("cannot apply migrations")?;
    println!(
        "migrations applied: {} ({:?})",
        database.embedded_migrations().len(),
        database.engine()
    );
    database.close().await;
    Ok(())
}
