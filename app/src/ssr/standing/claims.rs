//! Proof of a bar number claim through the roster's email of record
//! (issue 12): knowing an attorney's public name and bar number proves
//! nothing, so the roster's address for that bar number is asked. A
//! claim link goes there; "this is me" proves the claim, "this was not
//! me" blocks it and alerts the reviewers. Signing up with the roster's
//! own address needs no link: confirming the address with the account's
//! password proves it (see [`ClaimCheck`](super::ClaimCheck) and
//! [`super::sign_up`]); a bare click does not (issue 24).
//!
//! The email of record also hears of every number that becomes
//! privileged under its bar number ([`notify_privileged`]), with a link
//! that blocks the claim: the account goes back to review and its
//! numbers leave the registry, whoever approved it before.

use sqlx::{Any, AnyPool, Transaction};

use crate::domain::phone::PhoneNumber;
use crate::domain::{ClaimState, EmailAddress, Jurisdiction, Role, Standing};
use crate::error::AppError;
use crate::ssr::accounts::{self, AccountError};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::{self, Database};
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue::{self, QueuedEmail};
use crate::ssr::infra::messages;
use crate::ssr::infra::secrets;
use crate::ssr::registry::{self, RegistryWrite};
use crate::ssr::standing::{self, Attorneys};

/// How long a claim link works.
pub const CLAIM_LINK_VALIDITY_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How long the link in a notice of a number going live works: a notice
/// may be read late, and its only answer blocks.
pub const NOTICE_LINK_VALIDITY_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Most registrations one round of [`notify_privileged`] tells of.
const NOTICES_PER_ROUND: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("the link is invalid, expired or already used")]
    InvalidLink,
    #[error("the roster has no email of record for this bar number")]
    NoEmailOfRecord,
    #[error(transparent)]
    Account(#[from] AccountError),
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
            ClaimError::Account(error) => error.into(),
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
    /// For a notice of a number going live: the number, as people write
    /// it ("(202) 456-1111"). Its link only blocks.
    pub number: Option<String>,
}

/// Queues a claim link to the roster's email of record for the account's
/// bar number, in the caller's transaction, when the roster has one and
/// that mailbox has room this hour. Returns the queued email, if one was.
///
/// When the email of record is the account's own address, the proof is
/// its confirmation with the account's password: nothing is sent while
/// the sign-up's confirmation is pending or once the holder proved the
/// address; a confirmed address whose holder never proved it (confirmed
/// by a bare click before the roster listed it) gets a new confirmation
/// that asks for the password. Errors: `NoEmailOfRecord`, `Database`.
pub async fn queue_link(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    user_id: i64,
) -> Result<Option<QueuedEmail>, ClaimError> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let found: Option<Row> = sqlx::query_as(
        "SELECT u.full_name, u.jurisdiction, u.bar_number, u.email, r.email, \
           u.email_verified_at, u.email_proven_at \
         FROM users u LEFT JOIN roster r \
           ON r.jurisdiction = u.jurisdiction AND r.bar_number = u.bar_number \
         WHERE u.id = $1 AND u.role = 'attorney'",
    )
    .bind(user_id)
    .fetch_optional(&mut **transaction)
    .await?;
    let Some((full_name, jurisdiction, bar_number, account_email, roster_email, confirmed, proven)) =
        found
    else {
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
    let own_address = to.as_str().eq_ignore_ascii_case(&account_email);
    if (own_address && (confirmed.is_none() || proven.is_some()))
        || !mail_queue::may_send_to(transaction, to.as_str()).await?
    {
        return Ok(None);
    }
    let bar = format!("{jurisdiction} {bar_number}");
    let message = if own_address {
        let (confirm, not_me) =
            accounts::confirmation_links(transaction, base_url, user_id).await?;
        let named = Jurisdiction::parse(&jurisdiction).map_or(jurisdiction.as_str(), |j| j.name());
        messages::confirm_email_and_claim(&full_name, &bar, named, &confirm, &not_me)
    } else {
        let token = new_link(transaction, user_id, to.as_str(), None).await?;
        let link = |answer: &str| format!("{base_url}/claim?token={token}&answer={answer}");
        messages::claim_link(
            &full_name,
            &bar,
            &account_email,
            &link("mine"),
            &link("not-mine"),
        )
    };
    Ok(Some(
        mail_queue::queue(&mut **transaction, &to, message).await?,
    ))
}

/// Stores a new link to `sent_to` for `user_id` (a claim link, or with
/// `e164` a notice of that number) and returns its token, which only ever
/// travels in the email.
async fn new_link(
    transaction: &mut Transaction<'_, Any>,
    user_id: i64,
    sent_to: &str,
    e164: Option<&str>,
) -> Result<String, sqlx::Error> {
    let now = now_millis();
    let validity = match e164 {
        Some(_) => NOTICE_LINK_VALIDITY_MS,
        None => CLAIM_LINK_VALIDITY_MS,
    };
    let (token, token_hash) = secrets::new_token();
    sqlx::query(
        "INSERT INTO claim_tokens (token_hash, user_id, sent_to, expires_at, created_at, e164) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token_hash)
    .bind(user_id)
    .bind(sent_to)
    .bind(now + validity)
    .bind(now)
    .bind(e164)
    .execute(&mut **transaction)
    .await?;
    Ok(token)
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
    let found: Option<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT u.full_name, u.jurisdiction, u.bar_number, u.email, t.e164 \
         FROM claim_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2",
    )
    .bind(secrets::hash_token(token))
    .bind(now_millis())
    .fetch_optional(pool)
    .await?;
    Ok(found.map(
        |(full_name, jurisdiction, bar_number, account_email, e164)| Claim {
            full_name,
            jurisdiction,
            bar_number,
            account_email,
            number: e164.as_deref().map(PhoneNumber::national_display),
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
/// dispute takes the account back to review whoever verified it (a
/// roster match or a reviewer), its numbers leaving the registry, and
/// queues an alert to every site admin and to the bar admins of the
/// jurisdiction. A notice's link only disputes. Returns the attorney's
/// standing afterwards. Errors: `InvalidLink` (invalid, expired, used, a
/// "this is me" to a notice, or after a dispute: only a reviewer undoes
/// one).
pub async fn answer(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    token: &str,
    answer: Answer,
) -> Result<Standing, ClaimError> {
    let now = now_millis();
    let mut write = registry::begin_write(database.pool()).await?;
    // A notice's link (it has a number) only blocks.
    let claims_only = match answer {
        Answer::Mine => "AND e164 IS NULL",
        Answer::NotMine => "",
    };
    let user_id: i64 = sqlx::query_scalar(&format!(
        "UPDATE claim_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 {claims_only} \
         RETURNING user_id"
    ))
    .bind(now)
    .bind(secrets::hash_token(token))
    .fetch_optional(&mut *write.transaction)
    .await?
    .ok_or(ClaimError::InvalidLink)?;
    let alerts = match answer {
        Answer::NotMine => dispute(&mut write, base_url, user_id).await?,
        Answer::Mine => {
            sqlx::query_scalar::<_, i64>(
                "UPDATE users SET claim_state = $1, claim_changed_at = $2 \
                 WHERE id = $3 AND claim_state <> 'disputed' RETURNING id",
            )
            .bind(ClaimState::Proven)
            .bind(now)
            .bind(user_id)
            .fetch_optional(&mut *write.transaction)
            .await?
            // Disputed once, a later "this is me" from a forwarded link
            // cannot undo it: only a reviewer can.
            .ok_or(ClaimError::InvalidLink)?;
            standing::rematch(&mut write, Attorneys::Only(user_id)).await?;
            Vec::new()
        }
    };
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

/// Disputes `user_id`'s claim in the caller's registry write: the claim
/// is `disputed`, the standing re-decided (back to review, even after a
/// reviewer's approval, through [`standing::set_standing`], so the
/// account's numbers leave the registry in this write and the change log
/// records it), and an alert queued to every site admin and to the bar
/// admins of the jurisdiction; returns the alerts, to send after the
/// commit. An account disputed already is left as it is (no alerts).
pub(super) async fn dispute(
    write: &mut RegistryWrite<'_>,
    base_url: &str,
    user_id: i64,
) -> Result<Vec<QueuedEmail>, sqlx::Error> {
    let disputed: Option<(String, String, String, String)> = sqlx::query_as(
        "UPDATE users SET claim_state = $1, claim_changed_at = $2 \
         WHERE id = $3 AND claim_state <> 'disputed' \
         RETURNING full_name, jurisdiction, bar_number, email",
    )
    .bind(ClaimState::Disputed)
    .bind(now_millis())
    .bind(user_id)
    .fetch_optional(&mut *write.transaction)
    .await?;
    let Some((full_name, jurisdiction, bar_number, account_email)) = disputed else {
        return Ok(Vec::new());
    };
    standing::rematch(write, Attorneys::Only(user_id)).await?;
    let reviewers: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM users WHERE role = $1 \
         OR (role = $2 AND admin_jurisdiction = $3) ORDER BY id",
    )
    .bind(Role::SiteAdmin)
    .bind(Role::BarAdmin)
    .bind(&jurisdiction)
    .fetch_all(&mut *write.transaction)
    .await?;
    let mut alerts = Vec::new();
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
    Ok(alerts)
}

/// One registration that became active and whose bar's email of record
/// has not been told yet.
#[derive(sqlx::FromRow)]
struct Untold {
    registration_id: i64,
    e164: String,
    user_id: i64,
    full_name: String,
    jurisdiction: String,
    bar_number: String,
    account_email: String,
    roster_email: Option<String>,
}

/// Tells the bar's email of record of every number that became
/// privileged under its bar number (a registration that became active)
/// since the last round: one email per registration and activation, with
/// a link that disputes the claim ([`answer`] with [`Answer::NotMine`]).
/// A registration no longer active is told of again when it next becomes
/// active. Not held to the hourly share of mail per mailbox: each notice
/// stands for a number proven by a code, and a notice held back is a
/// number in the registry its bar does not know of. Runs in each worker
/// round (at most [`NOTICES_PER_ROUND`] notices); several instances
/// never tell one activation twice (`privilege_notices_open`). Returns
/// how many emails were queued.
pub async fn notify_privileged(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
) -> Result<usize, sqlx::Error> {
    let now = now_millis();
    let mut transaction = db::begin_write(database.pool()).await?;
    sqlx::query(
        "UPDATE privilege_notices SET ended_at = $1 WHERE ended_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM registrations r \
          WHERE r.id = privilege_notices.registration_id AND r.status = 'active')",
    )
    .bind(now)
    .execute(&mut *transaction)
    .await?;
    let untold: Vec<Untold> = sqlx::query_as(
        "SELECT r.id AS registration_id, r.e164, u.id AS user_id, u.full_name, \
           u.jurisdiction, u.bar_number, u.email AS account_email, ro.email AS roster_email \
         FROM registrations r JOIN users u ON u.id = r.user_id \
         LEFT JOIN roster ro ON ro.jurisdiction = u.jurisdiction AND ro.bar_number = u.bar_number \
         WHERE r.status = 'active' AND NOT EXISTS (SELECT 1 FROM privilege_notices n \
           WHERE n.registration_id = r.id AND n.ended_at IS NULL) \
         ORDER BY r.id LIMIT $1",
    )
    .bind(NOTICES_PER_ROUND)
    .fetch_all(&mut *transaction)
    .await?;
    let mut queued = Vec::new();
    for one in untold {
        let to = one
            .roster_email
            .as_deref()
            .map(str::trim)
            .and_then(|email| EmailAddress::parse(email).ok());
        let opened: Option<i64> = sqlx::query_scalar(
            "INSERT INTO privilege_notices (registration_id, sent_to, noticed_at) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (registration_id) WHERE ended_at IS NULL DO NOTHING RETURNING id",
        )
        .bind(one.registration_id)
        .bind(to.as_ref().map(EmailAddress::as_str))
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        let (Some(_), Some(to)) = (opened, to) else {
            continue;
        };
        let token = new_link(&mut transaction, one.user_id, to.as_str(), Some(&one.e164)).await?;
        let message = messages::privilege_notice(
            &one.full_name,
            &format!("{} {}", one.jurisdiction, one.bar_number),
            &one.account_email,
            &PhoneNumber::national_display(&one.e164),
            &format!("{base_url}/claim?token={token}&answer=not-mine"),
        );
        queued.push(mail_queue::queue(&mut *transaction, &to, message).await?);
    }
    transaction.commit().await?;
    let count = queued.len();
    for email in queued {
        mail_queue::send_queued(mailer, database, email).await;
    }
    Ok(count)
}
