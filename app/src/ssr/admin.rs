//! What site admins do: bootstrap admin accounts from the command line and
//! decide on attorneys the roster could not match.

use sqlx::AnyPool;

use crate::domain::{EmailAddress, Jurisdiction, NewPassword, PersonName, Role, Standing};
use crate::ssr::accounts::{
    ADMIN_INVITATION_VALIDITY_MS, AccountError, TokenPurpose, issue_token_valid_for,
};
use crate::ssr::clock::now_millis;
use crate::ssr::mail::Mailer;
use crate::ssr::numbers;
use crate::ssr::registry;
use crate::ssr::roster::{self, RosterEntry, Verdict};
use crate::ssr::secrets;

/// An admin role, with the jurisdiction a bar admin acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    Site,
    Bar(Jurisdiction),
}

/// Whether `create_admin` made a new account or promoted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCreated {
    New,
    Promoted,
}

/// Makes `email` an admin. A new account gets its email verified (the
/// operator vouches for it) and an emailed link, valid 24 hours, to choose
/// its password; an existing one keeps its password. Either way the admin
/// must set up two-step sign-in at their next sign-in.
pub async fn create_admin(
    pool: &AnyPool,
    mailer: &Mailer,
    base_url: &str,
    email: &EmailAddress,
    full_name: &PersonName,
    role: AdminRole,
) -> Result<AdminCreated, AccountError> {
    let (role_text, scope) = match role {
        AdminRole::Site => (Role::SiteAdmin.as_str(), None),
        AdminRole::Bar(jurisdiction) => (Role::BarAdmin.as_str(), Some(jurisdiction.code())),
    };
    let email_key = email.as_str().to_lowercase();
    let mut transaction = pool.begin().await?;
    let promoted = sqlx::query(
        "UPDATE users SET role = $1, admin_jurisdiction = $2, session_generation = session_generation + 1 \
         WHERE email_key = $3",
    )
    .bind(role_text)
    .bind(scope)
    .bind(&email_key)
    .execute(&mut *transaction)
    .await?;
    if promoted.rows_affected() == 1 {
        transaction.commit().await?;
        return Ok(AdminCreated::Promoted);
    }

    // Nobody knows this password: the admin sets their own by the link.
    let (unusable, _) = secrets::new_token();
    let placeholder = NewPassword::parse(&format!("{unusable}{unusable}"), None, None)
        .map_err(AccountError::WeakPassword)?;
    let password_hash = secrets::hash_password(placeholder).await?;
    let now = now_millis();
    let user_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, password_hash, \
         role, admin_jurisdiction, standing, email_verified_at, created_at) \
         VALUES ($1, $2, $3, '', '', $4, $5, $6, 'verified', $7, $7) RETURNING id",
    )
    .bind(email.as_str())
    .bind(&email_key)
    .bind(full_name.as_str())
    .bind(&password_hash)
    .bind(role_text)
    .bind(scope)
    .bind(now)
    .fetch_one(&mut *transaction)
    .await?;
    let token = issue_token_valid_for(
        &mut transaction,
        user_id,
        TokenPurpose::ResetPassword,
        ADMIN_INVITATION_VALIDITY_MS,
    )
    .await?;
    let body = format!(
        "Hello {full_name},\n\n\
         You are now an administrator of Counsel Registry. Choose your\n\
         password within 24 hours by opening this link:\n\n\
         {base_url}/reset-password?token={token}\n\n\
         At your first sign-in you will set up two-step sign-in with an\n\
         authenticator app.\n"
    );
    mailer
        .send(email, "Your Counsel Registry administrator account", body)
        .await?;
    transaction.commit().await?;
    Ok(AdminCreated::New)
}

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
        let closest = roster::closest_entry(pool, &jurisdiction, &bar_number, &full_name).await?;
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
    pool: &AnyPool,
    mailer: &Mailer,
    user_id: i64,
    decision: Decision,
    reason: &str,
) -> Result<(), ReviewError> {
    let standing = match decision {
        Decision::Approve => Standing::Verified,
        Decision::Reject => Standing::Rejected,
    };
    let mut write = registry::begin_write(pool).await?;
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
    let outcome = match decision {
        Decision::Approve => {
            "We have confirmed that you are an attorney in good standing.\n\
             The numbers you register will count once you prove them."
        }
        Decision::Reject => {
            "We could not confirm that you are an attorney in good standing,\n\
             so the numbers you register will not count."
        }
    };
    let body = format!(
        "Hello {full_name},\n\n\
         {outcome}\n\n\
         The reviewer's reason:\n\n\
         {reason}\n\n\
         If you have questions, reply to this message.\n"
    );
    mailer
        .send(&email, "The review of your Counsel Registry account", body)
        .await
        .map_err(AccountError::from)?;
    write.commit().await?;
    Ok(())
}
