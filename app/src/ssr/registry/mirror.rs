//! Each instance's copy of the registry's present state, so that a "now"
//! look-up and a waiting long-poll cost no query (issue 16, item 3).
//!
//! Loaded once at start from `privileged_intervals`, then kept current
//! from the change log: every [`REFRESH_EVERY`] (another instance's or the
//! CLI's commits), and at once after this process commits a registry
//! write ([`super::RegistryWrite::commit`] bumps [`COMMITS`]). A look-up
//! that finds a local commit not yet applied catches up before answering,
//! so an instance always reads its own writes; another instance's write is
//! seen within one refresh.
//!
//! Numbers are kept as their E.164 digits in a `u64` (at most 15 digits,
//! never a leading zero, ITU-T E.164 §6.1), so a million numbers take
//! about 40 MB.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::watch;

use super::{COMMITS, COMMITTED, Interval, Op};

/// How often an instance looks for changes it did not write itself.
pub const REFRESH_EVERY: Duration = Duration::from_millis(200);
/// Changes applied per query while catching up.
const CATCH_UP_PAGE: i64 = 10_000;

/// A number's state now: privileged since an instant, or not privileged
/// since it last stopped being (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    privileged: bool,
    at: i64,
}

impl Entry {
    /// The state now that one of a number's intervals implies: privileged
    /// since it began while it is open, else not privileged since it
    /// ended.
    fn from_interval(interval: Interval) -> Self {
        match interval.until {
            None => Entry {
                privileged: true,
                at: interval.since,
            },
            Some(until) => Entry {
                privileged: false,
                at: until,
            },
        }
    }

    /// Folds in the state another interval of the same number implies:
    /// an open interval wins; else the latest stop. Once every interval
    /// is folded in, this is what [`super::privileged_at`] answers for
    /// the end of the log (checked by the tests here and in
    /// `intervals`).
    fn fold(&mut self, other: Entry) {
        if !self.privileged && (other.privileged || other.at > self.at) {
            *self = other;
        }
    }
}

#[derive(Debug, Default)]
struct Set {
    head: i64,
    numbers: HashMap<u64, Entry>,
}

impl Set {
    fn apply(&mut self, e164: &str, op: Op, at: i64, seq: i64) {
        if let Some(key) = key_of(e164) {
            self.numbers.insert(
                key,
                Entry {
                    privileged: op == Op::Add,
                    at,
                },
            );
        }
        self.head = self.head.max(seq);
    }
}

/// The E.164 text's digits as a number; `None` for text that is not
/// E.164 as ITU-T E.164 writes it (`+`, then at most 15 digits, the first
/// not 0: no country code starts with 0). So one key has one text, and a
/// look-up of "+012…" never finds "+12…".
fn key_of(e164: &str) -> Option<u64> {
    let digits = e164.strip_prefix('+')?;
    if digits.is_empty()
        || digits.len() > 15
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

/// A number's state now, as a look-up reports it (the same shape as
/// the providers' point-in-time look-up, for the present instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivilegeNow {
    pub privileged: bool,
    /// Privileged: when it became so. Otherwise: when it last stopped
    /// (`None` if it never was). Unix milliseconds.
    pub since: Option<i64>,
}

/// The shared copy; cheap to clone.
#[derive(Clone, Debug)]
pub struct Mirror {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: AnyPool,
    set: RwLock<Set>,
    /// The `COMMITS` value the set is known to include.
    commits_seen: AtomicU64,
    /// One catch-up at a time; the others wait for it and find nothing.
    catching_up: tokio::sync::Mutex<()>,
    head: watch::Sender<i64>,
}

impl Mirror {
    /// Reads the present state in one read transaction. A million
    /// numbers load in a few seconds.
    pub async fn load(pool: &AnyPool) -> Result<Self, sqlx::Error> {
        use futures::TryStreamExt;

        let commits_seen = COMMITS.load(Ordering::Acquire);
        let mut transaction = super::digest::begin_read(pool).await?;
        let head = super::head(&mut *transaction).await?;
        let mut set = Set {
            head,
            numbers: HashMap::new(),
        };
        {
            let mut rows = sqlx::query_as::<_, (String, i64, Option<i64>)>(
                "SELECT e164, since, until FROM privileged_intervals",
            )
            .fetch(&mut *transaction);
            while let Some((e164, since, until)) = rows.try_next().await? {
                let Some(key) = key_of(&e164) else { continue };
                let entry = Entry::from_interval(Interval { since, until });
                set.numbers
                    .entry(key)
                    .and_modify(|kept| kept.fold(entry))
                    .or_insert(entry);
            }
        }
        transaction.commit().await?;
        let (head_sender, _) = watch::channel(head);
        Ok(Self {
            inner: Arc::new(Inner {
                pool: pool.clone(),
                set: RwLock::new(set),
                commits_seen: AtomicU64::new(commits_seen),
                catching_up: tokio::sync::Mutex::new(()),
                head: head_sender,
            }),
        })
    }

    /// The state of `e164` now. Queries only when this process committed
    /// a registry change the copy has not applied yet.
    pub async fn privilege_now(&self, e164: &str) -> Result<PrivilegeNow, sqlx::Error> {
        Ok(self.known_now(e164).await?.unwrap_or(PrivilegeNow {
            privileged: false,
            since: None,
        }))
    }

    /// As [`Mirror::privilege_now`], but `None` for a number the registry
    /// has never held (or text that is not E.164 exactly as the registry
    /// keeps it): the caller then cannot tell "never privileged" from "not
    /// a number", and must read the text itself.
    pub async fn known_now(&self, e164: &str) -> Result<Option<PrivilegeNow>, sqlx::Error> {
        if COMMITS.load(Ordering::Acquire) != self.inner.commits_seen.load(Ordering::Acquire) {
            self.catch_up().await?;
        }
        let entry = key_of(e164).and_then(|key| {
            self.inner
                .set
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .numbers
                .get(&key)
                .copied()
        });
        Ok(entry.map(|entry| PrivilegeNow {
            privileged: entry.privileged,
            since: Some(entry.at),
        }))
    }

    /// The last seq applied.
    pub fn head(&self) -> i64 {
        *self.inner.head.borrow()
    }

    /// How many numbers are privileged in the copy.
    pub fn privileged_count(&self) -> usize {
        self.inner
            .set
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .numbers
            .values()
            .filter(|entry| entry.privileged)
            .count()
    }

    /// Follows the head seq: a long-poll waits on this, not on the
    /// database.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.inner.head.subscribe()
    }

    /// Applies the changes after the copy's head.
    pub async fn catch_up(&self) -> Result<(), sqlx::Error> {
        let _one_at_a_time = self.inner.catching_up.lock().await;
        // Read before querying: a commit after this point bumps it again
        // and is caught by the next look-up.
        let commits = COMMITS.load(Ordering::Acquire);
        loop {
            let after = self.head();
            let changes = super::changes_after(&self.inner.pool, after, CATCH_UP_PAGE).await?;
            let Some(last) = changes.last().map(|change| change.seq) else {
                break;
            };
            {
                let mut set = self
                    .inner
                    .set
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                for change in &changes {
                    set.apply(&change.e164, change.op, change.at, change.seq);
                }
            }
            self.inner.head.send_replace(last);
            if (changes.len() as i64) < CATCH_UP_PAGE {
                break;
            }
        }
        self.inner.commits_seen.store(commits, Ordering::Release);
        Ok(())
    }

    /// Keeps the copy current until the process ends: after each local
    /// commit, and every [`REFRESH_EVERY`] for the others'. A failed
    /// refresh is logged and tried again at the next.
    pub fn spawn_refresher(&self) -> tokio::task::JoinHandle<()> {
        let mirror = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = COMMITTED.notified() => {}
                    () = tokio::time::sleep(REFRESH_EVERY) => {}
                }
                if let Err(error) = mirror.catch_up().await {
                    tracing::warn!(error = %error, "the registry copy could not catch up");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_digits_are_the_key() {
        assert_eq!(key_of("+12024561111"), Some(12_024_561_111));
        assert_eq!(key_of("+999999999999999"), Some(999_999_999_999_999));
        assert_eq!(key_of("12024561111"), None);
        assert_eq!(key_of("+1202456111a"), None);
        assert_eq!(key_of("+012024561111"), None, "one text per key");
        assert_eq!(key_of("+1234567890123456"), None);
        assert_eq!(key_of("+"), None);
    }

    #[test]
    fn the_last_change_of_a_number_is_its_state() {
        let mut set = Set::default();
        set.apply("+12024561111", Op::Add, 10, 1);
        set.apply("+12024561111", Op::Remove, 20, 2);
        set.apply("+12024561112", Op::Add, 30, 3);
        assert_eq!(
            set.numbers.get(&12_024_561_111),
            Some(&Entry {
                privileged: false,
                at: 20
            })
        );
        assert_eq!(
            set.numbers.get(&12_024_561_112),
            Some(&Entry {
                privileged: true,
                at: 30
            })
        );
        assert_eq!(set.head, 3);
    }

    /// The copy's state of a number, from its intervals as `load` folds
    /// them and from its changes as `catch_up` applies them, is what the
    /// registry's rule answers at the end of the log.
    #[test]
    fn the_copy_agrees_with_the_rule_at_the_end_of_the_log() {
        use super::super::Intervals;

        let histories: [&[(i64, Option<i64>)]; 5] = [
            &[(10, None)],
            &[(10, Some(20))],
            &[(10, Some(20)), (20, None)],
            &[(30, Some(40)), (10, Some(20)), (20, Some(30))],
            &[(10, Some(20)), (25, None), (20, Some(25))],
        ];
        for history in histories {
            let intervals: Vec<Interval> = history
                .iter()
                .map(|&(since, until)| Interval { since, until })
                .collect();
            let rule = Intervals::new(intervals.clone()).at(i64::MAX);
            let mut folded: Option<Entry> = None;
            for interval in &intervals {
                let entry = Entry::from_interval(*interval);
                match &mut folded {
                    Some(kept) => kept.fold(entry),
                    None => folded = Some(entry),
                }
            }
            let mut changes: Vec<(i64, Op)> = intervals
                .iter()
                .flat_map(|interval| {
                    std::iter::once((interval.since, Op::Add))
                        .chain(interval.until.map(|until| (until, Op::Remove)))
                })
                .collect();
            // In log order: a removal before an addition of the same
            // millisecond (the interval ends before the next begins).
            changes.sort_by_key(|&(at, op)| (at, op == Op::Add));
            let mut set = Set::default();
            for (seq, (at, op)) in changes.into_iter().enumerate() {
                set.apply("+12024561111", op, at, seq as i64 + 1);
            }
            let replayed = set.numbers.get(&12_024_561_111).copied();
            for copy in [folded, replayed] {
                let copy = copy.expect("held");
                assert_eq!(
                    (copy.privileged, Some(copy.at)),
                    (rule.privileged, rule.since),
                    "{history:?}"
                );
            }
        }
    }
}
