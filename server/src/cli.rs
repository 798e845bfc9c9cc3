use std::path::PathBuf;

use anyhow::Context;
use app::domain::{EmailAddress, Jurisdiction, PersonName};
use app::ssr::admin::{self, AdminCreated, AdminRole};
use app::ssr::db::Database;
use app::ssr::mail::Mailer;
use app::ssr::roster;
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
    /// Bar rosters.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Load roster rows from a CSV file (columns bar_number, full_name,
    /// status, and jurisdiction unless --jurisdiction is given; optionally
    /// email, admitted_on, office_phone), then re-match attorneys. All rows
    /// or none.
    Seed {
        file: PathBuf,
        /// The jurisdiction of rows when the file has no jurisdiction column.
        #[arg(long)]
        jurisdiction: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an account a site admin (or, with --bar, a bar admin for one
    /// jurisdiction). A new account gets an emailed link to choose its
    /// password.
    Create {
        #[arg(long)]
        email: String,
        /// The name for a new account.
        #[arg(long, default_value = "Site Administrator")]
        name: String,
        /// Make a bar admin for this jurisdiction instead of a site admin.
        #[arg(long)]
        bar: Option<String>,
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

pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let database = open_database(settings).await?;
    println!(
        "migrations applied: {} ({:?})",
        database.embedded_migrations().len(),
        database.engine()
    );
    database.close().await;
    Ok(())
}

pub async fn roster(settings: &Settings, command: RosterCommand) -> anyhow::Result<()> {
    let RosterCommand::Seed { file, jurisdiction } = command;
    let jurisdiction = jurisdiction
        .map(|code| Jurisdiction::parse(&code))
        .transpose()
        .context("--jurisdiction")?;
    let input =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let database = open_database(settings).await?;
    let report = roster::seed_csv(
        database.pool(),
        std::io::BufReader::new(input),
        jurisdiction,
    )
    .await
    .with_context(|| format!("{} was not loaded; nothing changed", file.display()))?;
    println!(
        "roster seeded: {} members in {}; {} attorneys changed standing",
        report.members,
        report.jurisdictions.join(", "),
        report.standings_changed
    );
    database.close().await;
    Ok(())
}

pub async fn admin(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    let AdminCommand::Create { email, name, bar } = command;
    let email = EmailAddress::parse(&email).context("--email")?;
    let name = PersonName::parse(&name).context("--name")?;
    let role = match bar {
        Some(code) => AdminRole::Bar(Jurisdiction::parse(&code).context("--bar")?),
        None => AdminRole::Site,
    };
    // Links point where the portal is served: PUBLIC_URL, or the address
    // it binds to by default.
    let base_url = settings.public_origin(settings.bind_address);
    let mailer = Mailer::new(&settings.mail_from, &settings.mail_transport)
        .context("cannot set up email (MAIL_FROM, SMTP_URL, MAIL_OUTBOX_DIR)")?;
    let database = open_database(settings).await?;
    let created = admin::create_admin(database.pool(), &mailer, &base_url, &email, &name, role)
        .await
        .context("the admin was not created")?;
    match created {
        AdminCreated::New => {
            println!("created {email}; a link to choose the password (valid 24 hours) was emailed")
        }
        AdminCreated::Promoted => println!("{email} is now an administrator"),
    }
    database.close().await;
    Ok(())
}
