//! The review of attorneys the roster could not match: the queue, beside
//! the closest roster entry, and the decision (approve or reject, with a
//! reason emailed to the attorney). The bar's email of record outweighs a
//! reviewer who has not heard from it (issue 24): approving while a claim
//! link to it waits for an answer, or after it said "this was not me",
//! takes an explicit override, recorded in the audit trail.

use sqlx::{Any, AnyPool};

use crate::domain::{ClaimState, EmailAddress, Standing};
use crate::ssr::accounts::AccountError;
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::Database;
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::numbers;
use crate::ssr::registry;
use crate::ssr::standing::{self, RosterEntry, Verdict, evidence};

/// An attorney waiting for review, beside what the roster says.
#[derive(Debug, Clone)]
pub struct PendingAttorney {
    pub user_id: i64,
    pub full_name: String,
    pub email: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub signed_up_at: i64,
    pub closest: Option<RosterEntry>,
    pub verdict: Verdict,
    /// Why the attorney waits, as the match recorded it (the claim's
    /// proof, a second claim, a dispute).
    pub standing_reason: Option<String>,
    /// Other accounts claiming the same bar number: name, email, standing.
    pub other_claims: Vec<(String, String, String)>,
    /// Documents the attorney uploaded as evidence.
    pub documents: Vec<evidence::Document>,
    /// What the bar's email of record has yet to settle, in words, when
    /// approving takes an override ([`open_claim`]).
    pub open_claim: Option<&'static str>,
}

/// What keeps a claim open against a reviewer's approval: a claim link
/// to the bar's email of record that is valid and unanswered, or its
/// answer "this was not me". In words for the reviewer; `None` when
/// nothing does.
pub async fn open_claim<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    user_id: i64,
) -> Result<Option<&'static str>, sqlx::Error> {
    let found: Option<(ClaimState, i64)> = sqlx::query_as(
        "SELECT u.claim_state, (SELECT COUNT(*) FROM claim_tokens t WHERE t.user_id = u.id \
           AND t.used_at IS NULL AND t.expires_at > $2 AND t.e164 IS NULL) \
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(now_millis())
    .fetch_optional(executor)
    .await?;
    Ok(match found {
        Some((ClaimState::Disputed, _)) => Some("the bar's email of record said this was not them"),
        Some((_, links)) if links > 0 => {
            Some("a claim link to the bar's email of record waits for an answer")
        }
        _ => None,
    })
}

/// The review queue, oldest first: attorneys with a confirmed email whose
/// claim the roster did not confirm, and any whose claim the bar's email
/// of record disputed; only `jurisdiction`'s when given (a bar admin's
/// queue).
pub async fn pending_reviews(
    pool: &AnyPool,
    jurisdiction: Option<&str>,
    limit: i64,
) -> Result<Vec<PendingAttorney>, sqlx::Error> {
    type Row = (i64, String, String, String, String, i64, Option<String>);
    let select = "SELECT id, full_name, email, jurisdiction, bar_number, created_at, \
           standing_reason FROM users \
         WHERE role = 'attorney' AND standing = 'pending_review' \
           AND (email_verified_at IS NOT NULL OR claim_state = 'disputed')";
    let rows: Vec<Row> = match jurisdiction {
        Some(jurisdiction) => {
            sqlx::query_as(&format!(
                "{select} AND jurisdiction = $1 ORDER BY created_at, id LIMIT $2"
            ))
            .bind(jurisdiction)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query_as(&format!("{select} ORDER BY created_at, id LIMIT $1"))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    };
    let mut pending = Vec::with_capacity(rows.len());
    for (user_id, full_name, email, jurisdiction, bar_number, signed_up_at, standing_reason) in rows
    {
        let other_claims: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT full_name, email, standing FROM users WHERE jurisdiction = $1 \
             AND bar_number = $2 AND id <> $3 AND role = 'attorney' ORDER BY id",
        )
        .bind(&jurisdiction)
        .bind(&bar_number)
        .bind(user_id)
        .fetch_all(pool)
        .await?;
        let documents = evidence::documents_of(pool, user_id).await?;
        let closest = standing::closest_entry(pool, &jurisdiction, &bar_number, &full_name).await?;
        let under_their_number = closest
            .as_ref()
            .filter(|entry| entry.bar_number == bar_number);
        let verdict = Verdict::of(under_their_number, &full_name);
        let open_claim = open_claim(pool, user_id).await?;
        pending.push(PendingAttorney {
            user_id,
            full_name,
            email,
            jurisdiction,
            bar_number,
            signed_up_at,
            closest,
            verdict,
            standing_reason,
            other_claims,
            documents,
            open_claim,
        });
    }
    Ok(pending)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// A reviewer's decision as the review form gives it.
#[derive(Debug, Clone, Copy)]
pub struct Ruling<'a> {
    pub decision: Decision,
    /// Emailed to the attorney and kept in the audit trail.
    pub reason: &'a str,
    /// Approve over an open claim ([`open_claim`]), knowingly.
    pub override_claim: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("this attorney is no longer waiting for review")]
    NotPending,
    /// Approving takes an override: the bar's email of record has not
    /// answered a claim link, or disputed the claim (in words).
    #[error("approving needs an override: {0}")]
    ClaimOpen(&'static str),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The jurisdiction of an attorney waiting for review (for the
/// reviewer's permission), or `None` when nobody with that id waits.
pub async fn jurisdiction_of_pending(
    pool: &AnyPool,
    user_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT jurisdiction FROM users WHERE id = $1 AND role = 'attorney' \
         AND standing = 'pending_review'",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// Approves or rejects a pending attorney and emails them the reason. Only
/// one decision is taken: a second reviewer's is refused. Approving while
/// the bar's email of record leaves the claim open ([`open_claim`]) is
/// refused (`ClaimOpen`) unless `override_claim`; an override is
/// recorded in the audit trail with the decision, and a dispute it
/// overrules is cleared (the claim is `unproven` again, so the next
/// "this was not me" from the email of record counts again). The
/// attorney's documents are deleted once the decision is saved.
pub async fn decide(
    database: &Database,
    mailer: &Mailer,
    documents_dir: &std::path::Path,
    user_id: i64,
    ruling: Ruling<'_>,
    actor: &Actor,
) -> Result<(), ReviewError> {
    let Ruling {
        decision,
        reason,
        override_claim,
    } = ruling;
    let standing = match decision {
        Decision::Approve => Standing::Verified,
        Decision::Reject => Standing::Rejected,
    };
    let mut write = registry::begin_write(database.pool()).await?;
    let overridden = match open_claim(&mut *write.transaction, user_id).await? {
        Some(open) if decision == Decision::Approve && !override_claim => {
            return Err(ReviewError::ClaimOpen(open));
        }
        Some(open) if decision == Decision::Approve => Some(open),
        _ => None,
    };
    let attorney: Option<(String, String)> = sqlx::query_as(
        "UPDATE users SET standing = $1, standing_source = 'admin', standing_reason = $2, \
         standing_changed_at = $3 \
         WHERE id = $4 AND role = 'attorney' AND standing = 'pending_review' \
         RETURNING email, full_name",
    )
    .bind(standing.as_str())
    .bind(reason)
    .bind(now_millis())
    .bind(user_id)
    .fetch_optional(&mut *write.transaction)
    .await?;
    let (email, full_name) = attorney.ok_or(ReviewError::NotPending)?;
    if overridden.is_some() {
        sqlx::query(
            "UPDATE users SET claim_state = $1, claim_changed_at = $2 \
             WHERE id = $3 AND claim_state = $4",
        )
        .bind(ClaimState::Unproven)
        .bind(now_millis())
        .bind(user_id)
        .bind(ClaimState::Disputed)
        .execute(&mut *write.transaction)
        .await?;
    }
    numbers::follow_standing(&mut write, user_id).await?;
    let email = EmailAddress::parse(&email).map_err(|_| ReviewError::NotPending)?;
    let message = messages::review_decision(&full_name, decision == Decision::Approve, reason);
    let queued = mail_queue::queue(&mut *write.transaction, &email, message).await?;
    audit_trail::append(
        &mut write.transaction,
        actor,
        AuditAction::ReviewDecided,
        &format!("attorney {user_id} <{}>", email.as_str()),
        &match (decision, overridden) {
            (Decision::Approve, Some(open)) => {
                format!("approved with an override ({open}): {reason}")
            }
            (Decision::Approve, None) => format!("approved: {reason}"),
            (Decision::Reject, _) => format!("rejected: {reason}"),
        },
    )
    .await?;
    write.commit().await?;
    mail_queue::send_queued(mailer, database, queued).await;
    if let Err(error) = evidence::delete_all(database.pool(), documents_dir, user_id).await {
        tracing::error!(%error, user_id, "review documents not deleted after the decision");
    }
    Ok(())
}

impl From<ReviewError> for crate::error::AppError {
    fn from(error: ReviewError) -> Self {
        match error {
            ReviewError::NotPending => crate::error::AppError::Conflict(
                "This attorney is no longer waiting for review: someone decided already.".into(),
            ),
            ReviewError::ClaimOpen(open) => crate::error::AppError::Validation(format!(
                "Not approved: {open}. To approve anyway, tick the override: it is recorded \
                 in the audit trail."
            )),
            ReviewError::Account(error) => error.into(),
            ReviewError::Database(error) => error.into(),
        }
    }
}
