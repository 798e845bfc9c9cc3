//! `server admin`: administrator accounts (`admin create`).

use anyhow::Context;
use app::domain::{EmailAddress, Jurisdiction, PersonName};
use app::ssr::accounts::admins::{self as admin, AdminCreated, AdminRole};
use app::ssr::infra::audit_trail::Actor;
use app::ssr::infra::mail::Mailer;
use clap::Subcommand;

use super::open_database;
use crate::configuration::Settings;

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

/// `server admin create`: creates the admin, or promotes an existing
/// account (whose numbers are then suspended), and emails them.
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
    let created = admin::create_admin(
        &database,
        &mailer,
        &base_url,
        &email,
        &name,
        role,
        &Actor::command_line(),
    )
    .await
    .context("the admin was not created")?;
    match created {
        AdminCreated::New => {
            println!("created {email}; a link to choose the password (valid 24 hours) was emailed")
        }
        AdminCreated::Promoted { user_id } => {
            // An admin account holds no numbers.
            app::ssr::numbers::follow_account(database.pool(), user_id)
                .await
                .context("suspending the promoted account's numbers")?;
            println!("{email} is now an administrator (they were emailed)");
        }
    }
    database.close().await;
    Ok(())
}
