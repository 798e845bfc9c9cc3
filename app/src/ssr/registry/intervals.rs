//! Whether a number was privileged at an instant: the one rule, read from
//! `privileged_intervals` (DESIGN.md: intervals make point-in-time look-up
//! and call-record audits exact). The providers' look-up at a past
//! instant, the call-record audit and the tests of each instance's copy
//! ([`super::mirror`]) all answer with it.
//!
//! An interval covers the instants from `since` (included) until `until`
//! (excluded; open while `until` is NULL): a number is privileged at `t`
//! when one of its intervals has `since ≤ t < until`. A number removed
//! and added again in the same millisecond is so privileged at that
//! instant, by its new interval.

use std::collections::HashMap;

use sqlx::{Any, AnyPool};

/// One stretch during which a number was privileged, in Unix
/// milliseconds: from `since` (included) until `until` (excluded; `None`
/// while it still is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub since: i64,
    pub until: Option<i64>,
}

impl Interval {
    /// Whether the interval covers the instant `at` (Unix ms):
    /// `since ≤ at < until`.
    pub fn covers(&self, at: i64) -> bool {
        self.since <= at && self.until.is_none_or(|until| until > at)
    }
}

/// Whether a number was privileged at an instant, and the interval
/// around it: while privileged, when it became so and when it stopped
/// (None if it still is); otherwise when it last stopped and when it next
/// became privileged (None if never). Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivilegeAt {
    pub privileged: bool,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// All the intervals of one number, read once to answer any number of
/// instants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(Vec<Interval>);

impl Intervals {
    /// A number's intervals, in any order.
    pub fn new(intervals: Vec<Interval>) -> Self {
        Self(intervals)
    }

    /// What the intervals say of the instant `at` (Unix ms), by
    /// [`Interval::covers`]. Should two cover it (a clock that went
    /// back), the one that began last answers.
    pub fn at(&self, at: i64) -> PrivilegeAt {
        let during = self
            .0
            .iter()
            .filter(|interval| interval.covers(at))
            .max_by_key(|interval| interval.since);
        if let Some(during) = during {
            return PrivilegeAt {
                privileged: true,
                since: Some(during.since),
                until: during.until,
            };
        }
        PrivilegeAt {
            privileged: false,
            since: self
                .0
                .iter()
                .filter_map(|interval| interval.until)
                .filter(|&until| until <= at)
                .max(),
            until: self
                .0
                .iter()
                .map(|interval| interval.since)
                .filter(|&since| since > at)
                .min(),
        }
    }
}

/// The intervals of `e164` (E.164 text, as the registry keeps it); none
/// for a number never privileged.
pub async fn intervals_of<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    e164: &str,
) -> Result<Intervals, sqlx::Error> {
    let rows: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT since, until FROM privileged_intervals WHERE e164 = $1")
            .bind(e164)
            .fetch_all(executor)
            .await?;
    Ok(Intervals(
        rows.into_iter()
            .map(|(since, until)| Interval { since, until })
            .collect(),
    ))
}

/// Whether `e164` (E.164 text) was privileged at `at` (Unix ms), and the
/// interval around it ([`Intervals::at`]): "was this number privileged at
/// instant t", answered in one query. Fails only on the database.
pub async fn privileged_at<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    e164: &str,
    at: i64,
) -> Result<PrivilegeAt, sqlx::Error> {
    Ok(intervals_of(executor, e164).await?.at(at))
}

/// [`privileged_at`] for each `(e164, at)` asked, answered in the same
/// order; each number's intervals are read once, however many instants it
/// is asked about (a call-record audit). Fails only on the database.
pub async fn privileged_at_each(
    pool: &AnyPool,
    asked: &[(&str, i64)],
) -> Result<Vec<PrivilegeAt>, sqlx::Error> {
    let mut read: HashMap<&str, Intervals> = HashMap::new();
    let mut answers = Vec::with_capacity(asked.len());
    for &(e164, at) in asked {
        if !read.contains_key(e164) {
            let intervals = intervals_of(pool, e164).await?;
            read.insert(e164, intervals);
        }
        answers.push(read[e164].at(at));
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Privileged over [10, 20) and from 20 again (re-added in the
    /// millisecond it was removed), and over [40, 50).
    fn history() -> Intervals {
        Intervals::new(vec![
            Interval {
                since: 40,
                until: Some(50),
            },
            Interval {
                since: 10,
                until: Some(20),
            },
            Interval {
                since: 20,
                until: Some(30),
            },
        ])
    }

    fn privileged(since: i64, until: Option<i64>) -> PrivilegeAt {
        PrivilegeAt {
            privileged: true,
            since: Some(since),
            until,
        }
    }

    fn not_privileged(since: Option<i64>, until: Option<i64>) -> PrivilegeAt {
        PrivilegeAt {
            privileged: false,
            since,
            until,
        }
    }

    #[test]
    fn an_interval_covers_its_start_but_not_its_end() {
        let closed = Interval {
            since: 10,
            until: Some(20),
        };
        assert!(!closed.covers(9));
        assert!(closed.covers(10));
        assert!(closed.covers(19));
        assert!(!closed.covers(20));
        let open = Interval {
            since: 10,
            until: None,
        };
        assert!(!open.covers(9));
        assert!(open.covers(10));
        assert!(open.covers(i64::MAX));
    }

    #[test]
    fn an_instant_is_answered_with_the_interval_around_it() {
        let history = history();
        assert_eq!(history.at(9), not_privileged(None, Some(10)));
        assert_eq!(history.at(10), privileged(10, Some(20)));
        assert_eq!(history.at(19), privileged(10, Some(20)));
        assert_eq!(history.at(20), privileged(20, Some(30)), "the new one");
        assert_eq!(history.at(30), not_privileged(Some(30), Some(40)));
        assert_eq!(history.at(39), not_privileged(Some(30), Some(40)));
        assert_eq!(history.at(40), privileged(40, Some(50)));
        assert_eq!(history.at(50), not_privileged(Some(50), None));
        assert_eq!(
            Intervals::default().at(10),
            not_privileged(None, None),
            "never privileged"
        );
        let open = Intervals::new(vec![Interval {
            since: 10,
            until: None,
        }]);
        assert_eq!(open.at(10), privileged(10, None));
        assert_eq!(open.at(i64::MAX), privileged(10, None));
    }

    /// A SQLite database in memory with every migration applied.
    async fn database() -> crate::ssr::infra::db::Database {
        let database = crate::ssr::infra::db::Database::connect("sqlite::memory:", 1)
            .await
            .expect("open");
        database.migrate().await.expect("migrate");
        database
    }

    async fn insert(pool: &AnyPool, e164: &str, interval: Interval, added_seq: i64) {
        sqlx::query(
            "INSERT INTO privileged_intervals (e164, since, until, added_seq) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(e164)
        .bind(interval.since)
        .bind(interval.until)
        .bind(added_seq)
        .execute(pool)
        .await
        .expect("insert");
    }

    #[tokio::test]
    async fn the_database_answers_as_the_rule_at_every_boundary() {
        let database = database().await;
        let pool = database.pool();
        let history = history();
        for (seq, interval) in history.0.iter().enumerate() {
            insert(pool, "+12025550100", *interval, seq as i64 + 1).await;
        }
        insert(
            pool,
            "+12025550101",
            Interval {
                since: 15,
                until: None,
            },
            9,
        )
        .await;
        for at in [0, 9, 10, 11, 19, 20, 21, 29, 30, 31, 39, 40, 49, 50, 51] {
            let found = privileged_at(pool, "+12025550100", at).await.expect("read");
            assert_eq!(found, history.at(at), "at {at}");
            // The rule as SQL (what the look-up at an instant queried
            // before it was shared) agrees at every boundary.
            let covering: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(since) FROM privileged_intervals \
                 WHERE e164 = $1 AND since <= $2 AND (until IS NULL OR until > $2)",
            )
            .bind("+12025550100")
            .bind(at)
            .fetch_one(pool)
            .await
            .expect("read");
            assert_eq!(
                covering,
                found.since.filter(|_| found.privileged),
                "at {at}"
            );
        }
        assert_eq!(
            privileged_at(pool, "+12025550101", 15).await.expect("read"),
            privileged(15, None)
        );
        assert_eq!(
            privileged_at(pool, "+12025550199", 15).await.expect("read"),
            not_privileged(None, None)
        );
        let asked = [
            ("+12025550100", 20),
            ("+12025550101", 14),
            ("+12025550100", 35),
            ("+12025550101", 15),
        ];
        assert_eq!(
            privileged_at_each(pool, &asked).await.expect("read"),
            [
                privileged(20, Some(30)),
                not_privileged(None, Some(15)),
                not_privileged(Some(30), Some(40)),
                privileged(15, None),
            ]
        );
    }

    /// Each instance's copy answers "now" as the rule answers at the end
    /// of the log, for numbers privileged now, no longer, and never.
    #[tokio::test]
    async fn the_copy_of_the_present_agrees_with_the_rule() {
        let database = database().await;
        let pool = database.pool();
        for (seq, interval) in history().0.iter().enumerate() {
            insert(pool, "+12025550100", *interval, seq as i64 + 1).await;
        }
        let reopened = [
            Interval {
                since: 5,
                until: Some(7),
            },
            Interval {
                since: 7,
                until: None,
            },
        ];
        for (seq, interval) in reopened.iter().enumerate() {
            insert(pool, "+12025550101", *interval, seq as i64 + 10).await;
        }
        let mirror = super::super::mirror::Mirror::load(pool)
            .await
            .expect("load");
        let now = crate::ssr::infra::clock::now_millis();
        for e164 in ["+12025550100", "+12025550101", "+12025550199"] {
            let rule = privileged_at(pool, e164, now).await.expect("read");
            let copy = mirror.privilege_now(e164).await.expect("copy");
            assert_eq!(
                (copy.privileged, copy.since),
                (rule.privileged, rule.since),
                "{e164}"
            );
        }
    }
}
