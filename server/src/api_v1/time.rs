//! Instants in the API: RFC 3339 in UTC out, any RFC 3339 offset in.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::problem::ApiError;

pub fn rfc3339(millis: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|instant| instant.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Unix milliseconds of an RFC 3339 instant; `what` names it in the error.
pub fn parse_rfc3339(raw: &str, what: &str) -> Result<i64, ApiError> {
    let instant = OffsetDateTime::parse(raw.trim(), &Rfc3339).map_err(|_| {
        ApiError::BadRequest(format!(
            "{what} must be an RFC 3339 instant, e.g. 2026-01-31T09:30:00Z"
        ))
    })?;
    i64::try_from(instant.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::BadRequest(format!("{what} is out of range")))
}
