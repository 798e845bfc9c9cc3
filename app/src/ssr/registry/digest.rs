//! The registry at a past seq, and its digests: what a facility compares
//! its own list with (issue 15's public contract).
//!
//! A set's digest is the SHA-256 (lower-case hex) of its E.164 numbers
//! sorted by byte order, each followed by `\n`; the empty set's is the
//! SHA-256 of nothing. A number's bucket is the first byte of the SHA-256
//! of its E.164 text, so 256 bucket digests locate a drift while each
//! bucket holds about 1/256 of the numbers.

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
}
