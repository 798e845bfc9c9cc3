//! Emails queued in the transaction of the change that calls for them
//! (the transactional outbox pattern): none is sent for a change that
//! rolled back, none is lost for one that committed, and none is sent
//! while a transaction or the registry's write lock is held. After the
//! commit the caller sends it at once ([`send_queued`]); when that fails
//! the worker retries it with backoff.
//!
//! A bearer link (reset, invitation, confirmation, claim) is never
//! stored: such an email is queued with [`queue_link_email`], which stores
//! the sender's own job to issue a fresh link, and keeps the email only in
//! memory for the send after the commit. Each recipient gets a share of
//! mail per [`MailKind`], so one kind cannot use up another's.

use sqlx::{Any, Executor, Transaction};

use crate::domain::EmailAddress;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::Database;
use crate::ssr::infra::jobs::{self, Job, JobContext, JobFailure};
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::messages::Email;
use crate::ssr::infra::rate_limit::{self, Decision, Limit};

/// One plain-text email as a queued job. Emails are queued in the
/// transaction of the change that calls for them, so none is sent for a
/// change that rolled back and none is lost for one that committed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EmailJob {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Job for EmailJob {
    const KIND: &'static str = "email";
    // Backing off to an hour between tries: about a day.
    const MAX_ATTEMPTS: i64 = 30;

    async fn run(self, context: &JobContext) -> Result<(), JobFailure> {
        let to = EmailAddress::parse(&self.to)
            .map_err(|_| JobFailure::Permanent(format!("not an address: {}", self.to)))?;
        context
            .mailer
            .send(&to, &self.subject, self.body)
            .await
            .map_err(|error| JobFailure::Transient(error.to_string()))
    }
}

/// Queues `message` to `to` in the caller's transaction. It goes out when
/// the worker next runs, or at once through [`send_queued`] after
/// the commit; returns the job's id for that. The message is stored as
/// written: one with a bearer link goes through [`queue_link_email`].
pub async fn queue<'e, E>(
    executor: E,
    to: &EmailAddress,
    message: Email,
) -> Result<QueuedEmail, sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    let job = EmailJob {
        to: to.as_str().to_owned(),
        subject: message.subject,
        body: message.body,
    };
    let id = jobs::enqueue_returning_id(executor, &job, now_millis()).await?;
    Ok(QueuedEmail {
        id,
        in_memory: None,
    })
}

/// What an email is for, as far as the mail limits go: each kind has
/// its own share of a recipient's mail ([`MailKind::limit`]), so mail a
/// stranger sets off never uses up the mail that is the way back into an
/// account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A password reset link, or the answer to a reset asked for an
    /// address without an account: the way out of the sign-in limit.
    PasswordReset,
    /// What a sign-up sends to the address it gives: the confirmation
    /// link, or the note that the address has an account already.
    SignUp,
    /// What someone else's action sends: a claim link to a bar's email of
    /// record, a second-claim notice.
    Notice,
}

impl MailKind {
    /// Its name in rate-limit buckets.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::PasswordReset => "password-reset",
            MailKind::SignUp => "sign-up",
            MailKind::Notice => "notice",
        }
    }

    /// How many emails of this kind one recipient gets per window: enough
    /// for a person retrying, too few to flood a stranger's mailbox.
    ///
    /// Reset links share a window of half an hour, the time a reset link
    /// stays valid, and a new link revokes the one before: when someone
    /// else's requests fill the window, the last link they sent is valid
    /// until the window ends, so the owner always has one that works.
    pub fn limit(self) -> Limit {
        match self {
            MailKind::PasswordReset => Limit {
                max_hits: 3,
                window: std::time::Duration::from_secs(30 * 60),
            },
            MailKind::SignUp => Limit {
                max_hits: 3,
                window: std::time::Duration::from_secs(60 * 60),
            },
            MailKind::Notice => Limit {
                max_hits: 5,
                window: std::time::Duration::from_secs(60 * 60),
            },
        }
    }
}

/// Whether one more email of `kind` may go to `address` in this kind's
/// window; counts it (bucket `mail-to:<kind>:<address, lower case>`).
/// Runs in the caller's transaction.
pub async fn may_send(
    transaction: &mut Transaction<'_, Any>,
    address: &str,
    kind: MailKind,
) -> Result<bool, sqlx::Error> {
    let bucket = format!(
        "mail-to:{}:{}",
        kind.as_str(),
        address.trim().to_lowercase()
    );
    Ok(matches!(
        rate_limit::hit(&mut **transaction, &bucket, kind.limit()).await?,
        Decision::Allowed { .. }
    ))
}

/// [`may_send`] for a [`MailKind::Notice`]: mail someone else's action
/// sets off (claim links).
pub async fn may_send_to(
    transaction: &mut Transaction<'_, Any>,
    address: &str,
) -> Result<bool, sqlx::Error> {
    may_send(transaction, address, MailKind::Notice).await
}

/// An email queued by [`queue`] or [`queue_link_email`]: the job's id
/// and, for an email that carries a bearer link, the email itself, held
/// in memory for the send right after the commit and never stored.
#[must_use = "send it after the commit, or leave it to the worker knowingly"]
pub struct QueuedEmail {
    id: i64,
    in_memory: Option<Box<EmailJob>>,
}

impl QueuedEmail {
    /// The job's id.
    pub fn id(&self) -> i64 {
        self.id
    }
}

impl std::fmt::Debug for QueuedEmail {
    /// The id only: the email may carry a bearer link.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedEmail").field("id", &self.id).finish()
    }
}

/// How long the worker leaves an email with a bearer link to the send
/// after the commit (which claims it by id, due or not): were the worker
/// to take it first, it would issue a new link and revoke the one on its
/// way. Milliseconds.
pub const LINK_EMAIL_GRACE_MS: i64 = 60 * 1000;

/// Queues an email that carries a bearer link (a password reset, an
/// invitation, a confirmation, a claim), in the caller's transaction,
/// without storing the link: the job stored is `reissue`, the sender's own
/// job, which issues a fresh link and sends it when the worker runs it,
/// and `message` (with the link) stays in the returned value for
/// [`send_queued`] after the commit. So the jobs table never holds a link;
/// when the send after the commit fails, or never happens (the process
/// died), the worker's try (due [`LINK_EMAIL_GRACE_MS`] after queueing, or
/// after the failed send's backoff) issues a new link, and the unsent one
/// is revoked by it if the sender revokes on reissue.
pub async fn queue_link_email<'e, E, J>(
    executor: E,
    to: &EmailAddress,
    message: Email,
    reissue: &J,
) -> Result<QueuedEmail, sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
    J: Job,
{
    let due = now_millis() + LINK_EMAIL_GRACE_MS;
    let id = jobs::enqueue_returning_id(executor, reissue, due).await?;
    Ok(QueuedEmail {
        id,
        in_memory: Some(Box::new(EmailJob {
            to: to.as_str().to_owned(),
            subject: message.subject,
            body: message.body,
        })),
    })
}

/// Sends a queued email now, after its transaction committed, so the
/// person need not wait for the worker's next round. When it cannot be
/// sent the job stays queued and the worker retries it; the error is
/// logged, not returned: the change it belongs to has happened.
pub async fn send_queued(mailer: &Mailer, database: &Database, queued: QueuedEmail) {
    let worker = "inline";
    let claimed = match jobs::claim_one(database, queued.id, worker).await {
        Ok(Some(job)) => job,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(job = queued.id, %error, "could not claim a queued email");
            return;
        }
    };
    let outcome = match queued.in_memory {
        Some(email) => send_email(mailer, *email).await,
        None => match serde_json::from_str::<EmailJob>(&claimed.payload) {
            Ok(email) => send_email(mailer, email).await,
            Err(error) => Err(error.to_string()),
        },
    };
    let pool = database.pool();
    let recorded = match outcome {
        Ok(()) => jobs::finish(pool, &claimed, worker, now_millis())
            .await
            .map(|_| ()),
        Err(error) => {
            tracing::warn!(job = claimed.id, %error, "email left to the worker");
            jobs::fail(pool, &claimed, worker, &error, now_millis(), true)
                .await
                .map(|_| ())
        }
    };
    if let Err(error) = recorded {
        tracing::warn!(job = queued.id, %error, "could not record an email's outcome");
    }
}

/// Sends one email.
async fn send_email(mailer: &Mailer, job: EmailJob) -> Result<(), String> {
    let to = EmailAddress::parse(&job.to).map_err(|_| format!("not an address: {}", job.to))?;
    mailer
        .send(&to, &job.subject, job.body)
        .await
        .map_err(|error| error.to_string())
}
