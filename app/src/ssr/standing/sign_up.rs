//! Sign-up and its email confirmation: the two moments an account meets
//! the roster. Both run the match in the same registry write that
//! creates or confirms the account, so a verified attorney's numbers
//! count at once; the emails they queue are sent after the commit.
//!
//! A confirmation that would prove a claim (the address is the bar's
//! email of record for the bar number claimed) takes the account's
//! password as well as the link (issue 24): whoever reads the bar's
//! mailbox is asked, and cannot verify an account someone else created
//! by pressing a button; "this was not me" blocks the claim instead.

use sqlx::{Any, AnyPool};

use crate::domain::{EmailAddress, Jurisdiction};
use crate::ssr::accounts::{self, AccountError, SignUp};
use crate::ssr::infra::db::Database;
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::registry;

use super::{Attorneys, claims, rematch};

/// Sign-up: creates the account and matches it against the roster in one
/// registry write (the match may verify the attorney, and a verified
/// attorney's numbers count at once). The confirmation email is queued in
/// that write and sent after the commit, never under the lock; when the
/// address is the roster's email of record for the bar number, it names
/// the claim and offers "this was not me".
pub async fn sign_up(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    form: SignUp,
) -> Result<(), AccountError> {
    let account = form.hashed().await?;
    let mut write = registry::begin_write(database.pool()).await?;
    let roster_email: Option<Option<String>> =
        sqlx::query_scalar("SELECT email FROM roster WHERE jurisdiction = $1 AND bar_number = $2")
            .bind(account.jurisdiction.code())
            .bind(account.bar_number.as_str())
            .fetch_optional(&mut *write.transaction)
            .await?;
    let proves_claim = roster_email
        .flatten()
        .is_some_and(|email| email.trim().eq_ignore_ascii_case(account.email.as_str()));
    let created =
        accounts::create(&mut write.transaction, base_url, &account, proves_claim).await?;
    let mut queued: Vec<_> = created.email.into_iter().collect();
    if let Some(user_id) = created.user_id {
        // Someone else holds this bar number: they are told at once.
        let holders: Vec<(String, String)> = sqlx::query_as(
            "SELECT email, full_name FROM users WHERE jurisdiction = $1 AND bar_number = $2 \
             AND id <> $3 AND role = 'attorney' AND standing = 'verified'",
        )
        .bind(account.jurisdiction.code())
        .bind(account.bar_number.as_str())
        .bind(user_id)
        .fetch_all(&mut *write.transaction)
        .await?;
        for (email, name) in holders {
            let Ok(to) = EmailAddress::parse(&email) else {
                continue;
            };
            let bar = format!("{} {}", account.jurisdiction.code(), account.bar_number);
            let message = messages::second_claim_notice(&name, &bar, base_url);
            queued.push(mail_queue::queue(&mut *write.transaction, &to, message).await?);
        }
        // The roster's address for this bar number is asked, unless it is
        // the one signing up (its confirmation asks, with the password).
        match claims::queue_link(&mut write.transaction, base_url, user_id).await {
            Ok(link) => queued.extend(link),
            Err(claims::ClaimError::Database(error)) => return Err(error.into()),
            Err(claims::ClaimError::Account(error)) => return Err(error),
            Err(claims::ClaimError::NoEmailOfRecord | claims::ClaimError::InvalidLink) => {}
        }
        rematch(&mut write, Attorneys::Only(user_id)).await?;
    }
    write.commit().await?;
    for email in queued {
        mail_queue::send_queued(mailer, database, email).await;
    }
    Ok(())
}

/// What a confirmation link stands for, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub full_name: String,
    /// "CA 123456".
    pub bar: String,
    /// The jurisdiction by name: "California".
    pub jurisdiction: String,
    pub email: String,
    /// Confirming would prove the claim to the bar number: the password
    /// is asked, and "this was not me" offered.
    pub proves_claim: bool,
}

/// The confirmation a valid, unused link stands for; `None` when the link
/// is invalid, expired or used.
pub async fn confirmation(
    pool: &AnyPool,
    token: &str,
) -> Result<Option<Confirmation>, AccountError> {
    let Some(user_id) = accounts::confirmation_holder(pool, token).await? else {
        return Ok(None);
    };
    let found: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT full_name, jurisdiction, bar_number, email FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    let Some((full_name, jurisdiction, bar_number, email)) = found else {
        return Ok(None);
    };
    Ok(Some(Confirmation {
        full_name,
        bar: format!("{jurisdiction} {bar_number}"),
        jurisdiction: Jurisdiction::parse(&jurisdiction)
            .map(|j| j.name().to_owned())
            .unwrap_or(jurisdiction),
        email,
        proves_claim: proves_claim(pool, user_id).await?,
    }))
}

/// Whether confirming `user_id`'s address would prove their claim: it is
/// the roster's email of record for their bar number and the claim is
/// neither proven nor disputed yet.
async fn proves_claim<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u JOIN roster r \
           ON r.jurisdiction = u.jurisdiction AND r.bar_number = u.bar_number \
         WHERE u.id = $1 AND u.role = 'attorney' AND u.claim_state = 'unproven' \
           AND LOWER(TRIM(r.email)) = u.email_key",
    )
    .bind(user_id)
    .fetch_one(executor)
    .await?;
    Ok(count > 0)
}

/// The confirmation link, followed: the address is confirmed and, in the
/// same registry write, the attorney's claim re-decided. With `password`
/// (the account's, checked under the per-account limit of
/// [`accounts::confirm_password`]) the account's holder proved control of
/// the address, which proves a claim when it is the roster's email of
/// record. Errors: `InvalidToken` (invalid, expired or used link),
/// `PasswordNeeded` (no password, and confirming would prove a claim: a
/// bare click verifies no one), `InvalidCredentials` (not the account's
/// password; the link stays usable), `TooManyFailures`.
pub async fn confirm_email(
    database: &Database,
    token: &str,
    password: Option<String>,
) -> Result<(), AccountError> {
    let pool = database.pool();
    let user_id = accounts::confirmation_holder(pool, token)
        .await?
        .ok_or(AccountError::InvalidToken)?;
    let by_holder = match password.filter(|password| !password.is_empty()) {
        Some(password) => {
            if !accounts::confirm_password(pool, user_id, password).await? {
                return Err(AccountError::InvalidCredentials);
            }
            true
        }
        None if proves_claim(pool, user_id).await? => return Err(AccountError::PasswordNeeded),
        // Proves nothing: one click. Should the roster list this address
        // later, the claim still waits (the rule asks for the holder).
        None => false,
    };
    let mut write = registry::begin_write(pool).await?;
    let user_id = accounts::mark_email_confirmed(&mut write.transaction, token, by_holder).await?;
    rematch(&mut write, Attorneys::Only(user_id)).await?;
    write.commit().await?;
    Ok(())
}

/// "This was not me" on a confirmation that would prove a claim: the
/// account's confirmation links are used up, its claim is disputed (as a
/// claim link's "not me" does) and the reviewers are alerted. Errors:
/// `InvalidToken` for a link that is invalid, expired or used, or that
/// proves nothing (its address is not the bar's: ignoring the message is
/// enough).
pub async fn refuse_confirmation(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    token: &str,
) -> Result<(), AccountError> {
    let mut write = registry::begin_write(database.pool()).await?;
    let user_id = accounts::refuse_confirmation(&mut write.transaction, token).await?;
    if !proves_claim(&mut *write.transaction, user_id).await? {
        return Err(AccountError::InvalidToken);
    }
    let alerts = claims::dispute(&mut write, base_url, user_id).await?;
    write.commit().await?;
    for alert in alerts {
        mail_queue::send_queued(mailer, database, alert).await;
    }
    Ok(())
}
