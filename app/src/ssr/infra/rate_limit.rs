//! Fixed-window rate limits kept in the database, so that every server
//! instance on one database counts together.

use std::time::Duration;

use sqlx::AnyPool;

use crate::ssr::infra::clock::now_millis;

/// What one client is counted as: an IPv4 address, or an IPv6 address's
/// /64 (`2001:db8:1:2::/64`), as the server's throttle worked it out from
/// the peer and its trusted proxies. The throttle puts it in the request's
/// extensions of the endpoints it counts; without one (a request the
/// throttle did not see) a client is [`ClientKey::unknown`], and all such
/// clients count as one. Never holds whitespace, so a bucket name made of
/// it, a space and more text reads back one way only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    /// The key for `text`, whitespace taken out ([`ClientKey::unknown`]
    /// when nothing is left).
    pub fn new(text: &str) -> Self {
        let key: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if key.is_empty() {
            Self::unknown()
        } else {
            Self(key)
        }
    }

    /// The one key of every client whose address is not known.
    pub fn unknown() -> Self {
        Self("unknown".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_hits: i64,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        hits: i64,
    },
    /// Over the limit until the window ends.
    Refused {
        retry_after_secs: u64,
    },
}

fn window_of(limit: Limit, now: i64) -> (i64, i64) {
    let length = i64::try_from(limit.window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let start = now - now.rem_euclid(length);
    (start, start + length)
}

/// Counts one hit on `bucket` and says whether it is within `limit`, in
/// one statement: concurrent hits each see their own count, so the limit
/// holds however many arrive at once. Takes a pool or the caller's
/// transaction (under SQLite's single writer a second connection would
/// wait for the transaction's lock).
pub async fn hit<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    bucket: &str,
    limit: Limit,
) -> Result<Decision, sqlx::Error> {
    hit_by(executor, bucket, limit, 1).await
}

/// Like [`hit`], counting `count` hits at once (an audit of `count`
/// numbers), in one statement, so concurrent requests cannot both pass.
pub async fn hit_by<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    bucket: &str,
    limit: Limit,
    count: i64,
) -> Result<Decision, sqlx::Error> {
    let now = now_millis();
    let (start, end) = window_of(limit, now);
    let hits: i64 = sqlx::query_scalar(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + $3 \
         RETURNING hits",
    )
    .bind(bucket)
    .bind(start)
    .bind(count)
    .fetch_one(executor)
    .await?;
    Ok(decide(hits, limit, now, end))
}

/// Takes back `count` hits of the current window (a refused request that
/// did nothing); never below zero.
pub async fn take_back(
    pool: &AnyPool,
    bucket: &str,
    limit: Limit,
    count: i64,
) -> Result<(), sqlx::Error> {
    let (start, _) = window_of(limit, now_millis());
    sqlx::query(
        "UPDATE rate_limits SET hits = CASE WHEN hits > $3 THEN hits - $3 ELSE 0 END \
         WHERE bucket = $1 AND window_start = $2",
    )
    .bind(bucket)
    .bind(start)
    .bind(count)
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes back one hit of the current window (a try that turned out
/// right); never below zero.
pub async fn refund(pool: &AnyPool, bucket: &str, limit: Limit) -> Result<(), sqlx::Error> {
    let (start, _) = window_of(limit, now_millis());
    sqlx::query(
        "UPDATE rate_limits SET hits = hits - 1 WHERE bucket = $1 AND window_start = $2 AND hits > 0",
    )
    .bind(bucket)
    .bind(start)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets every window of `bucket` (a limit lifted by a stronger proof,
/// such as a password reset by email).
pub async fn clear(pool: &AnyPool, bucket: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM rate_limits WHERE bucket = $1")
        .bind(bucket)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets every window of every bucket named `prefix` + anything +
/// `suffix` (a limit kept per client, lifted for all clients at once).
/// Compared as text, so `%` or `_` in either part match only themselves.
pub async fn clear_between(pool: &AnyPool, prefix: &str, suffix: &str) -> Result<(), sqlx::Error> {
    let prefix_chars = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
    let suffix_chars = i64::try_from(suffix.chars().count()).unwrap_or(i64::MAX);
    sqlx::query(
        "DELETE FROM rate_limits WHERE length(bucket) >= $1 + $2 \
         AND substr(bucket, 1, CAST($1 AS INTEGER)) = $3 \
         AND substr(bucket, CAST(length(bucket) - $2 + 1 AS INTEGER)) = $4",
    )
    .bind(prefix_chars)
    .bind(suffix_chars)
    .bind(prefix)
    .bind(suffix)
    .execute(pool)
    .await?;
    Ok(())
}

/// The hits counted so far in the current window, without adding one.
pub async fn peek(pool: &AnyPool, bucket: &str, limit: Limit) -> Result<Decision, sqlx::Error> {
    let now = now_millis();
    let (start, end) = window_of(limit, now);
    let hits: Option<i64> =
        sqlx::query_scalar("SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2")
            .bind(bucket)
            .bind(start)
            .fetch_optional(pool)
            .await?;
    let hits = hits.unwrap_or(0);
    // `peek` asks "may one more happen?": at the limit already means no.
    Ok(decide(hits + 1, limit, now, end))
}

fn decide(hits: i64, limit: Limit, now: i64, window_end: i64) -> Decision {
    if hits <= limit.max_hits {
        Decision::Allowed { hits }
    } else {
        let wait_ms = (window_end - now).max(0);
        Decision::Refused {
            retry_after_secs: u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1),
        }
    }
}

/// Deletes windows that ended long ago.
pub async fn forget_before(pool: &AnyPool, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
    let result = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
        .bind(cutoff_ms)
        .execute(pool)
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_counts_to_their_end() {
        let limit = Limit {
            max_hits: 2,
            window: Duration::from_secs(60),
        };
        assert_eq!(window_of(limit, 125_000), (120_000, 180_000));
        assert_eq!(
            decide(2, limit, 125_000, 180_000),
            Decision::Allowed { hits: 2 }
        );
        assert_eq!(
            decide(3, limit, 125_000, 180_000),
            Decision::Refused {
                retry_after_secs: 55
            }
        );
        assert_eq!(
            decide(3, limit, 179_999, 180_000),
            Decision::Refused {
                retry_after_secs: 1
            }
        );
    }
}
