//! Emails queued in the transaction of the change that calls for them
//! (the transactional outbox pattern): none is sent for a change that
//! rolled back, none is lost for one that committed, and none is sent
//! while a transaction or the registry's write lock is held. After the
//! commit the caller sends it at once ([`send_queued`]); when that fails
//! the worker retries it with backoff.

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
/// the commit; returns the job's id for that.
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
    jobs::enqueue_returning_id(executor, &job, now_millis())
        .await
        .map(QueuedEmail)
}

/// Emails to one recipient per hour from sign-up, confirmation, reset and
/// claim links together: enough for a person retrying, too few to flood
/// a stranger's mailbox.
pub const MAIL_PER_RECIPIENT_PER_HOUR: Limit = Limit {
    max_hits: 5,
    window: std::time::Duration::from_secs(60 * 60),
};

/// Whether one more email may go to `address` this hour; counts it.
/// Runs in the caller's transaction.
pub async fn may_send_to(
    transaction: &mut Transaction<'_, Any>,
    address: &str,
) -> Result<bool, sqlx::Error> {
    let bucket = format!("mail-to:{}", address.trim().to_lowercase());
    Ok(matches!(
        rate_limit::hit(&mut **transaction, &bucket, MAIL_PER_RECIPIENT_PER_HOUR).await?,
        Decision::Allowed { .. }
    ))
}

/// An email queued by [`queue`]: the job's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "send it after the commit, or leave it to the worker knowingly"]
pub struct QueuedEmail(pub i64);

/// Sends a queued email now, after its transaction committed, so the
/// person need not wait for the worker's next round. When it cannot be
/// sent the job stays queued and the worker retries it; the error is
/// logged, not returned: the change it belongs to has happened.
pub async fn send_queued(mailer: &Mailer, database: &Database, queued: QueuedEmail) {
    let worker = "inline";
    let claimed = match jobs::claim_one(database, queued.0, worker).await {
        Ok(Some(job)) => job,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(job = queued.0, %error, "could not claim a queued email");
            return;
        }
    };
    let outcome = send_payload(mailer, &claimed.payload).await;
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
        tracing::warn!(job = queued.0, %error, "could not record an email's outcome");
    }
}

/// Sends one queued email's payload.
async fn send_payload(mailer: &Mailer, payload: &str) -> Result<(), String> {
    let job: EmailJob = serde_json::from_str(payload).map_err(|e| e.to_string())?;
    let to = EmailAddress::parse(&job.to).map_err(|_| format!("not an address: {}", job.to))?;
    mailer
        .send(&to, &job.subject, job.body)
        .await
        .map_err(|error| error.to_string())
}
