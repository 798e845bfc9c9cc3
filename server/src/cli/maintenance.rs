//! The operator's upkeep of the database: `migrate`, `backup FILE`,
//! `audit verify` (the hash chain) and `secrets rotate` (resealing).

use std::path::PathBuf;

use anyhow::Context;
use app::ssr::infra::audit_trail::Actor;
use clap::Subcommand;

use super::open_database;
use crate::configuration::Settings;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Reseal every stored secret (TOTP secrets, webhook signing secrets)
    /// under the current key, the first of SECRETS_KEYS; values sealed
    /// under older keys or stored in clear before sealing move. All or
    /// nothing, and recorded in the audit trail. Afterwards the older keys
    /// may leave SECRETS_KEYS.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; fails on any edited or deleted entry,
    /// and prints the head hash (keep it elsewhere to detect a rewrite of
    /// the whole tail).
    Verify,
}

/// `server migrate`: applies pending migrations and prints how many the
/// binary carries.
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

/// `server audit verify`.
pub async fn audit(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Verify = command;
    let database = open_database(settings).await?;
    let found = app::ssr::infra::audit_trail::verify(database.pool()).await?;
    database.close().await;
    if found.problems.is_empty() {
        println!(
            "audit trail intact: {} entries; head hash {}",
            found.entries, found.head_hash
        );
        Ok(())
    } else {
        for problem in &found.problems {
            println!("{problem}");
        }
        anyhow::bail!(
            "the audit trail is broken in {} places ({} entries read)",
            found.problems.len(),
            found.entries
        )
    }
}

/// `server secrets rotate`.
pub async fn secrets(settings: &Settings, command: SecretsCommand) -> anyhow::Result<()> {
    use app::ssr::infra::{audit_trail, db, sealing::Keyring};
    let SecretsCommand::Rotate = command;
    let database = open_database(settings).await?;
    let pool = database.pool();
    let outcome = async {
        let keyring = Keyring::for_server(settings.secrets_keys.as_ref(), pool)
            .await
            .context("cannot read the database's own key")?;
        let mut transaction = db::begin_write(pool).await?;
        let totp = app::ssr::accounts::two_factor::reseal_all(&mut transaction, &keyring)
            .await
            .context("no secret was resealed")?;
        let webhook = app::ssr::providers::webhooks::reseal_all(&mut transaction, &keyring)
            .await
            .context("no secret was resealed")?;
        let detail = format!(
            "{} TOTP secrets and {} webhook signing secrets resealed; {} and {} were already under it",
            totp.resealed, webhook.resealed, totp.current, webhook.current
        );
        audit_trail::append(
            &mut transaction,
            &Actor::command_line(),
            audit_trail::AuditAction::SecretsRotated,
            &format!("key {}", keyring.current_id()),
            &detail,
        )
        .await?;
        transaction.commit().await?;
        anyhow::Ok(format!("sealed under key {}: {detail}", keyring.current_id()))
    }
    .await;
    database.close().await;
    println!("{}", outcome?);
    Ok(())
}

/// `server backup FILE`.
pub async fn backup(settings: &Settings, file: PathBuf) -> anyhow::Result<()> {
    let database = open_database(settings).await?;
    let outcome = database.backup_to(&file).await;
    database.close().await;
    outcome.with_context(|| format!("no backup was written to {}", file.display()))?;
    let size = std::fs::metadata(&file).map(|meta| meta.len()).unwrap_or(0);
    println!(
        "backup written to {} ({size} bytes), integrity check ok; restore by stopping the portal and copying it over DATABASE_URL's file",
        file.display()
    );
    Ok(())
}
