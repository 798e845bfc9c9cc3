//! Deciding an upload: the commit applies it to the roster in one registry
//! write, so the roster, the standings it decides and the numbers that
//! follow change together or not at all, even if the process dies
//! half-way; a discard, or the expiry of a preview nobody decided, drops
//! it.

use sqlx::{Any, AnyPool, Transaction};

use crate::domain::Jurisdiction;
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::registry::{self, Op};
use crate::ssr::standing::{self, Attorneys};

use super::brake::{Brake, BrakeRule, members_listed, verified_attorneys};
use super::{Mode, UploadError, differs};

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReport {
    pub standings_changed: u64,
    pub numbers_added: i64,
    pub numbers_removed: i64,
}

/// How the admin decided to commit.
#[derive(Debug, Clone)]
pub struct Decision {
    pub decided_by: Option<i64>,
    /// Who decided, for the audit trail.
    pub actor: Actor,
    /// Leave out the rows with blocking errors (their members stay as they
    /// are, and are not missing).
    pub skip_invalid: bool,
    /// The count repeated for the brake, if any.
    pub confirm_removals: Option<u64>,
}

/// Applies a previewed upload to the roster, in one registry write: the
/// staged rows without blocking errors replace their members' entries
/// (only where something differs, so the same file twice changes
/// nothing), a full roster marks the members it left out `not_listed`
/// (never one whose row is in the file, readable or not), and the match
/// runs again for the jurisdiction, so standings and numbers follow
/// through the change log. When the [`Brake`] is on and the decision does
/// not repeat its count, nothing is written.
pub async fn commit(
    pool: &AnyPool,
    upload_id: i64,
    decision: Decision,
    rule: BrakeRule,
) -> Result<CommitReport, UploadError> {
    let mut write = registry::begin_write(pool).await?;
    let head_before = registry::head(&mut *write.transaction).await?;
    let (jurisdiction, mode, invalid) = previewed(&mut write.transaction, upload_id).await?;
    if invalid > 0 && !decision.skip_invalid {
        return Err(UploadError::HasErrors(invalid as u64));
    }
    let verified_before = verified_attorneys(&mut write.transaction, jurisdiction).await?;
    let full = match mode {
        Mode::Full => Some(members_listed(&mut write.transaction, upload_id, jurisdiction).await?),
        Mode::Partial => None,
    };
    let now = now_millis();
    apply_staged(
        &mut write.transaction,
        jurisdiction.code(),
        mode,
        upload_id,
        now,
    )
    .await?;
    let standings_changed =
        standing::rematch(&mut write, Attorneys::Of(jurisdiction.code())).await?;
    let verified_after = verified_attorneys(&mut write.transaction, jurisdiction).await?;
    let brake = Brake {
        rule,
        jurisdiction,
        verified: verified_before.len() as u64,
        attorneys_leaving: verified_before.difference(&verified_after).count() as u64,
        full,
    };
    let confirmed = match brake.count() {
        // Dropping the write rolls everything above back.
        Some(count) if decision.confirm_removals != Some(count) => {
            return Err(UploadError::NeedsConfirmation(brake));
        }
        Some(count) => Some(count as i64),
        None => None,
    };
    let flips: Vec<(Op, i64)> =
        sqlx::query_as("SELECT op, COUNT(*) FROM registry_changes WHERE seq > $1 GROUP BY op")
            .bind(head_before)
            .fetch_all(&mut *write.transaction)
            .await?;
    let count = |op: Op| {
        flips
            .iter()
            .find(|(flipped, _)| *flipped == op)
            .map_or(0, |(_, n)| *n)
    };
    let report = CommitReport {
        standings_changed,
        numbers_added: count(Op::Add),
        numbers_removed: count(Op::Remove),
    };
    sqlx::query(
        "UPDATE roster_uploads SET state = 'committed', decided_by = $1, decided_at = $2, \
           skipped_invalid = $3, standings_changed = $4, numbers_added = $5, numbers_removed = $6, \
           confirmed_removals = $7 \
         WHERE id = $8",
    )
    .bind(decision.decided_by)
    .bind(now)
    .bind(i64::from(invalid > 0))
    .bind(report.standings_changed as i64)
    .bind(report.numbers_added)
    .bind(report.numbers_removed)
    .bind(confirmed)
    .bind(upload_id)
    .execute(&mut *write.transaction)
    .await?;
    sqlx::query("DELETE FROM roster_staging WHERE upload_id = $1")
        .bind(upload_id)
        .execute(&mut *write.transaction)
        .await?;
    audit_trail::append(
        &mut write.transaction,
        &decision.actor,
        AuditAction::RosterCommitted,
        &format!(
            "roster upload {upload_id} ({jurisdiction}, {})",
            mode.as_str()
        ),
        &format!(
            "{} standings changed, {} numbers entered and {} left the registry{}{}",
            report.standings_changed,
            report.numbers_added,
            report.numbers_removed,
            if decision.skip_invalid {
                "; rows with errors skipped"
            } else {
                ""
            },
            decision
                .confirm_removals
                .map(|count| format!("; {count} removals confirmed"))
                .unwrap_or_default()
        ),
    )
    .await?;
    write.commit().await?;
    Ok(report)
}

/// The jurisdiction, mode and count of rows with errors of an upload still
/// previewed: the first step of [`commit`].
async fn previewed(
    transaction: &mut Transaction<'static, Any>,
    upload_id: i64,
) -> Result<(Jurisdiction, Mode, i64), UploadError> {
    let found: Option<(Jurisdiction, Mode, i64)> = sqlx::query_as(
        "SELECT jurisdiction, mode, rows_invalid FROM roster_uploads \
         WHERE id = $1 AND state = 'previewed'",
    )
    .bind(upload_id)
    .fetch_optional(&mut **transaction)
    .await?;
    let Some(found) = found else {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM roster_uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(&mut **transaction)
            .await?;
        return Err(match exists {
            Some(_) => UploadError::AlreadyDecided,
            None => UploadError::NotFound,
        });
    };
    Ok(found)
}

/// Writes the staged rows without blocking errors over their members'
/// entries (only where something differs), and, for a full roster, marks
/// the members it left out `not_listed`: the roster step of [`commit`].
async fn apply_staged(
    transaction: &mut Transaction<'static, Any>,
    jurisdiction: &str,
    mode: Mode,
    upload_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO roster (jurisdiction, bar_number, full_name, name_key, status, email, \
           admitted_on, office_phone, office_phone_ext, updated_at) \
         SELECT $1, bar_number, full_name, name_key, status, email, admitted_on, office_phone, \
           office_phone_ext, $2 \
         FROM roster_staging WHERE upload_id = $3 AND blocking = 0 \
         ON CONFLICT (jurisdiction, bar_number) DO UPDATE SET full_name = excluded.full_name, \
           name_key = excluded.name_key, status = excluded.status, email = excluded.email, \
           admitted_on = excluded.admitted_on, office_phone = excluded.office_phone, \
           office_phone_ext = excluded.office_phone_ext, updated_at = excluded.updated_at \
         WHERE {}",
        differs("roster", "excluded")
    ))
    .bind(jurisdiction)
    .bind(now)
    .bind(upload_id)
    .execute(&mut **transaction)
    .await?;
    if mode == Mode::Full {
        sqlx::query(
            "UPDATE roster SET status = 'not_listed', updated_at = $1 \
             WHERE jurisdiction = $2 AND status <> 'not_listed' AND NOT EXISTS \
               (SELECT 1 FROM roster_staging s WHERE s.upload_id = $3 \
                AND s.bar_number = roster.bar_number)",
        )
        .bind(now)
        .bind(jurisdiction)
        .bind(upload_id)
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}

/// Drops a previewed upload without applying it.
pub async fn discard(
    pool: &AnyPool,
    upload_id: i64,
    decided_by: Option<i64>,
) -> Result<(), UploadError> {
    let mut transaction = db::begin_write(pool).await?;
    let discarded = sqlx::query(
        "UPDATE roster_uploads SET state = 'discarded', decided_by = $1, decided_at = $2 \
         WHERE id = $3 AND state = 'previewed'",
    )
    .bind(decided_by)
    .bind(now_millis())
    .bind(upload_id)
    .execute(&mut *transaction)
    .await?;
    if discarded.rows_affected() != 1 {
        return Err(UploadError::AlreadyDecided);
    }
    sqlx::query("DELETE FROM roster_staging WHERE upload_id = $1")
        .bind(upload_id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

/// Discards the previews nobody committed or discarded within `ttl`
/// (housekeeping): their staged rows are deleted, the history keeps the
/// upload as discarded. Returns how many expired.
pub async fn expire_abandoned(
    pool: &AnyPool,
    ttl: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let now = now_millis();
    let before = now - ttl.as_millis() as i64;
    let mut transaction = db::begin_write(pool).await?;
    let expired: Vec<i64> = sqlx::query_scalar(
        "UPDATE roster_uploads SET state = 'discarded', decided_at = $1 \
         WHERE state = 'previewed' AND created_at < $2 RETURNING id",
    )
    .bind(now)
    .bind(before)
    .fetch_all(&mut *transaction)
    .await?;
    for upload_id in &expired {
        sqlx::query("DELETE FROM roster_staging WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(expired.len() as u64)
}
