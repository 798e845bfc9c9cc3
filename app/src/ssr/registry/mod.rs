//! The registry's change log (DESIGN.md, "The registry and its feed").
//! A number is privileged while at least one active registration holds
//! it. Every flip of that state appends exactly one row `(seq, e164, op,
//! at)` in the transaction that caused it, and opens or closes an interval
//! in `privileged_intervals`.
//!
//! `seq` order must be commit order, or a provider reading "after N" could
//! miss a row that commits later with a smaller number. Every writer
//! therefore starts by updating the single `registry_head` row: on
//! PostgreSQL the row lock, on SQLite the database write lock (taken by a
//! transaction's first statement being a write), is held until commit, so
//! writers append one after another and each takes the next `seq`.
//!
//! Owns the tables `registry_head`, `registry_changes` and
//! `privileged_intervals`. May use: infrastructure and `accounts`' types;
//! it knows nothing of rosters or registrations beyond the `registrations`
//! rows it reads to decide whether a number is privileged.

pub mod digest;
pub mod intervals;
pub mod mirror;

use std::sync::atomic::{AtomicU64, Ordering};

use futures::stream::BoxStream;
use sqlx::{Any, AnyPool, Transaction};

pub use intervals::{Interval, Intervals, PrivilegeAt, privileged_at, privileged_at_each};

use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;

/// Which way a number flipped lives in the domain, shared with the feed.
pub use crate::domain::Op;

/// One row of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub e164: String,
    pub op: Op,
    /// Unix milliseconds.
    pub at: i64,
}

/// How many registry writes this process has committed: a
/// [`mirror::Mirror`] that has seen fewer catches up before it answers.
static COMMITS: AtomicU64 = AtomicU64::new(0);
/// Wakes the mirrors' refreshers (and so the long-polls) after a commit.
static COMMITTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// A transaction that may change the registry: it holds the append lock
/// from its first statement to its commit.
pub struct RegistryWrite<'c> {
    pub transaction: Transaction<'c, Any>,
}

impl RegistryWrite<'_> {
    /// Commits, then tells this process's mirrors to catch up.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.transaction.commit().await?;
        COMMITS.fetch_add(1, Ordering::AcqRel);
        COMMITTED.notify_waiters();
        Ok(())
    }
}

/// Begins a transaction that may flip numbers. The lock comes first: on
/// SQLite a transaction that read before writing could not upgrade to a
/// writer once another had committed.
pub async fn begin_write(pool: &AnyPool) -> Result<RegistryWrite<'static>, sqlx::Error> {
    let mut transaction = db::begin_write(pool).await?;
    sqlx::query("UPDATE registry_head SET seq = seq WHERE id = 1")
        .execute(&mut *transaction)
        .await?;
    Ok(RegistryWrite { transaction })
}

/// Brings `e164`'s privileged state in line with its registrations, after
/// the caller changed them in `write`. Returns the change appended, if the
/// state flipped.
pub async fn refresh(
    write: &mut RegistryWrite<'_>,
    e164: &str,
) -> Result<Option<Change>, sqlx::Error> {
    let transaction = &mut write.transaction;
    let active: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registrations WHERE e164 = $1 AND status = 'active'",
    )
    .bind(e164)
    .fetch_one(&mut **transaction)
    .await?;
    let open_interval: Option<i64> = sqlx::query_scalar(
        "SELECT added_seq FROM privileged_intervals WHERE e164 = $1 AND until IS NULL",
    )
    .bind(e164)
    .fetch_optional(&mut **transaction)
    .await?;
    let op = match (active > 0, open_interval.is_some()) {
        (true, false) => Op::Add,
        (false, true) => Op::Remove,
        _ => return Ok(None),
    };

    let at = now_millis();
    let seq: i64 =
        sqlx::query_scalar("UPDATE registry_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut **transaction)
            .await?;
    sqlx::query("INSERT INTO registry_changes (seq, e164, op, at) VALUES ($1, $2, $3, $4)")
        .bind(seq)
        .bind(e164)
        .bind(op)
        .bind(at)
        .execute(&mut **transaction)
        .await?;
    match op {
        Op::Add => {
            sqlx::query(
                "INSERT INTO privileged_intervals (e164, since, added_seq) VALUES ($1, $2, $3)",
            )
            .bind(e164)
            .bind(at)
            .bind(seq)
            .execute(&mut **transaction)
            .await?;
        }
        Op::Remove => {
            sqlx::query(
                "UPDATE privileged_intervals SET until = $1, removed_seq = $2 \
                 WHERE e164 = $3 AND until IS NULL",
            )
            .bind(at)
            .bind(seq)
            .bind(e164)
            .execute(&mut **transaction)
            .await?;
        }
    }
    Ok(Some(Change {
        seq,
        e164: e164.to_owned(),
        op,
        at,
    }))
}

/// The last `seq` appended (0 before any).
pub async fn head<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT seq FROM registry_head WHERE id = 1")
        .fetch_one(executor)
        .await
}

/// Up to `limit` changes after `after`, in order.
pub async fn changes_after(
    pool: &AnyPool,
    after: i64,
    limit: i64,
) -> Result<Vec<Change>, sqlx::Error> {
    // `op` decodes strictly: a text other than "add" or "remove" is an
    // error, never read as either.
    let rows: Vec<(i64, String, Op, i64)> = sqlx::query_as(
        "SELECT seq, e164, op, at FROM registry_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, e164, op, at)| Change { seq, e164, op, at })
        .collect())
}

/// The numbers privileged now (the open intervals), with the instant each
/// became so, sorted by e164.
const PRIVILEGED_NOW_SQL: &str =
    "SELECT e164, since FROM privileged_intervals WHERE until IS NULL ORDER BY e164";

/// The numbers privileged now, with the instant each became so, sorted.
pub async fn privileged_now(pool: &AnyPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(PRIVILEGED_NOW_SQL).fetch_all(pool).await
}

/// The privileged set as a snapshot streams it, one `(e164, since)` row
/// at a time (since in Unix ms), so memory stays flat: with `as_of_seq`
/// `None`, the numbers privileged now, as [`privileged_now`] lists them;
/// with `Some(seq)`, those privileged at that seq, in byte order
/// ([`digest::numbers_at_sql`]). Read in `transaction`, a read from
/// [`digest::begin_read`] (now) or [`digest::begin_read_at`] (at a seq),
/// so the set is one consistent state.
pub fn privileged_set<'t>(
    transaction: &'t mut Transaction<'static, Any>,
    as_of_seq: Option<i64>,
) -> BoxStream<'t, Result<(String, i64), sqlx::Error>> {
    match as_of_seq {
        None => sqlx::query_as(PRIVILEGED_NOW_SQL).fetch(&mut **transaction),
        Some(seq) => {
            let sql = digest::numbers_at_sql(transaction);
            sqlx::query_as(sql).bind(seq).fetch(&mut **transaction)
        }
    }
}

/// How many numbers were privileged at the end of each period of
/// `period_ms` from `from` (Unix ms), `periods` of them: the registry's
/// size over time, from the change log. For the site admins' overview.
pub async fn size_per_period(
    pool: &AnyPool,
    from: i64,
    period_ms: i64,
    periods: usize,
) -> Result<Vec<i64>, sqlx::Error> {
    // COUNTs, not SUMs: sqlx's Any driver cannot decode PostgreSQL's
    // NUMERIC, which SUM of a bigint gives.
    let before: (i64, i64) = sqlx::query_as(
        "SELECT COUNT(CASE WHEN op = 'add' THEN 1 END), COUNT(CASE WHEN op = 'remove' THEN 1 END) \
         FROM registry_changes WHERE at < $1",
    )
    .bind(from)
    .fetch_one(pool)
    .await?;
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT (at - $1) / $2 AS period, \
           COUNT(CASE WHEN op = 'add' THEN 1 END), COUNT(CASE WHEN op = 'remove' THEN 1 END) \
         FROM registry_changes WHERE at >= $1 GROUP BY period",
    )
    .bind(from)
    .bind(period_ms)
    .fetch_all(pool)
    .await?;
    let mut net = vec![0; periods];
    for (period, added, removed) in rows {
        if let Some(slot) = usize::try_from(period).ok().and_then(|p| net.get_mut(p)) {
            *slot = added - removed;
        }
    }
    let mut size = before.0 - before.1;
    Ok(net
        .into_iter()
        .map(|change| {
            size += change;
            size
        })
        .collect())
}
