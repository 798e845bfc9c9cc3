//! Housekeeping: the periodic tasks every instance runs, named, in the
//! order a round runs them ([`Task::ALL`]). Wiring beside `worker.rs`: it
//! calls several capabilities and the infrastructure, and the server only
//! starts its loop ([`Housekeeping::spawn`]).
//!
//! A round runs at once when the loop starts and then every
//! `SESSION_CLEANUP_INTERVAL_SECS`, every task once, one after another.
//! A task logs its own failure (and what it did, where that is worth
//! knowing) and never stops the round.

use std::time::Duration;

use tokio::task::JoinHandle;
use tower_sessions::session_store::ExpiredDeletion;

use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::session::SessionBackend;
use crate::ssr::state::AppState;

/// Rate-limit windows are at most an hour long; two hours back is surely
/// finished. Milliseconds.
const KEEP_WINDOWS_MS: i64 = 2 * 60 * 60 * 1000;
/// Finished jobs are kept a month for inspection. Milliseconds.
const KEEP_JOBS_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// One periodic task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Deletes expired sessions.
    ExpiredSessions,
    /// Deletes rate-limit windows that ended ([`KEEP_WINDOWS_MS`]).
    RateLimitWindows,
    /// Deletes jobs finished over a month ago ([`KEEP_JOBS_MS`]).
    FinishedJobs,
    /// Expires registrations not renewed in time.
    ExpiredRegistrations,
    /// Forgets the sealed codes of verification calls that ended.
    EndedCallCodes,
    /// Queues renewal reminders.
    RenewalReminders,
    /// Deletes look-up counts past `LOOKUP_COUNTS_RETENTION_DAYS`.
    LookupCounts,
    /// A facility whose list stopped following the registry, or has not
    /// matched it for a day: the site admins hear once.
    UnhealthyFacilities,
    /// Deletes kept roster files, an hour old at least, whose upload is
    /// no longer a preview (previews that expired, or a delete a crash
    /// missed).
    KeptRosterFiles,
    /// Discards roster previews nobody decided within their time (a
    /// browser closed, an import killed before its commit), which would
    /// keep their staged rows for good.
    AbandonedRosterPreviews,
}

impl Task {
    /// Every task, in the order a round runs them.
    pub const ALL: [Task; 10] = [
        Task::ExpiredSessions,
        Task::RateLimitWindows,
        Task::FinishedJobs,
        Task::ExpiredRegistrations,
        Task::EndedCallCodes,
        Task::RenewalReminders,
        Task::LookupCounts,
        Task::UnhealthyFacilities,
        Task::KeptRosterFiles,
        Task::AbandonedRosterPreviews,
    ];

    /// A short name, for listings and tests.
    pub fn name(self) -> &'static str {
        match self {
            Task::ExpiredSessions => "expired sessions",
            Task::RateLimitWindows => "rate-limit windows",
            Task::FinishedJobs => "finished jobs",
            Task::ExpiredRegistrations => "expired registrations",
            Task::EndedCallCodes => "ended call codes",
            Task::RenewalReminders => "renewal reminders",
            Task::LookupCounts => "look-up counts",
            Task::UnhealthyFacilities => "unhealthy facilities",
            Task::KeptRosterFiles => "kept roster files",
            Task::AbandonedRosterPreviews => "abandoned roster previews",
        }
    }

    /// Runs the task once. A failure is logged, not returned: the round
    /// goes on with the next task.
    pub async fn run(self, with: &Housekeeping) {
        let pool = with.state.database.pool();
        match self {
            Task::ExpiredSessions => {
                if let Err(error) = with.sessions.delete_expired().await {
                    tracing::error!(error = %error, "cannot delete expired sessions");
                }
            }
            Task::RateLimitWindows => {
                let cutoff = now_millis() - KEEP_WINDOWS_MS;
                if let Err(error) = crate::ssr::infra::rate_limit::forget_before(pool, cutoff).await
                {
                    tracing::error!(error = %error, "cannot delete old rate-limit windows");
                }
            }
            Task::FinishedJobs => {
                let cutoff = now_millis() - KEEP_JOBS_MS;
                if let Err(error) = crate::ssr::infra::jobs::prune(pool, cutoff).await {
                    tracing::error!(error = %error, "cannot prune finished jobs");
                }
            }
            Task::ExpiredRegistrations => match crate::ssr::numbers::expire_due(pool).await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "registrations expired"),
                Err(error) => tracing::error!(error = %error, "cannot expire registrations"),
            },
            Task::EndedCallCodes => {
                if let Err(error) = crate::ssr::numbers::forget_expired_call_codes(pool).await {
                    tracing::error!(error = %error, "cannot forget the sealed codes of ended calls");
                }
            }
            Task::RenewalReminders => {
                if let Err(error) =
                    crate::ssr::numbers::queue_reminders(pool, &with.state.base_url).await
                {
                    tracing::error!(error = %error, "cannot send renewal reminders");
                }
            }
            Task::LookupCounts => {
                let cutoff = now_millis() - with.lookup_counts_retention.as_millis() as i64;
                if let Err(error) =
                    crate::ssr::providers::forget_lookup_counts_before(pool, cutoff).await
                {
                    tracing::error!(error = %error, "cannot prune old look-up counts");
                }
            }
            Task::UnhealthyFacilities => match crate::ssr::providers::facilities::notify_unhealthy(
                pool,
                &with.state.base_url,
            )
            .await
            {
                Ok(0) => {}
                Ok(opened) => tracing::warn!(opened, "facility incidents opened"),
                Err(error) => tracing::error!(error = %error, "cannot check facilities"),
            },
            Task::KeptRosterFiles => {
                if let Err(error) = crate::ssr::standing::roster::kept_files::sweep(
                    pool,
                    &with.state.roster_files_dir,
                )
                .await
                {
                    tracing::error!(error = %error, "cannot sweep kept roster files");
                }
            }
            Task::AbandonedRosterPreviews => {
                match crate::ssr::standing::roster::upload::expire_abandoned(
                    pool,
                    with.roster_preview_ttl,
                )
                .await
                {
                    Ok(0) => {}
                    Ok(expired) => tracing::info!(expired, "abandoned roster previews discarded"),
                    Err(error) => tracing::error!(error = %error, "cannot expire roster previews"),
                }
            }
        }
    }
}

/// What housekeeping runs with, and how often.
#[derive(Clone)]
pub struct Housekeeping {
    /// The session store whose expired sessions go.
    pub sessions: SessionBackend,
    pub state: AppState,
    /// Time between rounds (`SESSION_CLEANUP_INTERVAL_SECS`).
    pub every: Duration,
    /// How long a roster preview may wait for its decision
    /// (`ROSTER_PREVIEW_TTL_HOURS`).
    pub roster_preview_ttl: Duration,
    /// How long hourly look-up counts are kept
    /// (`LOOKUP_COUNTS_RETENTION_DAYS`).
    pub lookup_counts_retention: Duration,
}

impl Housekeeping {
    /// Runs a round at once and then every [`Housekeeping::every`], until
    /// the returned task is aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.every);
            loop {
                ticker.tick().await;
                self.run_round().await;
            }
        })
    }

    /// One round: every task of [`Task::ALL`] once, in order.
    pub async fn run_round(&self) {
        for task in Task::ALL {
            task.run(self).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_is_in_the_round_once_under_its_own_name() {
        let names: Vec<&str> = Task::ALL.iter().map(|task| task.name()).collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len());
        assert_eq!(names.first(), Some(&"expired sessions"));
        assert_eq!(names.last(), Some(&"abandoned roster previews"));
    }
}
