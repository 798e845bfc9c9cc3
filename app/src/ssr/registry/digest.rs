//! The registry at a past seq, and its digests: what a facility compares
//! its own list with (issue 15's public contract).
//!
//! A set's digest is the SHA-256 (lower-case hex) of its E.164 numbers
//! sorted by byte order, each followed by `\n`; the empty set's is the
//! SHA-256 of nothing. A number's bucket is the first byte of the SHA-256
//! of its E.164 text, so 256 bucket digests locate a drift while each
//! bucket holds about 1/256 of the numbers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Transaction};

use crate::ssr::registry::head;

/// Buckets in [`Digests::buckets`]: one per value of a byte.
pub const BUCKETS: usize = 256;

/// A set's size and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDigest {
    pub count: i64,
    /// 64 lower-case hex digits.
    pub digest: String,
}

/// The whole set's digest and the 256 buckets', at one seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub as_of_seq: i64,
    pub whole: SetDigest,
    /// Index = bucket number, 0 to 255.
    pub buckets: Vec<SetDigest>,
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("seq {as_of_seq} is past the head of the change log ({head})")]
    PastHead { as_of_seq: i64, head: i64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The bucket of an E.164 number: the first byte of its SHA-256.
pub fn bucket_of(e164: &str) -> u8 {
    Sha256::digest(e164.as_bytes())[0]
}

/// The digest of `numbers`, which must be sorted by byte order.
pub fn digest_of_sorted<'a>(numbers: impl IntoIterator<Item = &'a str>) -> SetDigest {
    let mut hasher = Sha256::new();
    let mut count = 0;
    for number in numbers {
        hasher.update(number.as_bytes());
        hasher.update(b"\n");
        count += 1;
    }
    SetDigest {
        count,
        digest: format!("{:x}", hasher.finalize()),
    }
}

/// One consistent read of the registry: a repeatable-read transaction on
/// PostgreSQL; SQLite's read transaction is a snapshot already.
pub async fn begin_read(pool: &AnyPool) -> Result<Transaction<'static, Any>, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    if transaction.backend_name() != "SQLite" {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *transaction)
            .await?;
    }
    Ok(transaction)
}

/// A read transaction in which `as_of_seq` is at or before the head, so
/// the numbers read in it are those privileged at that seq.
pub async fn begin_read_at(
    pool: &AnyPool,
    as_of_seq: i64,
) -> Result<Transaction<'static, Any>, DigestError> {
    let mut transaction = begin_read(pool).await?;
    let head = head(&mut *transaction).await?;
    if as_of_seq > head {
        return Err(DigestError::PastHead { as_of_seq, head });
    }
    Ok(transaction)
}

/// The query of the numbers privileged at seq `$1`, with the instant each
/// became so, in byte order. An interval covers seq N when it was opened
/// at or before N and not closed by N. PostgreSQL sorts by the database's
/// collation unless told `COLLATE "C"` (byte order).
pub fn numbers_at_sql(transaction: &Transaction<'_, Any>) -> &'static str {
    if transaction.backend_name() == "SQLite" {
        "SELECT e164, since FROM privileged_intervals \
         WHERE added_seq <= $1 AND (removed_seq IS NULL OR removed_seq > $1) ORDER BY e164"
    } else {
        "SELECT e164, since FROM privileged_intervals \
         WHERE added_seq <= $1 AND (removed_seq IS NULL OR removed_seq > $1) \
         ORDER BY e164 COLLATE \"C\""
    }
}

/// Calls `each(e164, since_ms)` for every number privileged at
/// `as_of_seq`, in byte order, reading them in `transaction` (from
/// [`begin_read_at`]) one row at a time, so memory stays flat.
pub async fn each_number_at(
    transaction: &mut Transaction<'static, Any>,
    as_of_seq: i64,
    mut each: impl FnMut(&str, i64),
) -> Result<(), sqlx::Error> {
    let sql = numbers_at_sql(transaction);
    let mut rows = sqlx::query_as::<_, (String, i64)>(sql)
        .bind(as_of_seq)
        .fetch(&mut **transaction);
    while let Some((e164, since)) = rows.try_next().await? {
        each(&e164, since);
    }
    Ok(())
}

/// The digest of the numbers privileged at `as_of_seq` (what a
/// reconciliation compares with). `PastHead` past the head.
pub async fn digest_at(pool: &AnyPool, as_of_seq: i64) -> Result<SetDigest, DigestError> {
    let mut transaction = begin_read_at(pool, as_of_seq).await?;
    let mut hasher = Sha256::new();
    let mut count = 0;
    each_number_at(&mut transaction, as_of_seq, |e164, _| {
        hasher.update(e164.as_bytes());
        hasher.update(b"\n");
        count += 1;
    })
    .await?;
    transaction.commit().await?;
    Ok(SetDigest {
        count,
        digest: format!("{:x}", hasher.finalize()),
    })
}

/// The whole set's digest and the 256 buckets' at `as_of_seq`, in one
/// pass. `PastHead` past the head.
pub async fn digests_at(pool: &AnyPool, as_of_seq: i64) -> Result<Digests, DigestError> {
    let mut transaction = begin_read_at(pool, as_of_seq).await?;
    let mut whole = Sha256::new();
    let mut total = 0;
    let mut hashers: Vec<Sha256> = (0..BUCKETS).map(|_| Sha256::new()).collect();
    let mut counts = [0i64; BUCKETS];
    // The numbers come sorted, so each bucket receives its own sorted.
    each_number_at(&mut transaction, as_of_seq, |e164, _| {
        whole.update(e164.as_bytes());
        whole.update(b"\n");
        total += 1;
        let bucket = usize::from(bucket_of(e164));
        hashers[bucket].update(e164.as_bytes());
        hashers[bucket].update(b"\n");
        counts[bucket] += 1;
    })
    .await?;
    transaction.commit().await?;
    Ok(Digests {
        as_of_seq,
        whole: SetDigest {
            count: total,
            digest: format!("{:x}", whole.finalize()),
        },
        buckets: hashers
            .into_iter()
            .zip(counts)
            .map(|(hasher, count)| SetDigest {
                count,
                digest: format!("{:x}", hasher.finalize()),
            })
            .collect(),
    })
}

/// The digests already computed, by seq (issue 24): the registry at seq N
/// never changes once N is at or before the head (seq order is commit
/// order, and an interval's `added_seq` and `removed_seq` are written
/// once), so neither do its digests. Keyed by (seq, number of buckets);
/// bounded to `capacity` entries, the least recently used going first.
/// One per instance and database: clones share it.
#[derive(Clone)]
pub struct DigestCache {
    entries: Arc<Mutex<CacheEntries>>,
    capacity: usize,
}

/// (as_of_seq, buckets) → (digests, last use).
#[derive(Default)]
struct CacheEntries {
    by_key: HashMap<(i64, usize), (Arc<Digests>, u64)>,
    clock: u64,
}

impl DigestCache {
    /// An empty cache holding at most `capacity` (at least 1) seqs.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// The whole set's digest and the 256 buckets' at `as_of_seq`, from
    /// the cache or computed by [`digests_at`] (then kept). `PastHead`
    /// past the head; a failure is not kept.
    pub async fn digests_at(
        &self,
        pool: &AnyPool,
        as_of_seq: i64,
    ) -> Result<Arc<Digests>, DigestError> {
        if let Some(found) = self.get(as_of_seq) {
            return Ok(found);
        }
        let computed = Arc::new(digests_at(pool, as_of_seq).await?);
        self.put(computed.clone());
        Ok(computed)
    }

    /// How many seqs are cached.
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheEntries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, as_of_seq: i64) -> Option<Arc<Digests>> {
        let mut entries = self.lock();
        entries.clock += 1;
        let now = entries.clock;
        let (found, used) = entries.by_key.get_mut(&(as_of_seq, BUCKETS))?;
        *used = now;
        Some(found.clone())
    }

    fn put(&self, digests: Arc<Digests>) {
        let mut entries = self.lock();
        entries.clock += 1;
        let now = entries.clock;
        let key = (digests.as_of_seq, BUCKETS);
        if !entries.by_key.contains_key(&key) && entries.by_key.len() >= self.capacity {
            let oldest = entries
                .by_key
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                entries.by_key.remove(&oldest);
            }
        }
        entries.by_key.insert(key, (digests, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_sha256_of_the_sorted_numbers_each_followed_by_a_newline() {
        // printf '+12025550100\n+12025550101\n' | sha256sum
        let digest = digest_of_sorted(["+12025550100", "+12025550101"]);
        assert_eq!(digest.count, 2);
        assert_eq!(
            digest.digest,
            format!("{:x}", Sha256::digest(b"+12025550100\n+12025550101\n"))
        );
        // The empty set: SHA-256 of nothing.
        assert_eq!(
            digest_of_sorted([]).digest,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_bucket_is_the_first_byte_of_the_numbers_sha256() {
        let e164 = "+12025550100";
        assert_eq!(bucket_of(e164), Sha256::digest(e164.as_bytes())[0]);
    }

    /// A SQLite database in memory with every migration applied.
    async fn database() -> crate::ssr::infra::db::Database {
        let database = crate::ssr::infra::db::Database::connect("sqlite::memory:", 1)
            .await
            .expect("open");
        database.migrate().await.expect("migrate");
        database
    }

    async fn privileged(pool: &AnyPool, e164: &str, added_seq: i64) {
        sqlx::query("INSERT INTO privileged_intervals (e164, since, added_seq) VALUES ($1, 0, $2)")
            .bind(e164)
            .bind(added_seq)
            .execute(pool)
            .await
            .expect("insert");
        sqlx::query("UPDATE registry_head SET seq = $1")
            .bind(added_seq)
            .execute(pool)
            .await
            .expect("head");
    }

    #[tokio::test]
    async fn a_seqs_digests_are_computed_once_and_the_cache_stays_bounded() {
        let database = database().await;
        let pool = database.pool();
        privileged(pool, "+12025550100", 1).await;
        privileged(pool, "+12025550101", 2).await;
        privileged(pool, "+12025550102", 3).await;
        let cache = DigestCache::new(2);
        let at_one = cache.digests_at(pool, 1).await.expect("seq 1");
        assert_eq!(at_one.whole, digest_of_sorted(["+12025550100"]));
        // Were seq 1 read again, this number (slipped in behind the
        // registry's back) would change its digest: the cache answers.
        sqlx::query("UPDATE privileged_intervals SET added_seq = 1 WHERE e164 = '+12025550101'")
            .execute(pool)
            .await
            .expect("rewrite");
        let again = cache.digests_at(pool, 1).await.expect("seq 1 again");
        assert!(Arc::ptr_eq(&at_one, &again), "served from the cache");
        cache.digests_at(pool, 2).await.expect("seq 2");
        cache.digests_at(pool, 3).await.expect("seq 3");
        assert_eq!(cache.len(), 2, "bounded");
        let recomputed = cache.digests_at(pool, 1).await.expect("seq 1, evicted");
        assert!(!Arc::ptr_eq(&at_one, &recomputed), "the oldest went first");
        assert!(matches!(
            cache.digests_at(pool, 4).await,
            Err(DigestError::PastHead {
                as_of_seq: 4,
                head: 3
            })
        ));
        assert_eq!(cache.len(), 2, "a refusal is not kept");
    }
}
