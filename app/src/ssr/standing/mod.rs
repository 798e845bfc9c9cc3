//! Standing: who is an attorney in good standing. Sign-up's match
//! against the bar's roster, claims proven through the email of record,
//! evidence and review for what the roster cannot settle, and the roster
//! itself with the machinery that reads and commits its files. An
//! attorney is `verified` when their jurisdiction and bar number are on
//! the roster, with status active and a matching name, and their claim is
//! proven; otherwise they wait for a site admin. The match runs at
//! sign-up and again for a whole jurisdiction whenever its roster changes.
//!
//! Owns the tables `roster`, `roster_uploads`, `roster_staging`,
//! `roster_upload_errors`, and the standing columns of `users`. May use:
//! `numbers` (an attorney's numbers follow their standing), `registry`
//! (the write that moves them), `accounts` (who the attorney is),
//! infrastructure. Submodules: `decision` (the standing rule, pure),
//! `rematch` (reads the facts, writes the decisions), `sign_up`, `claims`
//! (proof through the email of record), `evidence`, `review` (attorneys
//! the roster could not settle), `seed`, and `roster` (the roster's files:
//! reading, upload, kept files).

pub mod claims;
pub mod decision;
pub mod evidence;
pub mod rematch;
pub mod review;
pub mod roster;
pub mod seed;
pub mod sign_up;

use sqlx::{Any, AnyPool};

use crate::domain::NameKey;

pub use decision::{ClaimCheck, StandingDecision, StandingFacts, Verdict, decide_all};
pub use rematch::{rematch, set_standing};
pub use roster::reading;
pub use seed::{SeedReport, seed_csv};
pub use sign_up::{confirm_email, sign_up};

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("the file has no {0} column")]
    MissingColumn(&'static str),
    #[error("line {line}, column {column}: {message}")]
    InvalidRow {
        line: u64,
        column: String,
        message: String,
    },
    #[error("line {line}: bar number {bar_number} appears twice for {jurisdiction}")]
    DuplicateMember {
        line: u64,
        jurisdiction: &'static str,
        bar_number: String,
    },
    #[error("the file cannot be read: {0}")]
    Unreadable(#[from] reading::ReadError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One member as the roster lists them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RosterEntry {
    pub jurisdiction: String,
    pub bar_number: String,
    pub full_name: String,
    pub status: String,
}

/// The roster entry for this bar number, if the jurisdiction lists it.
pub async fn entry(
    executor: impl sqlx::Executor<'_, Database = Any>,
    jurisdiction: &str,
    bar_number: &str,
) -> Result<Option<RosterEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT jurisdiction, bar_number, full_name, status FROM roster \
         WHERE jurisdiction = $1 AND bar_number = $2",
    )
    .bind(jurisdiction)
    .bind(bar_number)
    .fetch_optional(executor)
    .await
}

/// The entry a reviewer should compare an attorney with: the one under
/// their bar number, else one with the same name in their jurisdiction.
pub async fn closest_entry(
    pool: &AnyPool,
    jurisdiction: &str,
    bar_number: &str,
    full_name: &str,
) -> Result<Option<RosterEntry>, sqlx::Error> {
    if let Some(found) = entry(pool, jurisdiction, bar_number).await? {
        return Ok(Some(found));
    }
    sqlx::query_as(
        "SELECT jurisdiction, bar_number, full_name, status FROM roster \
         WHERE jurisdiction = $1 AND name_key = $2 ORDER BY bar_number LIMIT 1",
    )
    .bind(jurisdiction)
    .bind(NameKey::of(full_name).index_key())
    .fetch_optional(pool)
    .await
}

/// Whose standing to re-decide.
#[derive(Debug, Clone, Copy)]
pub enum Attorneys<'a> {
    /// Everyone who claims membership of this jurisdiction's bar.
    Of(&'a str),
    /// One attorney.
    Only(i64),
}
