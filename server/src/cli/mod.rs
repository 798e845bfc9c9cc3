//! The command line: the clap command tree ([`Cli`], [`Command`]), the
//! database the commands open, and one module per command group, whose
//! functions `main` dispatches to.

mod admin;
mod maintenance;
mod provider;
mod roster;

use std::path::PathBuf;

use anyhow::Context;
use app::ssr::infra::db::Database;
use clap::{Parser, Subcommand};

use crate::configuration::Settings;

pub use admin::{AdminCommand, admin};
pub use maintenance::{AuditCommand, SecretsCommand, audit, backup, migrate, secrets};
pub use provider::{ProviderCommand, provider};
pub use roster::{RosterCommand, roster};

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
    /// Bar rosters.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Phone providers and their API keys.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Copy a SQLite database to FILE while the portal serves (a
    /// consistent snapshot, checked); PostgreSQL: use pg_dump.
    Backup { file: PathBuf },
    /// The audit trail of admin decisions.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The keys stored secrets are sealed under (SECRETS_KEYS).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// The reference consumer: mirror the registry for one facility into
    /// a local SQLite file, follow the feed, acknowledge, and reconcile
    /// (repairing a drift by buckets). Uses only the public API.
    Consumer {
        /// The portal's origin, e.g. https://registry.example
        #[arg(long)]
        url: String,
        /// A provider key with registry:read.
        #[arg(long)]
        key: String,
        /// The facility's code at this provider (it must be registered).
        #[arg(long)]
        facility: String,
        /// The local SQLite file holding the mirror (created when missing).
        #[arg(long)]
        state: PathBuf,
        /// Minutes between reconciliations while following the feed.
        #[arg(long, default_value_t = 60)]
        reconcile_every: u64,
        /// Catch up, acknowledge, reconcile once (repairing), and stop.
        #[arg(long)]
        once: bool,
    },
}

/// Opens the database named by the settings, with migrations applied.
async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let database = Database::connect(&settings.database_url, 2)
        .await
        .context("cannot open the database (DATABASE_URL)")?;
    database
        .migrate()
        .await
        .context("cannot apply migrations")?;
    Ok(database)
}

/// `server consumer`: runs the reference consumer; with `--once` prints
/// what its reconciliation found and fails when the list still differs.
pub async fn consumer(command: Command) -> anyhow::Result<()> {
    let Command::Consumer {
        url,
        key,
        facility,
        state,
        reconcile_every,
        once,
    } = command
    else {
        anyhow::bail!("not the consumer command");
    };
    let report = crate::consumer::run(crate::consumer::ConsumerOptions {
        url,
        key,
        facility,
        state,
        reconcile_every: std::time::Duration::from_secs(reconcile_every * 60),
        once,
    })
    .await?;
    if let Some(report) = report {
        println!(
            "reconciled at seq {}: {}",
            report.as_of_seq,
            crate::consumer::describe(&report)
        );
        if !report.matched {
            anyhow::bail!("the facility's list does not match the registry");
        }
    }
    Ok(())
}
