//! Password resets and the emails that carry an account's bearer links.
//!
//! A link is issued in the transaction of the request, sent right after
//! the commit from memory, and never stored in clear: the job queued for
//! it is a [`LinkEmailJob`], which says whose link and what for, so that
//! a try by the worker (the send after the commit failed, or never
//! happened) issues a fresh link instead. Issuing a link revokes the
//! account's earlier ones of the same purpose
//! ([`super::issue_token_valid_for`]); a reset, and a password change,
//! revoke every reset link left ([`revoke_links`]).

use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Transaction};

use super::{
    ADMIN_INVITATION_VALIDITY_MS, AccountError, RESET_PASSWORD_VALIDITY_MS, TokenPurpose,
    confirmation_links, consume_token, issue_token_valid_for, sign_in,
};
use crate::domain::{EmailAddress, Jurisdiction, NewPassword, PersonName};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::{self, Database};
use crate::ssr::infra::jobs::{Job, JobContext, JobFailure};
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue::{self, MailKind};
use crate::ssr::infra::messages::{self, Email};
use crate::ssr::infra::secrets;

/// Which bearer link an account email carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountLink {
    /// The sign-up's confirmation links (confirm, "this was not me"),
    /// valid [`super::VERIFY_EMAIL_VALIDITY_MS`]; `proves_claim`: the
    /// address is the bar's email of record for the bar number claimed,
    /// and the email says so ([`super::create`]).
    ConfirmEmail { proves_claim: bool },
    /// A password reset link, valid [`RESET_PASSWORD_VALIDITY_MS`].
    ResetPassword,
    /// A new admin's link to choose a password, valid
    /// [`ADMIN_INVITATION_VALIDITY_MS`].
    AdminInvitation,
}

/// The stored form of an email carrying an account's bearer link: whose
/// account and which link, never the link. Run by the worker, it issues a
/// fresh link (revoking the ones before) and sends it to the account's
/// address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkEmailJob {
    pub user_id: i64,
    pub link: AccountLink,
}

impl Job for LinkEmailJob {
    const KIND: &'static str = "account_link_email";
    // As for any email: backing off to an hour between tries, about a day.
    const MAX_ATTEMPTS: i64 = 30;

    async fn run(self, context: &JobContext) -> Result<(), JobFailure> {
        let transient = |error: AccountError| JobFailure::Transient(error.to_string());
        let Some((to, message)) = reissue(context.database.pool(), &context.base_url, &self)
            .await
            .map_err(transient)?
        else {
            // The account is gone, or its address no longer one.
            return Ok(());
        };
        context
            .mailer
            .send(&to, &message.subject, message.body)
            .await
            .map_err(|error| JobFailure::Transient(error.to_string()))
    }
}

/// Issues `user_id` a fresh `link` in the caller's transaction and
/// returns the email that carries it. `full_name` is the account's.
pub(super) async fn link_email(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    user_id: i64,
    full_name: &str,
    link: AccountLink,
) -> Result<Email, AccountError> {
    match link {
        AccountLink::ConfirmEmail { proves_claim } => {
            confirmation_email(transaction, base_url, user_id, full_name, proves_claim).await
        }
        AccountLink::ResetPassword => {
            let url = reset_url(transaction, base_url, user_id, RESET_PASSWORD_VALIDITY_MS).await?;
            Ok(messages::reset_password(&url))
        }
        AccountLink::AdminInvitation => {
            let url =
                reset_url(transaction, base_url, user_id, ADMIN_INVITATION_VALIDITY_MS).await?;
            Ok(messages::admin_invitation(full_name, &url))
        }
    }
}

/// A fresh reset link for `user_id`, valid `validity` milliseconds.
async fn reset_url(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    user_id: i64,
    validity: i64,
) -> Result<String, AccountError> {
    let token =
        issue_token_valid_for(transaction, user_id, TokenPurpose::ResetPassword, validity).await?;
    Ok(format!("{base_url}/reset-password?token={token}"))
}

/// The sign-up's confirmation email with fresh links: saying what is
/// claimed when the address `proves_claim` (the account's bar number,
/// read back from the account).
async fn confirmation_email(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    user_id: i64,
    full_name: &str,
    proves_claim: bool,
) -> Result<Email, AccountError> {
    let (confirm, not_me) = confirmation_links(transaction, base_url, user_id).await?;
    if !proves_claim {
        return Ok(messages::confirm_email(full_name, &confirm));
    }
    let (jurisdiction, bar_number): (String, String) =
        sqlx::query_as("SELECT jurisdiction, bar_number FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut **transaction)
            .await?;
    let name = Jurisdiction::parse(&jurisdiction)
        .map(Jurisdiction::name)
        .unwrap_or_default();
    Ok(messages::confirm_email_and_claim(
        full_name,
        &format!("{jurisdiction} {bar_number}"),
        name,
        &confirm,
        &not_me,
    ))
}

/// The worker's try of a [`LinkEmailJob`]: a fresh link issued and
/// committed, and the email to send with it; `None` when the account is
/// gone or its address is not one.
async fn reissue(
    pool: &AnyPool,
    base_url: &str,
    job: &LinkEmailJob,
) -> Result<Option<(EmailAddress, Email)>, AccountError> {
    let mut transaction = db::begin_write(pool).await?;
    let holder: Option<(String, String, Option<i64>)> =
        sqlx::query_as("SELECT email, full_name, email_verified_at FROM users WHERE id = $1")
            .bind(job.user_id)
            .fetch_optional(&mut *transaction)
            .await?;
    let Some((email, full_name, confirmed)) = holder else {
        return Ok(None);
    };
    if matches!(job.link, AccountLink::ConfirmEmail { .. }) && confirmed.is_some() {
        // Confirmed meanwhile: no new link.
        return Ok(None);
    }
    let Ok(to) = EmailAddress::parse(&email) else {
        return Ok(None);
    };
    let message = link_email(
        &mut transaction,
        base_url,
        job.user_id,
        &full_name,
        job.link,
    )
    .await?;
    transaction.commit().await?;
    Ok(Some((to, message)))
}

/// Emails a password reset link when the address has an account, and a
/// note saying there is none otherwise: the same work and the same answer
/// either way.
///
/// Past the address's share of reset mail ([`MailKind::PasswordReset`]:
/// its own share, which other mail cannot use up) nothing is sent and no
/// link issued, so the last link sent, valid for the rest of the window,
/// stays the one that works; the answer on the page is the same, so a
/// stranger's mailbox cannot be flooded.
pub async fn request_password_reset(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    email: &EmailAddress,
) -> Result<(), AccountError> {
    let mut transaction = db::begin_write(database.pool()).await?;
    let holder: Option<(i64, String)> =
        sqlx::query_as("SELECT id, full_name FROM users WHERE email_key = $1")
            .bind(email.as_str().to_lowercase())
            .fetch_optional(&mut *transaction)
            .await?;
    if !mail_queue::may_send(&mut transaction, email.as_str(), MailKind::PasswordReset).await? {
        transaction.commit().await?;
        return Ok(());
    }
    let queued = match holder {
        Some((user_id, full_name)) => {
            let link = AccountLink::ResetPassword;
            let message = link_email(&mut transaction, base_url, user_id, &full_name, link).await?;
            let job = LinkEmailJob { user_id, link };
            mail_queue::queue_link_email(&mut *transaction, email, message, &job).await?
        }
        None => {
            let message = messages::reset_without_account(base_url);
            mail_queue::queue(&mut *transaction, email, message).await?
        }
    };
    transaction.commit().await?;
    mail_queue::send_queued(mailer, database, queued).await;
    Ok(())
}

/// Sets a new password through a reset link. The link is used up only
/// when the password is accepted, and every other reset link of the
/// account with it; the person then signs in (no automatic login: the
/// link alone should not open a session). Lifts the account's sign-in
/// limits.
pub async fn reset_password(
    pool: &AnyPool,
    token: &str,
    new_password: &str,
) -> Result<(), AccountError> {
    let now = now_millis();
    let holder: Option<(i64, String, String, String)> = sqlx::query_as(
        "SELECT u.id, u.email, u.email_key, u.full_name \
         FROM email_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3",
    )
    .bind(secrets::hash_token(token))
    .bind(TokenPurpose::ResetPassword.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let (user_id, email, email_key, name) = holder.ok_or(AccountError::InvalidToken)?;
    let email = EmailAddress::parse(&email).ok();
    let name = PersonName::parse(&name).ok();
    let password = NewPassword::parse(new_password, email.as_ref(), name.as_ref())
        .map_err(AccountError::WeakPassword)?;
    let password_hash = secrets::hash_password(password).await?;

    let mut transaction = db::begin_write(pool).await?;
    let consumed = consume_token(&mut transaction, token, TokenPurpose::ResetPassword).await?;
    if consumed != Some(user_id) {
        return Err(AccountError::InvalidToken);
    }
    // Following the link proved control of the mailbox, too. Whoever else
    // held a session (perhaps the reason for the reset) is signed out.
    sqlx::query(
        "UPDATE users SET password_hash = $1, email_verified_at = COALESCE(email_verified_at, $2), \
         session_generation = session_generation + 1 WHERE id = $3",
    )
    .bind(&password_hash)
    .bind(now)
    .bind(user_id)
    .execute(&mut *transaction)
    .await?;
    revoke_links(&mut transaction, user_id, TokenPurpose::ResetPassword).await?;
    transaction.commit().await?;
    // The mailbox's owner proved themselves: the limits the wrong guesses
    // built up no longer stand in their way.
    sign_in::lift_limits(pool, &email_key, user_id).await?;
    Ok(())
}

/// Revokes every unused link of `purpose` the account holds (marks it
/// used), in the caller's transaction: after a password change or reset,
/// a reset link still in a mailbox must not set the password again.
pub(super) async fn revoke_links(
    transaction: &mut Transaction<'_, Any>,
    user_id: i64,
    purpose: TokenPurpose,
) -> Result<(), AccountError> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = $1 \
         WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now_millis())
    .bind(user_id)
    .bind(purpose.as_str())
    .execute(&mut **transaction)
    .await?;
    Ok(())
}
