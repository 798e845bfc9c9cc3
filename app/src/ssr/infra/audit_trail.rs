//! The audit trail: every decision of people with power (a review, a
//! revocation, a roster commit, a provider or key made or revoked, an
//! admin made, a secret rotated), appended in the transaction that makes
//! the decision, so one is never kept without the other; and an admin's
//! look-up of a number, a read that shows who registered it
//! ([`record`]).
//!
//! The entries form a hash chain: each stores the SHA-256 of the entry
//! before it and its own, computed over its fields
//! ([`entry_hash`]). Editing an entry breaks its hash; deleting one breaks
//! the next entry's link; deleting the last ones disagrees with
//! `audit_head`, which holds the last id and hash. `server audit verify`
//! checks all three. Someone who can rewrite the whole tail and the head
//! can still forge a consistent chain: the head hash that `verify` prints
//! is worth copying somewhere the database's writers cannot reach (a log
//! shipped off the machine, a printed report).
//!
//! Appends take the `audit_head` row first (a write: on PostgreSQL its row
//! lock, on SQLite the write lock), so concurrent decisions chain one
//! after another. Lock order: a decision that changes the registry holds
//! `registry_head` first and appends last.
//!
//! Owns the tables `audit_trail` and `audit_head`.

use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Transaction};

use crate::domain::closed_set::closed_set;
use crate::ssr::infra::clock::now_millis;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

closed_set!(
    /// What was decided (`audit_trail.action`).
    pub AuditAction {
        ReviewDecided = "review_decided",
        RegistrationRevoked = "registration_revoked",
        RosterCommitted = "roster_committed",
        ProviderCreated = "provider_created",
        ProviderKeyCreated = "provider_key_created",
        ProviderKeyRevoked = "provider_key_revoked",
        AdminCreated = "admin_created",
        FacilityLinked = "facility_linked",
        SecretsRotated = "secrets_rotated",
        /// An admin looked a number up: who holds it and in what state
        /// (a read, recorded because it shows who registered a number).
        NumberLookedUp = "number_looked_up",
    }
);

/// Who decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in account.
    Account { id: i64, email: String },
    /// Someone at the server's command line (`server …`), with the
    /// operating-system user when known.
    CommandLine { user: Option<String> },
}

impl Actor {
    /// The command line, naming `$USER` when set.
    pub fn command_line() -> Self {
        Actor::CommandLine {
            user: std::env::var("USER").ok().filter(|user| !user.is_empty()),
        }
    }

    /// As stored: `account 12 <ada@example.org>`, `command line (root)`.
    pub fn text(&self) -> String {
        match self {
            Actor::Account { id, email } => format!("account {id} <{email}>"),
            Actor::CommandLine { user: Some(user) } => format!("command line ({user})"),
            Actor::CommandLine { user: None } => "command line".to_owned(),
        }
    }
}

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    /// What the decision was about: `registration 7`, `provider "Acme"`.
    pub subject: String,
    /// The decision in words (a reason, counts).
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The SHA-256 (hex) of an entry: its previous hash and each field, each
/// followed by a newline (after replacing newlines in the texts by
/// U+2028, so fields cannot run into one another).
pub fn entry_hash(
    prev_hash: &str,
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut hasher = Sha256::new();
    for field in [
        prev_hash,
        &id.to_string(),
        &at.to_string(),
        actor,
        action,
        subject,
        detail,
    ] {
        hasher.update(field.replace('\n', "\u{2028}").as_bytes());
        hasher.update(b"\n");
    }
    format!("{:x}", hasher.finalize())
}

/// Appends an entry in the caller's transaction (which must commit for
/// it to count).
pub async fn append(
    transaction: &mut Transaction<'_, Any>,
    actor: &Actor,
    action: AuditAction,
    subject: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    // The lock first: the head row, written before it is read.
    sqlx::query("UPDATE audit_head SET last_id = last_id WHERE id = 1")
        .execute(&mut **transaction)
        .await?;
    let (last_id, last_hash): (i64, String) =
        sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut **transaction)
            .await?;
    let id = last_id + 1;
    let at = now_millis();
    let actor = actor.text();
    let hash = entry_hash(&last_hash, id, at, &actor, action.as_str(), subject, detail);
    sqlx::query(
        "INSERT INTO audit_trail (id, at, actor, action, subject, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(at)
    .bind(&actor)
    .bind(action)
    .bind(subject)
    .bind(detail)
    .bind(&last_hash)
    .bind(&hash)
    .execute(&mut **transaction)
    .await?;
    sqlx::query("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1")
        .bind(id)
        .bind(&hash)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Appends an entry in a transaction of its own: for a read worth
/// recording (an admin's look-up of a number), which has no transaction
/// to share. Errors: the database's.
pub async fn record(
    pool: &AnyPool,
    actor: &Actor,
    action: AuditAction,
    subject: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let mut transaction = crate::ssr::infra::db::begin_write(pool).await?;
    append(&mut transaction, actor, action, subject, detail).await?;
    transaction.commit().await
}

/// The last `limit` entries, newest first.
pub async fn recent(pool: &AnyPool, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_trail \
         ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub entries: i64,
    /// The last entry's hash (the genesis hash when empty).
    pub head_hash: String,
    /// Each break in the chain, in words; empty when intact.
    pub problems: Vec<String>,
}

/// Recomputes the chain from the first entry: an edited entry (its hash
/// is not that of its fields), a deleted one (a gap in the ids, or a
/// link to a hash that is not the previous entry's) and deleted last
/// entries (the head names an entry that is not the last) are reported.
pub async fn verify(pool: &AnyPool) -> Result<Verification, sqlx::Error> {
    use futures::TryStreamExt;

    let mut problems = Vec::new();
    let mut expected_id = 1;
    let mut previous = GENESIS.to_owned();
    let mut entries = 0;
    {
        let mut rows = sqlx::query_as::<_, Entry>(
            "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_trail \
             ORDER BY id",
        )
        .fetch(pool);
        while let Some(entry) = rows.try_next().await? {
            entries += 1;
            if entry.id != expected_id {
                problems.push(format!(
                    "entries {expected_id} to {} are missing (deleted)",
                    entry.id - 1
                ));
            }
            if entry.prev_hash != previous {
                problems.push(format!(
                    "entry {} does not follow the entry before it (one was deleted or edited)",
                    entry.id
                ));
            }
            let recomputed = entry_hash(
                &entry.prev_hash,
                entry.id,
                entry.at,
                &entry.actor,
                &entry.action,
                &entry.subject,
                &entry.detail,
            );
            if recomputed != entry.hash {
                problems.push(format!(
                    "entry {} was edited: its fields no longer give its hash",
                    entry.id
                ));
            }
            previous = entry.hash;
            expected_id = entry.id + 1;
        }
    }
    let (last_id, last_hash): (i64, String) =
        sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await?;
    if last_id != expected_id - 1 || last_hash != previous {
        problems.push(format!(
            "the head names entry {last_id}, but the trail ends at entry {} (the last entries were deleted, or the head edited)",
            expected_id - 1
        ));
    }
    Ok(Verification {
        entries,
        head_hash: previous,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_newlines_cannot_shift_them() {
        let base = entry_hash(GENESIS, 1, 5, "a", "review_decided", "s", "d");
        assert_ne!(
            base,
            entry_hash(GENESIS, 1, 5, "a", "review_decided", "s", "e")
        );
        assert_ne!(
            base,
            entry_hash(GENESIS, 2, 5, "a", "review_decided", "s", "d")
        );
        // "s\nd" in one field is not the same as "s" then "d".
        assert_ne!(
            entry_hash(GENESIS, 1, 5, "a", "review_decided", "s\nd", ""),
            entry_hash(GENESIS, 1, 5, "a", "review_decided", "s", "d\n")
        );
        assert_eq!(base.len(), 64);
    }
}
