//! A durable job queue in the application's own database.
//!
//! Why not a job library: apalis-sql (the well-kept one with SQL backends)
//! wants engine-typed pools and its own schema, and cannot enqueue inside
//! one of our `sqlx::Any` transactions. Enqueueing in the transaction of
//! the change that calls for the job (a revocation and its notice, a
//! reminder and its claim) is what makes "never lost, never without its
//! cause" hold, so the queue lives here, in about a page.
//!
//! Claims are leases: a worker takes due jobs by stamping `locked_by` and
//! `locked_until` in one statement (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so instances never wait on or take each other's rows; on
//! SQLite the statement holds the one write lock). A job whose worker died
//! is due again once its lease runs out, so delivery is at least once. A
//! worker finishes only a job it still holds (same worker, same attempt).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{AnyPool, Executor};

use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::{Database, Engine};
use crate::ssr::infra::delivery::CodeSender;
use crate::ssr::infra::mail::Mailer;

/// What a running job may use: infrastructure only, so any capability can
/// own a job without the queue knowing the capability.
#[derive(Clone, Debug)]
pub struct JobContext {
    pub database: Database,
    pub mailer: Mailer,
    pub code_sender: CodeSender,
    /// The key one-time codes are stored under.
    pub code_key: crate::ssr::infra::secrets::CodeKey,
    /// The keys stored secrets (webhook signing secrets) are sealed under.
    pub keyring: crate::ssr::infra::sealing::Keyring,
    /// The portal's public origin, without a trailing slash: the base of
    /// the callback URLs a code delivery gives Twilio.
    pub base_url: String,
    /// For calls out to providers' endpoints (webhooks):
    /// [`crate::ssr::infra::outbound::client`], public addresses only, short
    /// timeouts, no redirects.
    pub http: reqwest::Client,
    /// What `http` may reach, for the checks made before a call.
    pub outbound: crate::ssr::infra::outbound::OutboundPolicy,
}

/// Why one try of a job did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth trying again later (after [`backoff_ms`]).
    Transient(String),
    /// Will not succeed however often it is tried: marked failed at once.
    Permanent(String),
}

/// A kind of background job. Each capability declares its own; the
/// worker only registers them in a [`Runner`]. The payload is the job
/// value itself, stored as JSON in `jobs.payload`.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stored in `jobs.kind`; must not change once jobs of it are queued.
    const KIND: &'static str;
    /// How many times a job is tried before it is marked failed.
    const MAX_ATTEMPTS: i64;

    /// With a key, at most one job with it is queued at a time: enqueuing
    /// a second one while the first waits adds nothing.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    /// One try.
    fn run(self, context: &JobContext) -> impl Future<Output = Result<(), JobFailure>> + Send;
}

/// Where a job stands lives in the domain: the pages report it.
pub use crate::domain::JobState;

/// A job one worker holds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// This attempt's number, from 1; with the worker, the claim's token.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Queues `job`, due at `run_at` (Unix ms), in the caller's transaction
/// or on a pool: it runs only if that commits. With a dedupe key, a job
/// with the same key already queued wins and nothing is added; returns
/// whether it was.
pub async fn enqueue<'e, E, J>(executor: E, job: &J, run_at: i64) -> Result<bool, sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
    J: Job,
{
    let payload = serde_json::to_string(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let added = sqlx::query(
        "INSERT INTO jobs (kind, payload, dedupe_key, run_at, max_attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(J::KIND)
    .bind(payload)
    .bind(job.dedupe_key())
    .bind(run_at)
    .bind(J::MAX_ATTEMPTS)
    .bind(now_millis())
    .execute(executor)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// [`enqueue`] for a job without a dedupe key, returning its id (to run
/// it at once after the commit with [`claim_one`]).
pub async fn enqueue_returning_id<'e, E, J>(
    executor: E,
    job: &J,
    run_at: i64,
) -> Result<i64, sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
    J: Job,
{
    let payload = serde_json::to_string(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, payload, run_at, max_attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(J::KIND)
    .bind(payload)
    .bind(run_at)
    .bind(J::MAX_ATTEMPTS)
    .bind(now_millis())
    .fetch_one(executor)
    .await
}

/// Claims one queued job by id for `worker`, as [`claim`] would, or
/// `None` when it is no longer queued or another worker holds it.
pub async fn claim_one(
    database: &Database,
    id: i64,
    worker: &str,
) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let now = now_millis();
    sqlx::query_as(
        "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id = $3 AND state = 'queued' AND (locked_until IS NULL OR locked_until <= $4) \
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .bind(worker)
    .bind(now + LEASE_MS)
    .bind(id)
    .bind(now)
    .fetch_optional(database.pool())
    .await
}

type BoxedRun<'a> = Pin<Box<dyn Future<Output = Result<(), JobFailure>> + Send + 'a>>;
type Handler = for<'a> fn(&'a str, &'a JobContext) -> BoxedRun<'a>;

fn run_erased<'a, J: Job>(payload: &'a str, context: &'a JobContext) -> BoxedRun<'a> {
    Box::pin(async move {
        let job: J = serde_json::from_str(payload)
            .map_err(|error| JobFailure::Permanent(format!("bad payload: {error}")))?;
        job.run(context).await
    })
}

/// How long a worker holds a job: far longer than one try may take (HTTP
/// calls time out sooner), so a live worker never loses its claim.
pub const LEASE_MS: i64 = 5 * 60 * 1000;
/// Jobs taken per round.
const BATCH: i64 = 20;

/// The job kinds one worker runs, by [`Job::KIND`].
#[derive(Default)]
pub struct Runner {
    handlers: HashMap<&'static str, Handler>,
}

impl Runner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a kind. Registering one twice keeps the last.
    pub fn register<J: Job>(mut self) -> Self {
        self.handlers.insert(J::KIND, run_erased::<J>);
        self
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    /// Claims up to one batch of due jobs for `worker` and runs them one
    /// after another, recording each outcome. Returns how many it claimed.
    /// A job of a kind nobody registered fails for good.
    pub async fn run_due(&self, context: &JobContext, worker: &str) -> Result<usize, sqlx::Error> {
        let claimed = claim(&context.database, worker, now_millis(), LEASE_MS, BATCH).await?;
        let count = claimed.len();
        for job in claimed {
            let outcome = match self.handlers.get(job.kind.as_str()) {
                Some(handler) => handler(&job.payload, context).await,
                None => Err(JobFailure::Permanent(format!("unknown kind {}", job.kind))),
            };
            let pool = context.database.pool();
            match outcome {
                Ok(()) => {
                    if !finish(pool, &job, worker, now_millis()).await? {
                        tracing::warn!(job = job.id, "job finished after its lease was taken");
                    }
                }
                Err(JobFailure::Transient(error)) => {
                    if fail(pool, &job, worker, &error, now_millis(), true).await? {
                        tracing::error!(job = job.id, kind = %job.kind, %error, "job failed for good");
                    } else {
                        tracing::warn!(job = job.id, kind = %job.kind, %error, "job will be retried");
                    }
                }
                Err(JobFailure::Permanent(error)) => {
                    fail(pool, &job, worker, &error, now_millis(), false).await?;
                    tracing::error!(job = job.id, kind = %job.kind, %error, "job cannot succeed");
                }
            }
        }
        Ok(count)
    }
}

/// Takes up to `limit` due jobs for `worker` until `now + lease_ms`.
pub async fn claim(
    database: &Database,
    worker: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let skip_locked = match database.engine() {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        // One writer at a time: the statement below is the whole claim.
        Engine::Sqlite => "",
    };
    sqlx::query_as(&format!(
        "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs \
                      WHERE state = 'queued' AND run_at <= $3 \
                        AND (locked_until IS NULL OR locked_until <= $3) \
                      ORDER BY run_at, id LIMIT $4 {skip_locked}) \
         RETURNING id, kind, payload, attempts, max_attempts"
    ))
    .bind(worker)
    .bind(now + lease_ms)
    .bind(now)
    .bind(limit)
    .fetch_all(database.pool())
    .await
}

/// Marks a held job done. False when the claim was lost (the lease ran out
/// and another worker took the job).
pub async fn finish(
    pool: &AnyPool,
    job: &ClaimedJob,
    worker: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $1, locked_until = NULL, last_error = NULL \
         WHERE id = $2 AND locked_by = $3 AND attempts = $4 AND state = 'queued'",
    )
    .bind(now)
    .bind(job.id)
    .bind(worker)
    .bind(job.attempts)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Wait before try `attempts + 1`: 30 s doubling to at most an hour, with
/// up to a fifth added at random so retries from many jobs spread out.
pub fn backoff_ms(attempts: i64) -> i64 {
    let base = 30_000_i64.saturating_mul(1 << attempts.clamp(1, 20).saturating_sub(1));
    let capped = base.min(60 * 60 * 1000);
    capped + rand::rngs::OsRng.gen_range(0..=capped / 5)
}

/// Records a failed try: the job is due again after [`backoff_ms`], or is
/// marked failed once it has had its attempts or when it is not
/// `retryable`. Returns whether it gave up.
pub async fn fail(
    pool: &AnyPool,
    job: &ClaimedJob,
    worker: &str,
    error: &str,
    now: i64,
    retryable: bool,
) -> Result<bool, sqlx::Error> {
    let give_up = !retryable || job.attempts >= job.max_attempts;
    let error: String = error.chars().take(1000).collect();
    sqlx::query(
        "UPDATE jobs SET state = $1, run_at = $2, locked_until = NULL, last_error = $3, \
           finished_at = $4 \
         WHERE id = $5 AND locked_by = $6 AND attempts = $7 AND state = 'queued'",
    )
    .bind(if give_up {
        JobState::Failed
    } else {
        JobState::Queued
    })
    .bind(now + backoff_ms(job.attempts))
    .bind(error)
    .bind(give_up.then_some(now))
    .bind(job.id)
    .bind(worker)
    .bind(job.attempts)
    .execute(pool)
    .await?;
    Ok(give_up)
}

/// Ends a queued job without running it (it was overtaken, e.g. a code
/// that went out when the attorney asked again).
pub async fn cancel_queued<'e, E>(executor: E, dedupe_key: &str) -> Result<(), sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $1, last_error = 'overtaken' \
         WHERE dedupe_key = $2 AND state = 'queued'",
    )
    .bind(now_millis())
    .bind(dedupe_key)
    .execute(executor)
    .await?;
    Ok(())
}

/// One kind's share of the queue, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub kind: String,
    /// Jobs queued, due or not.
    pub queued: i64,
    /// Of those, how many are due now.
    pub due: i64,
    /// When the longest-waiting due job became due (Unix ms; None: none).
    pub oldest_due_at: Option<i64>,
}

/// The queued jobs by kind, in kind order.
pub async fn queue_depth(pool: &AnyPool) -> Result<Vec<QueueDepth>, sqlx::Error> {
    let now = now_millis();
    let rows: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT kind, COUNT(*), \
           SUM(CASE WHEN run_at <= $1 THEN 1 ELSE 0 END), \
           MIN(CASE WHEN run_at <= $1 THEN run_at END) \
         FROM jobs WHERE state = 'queued' GROUP BY kind ORDER BY kind",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, queued, due, oldest_due_at)| QueueDepth {
            kind,
            queued,
            due,
            oldest_due_at,
        })
        .collect())
}

/// Deletes finished jobs (done or failed) that finished before `before`;
/// returns how many. Webhook attempts keep their own log.
pub async fn prune(pool: &AnyPool, before: i64) -> Result<u64, sqlx::Error> {
    let pruned =
        sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'failed') AND finished_at < $1")
            .bind(before)
            .execute(pool)
            .await?;
    Ok(pruned.rows_affected())
}

/// The latest job under a key, as the portal reports it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobStatus {
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// The latest job under each of `dedupe_keys` that has one, by key: one
/// query for a page that shows many (the numbers dashboard, polled).
pub async fn latest_of(
    pool: &AnyPool,
    dedupe_keys: &[String],
) -> Result<HashMap<String, JobStatus>, sqlx::Error> {
    if dedupe_keys.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT j.dedupe_key, j.state, j.attempts, j.max_attempts, j.run_at, j.last_error, \
           j.created_at FROM jobs j WHERE j.dedupe_key IN ({}) \
           AND j.id = (SELECT MAX(k.id) FROM jobs k WHERE k.dedupe_key = j.dedupe_key)",
        crate::ssr::infra::db::numbered_list(dedupe_keys.len())
    );
    #[derive(sqlx::FromRow)]
    struct Keyed {
        dedupe_key: String,
        #[sqlx(flatten)]
        status: JobStatus,
    }
    let mut query = sqlx::query_as::<_, Keyed>(&sql);
    for key in dedupe_keys {
        query = query.bind(key);
    }
    Ok(query
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|keyed| (keyed.dedupe_key, keyed.status))
        .collect())
}

/// A name for this process's worker, unique among instances.
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::rngs::OsRng.r#gen::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour_with_jitter() {
        for (attempts, base) in [(1, 30_000), (2, 60_000), (3, 120_000), (12, 3_600_000)] {
            let wait = backoff_ms(attempts);
            assert!(
                (base..=base + base / 5).contains(&wait),
                "attempt {attempts}: {wait}"
            );
        }
    }
}
