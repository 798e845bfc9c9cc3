//! The preview: an upload as its history shows it, and what committing it
//! would do to the portal's attorneys and the registry, worked out the way
//! the match would decide it, so the admin sees the consequences before
//! anything changes.

use std::collections::{HashMap, HashSet};

use sqlx::AnyPool;

use crate::domain::{ClaimState, Jurisdiction, RosterStatus, Standing, StandingSource};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::standing::roster::reading::FileEncoding;
use crate::ssr::standing::{self, RosterEntry, StandingFacts};

use super::{Mode, RowError, UploadError, UploadState};

/// An upload as its history and preview show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Upload {
    pub id: i64,
    pub jurisdiction: Jurisdiction,
    pub mode: Mode,
    pub state: UploadState,
    pub uploader: String,
    pub file_name: String,
    pub sha256: String,
    pub bytes: i64,
    pub rows_valid: i64,
    pub rows_invalid: i64,
    pub ignored_columns: String,
    pub new_members: i64,
    pub changed_members: i64,
    pub unchanged_members: i64,
    pub missing_members: i64,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    /// 1 when the commit skipped rows with errors.
    pub skipped_invalid: i64,
    pub standings_changed: Option<i64>,
    pub numbers_added: Option<i64>,
    pub numbers_removed: Option<i64>,
    /// How the file's bytes were read.
    pub encoding: FileEncoding,
    /// Rows with warnings only (a cell left empty or kept as given).
    pub rows_warned: i64,
    /// The count the admin repeated to pass the brake, if it was needed.
    pub confirmed_removals: Option<i64>,
    /// Which header gave each field: "bar_number: Registration Number; …".
    pub columns_read: String,
}

const UPLOAD_COLUMNS: &str = "id, jurisdiction, mode, state, uploader, file_name, sha256, bytes, \
    rows_valid, rows_invalid, ignored_columns, new_members, changed_members, unchanged_members, \
    missing_members, created_at, decided_at, skipped_invalid, standings_changed, numbers_added, \
    numbers_removed, encoding, rows_warned, confirmed_removals, columns_read";

pub async fn upload(pool: &AnyPool, upload_id: i64) -> Result<Upload, UploadError> {
    sqlx::query_as(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM roster_uploads WHERE id = $1"
    ))
    .bind(upload_id)
    .fetch_optional(pool)
    .await?
    .ok_or(UploadError::NotFound)
}

/// How many roster uploads have been committed, all bars together.
pub async fn commits(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM roster_uploads WHERE state = 'committed'")
        .fetch_one(pool)
        .await
}

/// The latest uploads, newest first: for one jurisdiction, or all.
pub async fn history(
    pool: &AnyPool,
    jurisdiction: Option<Jurisdiction>,
    limit: i64,
) -> Result<Vec<Upload>, sqlx::Error> {
    match jurisdiction {
        Some(jurisdiction) => {
            sqlx::query_as(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM roster_uploads WHERE jurisdiction = $1 \
                 ORDER BY id DESC LIMIT $2"
            ))
            .bind(jurisdiction.code())
            .bind(limit)
            .fetch_all(pool)
            .await
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM roster_uploads ORDER BY id DESC LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await
        }
    }
}

/// The row problems (errors and warnings) of an upload, by line;
/// `limit` of them.
pub async fn errors(
    pool: &AnyPool,
    upload_id: i64,
    limit: i64,
) -> Result<Vec<RowError>, sqlx::Error> {
    sqlx::query_as(
        "SELECT line, column_name, cell, message, severity FROM roster_upload_errors \
         WHERE upload_id = $1 ORDER BY line, severity LIMIT $2",
    )
    .bind(upload_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// An earlier committed upload of the same file for the jurisdiction.
pub async fn same_file_committed(
    pool: &AnyPool,
    upload: &Upload,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, decided_at FROM roster_uploads WHERE jurisdiction = $1 AND sha256 = $2 \
           AND state = 'committed' AND id <> $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(upload.jurisdiction)
    .bind(&upload.sha256)
    .bind(upload.id)
    .fetch_optional(pool)
    .await
    .map(|found: Option<(i64, Option<i64>)>| found.map(|(id, at)| (id, at.unwrap_or_default())))
}

/// An attorney in the portal whose standing the upload would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingChange {
    pub user_id: i64,
    pub full_name: String,
    pub email: String,
    pub bar_number: String,
    pub from: Standing,
    pub to: Standing,
}

/// What committing would do to the portal: whose standing changes, and
/// how many numbers would leave and enter the registry.
#[derive(Debug, Clone, Default)]
pub struct Consequences {
    pub standing_changes: Vec<StandingChange>,
    pub numbers_leaving: usize,
    pub numbers_entering: usize,
    /// Attorneys verified now who would not be after the commit.
    pub attorneys_leaving: u64,
}

/// One attorney's row in [`consequences`]: the account, its staged and
/// current roster entries, and what its claim rests on.
#[derive(sqlx::FromRow)]
struct RowFlat {
    id: i64,
    full_name: String,
    email: String,
    bar_number: String,
    standing: Standing,
    standing_source: Option<StandingSource>,
    blocking: Option<i64>,
    staged_name: Option<String>,
    staged_status: Option<String>,
    name_now: Option<String>,
    status_now: Option<String>,
    email_key: String,
    email_proven_at: Option<i64>,
    claim_state: ClaimState,
    staged_email: Option<String>,
    email_now: Option<String>,
    verified_others: i64,
}

impl RowFlat {
    /// The facts the standing rule will weigh once the upload is
    /// committed: the attorney's entry is the staged row, else (full
    /// roster) their current entry as not listed, else their current
    /// entry; the email of record follows the entry used.
    fn facts_after_commit(&self, upload: &Upload) -> StandingFacts {
        // A staged row with blocking problems changes nothing of its
        // member (skipped, or waiting to be mapped) but is not missing.
        let staged = self
            .staged_name
            .clone()
            .zip(self.staged_status.clone())
            .filter(|_| self.blocking == Some(0));
        let staged_used = staged.is_some();
        let current = self.name_now.clone().zip(self.status_now.clone());
        let entry = match (self.blocking, staged, current) {
            (_, Some(staged), _) => Some(staged),
            (None, None, Some((full_name, _))) if upload.mode == Mode::Full => {
                Some((full_name, RosterStatus::NotListed.as_str().to_owned()))
            }
            (_, None, current) => current,
        }
        .map(|(full_name, status)| RosterEntry {
            jurisdiction: upload.jurisdiction.code().to_owned(),
            bar_number: self.bar_number.clone(),
            full_name,
            status,
        });
        StandingFacts {
            user_id: self.id,
            bar_number: self.bar_number.clone(),
            claimed_name: self.full_name.clone(),
            entry,
            roster_email: if staged_used {
                self.staged_email.clone()
            } else {
                self.email_now.clone()
            },
            current: self.standing,
            decided_by_admin: self.standing_source == Some(StandingSource::Admin),
            claim_state: self.claim_state,
            email_key: self.email_key.clone(),
            address_proven: self.email_proven_at.is_some(),
            held_by_another_now: self.verified_others > 0,
            // Only the standing is previewed, not the reason's wording.
            stored_reason: None,
        }
    }
}

/// Works out [`Consequences`] with the rule the commit's re-match applies
/// ([`standing::decide_all`]) over the facts as they will be after the
/// commit, so the preview names exactly the standings the commit changes
/// (two claimants of one bar number included).
pub async fn consequences(pool: &AnyPool, upload: &Upload) -> Result<Consequences, sqlx::Error> {
    let rows: Vec<RowFlat> = sqlx::query_as(
        "SELECT u.id, u.full_name, u.email, u.bar_number, u.standing, u.standing_source, \
           s.blocking, s.full_name AS staged_name, s.status AS staged_status, \
           r.full_name AS name_now, r.status AS status_now, \
           u.email_key, u.email_proven_at, u.claim_state, \
           s.email AS staged_email, r.email AS email_now, \
           (SELECT COUNT(*) FROM users o WHERE o.jurisdiction = u.jurisdiction \
              AND o.bar_number = u.bar_number AND o.id <> u.id AND o.role = 'attorney' \
              AND o.standing = 'verified') AS verified_others \
         FROM users u \
         LEFT JOIN roster_staging s ON s.upload_id = $1 AND s.bar_number = u.bar_number \
         LEFT JOIN roster r ON r.jurisdiction = u.jurisdiction AND r.bar_number = u.bar_number \
         WHERE u.role = 'attorney' AND u.jurisdiction = $2",
    )
    .bind(upload.id)
    .bind(upload.jurisdiction)
    .fetch_all(pool)
    .await?;
    let facts: Vec<StandingFacts> = rows
        .iter()
        .map(|row| row.facts_after_commit(upload))
        .collect();
    let people: HashMap<i64, &RowFlat> = rows.iter().map(|row| (row.id, row)).collect();
    let mut result = Consequences::default();
    let (mut losing, mut gaining) = (Vec::new(), Vec::new());
    for decision in standing::decide_all(&facts) {
        if decision.to == decision.from {
            continue;
        }
        if decision.from == Standing::Verified {
            losing.push(decision.user_id);
        } else if decision.to == Standing::Verified {
            gaining.push(decision.user_id);
        }
        let Some(row) = people.get(&decision.user_id) else {
            continue;
        };
        result.standing_changes.push(StandingChange {
            user_id: decision.user_id,
            full_name: row.full_name.clone(),
            email: row.email.clone(),
            bar_number: row.bar_number.clone(),
            from: decision.from,
            to: decision.to,
        });
    }
    result
        .standing_changes
        .sort_by(|a, b| (&a.full_name, a.user_id).cmp(&(&b.full_name, b.user_id)));
    result.attorneys_leaving = losing.len() as u64;
    result.numbers_leaving = numbers_leaving(pool, &losing).await?;
    result.numbers_entering = numbers_entering(pool, &gaining).await?;
    Ok(result)
}

/// Numbers held active by these attorneys and by no one else.
async fn numbers_leaving(pool: &AnyPool, losing: &[i64]) -> Result<usize, sqlx::Error> {
    let mut numbers = HashSet::new();
    for user_id in losing {
        let held: Vec<String> = sqlx::query_scalar(
            "SELECT e164 FROM registrations WHERE user_id = $1 AND status = 'active'",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?;
        numbers.extend(held);
    }
    let mut leaving = 0;
    for e164 in numbers {
        let holders: Vec<i64> = sqlx::query_scalar(
            "SELECT user_id FROM registrations WHERE e164 = $1 AND status = 'active'",
        )
        .bind(&e164)
        .fetch_all(pool)
        .await?;
        if holders.iter().all(|holder| losing.contains(holder)) {
            leaving += 1;
        }
    }
    Ok(leaving)
}

/// Numbers these attorneys proved (still valid) that are not in the
/// registry now.
async fn numbers_entering(pool: &AnyPool, gaining: &[i64]) -> Result<usize, sqlx::Error> {
    let mut numbers = HashSet::new();
    for user_id in gaining {
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT r.e164 FROM registrations r WHERE r.user_id = $1 \
               AND r.status IN ('pending', 'suspended') AND r.proven_at IS NOT NULL \
               AND r.expires_at > $2 AND NOT EXISTS (SELECT 1 FROM privileged_intervals p \
                 WHERE p.e164 = r.e164 AND p.until IS NULL)",
        )
        .bind(user_id)
        .bind(now_millis())
        .fetch_all(pool)
        .await?;
        numbers.extend(waiting);
    }
    Ok(numbers.len())
}
