//! Periods and time limits given in seconds: session cleanup, job polling,
//! the absolute session limit and the shutdown grace.

use std::time::Duration;

use super::env::{ConfigError, Env};

pub(super) struct Intervals {
    pub(super) session_cleanup: Duration,
    pub(super) job_poll: Duration,
    pub(super) session_absolute_limit: Duration,
    pub(super) shutdown_grace: Duration,
}

pub(super) fn read(env: &Env) -> Result<Intervals, ConfigError> {
    Ok(Intervals {
        session_cleanup: seconds(env, "SESSION_CLEANUP_INTERVAL_SECS", "300")?,
        job_poll: seconds(env, "JOB_POLL_INTERVAL_SECS", "2")?,
        session_absolute_limit: seconds(env, "SESSION_ABSOLUTE_TIMEOUT_SECS", "43200")?,
        shutdown_grace: seconds(env, "SHUTDOWN_GRACE_SECS", "30")?,
    })
}

/// A whole number of seconds, at least 1.
fn seconds(env: &Env, name: &'static str, default: &str) -> Result<Duration, ConfigError> {
    env.range(
        name,
        default,
        1..,
        "expected a whole number of seconds, at least 1",
    )
    .map(Duration::from_secs)
}
