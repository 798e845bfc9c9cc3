//! The background worker: runs due jobs from the queue ([`jobs`]) and
//! reports what it could not do. Every instance runs one; the queue's
//! leases keep them from running a job twice at once.

use serde::{Deserialize, Serialize};
use sqlx::Executor;

use crate::domain::EmailAddress;
use crate::ssr::clock::now_millis;
use crate::ssr::code_sender::Channel;
use crate::ssr::jobs::{self, ClaimedJob, JobKind};
use crate::ssr::numbers::{self, NumberError};
use crate::ssr::state::AppState;
use crate::ssr::webhooks::{self, Delivery, WebhookJob};

/// The client webhooks go out with: a short timeout, no redirects (an
/// endpoint that moved must be registered again).
fn webhook_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// How long a worker holds a job: far longer than one send may take
/// (HTTP calls time out sooner), so a live worker never loses its claim.
pub const LEASE_MS: i64 = 5 * 60 * 1000;
/// Jobs taken per round.
const BATCH: i64 = 20;

/// A code delivery to try again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendCodeJob {
    pub registration_id: i64,
    pub user_id: i64,
    pub channel: Channel,
}

impl SendCodeJob {
    /// One queued delivery per registration.
    pub fn key(registration_id: i64) -> String {
        format!("send_code:{registration_id}")
    }
}

/// One plain-text email.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailJob {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Queues an email in the caller's transaction: it goes out only if that
/// commits, and is retried until it does go out.
pub async fn queue_email<'e, E>(executor: E, email: &EmailJob) -> Result<(), sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    jobs::enqueue(executor, JobKind::Email, email, None, now_millis()).await?;
    Ok(())
}

/// Why one try of a job did not succeed.
enum Failure {
    /// Worth trying again later.
    Transient(String),
    /// Will not succeed however often it is tried.
    Permanent(String),
}

/// Runs one round: queues webhooks for endpoints behind the registry,
/// then claims due jobs and runs them one after another. Returns how many
/// jobs were claimed.
pub async fn run_due(state: &AppState, worker: &str) -> Result<usize, sqlx::Error> {
    webhooks::dispatch(state.database.pool()).await?;
    let claimed = jobs::claim(&state.database, worker, now_millis(), LEASE_MS, BATCH).await?;
    let count = claimed.len();
    for job in claimed {
        let outcome = run(state, &job).await;
        let pool = state.database.pool();
        match outcome {
            Ok(()) => {
                if !jobs::finish(pool, &job, worker, now_millis()).await? {
                    tracing::warn!(job = job.id, "job finished after its lease was taken");
                }
            }
            Err(Failure::Transient(error)) => {
                let gave_up = jobs::fail(pool, &job, worker, &error, now_millis(), true).await?;
                if gave_up {
                    tracing::error!(job = job.id, kind = %job.kind, %error, "job failed for good");
                } else {
                    tracing::warn!(job = job.id, kind = %job.kind, %error, "job will be retried");
                }
            }
            Err(Failure::Permanent(error)) => {
                jobs::fail(pool, &job, worker, &error, now_millis(), false).await?;
                tracing::error!(job = job.id, kind = %job.kind, %error, "job cannot succeed");
            }
        }
    }
    Ok(count)
}

async fn run(state: &AppState, job: &ClaimedJob) -> Result<(), Failure> {
    let malformed = |error: serde_json::Error| Failure::Permanent(format!("bad payload: {error}"));
    match JobKind::parse(&job.kind) {
        Some(JobKind::SendCode) => {
            let task: SendCodeJob = serde_json::from_str(&job.payload).map_err(malformed)?;
            match numbers::deliver_queued_code(state.database.pool(), &state.code_sender, &task)
                .await
            {
                // Removed or revoked meanwhile: nothing left to deliver.
                Ok(()) | Err(NumberError::NotFound) => Ok(()),
                Err(NumberError::Send(error)) if error.is_transient() => {
                    Err(Failure::Transient(error.to_string()))
                }
                Err(other) => Err(Failure::Permanent(other.to_string())),
            }
        }
        Some(JobKind::Webhook) => {
            let task: WebhookJob = serde_json::from_str(&job.payload).map_err(malformed)?;
            let client = webhook_client();
            match webhooks::deliver(state.database.pool(), &client, &task).await {
                Ok(Delivery::Done | Delivery::Gone) => Ok(()),
                Ok(Delivery::Failed(error)) => Err(Failure::Transient(error)),
                Err(error) => Err(Failure::Transient(error.to_string())),
            }
        }
        Some(JobKind::Email) => {
            let email: EmailJob = serde_json::from_str(&job.payload).map_err(malformed)?;
            let to = EmailAddress::parse(&email.to)
                .map_err(|_| Failure::Permanent(format!("not an address: {}", email.to)))?;
            state
                .mailer
                .send(&to, &email.subject, email.body)
                .await
                .map_err(|error| Failure::Transient(error.to_string()))
        }
        None => Err(Failure::Permanent(format!("unknown kind {}", job.kind))),
    }
}
