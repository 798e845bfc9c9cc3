//! Proof of a bar number claim through the roster's email of record
//! (issue 12): knowing an attorney's public name and bar number proves
//! nothing, so the roster's address for that bar number is asked. A
//! claim link goes there; "this is me" proves the claim, "this was not
//! me" blocks it and alerts the reviewers. Signing up with the roster's
//! own address needs no link: confirming the address proves it (see
//! [`ClaimCheck`](super::ClaimCheck)).

use sqlx::{Any, AnyPool, Transaction};

use crate::domain::{ClaimState, EmailAddress, Role, Standing};
use crate::error::AppError;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::{self, Database};
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue::{self, QueuedEmail};
use crate::ssr::infra::messages;
use crate::ssr::infra::secrets;
use crate::ssr::registry;
use crate::ssr::standing::{self, Attorneys};

/// How long a claim link works.
pub const CLAIM_LINK_VALIDITY_MS: i64 = 7 * 24 * 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("the link is invalid, expired or already used")]
    InvalidLink,
    #[error("the roster has no email of record for this bar number")]
    NoEmailOfRecord,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ClaimError> for AppError {
    fn from(error: ClaimError) -> Self {
        match error {
            ClaimError::InvalidLink => AppError::Validation(
                "This link is invalid, has expired or was already used.".into(),
            ),
            ClaimError::NoEmailOfRecord => AppError::Validation(
                "Your bar's roster has no email address for your bar number, so our \
                 reviewers will check your claim instead."
                    .into(),
            ),
            ClaimError::Database(cause) => AppError::unexpected(cause),
        }
    }
}

/// The claim behind a link, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub full_name: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub account_email: String,
}

/// Queues a claim link to the roster's email of record for the account's
/// bar number, in the caller's transaction, when the roster has one that
/// differs from the account's own address and that mailbox has room this
/// hour. Returns the queued email, if one was.
pub async fn queue_link(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    user_id: i64,
) -> Result<Option<QueuedEmail>, ClaimError> {
    let found: Option<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT u.full_name, u.jurisdiction, u.bar_number, u.email, r.email \
         FROM users u LEFT JOIN roster r \
           ON r.jurisdiction = u.jurisdiction AND r.bar_number = u.bar_number \
         WHERE u.id = $1 AND u.role = 'attorney'",
    )
    .bind(user_id)
    .fetch_optional(&mut **transaction)
    .await?;
    let Some((full_name, jurisdiction, bar_number, account_email, roster_email)) = found else {
        return Ok(None);
    };
    let Some(to) = roster_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .and_then(|e| EmailAddress::parse(e).ok())
    else {
        return Err(ClaimError::NoEmailOfRecord);
    };
    if to.as_str().eq_ignore_ascii_case(&account_email)
        || !mail_queue::may_send_to(transaction, to.as_str()).await?
    {
        return Ok(None);
    }
    let now = now_millis();
    let (token, token_hash) = secrets::new_token();
    sqlx::query(
        "INSERT INTO claim_tokens (token_hash, user_id, sent_to, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&token_hash)
    .bind(user_id)
    .bind(to.as_str())
    .bind(now + CLAIM_LINK_VALIDITY_MS)
    .bind(now)
    .execute(&mut **transaction)
    .await?;
    let link = |answer: &str| format!("{base_url}/claim?token={token}&answer={answer}");
    let message = messages::claim_link(
        &full_name,
        &format!("{jurisdiction} {bar_number}"),
        &account_email,
        &link("mine"),
        &link("not-mine"),
    );
    Ok(Some(
        mail_queue::queue(&mut **transaction, &to, message).await?,
    ))
}

/// The attorney asks for the claim link again (from their account page).
pub async fn request_link(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    user_id: i64,
) -> Result<(), ClaimError> {
    let mut transaction = db::begin_write(database.pool()).await?;
    let queued = queue_link(&mut transaction, base_url, user_id).await?;
    transaction.commit().await?;
    if let Some(queued) = queued {
        mail_queue::send_queued(mailer, database, queued).await;
    }
    Ok(())
}

/// The claim a valid, unused link stands for.
pub async fn claim_of_link(pool: &AnyPool, token: &str) -> Result<Option<Claim>, sqlx::Error> {
    let found: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT u.full_name, u.jurisdiction, u.bar_number, u.email \
         FROM claim_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2",
    )
    .bind(secrets::hash_token(token))
    .bind(now_millis())
    .fetch_optional(pool)
    .await?;
    Ok(found.map(
        |(full_name, jurisdiction, bar_number, account_email)| Claim {
            full_name,
            jurisdiction,
            bar_number,
            account_email,
        },
    ))
}

/// What the email of record answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// "This is me": the claim is proven.
    Mine,
    /// "This was not me": the claim is blocked and reviewers alerted.
    NotMine,
}

/// Records the answer to a claim link (the link is used up) and
/// re-decides the attorney's standing in the same registry write. A
/// dispute queues an alert to every site admin and to the bar admins of
/// the jurisdiction. Returns the attorney's standing afterwards.
pub async fn answer(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    token: &str,
    answer: Answer,
) -> Result<Standing, ClaimError> {
    let now = now_millis();
    let mut write = registry::begin_write(database.pool()).await?;
    let user_id: i64 = sqlx::query_scalar(
        "UPDATE claim_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(now)
    .bind(secrets::hash_token(token))
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(ClaimError::InvalidLink)?;
    let state = match answer {
        Answer::Mine => ClaimState::Proven,
        Answer::NotMine => ClaimState::Disputed,
    };
    let (full_name, jurisdiction, bar_number, account_email): (String, String, String, String) =
        sqlx::query_as(
            "UPDATE users SET claim_state = $1, claim_changed_at = $2 \
             WHERE id = $3 AND claim_state <> 'disputed' \
             RETURNING full_name, jurisdiction, bar_number, email",
        )
        .bind(state)
        .bind(now)
        .bind(user_id)
        .fetch_optional(&mut *write.transaction)
        .await?
        // Disputed once, a later "this is me" from a forwarded link
        // cannot undo it: only a reviewer can.
        .ok_or(ClaimError::InvalidLink)?;
    standing::rematch(&mut write, Attorneys::Only(user_id)).await?;
    let mut alerts = Vec::new();
    if answer == Answer::NotMine {
        let reviewers: Vec<String> = sqlx::query_scalar(
            "SELECT email FROM users WHERE role = $1 \
             OR (role = $2 AND admin_jurisdiction = $3) ORDER BY id",
        )
        .bind(Role::SiteAdmin)
        .bind(Role::BarAdmin)
        .bind(&jurisdiction)
        .fetch_all(&mut *write.transaction)
        .await?;
        for reviewer in reviewers {
            let Ok(to) = EmailAddress::parse(&reviewer) else {
                continue;
            };
            let message = messages::claim_disputed_alert(
                &full_name,
                &format!("{jurisdiction} {bar_number}"),
                &account_email,
                base_url,
            );
            alerts.push(mail_queue::queue(&mut *write.transaction, &to, message).await?);
        }
    }
    let standing: Standing = sqlx::query_scalar("SELECT standing FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *write.transaction)
        .await?;
    write.commit().await?;
    for alert in alerts {
        mail_queue::send_queued(mailer, database, alert).await;
    }
    Ok(standing)
}
