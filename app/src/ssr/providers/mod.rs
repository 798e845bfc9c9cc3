//! Phone providers, their API keys and what they do with the registry:
//! acknowledgements ("applied through seq N", kept forever) and the log of
//! their reads. Keys are shown once; only their SHA-256 is stored, with a
//! visible prefix so an admin can tell them apart.
//!
//! Owns the tables `providers`, `provider_keys`, `provider_acks`,
//! `provider_reads`, `webhook_endpoints` and `webhook_deliveries`, and the
//! webhook delivery job. May use: `registry` (head, feed, privileged set)
//! and infrastructure.

pub mod facilities;
mod facility_alerts;
pub mod webhooks;

use base64::Engine as _;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Transaction};
use std::collections::HashMap;

use crate::domain::closed_set::closed_set;
use crate::error::AppError;
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::registry;

closed_set!(
    /// What a key may do (`provider_keys.scopes`, space-separated).
    pub Scope {
        /// Snapshot, changes, acknowledgements, lookups.
        RegistryRead = "registry:read",
        /// Call-record audits.
        AuditWrite = "audit:write",
    }
);

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("a provider named {0:?} exists already")]
    NameTaken(String),
    #[error("no provider is named {0:?}")]
    UnknownProvider(String),
    #[error("a provider's name is 1 to 100 printable characters")]
    InvalidName,
    #[error("no key starts with {0:?}")]
    UnknownKey(String),
    #[error("seq {through_seq} is past the head of the change log ({head})")]
    AckPastHead { through_seq: i64, head: i64 },
    #[error("seq {through_seq} is before this provider's last acknowledgement ({previous})")]
    AckBehind { through_seq: i64, previous: i64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn checked_name(name: &str) -> Result<&str, ProviderError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ProviderError::InvalidName);
    }
    Ok(name)
}

/// Registers a provider; its id. Appended to the audit trail.
pub async fn create_provider(
    pool: &AnyPool,
    actor: &Actor,
    name: &str,
) -> Result<i64, ProviderError> {
    let name = checked_name(name)?;
    let mut transaction = db::begin_write(pool).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO providers (name, created_at) VALUES ($1, $2) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(name)
    .bind(now_millis())
    .fetch_optional(&mut *transaction)
    .await?;
    let id = id.ok_or_else(|| ProviderError::NameTaken(name.to_owned()))?;
    audit_trail::append(
        &mut transaction,
        actor,
        AuditAction::ProviderCreated,
        &format!("provider {id} {name:?}"),
        "",
    )
    .await?;
    transaction.commit().await?;
    Ok(id)
}

/// The SHA-256 of a key, as stored.
pub fn key_hash(key: &str) -> String {
    format!("{:x}", Sha256::digest(key.as_bytes()))
}

/// A key as it is shown once: `crk_` and 43 characters of base64url
/// (256 random bits); its first 12 characters are its visible prefix.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: String,
    pub prefix: String,
}

/// Makes a key for the provider named `name` with `scopes`. Appended to
/// the audit trail (its prefix, never the key).
pub async fn create_key(
    pool: &AnyPool,
    actor: &Actor,
    name: &str,
    scopes: &[Scope],
) -> Result<NewKey, ProviderError> {
    let mut transaction = db::begin_write(pool).await?;
    let provider_id: i64 = sqlx::query_scalar("SELECT id FROM providers WHERE name = $1")
        .bind(name.trim())
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| ProviderError::UnknownProvider(name.to_owned()))?;
    let mut secret = [0_u8; 32];
    OsRng.fill_bytes(&mut secret);
    let key = format!(
        "crk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let prefix: String = key.chars().take(12).collect();
    let scopes: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
    sqlx::query(
        "INSERT INTO provider_keys (provider_id, prefix, key_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(provider_id)
    .bind(&prefix)
    .bind(key_hash(&key))
    .bind(scopes.join(" "))
    .bind(now_millis())
    .execute(&mut *transaction)
    .await?;
    audit_trail::append(
        &mut transaction,
        actor,
        AuditAction::ProviderKeyCreated,
        &format!("key {prefix}… of provider {provider_id} {:?}", name.trim()),
        &format!("scopes: {}", scopes.join(" ")),
    )
    .await?;
    transaction.commit().await?;
    Ok(NewKey { key, prefix })
}

/// Revokes the key with this visible prefix; it stops working within the
/// API's key cache time (2 s), and its long-polls and snapshots in flight
/// end within about as long ([`key_is_active`]). When it was the
/// provider's last active key, the provider's webhook endpoint is disabled
/// in the same transaction: nobody holding a key of that provider is left
/// to be told. A new key does not re-enable it; registering the endpoint
/// again does. Appended to the audit trail.
pub async fn revoke_key(pool: &AnyPool, actor: &Actor, prefix: &str) -> Result<(), ProviderError> {
    let now = now_millis();
    let mut transaction = db::begin_write(pool).await?;
    let revoked: Option<i64> = sqlx::query_scalar(
        "UPDATE provider_keys SET revoked_at = $1 WHERE prefix = $2 AND revoked_at IS NULL \
         RETURNING provider_id",
    )
    .bind(now)
    .bind(prefix.trim())
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(provider_id) = revoked else {
        return Err(ProviderError::UnknownKey(prefix.to_owned()));
    };
    sqlx::query(
        "UPDATE webhook_endpoints SET disabled_at = $1, \
           disabled_reason = 'the provider has no active API key (its last one was revoked)' \
         WHERE provider_id = $2 AND disabled_at IS NULL AND NOT EXISTS ( \
           SELECT 1 FROM provider_keys WHERE provider_id = $2 AND revoked_at IS NULL)",
    )
    .bind(now)
    .bind(provider_id)
    .execute(&mut *transaction)
    .await?;
    audit_trail::append(
        &mut transaction,
        actor,
        AuditAction::ProviderKeyRevoked,
        &format!("key {}… of provider {provider_id}", prefix.trim()),
        "",
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// Whether the key is still unrevoked, read from the database (not the
/// API's key cache): what a long request checks now and then, so a
/// revoked key's long-poll or snapshot does not run on.
pub async fn key_is_active(pool: &AnyPool, key_id: i64) -> Result<bool, sqlx::Error> {
    let active: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM provider_keys WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(key_id)
    .fetch_one(pool)
    .await?;
    Ok(active > 0)
}

/// A key in use: who it speaks for and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: i64,
    pub provider_id: i64,
    pub scopes: Vec<Scope>,
}

/// The caller a presented key stands for, unless unknown or revoked.
pub async fn authenticate(pool: &AnyPool, key: &str) -> Result<Option<Caller>, sqlx::Error> {
    let found: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT id, provider_id, scopes FROM provider_keys \
         WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(key_hash(key))
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|(key_id, provider_id, scopes)| Caller {
        key_id,
        provider_id,
        scopes: scopes.split(' ').filter_map(Scope::parse).collect(),
    }))
}

/// Whose acknowledgements: the provider's own log (`provider_acks`) or
/// one facility's (`facility_acks`); both tables have the same columns
/// but their owner's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AckLog {
    Provider(i64),
    Facility(i64),
}

/// Why an acknowledgement is refused, whoever's log it is.
#[derive(Debug)]
pub(crate) enum AckRefusal {
    PastHead { through_seq: i64, head: i64 },
    Behind { through_seq: i64, previous: i64 },
    Database(sqlx::Error),
}

impl From<sqlx::Error> for AckRefusal {
    fn from(error: sqlx::Error) -> Self {
        AckRefusal::Database(error)
    }
}

/// The acknowledgement rules, one place for the provider's log and each
/// facility's: past the head, or behind the log's last acknowledgement, is
/// refused; the same seq again is accepted and answered with its first
/// time. Returns that time (Unix ms). In the caller's write transaction.
pub(crate) async fn record_acknowledgement(
    transaction: &mut Transaction<'_, Any>,
    log: AckLog,
    key_id: i64,
    through_seq: i64,
) -> Result<i64, AckRefusal> {
    let (table, owner, owner_id) = match log {
        AckLog::Provider(id) => ("provider_acks", "provider_id", id),
        AckLog::Facility(id) => ("facility_acks", "facility_id", id),
    };
    let head = registry::head(&mut **transaction).await?;
    if through_seq > head {
        return Err(AckRefusal::PastHead { through_seq, head });
    }
    let previous: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT MAX(through_seq) FROM {table} WHERE {owner} = $1"
    ))
    .bind(owner_id)
    .fetch_one(&mut **transaction)
    .await?;
    if let Some(previous) = previous
        && previous > through_seq
    {
        return Err(AckRefusal::Behind {
            through_seq,
            previous,
        });
    }
    sqlx::query(&format!(
        "INSERT INTO {table} ({owner}, through_seq, acked_at, key_id) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
    ))
    .bind(owner_id)
    .bind(through_seq)
    .bind(now_millis())
    .bind(key_id)
    .execute(&mut **transaction)
    .await?;
    Ok(sqlx::query_scalar(&format!(
        "SELECT acked_at FROM {table} WHERE {owner} = $1 AND through_seq = $2"
    ))
    .bind(owner_id)
    .bind(through_seq)
    .fetch_one(&mut **transaction)
    .await?)
}

impl From<AckRefusal> for ProviderError {
    fn from(refusal: AckRefusal) -> Self {
        match refusal {
            AckRefusal::PastHead { through_seq, head } => {
                ProviderError::AckPastHead { through_seq, head }
            }
            AckRefusal::Behind {
                through_seq,
                previous,
            } => ProviderError::AckBehind {
                through_seq,
                previous,
            },
            AckRefusal::Database(cause) => cause.into(),
        }
    }
}

/// Records that the provider applied the change log through `through_seq`
/// ([`record_acknowledgement`]'s rules). Returns its time (Unix ms).
pub async fn acknowledge(
    pool: &AnyPool,
    caller: &Caller,
    through_seq: i64,
) -> Result<i64, ProviderError> {
    let mut transaction = db::begin_write(pool).await?;
    let acked_at = record_acknowledgement(
        &mut transaction,
        AckLog::Provider(caller.provider_id),
        caller.key_id,
        through_seq,
    )
    .await?;
    transaction.commit().await?;
    Ok(acked_at)
}

/// One read of the registry, to be logged.
#[derive(Debug, Clone)]
pub struct Read {
    pub key_id: i64,
    /// What was read (`snapshot`, `changes after=…`), kept as written; or
    /// None for a look-up of one number, which is only counted per key
    /// and hour (never which number: that would record which lawyers a
    /// facility's callers reached).
    pub what: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

/// One hour, in milliseconds: the granularity of the look-up counts.
pub const LOOKUP_COUNT_HOUR_MS: i64 = 60 * 60 * 1000;

/// Writes logged reads in one statement per 500, adds the look-ups to
/// their keys' hourly counts, and records the keys' last use.
pub async fn record_reads(pool: &AnyPool, reads: &[Read]) -> Result<(), sqlx::Error> {
    let mut transaction = db::begin_write(pool).await?;
    let mut lookups: std::collections::BTreeMap<(i64, i64), i64> = Default::default();
    for read in reads.iter().filter(|read| read.what.is_none()) {
        let hour = read.at - read.at.rem_euclid(LOOKUP_COUNT_HOUR_MS);
        *lookups.entry((read.key_id, hour)).or_default() += 1;
    }
    for ((key_id, hour_start), count) in lookups {
        sqlx::query(
            "INSERT INTO provider_lookup_counts (key_id, hour_start, lookups) VALUES ($1, $2, $3) \
             ON CONFLICT (key_id, hour_start) DO UPDATE \
             SET lookups = provider_lookup_counts.lookups + excluded.lookups",
        )
        .bind(key_id)
        .bind(hour_start)
        .bind(count)
        .execute(&mut *transaction)
        .await?;
    }
    let exact: Vec<(&Read, &str)> = reads
        .iter()
        .filter_map(|read| read.what.as_deref().map(|what| (read, what)))
        .collect();
    for chunk in exact.chunks(500) {
        let sql = format!(
            "INSERT INTO provider_reads (key_id, what, at) VALUES {}",
            crate::ssr::infra::db::values_placeholders(&transaction, chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (read, what) in chunk {
            query = query.bind(read.key_id).bind(*what).bind(read.at);
        }
        query.execute(&mut *transaction).await?;
    }
    let mut last_use = std::collections::HashMap::new();
    for read in reads {
        let at = last_use.entry(read.key_id).or_insert(read.at);
        *at = (*at).max(read.at);
    }
    for (key_id, at) in last_use {
        sqlx::query(
            "UPDATE provider_keys SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at)
        .bind(key_id)
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await
}

/// Deletes the hourly look-up counts of hours that started before
/// `cutoff` (Unix ms; housekeeping, `LOOKUP_COUNTS_RETENTION_DAYS`).
/// Returns how many rows went.
pub async fn forget_lookup_counts_before(pool: &AnyPool, cutoff: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM provider_lookup_counts WHERE hour_start < $1")
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// The providers that have applied the current privileged interval of
/// `e164` (acknowledged a seq at or past the one that added it), with
/// when they first did, by name.
pub async fn applied_by(pool: &AnyPool, e164: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    Ok(applied_by_each(pool, &[e164.to_owned()])
        .await?
        .remove(e164)
        .unwrap_or_default())
}

/// [`applied_by`] for each of `e164s` in one query, by number; a number
/// no provider has applied is absent.
pub async fn applied_by_each(
    pool: &AnyPool,
    e164s: &[String],
) -> Result<HashMap<String, Vec<(String, i64)>>, sqlx::Error> {
    if e164s.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT i.e164, p.name, MIN(a.acked_at) FROM privileged_intervals i \
         JOIN provider_acks a ON a.through_seq >= i.added_seq \
         JOIN providers p ON p.id = a.provider_id \
         WHERE i.until IS NULL AND i.e164 IN ({}) \
         GROUP BY i.e164, p.name ORDER BY i.e164, p.name",
        crate::ssr::infra::db::numbered_list(e164s.len())
    );
    let mut query = sqlx::query_as::<_, (String, String, i64)>(&sql);
    for e164 in e164s {
        query = query.bind(e164);
    }
    let mut by_number: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for (e164, name, at) in query.fetch_all(pool).await? {
        by_number.entry(e164).or_default().push((name, at));
    }
    Ok(by_number)
}

/// A provider as the site admin's overview shows it.
#[derive(Debug, Clone)]
pub struct ProviderStatus {
    pub name: String,
    /// The highest seq it acknowledged, and when (None: never).
    pub acked_seq: Option<i64>,
    pub acked_at: Option<i64>,
    pub keys: Vec<KeyStatus>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyStatus {
    pub prefix: String,
    pub scopes: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Every provider, with its acknowledgement and keys, by name.
pub async fn overview(pool: &AnyPool) -> Result<Vec<ProviderStatus>, sqlx::Error> {
    let providers: Vec<(i64, String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT p.id, p.name, \
           (SELECT MAX(through_seq) FROM provider_acks a WHERE a.provider_id = p.id), \
           (SELECT MAX(acked_at) FROM provider_acks a WHERE a.provider_id = p.id) \
         FROM providers p ORDER BY p.name",
    )
    .fetch_all(pool)
    .await?;
    let mut statuses = Vec::with_capacity(providers.len());
    for (id, name, acked_seq, acked_at) in providers {
        let keys = sqlx::query_as(
            "SELECT prefix, scopes, created_at, last_used_at, revoked_at FROM provider_keys \
             WHERE provider_id = $1 ORDER BY created_at DESC",
        )
        .bind(id)
        .fetch_all(pool)
        .await?;
        statuses.push(ProviderStatus {
            name,
            acked_seq,
            acked_at,
            keys,
        });
    }
    Ok(statuses)
}

impl From<ProviderError> for AppError {
    fn from(error: ProviderError) -> Self {
        match error {
            ProviderError::Database(cause) => AppError::unexpected(cause),
            other => AppError::Validation(capitalised(&other.to_string())),
        }
    }
}

/// "a name is needed" → "A name is needed."
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(*scope));
        }
        assert_eq!(Scope::parse("registry:write"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(checked_name("Securus").is_ok());
        assert!(checked_name("  ").is_err());
        assert!(checked_name("bell\u{7}").is_err());
    }
}
