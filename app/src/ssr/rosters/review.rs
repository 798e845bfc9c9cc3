//! The review of attorneys the roster could not match: the queue, beside
//! the closest roster entry, and the decision (approve or reject, with a
//! reason emailed to the attorney).

use sqlx::AnyPool;

use crate::domain::{EmailAddress, Standing};
use crate::ssr::accounts::AccountError;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::Database;
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::numbers;
use crate::ssr::registry;
use crate::ssr::rosters::{self, RosterEntry, Verdict};

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
}

/// The review queue, oldest first: attorneys with a confirmed email whose
/// claim the roster did not confirm.
pub async fn pending_reviews(
    pool: &AnyPool,
    limit: i64,
) -> Result<Vec<PendingAttorney>, sqlx::Error> {
    let rows: Vec<(i64, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT id, full_name, email, jurisdiction, bar_number, created_at FROM users \
         WHERE role = 'attorney' AND standing = 'pending_review' AND email_verified_at IS NOT NULL \
         ORDER BY created_at, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut pending = Vec::with_capacity(rows.len());
    for (user_id, full_name, email, jurisdiction, bar_number, signed_up_at) in rows {
        let closest = rosters::closest_entry(pool, &jurisdiction, &bar_number, &full_name).await?;
        let under_their_number = closest
            .as_ref()
            .filter(|entry| entry.bar_number == bar_number);
        let verdict = Verdict::of(under_their_number, &full_name);
        pending.push(PendingAttorney {
            user_id,
            full_name,
            email,
            jurisdiction,
            bar_number,
            signed_up_at,
            closest,
            verdict,
        });
    }
    Ok(pending)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("this attorney is no longer waiting for review")]
    NotPending,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Approves or rejects a pending attorney and emails them the reason. Only
/// one decision is taken: a second reviewer's is refused.
pub async fn decide(
    database: &Database,
    mailer: &Mailer,
    user_id: i64,
    decision: Decision,
    reason: &str,
) -> Result<(), ReviewError> {
    let standing = match decision {
        Decision::Approve => Standing::Verified,
        Decision::Reject => Standing::Rejected,
    };
    let mut write = registry::begin_write(database.pool()).await?;
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
    numbers::follow_standing(&mut write, user_id).await?;
    let email = EmailAddress::parse(&email).map_err(|_| ReviewError::NotPending)?;
    let message = messages::review_decision(&full_name, decision == Decision::Approve, reason);
    let queued = mail_queue::queue(&mut *write.transaction, &email, message).await?;
    write.commit().await?;
    mail_queue::send_queued(mailer, database, queued).await;
    Ok(())
}

impl From<ReviewError> for crate::error::AppError {
    fn from(error: ReviewError) -> Self {
        match error {
            ReviewError::NotPending => crate::error::AppError::Conflict(
                "This attorney is no longer waiting for review: someone decided already.".into(),
            ),
            ReviewError::Account(error) => error.into(),
            ReviewError::Database(error) => error.into(),
        }
    }
}
