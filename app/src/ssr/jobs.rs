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

use rand::Rng;
use serde::Serialize;
use sqlx::{AnyPool, Executor};

use crate::ssr::db::{Database, Engine};

/// What a job does; the worker dispatches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Deliver a one-time code that could not be sent at once.
    SendCode,
    /// Send one email (reminders, revocation notices).
    Email,
    /// Tell a provider's endpoint the registry changed.
    Webhook,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::SendCode => "send_code",
            JobKind::Email => "email",
            JobKind::Webhook => "webhook",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "send_code" => Some(JobKind::SendCode),
            "email" => Some(JobKind::Email),
            "webhook" => Some(JobKind::Webhook),
            _ => None,
        }
    }

    /// How many times a job is tried before it is marked failed.
    pub fn max_attempts(self) -> i64 {
        match self {
            // 30 s, 1, 2 and 4 min apart: a code that cannot go out in
            // about eight minutes is better asked for again.
            JobKind::SendCode => 5,
            // Backing off to an hour between tries: about a day.
            JobKind::Email => 30,
            // About three days: two hours to reach the hourly pace, then
            // 70 tries an hour or so apart.
            JobKind::Webhook => 80,
        }
    }
}

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

/// Queues a job due at `run_at`. With a `dedupe_key`, a job with the same
/// key already queued wins and nothing is added; returns whether it was.
pub async fn enqueue<'e, E>(
    executor: E,
    kind: JobKind,
    payload: &impl Serialize,
    dedupe_key: Option<&str>,
    run_at: i64,
) -> Result<bool, sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    let payload = serde_json::to_string(payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let added = sqlx::query(
        "INSERT INTO jobs (kind, payload, dedupe_key, run_at, max_attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(payload)
    .bind(dedupe_key)
    .bind(run_at)
    .bind(kind.max_attempts())
    .bind(crate::ssr::clock::now_millis())
    .execute(executor)
    .await?;
    Ok(added.rows_affected() == 1)
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
    .bind(if give_up { "failed" } else { "queued" })
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
    .bind(crate::ssr::clock::now_millis())
    .bind(dedupe_key)
    .execute(executor)
    .await?;
    Ok(())
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
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

pub async fn latest(pool: &AnyPool, dedupe_key: &str) -> Result<Option<JobStatus>, sqlx::Error> {
    sqlx::query_as(
        "SELECT state, attempts, max_attempts, run_at, last_error, created_at FROM jobs \
         WHERE dedupe_key = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(dedupe_key)
    .fetch_optional(pool)
    .await
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

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [JobKind::SendCode, JobKind::Email, JobKind::Webhook] {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("nonsense"), None);
    }
}
