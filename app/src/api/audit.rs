//! Site admins read the audit trail of decisions and whether its hash
//! chain is intact.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One decision as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    /// "2026-12-01 10:00 UTC".
    pub at: String,
    pub actor: String,
    /// In words: "Review decided".
    pub action: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditOverview {
    pub entries: i64,
    pub head_hash: String,
    /// Breaks in the chain, in words; empty when intact.
    pub problems: Vec<String>,
    /// The latest, newest first.
    pub recent: Vec<AuditRow>,
}

/// Entries shown on the page.
pub const AUDIT_ROWS_SHOWN: i64 = 200;

#[server(endpoint = "audit_page")]
pub async fn audit_page() -> Result<AuditOverview, AppError> {
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::infra::audit_trail::{self, AuditAction};
    use crate::ssr::infra::clock::utc_date_time;
    use crate::ssr::{auth, infra::session};

    let session = session::current().await?;
    auth::require(&session, Permission::ManageProviders).await?;
    let state = auth::state()?;
    let pool = state.database.pool();
    let verification = audit_trail::verify(pool).await?;
    let recent = audit_trail::recent(pool, AUDIT_ROWS_SHOWN)
        .await?
        .into_iter()
        .map(|entry| AuditRow {
            id: entry.id,
            at: utc_date_time(entry.at),
            actor: entry.actor,
            action: match AuditAction::from_db(&entry.action) {
                Ok(AuditAction::ReviewDecided) => "Review decided",
                Ok(AuditAction::RegistrationRevoked) => "Registration revoked",
                Ok(AuditAction::RosterCommitted) => "Roster committed",
                Ok(AuditAction::ProviderCreated) => "Provider added",
                Ok(AuditAction::ProviderKeyCreated) => "Provider key made",
                Ok(AuditAction::ProviderKeyRevoked) => "Provider key revoked",
                Ok(AuditAction::AdminCreated) => "Admin made",
                Ok(AuditAction::FacilityLinked) => "Facility linked to its former provider's",
                Ok(AuditAction::SecretsRotated) => "Secrets rotated",
                Ok(AuditAction::NumberLookedUp) => "Number looked up",
                Err(_) => "Unknown action",
            }
            .to_owned(),
            subject: entry.subject,
            detail: entry.detail,
        })
        .collect();
    Ok(AuditOverview {
        entries: verification.entries,
        head_hash: verification.head_hash,
        problems: verification.problems,
        recent,
    })
}
