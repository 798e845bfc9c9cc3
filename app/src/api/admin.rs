//! The site admin's review queue.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Longest reason a reviewer may give; it is emailed as written.
pub const MAX_REASON_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntryView {
    pub bar_number: String,
    pub full_name: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub user_id: i64,
    pub full_name: String,
    pub email: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub closest: Option<RosterEntryView>,
    /// What the roster says about the claim, in words.
    pub finding: String,
}

#[server(endpoint = "review_queue")]
pub async fn review_queue() -> Result<Vec<ReviewItem>, AppError> {
    use crate::domain::Role;
    use crate::ssr::{admin, auth, session};

    let session = session::current().await?;
    auth::require_role(&session, Role::SiteAdmin).await?;
    let state = auth::state()?;
    let pending = admin::pending_reviews(state.database.pool(), 200)
        .await
        .map_err(AppError::unexpected)?;
    Ok(pending
        .into_iter()
        .map(|attorney| ReviewItem {
            user_id: attorney.user_id,
            full_name: attorney.full_name,
            email: attorney.email,
            jurisdiction: attorney.jurisdiction,
            bar_number: attorney.bar_number,
            closest: attorney.closest.map(|entry| RosterEntryView {
                bar_number: entry.bar_number,
                full_name: entry.full_name,
                status: entry.status,
            }),
            finding: attorney.verdict.describe(),
        })
        .collect())
}

/// Approves or rejects a pending attorney; the reason is emailed to them.
#[server(endpoint = "decide_review")]
pub async fn decide_review(
    user_id: String,
    decision: Option<String>,
    reason: String,
) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::ssr::admin::{self, Decision, ReviewError};
    use crate::ssr::{auth, session};

    let session = session::current().await?;
    auth::require_role(&session, Role::SiteAdmin).await?;
    let user_id: i64 = user_id
        .trim()
        .parse()
        .map_err(|_| AppError::Validation("That attorney is not in the queue.".into()))?;
    let decision = match decision.as_deref() {
        Some("approve") => Decision::Approve,
        Some("reject") => Decision::Reject,
        _ => return Err(AppError::Validation("Choose approve or reject.".into())),
    };
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::Validation(
            "Give a reason: it is emailed to the attorney.".into(),
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::Validation(format!(
            "A reason is at most {MAX_REASON_CHARS} characters."
        )));
    }
    if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::Validation(
            "The reason contains characters that cannot be emailed.".into(),
        ));
    }
    let state = auth::state()?;
    match admin::decide(
        state.database.pool(),
        &state.mailer,
        user_id,
        decision,
        reason,
    )
    .await
    {
        Ok(()) => {
            leptos_axum::redirect("/admin/reviews?decided=1");
            Ok(())
        }
        Err(ReviewError::NotPending) => Err(AppError::Conflict(
            "This attorney is no longer waiting for review: someone decided already.".into(),
        )),
        Err(other) => Err(AppError::unexpected(other)),
    }
}
