//! Sign-up and its email confirmation: the two moments an account meets
//! the roster. Both run the match in the same registry write that
//! creates or confirms the account, so a verified attorney's numbers
//! count at once; the emails they queue are sent after the commit.

use crate::domain::EmailAddress;
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
/// that write and sent after the commit, never under the lock.
pub async fn sign_up(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    form: SignUp,
) -> Result<(), AccountError> {
    let account = form.hashed().await?;
    let mut write = registry::begin_write(database.pool()).await?;
    let created = accounts::create(&mut write.transaction, base_url, &account).await?;
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
        // the one signing up (confirming it is the proof then).
        match claims::queue_link(&mut write.transaction, base_url, user_id).await {
            Ok(link) => queued.extend(link),
            Err(claims::ClaimError::NoEmailOfRecord) => {}
            Err(claims::ClaimError::Database(error)) => return Err(error.into()),
            Err(claims::ClaimError::InvalidLink) => {}
        }
        rematch(&mut write, Attorneys::Only(user_id)).await?;
    }
    write.commit().await?;
    for email in queued {
        mail_queue::send_queued(mailer, database, email).await;
    }
    Ok(())
}

/// The sign-up confirmation link: the address is confirmed and, in the
/// same registry write, the attorney's claim re-decided (an address equal
/// to the roster's email of record proves it).
pub async fn confirm_email(database: &Database, token: &str) -> Result<(), AccountError> {
    let mut write = registry::begin_write(database.pool()).await?;
    let user_id = accounts::mark_email_confirmed(&mut write.transaction, token).await?;
    rematch(&mut write, Attorneys::Only(user_id)).await?;
    write.commit().await?;
    Ok(())
}
