//! Rate limits and the client address they count by
//! (`AUTH_ATTEMPTS_PER_MINUTE`, `API_REQUESTS_PER_SECOND`,
//! `AUDIT_NUMBERS_PER_HOUR`, `TRUSTED_PROXY_HOPS`), and how long the counts
//! of providers' look-ups are kept (`LOOKUP_COUNTS_RETENTION_DAYS`).

use std::num::NonZeroU32;
use std::time::Duration;

use super::env::{ConfigError, Env};

pub(super) struct Limits {
    pub(super) auth_attempts_per_minute: u32,
    pub(super) api_requests_per_second: NonZeroU32,
    pub(super) trusted_proxy_hops: usize,
    pub(super) lookup_counts_retention: Duration,
    pub(super) audit_numbers_per_hour: u32,
}

/// At most a million API requests per key and second.
const MAX_API_REQUESTS_PER_SECOND: NonZeroU32 = NonZeroU32::new(1_000_000).expect("not zero");

pub(super) fn read(env: &Env) -> Result<Limits, ConfigError> {
    let retention_days: u64 = env.range(
        "LOOKUP_COUNTS_RETENTION_DAYS",
        "365",
        1..,
        "expected a whole number of days, at least 1",
    )?;
    Ok(Limits {
        auth_attempts_per_minute: env.range(
            "AUTH_ATTEMPTS_PER_MINUTE",
            "20",
            1..=100_000,
            "expected a whole number from 1 to 100000",
        )?,
        api_requests_per_second: env.range(
            "API_REQUESTS_PER_SECOND",
            "100",
            ..=MAX_API_REQUESTS_PER_SECOND,
            "expected a whole number from 1 to 1000000",
        )?,
        trusted_proxy_hops: env.range(
            "TRUSTED_PROXY_HOPS",
            "0",
            ..=10,
            "expected a whole number from 0 to 10",
        )?,
        lookup_counts_retention: Duration::from_secs(retention_days * 24 * 3600),
        audit_numbers_per_hour: env.range(
            "AUDIT_NUMBERS_PER_HOUR",
            "100000",
            1..,
            "expected a whole number of numbers, at least 1",
        )?,
    })
}
