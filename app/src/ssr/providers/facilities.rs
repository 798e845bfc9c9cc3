//! Facilities, their acknowledgements and reconciliations: whether each
//! jail's own list provably matches the registry (issue 15).
//!
//! A provider registers each facility under its own code. A facility
//! acknowledges the seqs it applied ("applied through N", kept forever,
//! as the provider-wide acknowledgements) and reconciles: it sends the
//! count and digest of the list it holds as of a seq, and the registry
//! answers whether that equals the privileged set at that seq
//! (`registry::digest`). A facility another provider served before
//! starts `pending` and becomes `live` at its first matching
//! reconciliation: a vendor switch is where lists silently shrink.
//! A provider has at most the facilities its cap allows ([`put`]); the
//! site admins hear of failing ones in batches (`facility_alerts`).
//!
//! Owns the tables `facilities`, `facility_acks` and
//! `facility_reconciliations`.

use sqlx::AnyPool;

use crate::domain::{FacilityCode, FacilityKind, FacilityName, FacilityStatus, Jurisdiction};
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::providers::facility_alerts::{close_incident, open_incident};
use crate::ssr::providers::{AckLog, AckRefusal, Caller, record_acknowledgement};
use crate::ssr::registry::{self, digest};

pub use crate::ssr::providers::facility_alerts::{ALERT_PERIOD_MS, notify_unhealthy, send_alerts};

/// Past this lag (the oldest change a facility has not acknowledged), a
/// facility is flagged and site admins are emailed.
pub const STALE_AFTER_MS: i64 = 60 * 60 * 1000;
/// Past this long without a matching reconciliation, likewise.
pub const UNRECONCILED_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// What a provider says of one facility (`PUT /api/v1/facilities/{code}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityInput {
    pub name: FacilityName,
    pub state: Jurisdiction,
    pub kind: FacilityKind,
}

/// A facility as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    pub id: i64,
    pub provider_id: i64,
    pub code: String,
    pub name: String,
    /// USPS code.
    pub state: String,
    pub kind: FacilityKind,
    pub status: FacilityStatus,
    /// The same facility under the provider that served it before.
    pub predecessor_id: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum FacilityError {
    #[error("this provider has no facility with the code {0:?}")]
    Unknown(String),
    #[error("the facility {0:?} is retired: PUT it again to bring it back")]
    Retired(String),
    #[error("seq {through_seq} is past the head of the change log ({head})")]
    AckPastHead { through_seq: i64, head: i64 },
    #[error("seq {through_seq} is before this facility's last acknowledgement ({previous})")]
    AckBehind { through_seq: i64, previous: i64 },
    #[error("seq {as_of_seq} is past the head of the change log ({head})")]
    AsOfPastHead { as_of_seq: i64, head: i64 },
    #[error("link a facility to another provider's facility, not to one of its own provider's")]
    SameProvider,
    /// The provider has `limit` facilities (not retired) already, the most
    /// it may have, and the request would add one.
    #[error(
        "this provider has {limit} facilities, the most it may have: retire one it no longer \
         serves (DELETE /api/v1/facilities/{{code}}), or ask the registry's administrators for more"
    )]
    TooMany { limit: u32 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<digest::DigestError> for FacilityError {
    fn from(error: digest::DigestError) -> Self {
        match error {
            digest::DigestError::PastHead { as_of_seq, head } => {
                FacilityError::AsOfPastHead { as_of_seq, head }
            }
            digest::DigestError::Database(cause) => FacilityError::Database(cause),
        }
    }
}

type FacilityRow = (
    i64,
    i64,
    String,
    String,
    String,
    FacilityKind,
    FacilityStatus,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
);

const FACILITY_COLUMNS: &str = "id, provider_id, code, name, state, kind, status, predecessor_id, \
                                created_at, updated_at, retired_at";

fn facility_from(row: FacilityRow) -> Facility {
    let (
        id,
        provider_id,
        code,
        name,
        state,
        kind,
        status,
        predecessor_id,
        created,
        updated,
        retired,
    ) = row;
    Facility {
        id,
        provider_id,
        code,
        name,
        state,
        kind,
        status,
        predecessor_id,
        created_at: created,
        updated_at: updated,
        retired_at: retired,
    }
}

/// Creates or updates (and un-retires) the caller's facility `code`.
/// Returns it and whether it is new. A new facility whose state and name
/// (ignoring case) another provider's facility has is taken for the same
/// place under a new vendor: it starts `pending`, linked to that one.
/// `TooMany` when creating it or bringing it back would give the provider
/// more than `max_facilities` not retired (updating one never does).
pub async fn put(
    pool: &AnyPool,
    provider_id: i64,
    code: &FacilityCode,
    input: &FacilityInput,
    max_facilities: u32,
) -> Result<(Facility, bool), FacilityError> {
    let mut transaction = db::begin_write(pool).await?;
    check_cap(&mut transaction, provider_id, code, max_facilities).await?;
    let now = now_millis();
    let updated = sqlx::query(
        "UPDATE facilities SET name = $1, state = $2, kind = $3, updated_at = $4, \
         retired_at = NULL WHERE provider_id = $5 AND code = $6",
    )
    .bind(input.name.as_str())
    .bind(input.state.code())
    .bind(input.kind)
    .bind(now)
    .bind(provider_id)
    .bind(code.as_str())
    .execute(&mut *transaction)
    .await?;
    let created = updated.rows_affected() == 0;
    if created {
        let predecessor: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM facilities WHERE provider_id <> $1 AND state = $2 \
             AND LOWER(name) = LOWER($3) ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(provider_id)
        .bind(input.state.code())
        .bind(input.name.as_str())
        .fetch_optional(&mut *transaction)
        .await?;
        let status = if predecessor.is_some() {
            FacilityStatus::Pending
        } else {
            FacilityStatus::Live
        };
        sqlx::query(
            "INSERT INTO facilities (provider_id, code, name, state, kind, status, \
             predecessor_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(provider_id)
        .bind(code.as_str())
        .bind(input.name.as_str())
        .bind(input.state.code())
        .bind(input.kind)
        .bind(status)
        .bind(predecessor)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
    }
    let facility = find(&mut transaction, provider_id, code.as_str()).await?;
    transaction.commit().await?;
    Ok((facility, created))
}

/// `TooMany` unless the provider may have facility `code` not retired:
/// it has it so already, or fewer than `max_facilities` others. Holds the
/// provider's named lock until `transaction` ends, so two creations
/// cannot both take the last place.
async fn check_cap(
    transaction: &mut sqlx::Transaction<'static, sqlx::Any>,
    provider_id: i64,
    code: &FacilityCode,
    max_facilities: u32,
) -> Result<(), FacilityError> {
    let lock = format!("facilities-of-provider:{provider_id}");
    db::lock_named(transaction, &lock).await?;
    // The provider's facilities not retired, or 0 when `code` is one.
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM facilities WHERE provider_id = $1 AND retired_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM facilities \
                         WHERE provider_id = $1 AND code = $2 AND retired_at IS NULL)",
    )
    .bind(provider_id)
    .bind(code.as_str())
    .fetch_one(&mut **transaction)
    .await?;
    if count >= i64::from(max_facilities) {
        return Err(FacilityError::TooMany {
            limit: max_facilities,
        });
    }
    Ok(())
}

async fn find(
    transaction: &mut sqlx::Transaction<'static, sqlx::Any>,
    provider_id: i64,
    code: &str,
) -> Result<Facility, FacilityError> {
    let row: Option<FacilityRow> = sqlx::query_as(&format!(
        "SELECT {FACILITY_COLUMNS} FROM facilities WHERE provider_id = $1 AND code = $2"
    ))
    .bind(provider_id)
    .bind(code)
    .fetch_optional(&mut **transaction)
    .await?;
    match row {
        Some(row) => Ok(facility_from(row)),
        None => Err(FacilityError::Unknown(code.to_owned())),
    }
}

/// The caller's facility `code`, unless unknown or retired.
async fn find_active(
    transaction: &mut sqlx::Transaction<'static, sqlx::Any>,
    provider_id: i64,
    code: &str,
) -> Result<Facility, FacilityError> {
    let facility = find(transaction, provider_id, code).await?;
    if facility.retired_at.is_some() {
        return Err(FacilityError::Retired(code.to_owned()));
    }
    Ok(facility)
}

/// A site admin says that facility `facility_id` is the place another
/// provider's facility `predecessor_id` served before (a vendor switch
/// the state and name did not reveal, as after a renaming): it becomes
/// `pending` until a reconciliation matches. Appended to the audit trail.
pub async fn link_predecessor(
    pool: &AnyPool,
    actor: &Actor,
    facility_id: i64,
    predecessor_id: i64,
) -> Result<(), FacilityError> {
    let mut transaction = db::begin_write(pool).await?;
    let find_by_id = |id: i64| {
        sqlx::query_as::<_, (i64, String, String, String)>(
            "SELECT f.provider_id, f.code, f.name, p.name FROM facilities f \
             JOIN providers p ON p.id = f.provider_id WHERE f.id = $1",
        )
        .bind(id)
    };
    let (provider, code, name, provider_name) = find_by_id(facility_id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| FacilityError::Unknown(facility_id.to_string()))?;
    let (old_provider, old_code, old_name, old_provider_name) = find_by_id(predecessor_id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| FacilityError::Unknown(predecessor_id.to_string()))?;
    if provider == old_provider {
        return Err(FacilityError::SameProvider);
    }
    sqlx::query(
        "UPDATE facilities SET predecessor_id = $1, status = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(predecessor_id)
    .bind(FacilityStatus::Pending)
    .bind(now_millis())
    .bind(facility_id)
    .execute(&mut *transaction)
    .await?;
    audit_trail::append(
        &mut transaction,
        actor,
        AuditAction::FacilityLinked,
        &format!("facility {code:?} {name:?} of {provider_name:?}"),
        &format!(
            "the same place as {old_code:?} {old_name:?} of {old_provider_name:?}: pending until it reconciles with a match"
        ),
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// Every facility, retired ones too: (id, provider id, provider's name,
/// code, name, state), by state and name. What a site admin links a
/// facility to.
pub async fn all_facilities(
    pool: &AnyPool,
) -> Result<Vec<(i64, i64, String, String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT f.id, f.provider_id, p.name, f.code, f.name, f.state FROM facilities f \
         JOIN providers p ON p.id = f.provider_id ORDER BY f.state, f.name, p.name",
    )
    .fetch_all(pool)
    .await
}

/// The provider's facilities that are not retired, by code.
pub async fn list(pool: &AnyPool, provider_id: i64) -> Result<Vec<Facility>, sqlx::Error> {
    let rows: Vec<FacilityRow> = sqlx::query_as(&format!(
        "SELECT {FACILITY_COLUMNS} FROM facilities \
         WHERE provider_id = $1 AND retired_at IS NULL ORDER BY code"
    ))
    .bind(provider_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(facility_from).collect())
}

/// Retires the caller's facility `code`; its acknowledgements and
/// reconciliations stay. Retiring a retired one again is accepted.
pub async fn retire(pool: &AnyPool, provider_id: i64, code: &str) -> Result<(), FacilityError> {
    let retired = sqlx::query(
        "UPDATE facilities SET retired_at = COALESCE(retired_at, $1) \
         WHERE provider_id = $2 AND code = $3",
    )
    .bind(now_millis())
    .bind(provider_id)
    .bind(code)
    .execute(pool)
    .await?;
    if retired.rows_affected() == 0 {
        return Err(FacilityError::Unknown(code.to_owned()));
    }
    Ok(())
}

/// Records that facility `code` applied the change log through
/// `through_seq`, by the same rules as the provider-wide acknowledgement
/// ([`record_acknowledgement`]). Returns its time (Unix ms).
pub async fn acknowledge(
    pool: &AnyPool,
    caller: &Caller,
    code: &str,
    through_seq: i64,
) -> Result<i64, FacilityError> {
    let mut transaction = db::begin_write(pool).await?;
    let facility = find_active(&mut transaction, caller.provider_id, code).await?;
    let acked_at = record_acknowledgement(
        &mut transaction,
        AckLog::Facility(facility.id),
        caller.key_id,
        through_seq,
    )
    .await?;
    transaction.commit().await?;
    Ok(acked_at)
}

impl From<AckRefusal> for FacilityError {
    fn from(refusal: AckRefusal) -> Self {
        match refusal {
            AckRefusal::PastHead { through_seq, head } => {
                FacilityError::AckPastHead { through_seq, head }
            }
            AckRefusal::Behind {
                through_seq,
                previous,
            } => FacilityError::AckBehind {
                through_seq,
                previous,
            },
            AckRefusal::Database(cause) => FacilityError::Database(cause),
        }
    }
}

/// What a facility claims to hold as of a seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub as_of_seq: i64,
    pub count: i64,
    /// 64 hex digits (either case).
    pub digest: String,
}

/// A reconciliation's result: the registry's own count and digest at the
/// claim's seq, and whether the claim equals them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub matched: bool,
    pub as_of_seq: i64,
    pub count: i64,
    pub digest: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// Compares facility `code`'s claim with the registry at the claim's seq
/// (its digest from `digests`, computed once per seq) and stores the
/// result. A match makes a `pending` facility `live` and closes any open
/// incident; a mismatch opens one, which the site admins hear of in the
/// next batch of alerts (`facility_alerts`).
pub async fn reconcile(
    pool: &AnyPool,
    digests: &digest::DigestCache,
    caller: &Caller,
    code: &str,
    claim: &Claim,
) -> Result<Reconciliation, FacilityError> {
    // Checked first, so an unknown facility costs no digest.
    {
        let mut transaction = pool.begin().await?;
        find_active(&mut transaction, caller.provider_id, code).await?;
        transaction.commit().await?;
    }
    let registry_digest = digests
        .digests_at(pool, claim.as_of_seq)
        .await?
        .whole
        .clone();
    let matched = registry_digest.count == claim.count
        && registry_digest.digest.eq_ignore_ascii_case(&claim.digest);
    let now = now_millis();

    let mut transaction = db::begin_write(pool).await?;
    let facility = find_active(&mut transaction, caller.provider_id, code).await?;
    sqlx::query(
        "INSERT INTO facility_reconciliations (facility_id, as_of_seq, claimed_count, \
         claimed_digest, registry_count, registry_digest, matched, at, key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(facility.id)
    .bind(claim.as_of_seq)
    .bind(claim.count)
    .bind(claim.digest.to_ascii_lowercase())
    .bind(registry_digest.count)
    .bind(&registry_digest.digest)
    .bind(matched)
    .bind(now)
    .bind(caller.key_id)
    .execute(&mut *transaction)
    .await?;
    if matched {
        sqlx::query("UPDATE facilities SET status = $1 WHERE id = $2")
            .bind(FacilityStatus::Live)
            .bind(facility.id)
            .execute(&mut *transaction)
            .await?;
        close_incident(&mut transaction, facility.id).await?;
    } else {
        let reason = format!(
            "its reconciliation at seq {} claimed {} numbers; the registry held {}{}",
            claim.as_of_seq,
            claim.count,
            registry_digest.count,
            if registry_digest.count == claim.count {
                " (the same count, but other numbers)"
            } else {
                ""
            }
        );
        let _opened = open_incident(&mut transaction, facility.id, &reason, now).await?;
    }
    transaction.commit().await?;
    Ok(Reconciliation {
        matched,
        as_of_seq: claim.as_of_seq,
        count: registry_digest.count,
        digest: registry_digest.digest,
        at: now,
    })
}

/// A facility as the site admins' page shows it, with its lag and its
/// last reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityHealth {
    pub facility: Facility,
    pub provider: String,
    /// The highest seq it acknowledged, and when (None: never).
    pub acked_seq: Option<i64>,
    pub acked_at: Option<i64>,
    /// Seqs behind the head.
    pub lag_seqs: i64,
    /// How long the oldest change it has not acknowledged has waited
    /// (ms; 0 when it is at the head).
    pub lag_ms: i64,
    /// The last reconciliation: when, and whether it matched.
    pub reconciled_at: Option<i64>,
    pub reconciled_matched: Option<bool>,
    /// The last matching reconciliation (None: never).
    pub matched_at: Option<i64>,
}

impl FacilityHealth {
    /// Lagging past [`STALE_AFTER_MS`].
    pub fn stale(&self) -> bool {
        self.lag_ms > STALE_AFTER_MS
    }

    /// No matching reconciliation within [`UNRECONCILED_AFTER_MS`] (of
    /// now, or of its creation for a new facility).
    pub fn unreconciled(&self, now: i64) -> bool {
        now - self.matched_at.unwrap_or(self.facility.created_at) > UNRECONCILED_AFTER_MS
    }
}

/// One facility with what its health is computed from, read in one
/// query. `last_matched` is 0 or 1: the `Any` driver cannot decode
/// SQLite's booleans.
#[derive(sqlx::FromRow)]
struct HealthRow {
    id: i64,
    provider_id: i64,
    code: String,
    name: String,
    state: String,
    kind: FacilityKind,
    status: FacilityStatus,
    predecessor_id: Option<i64>,
    created_at: i64,
    updated_at: i64,
    retired_at: Option<i64>,
    provider: String,
    acked_seq: Option<i64>,
    acked_at: Option<i64>,
    reconciled_at: Option<i64>,
    last_matched: Option<i64>,
    matched_at: Option<i64>,
    /// When the oldest change it has not acknowledged was made.
    oldest_waiting: Option<i64>,
}

/// Every facility that is not retired, with its health, by provider,
/// state and name.
pub async fn health(pool: &AnyPool) -> Result<Vec<FacilityHealth>, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let head = registry::head(&mut *transaction).await?;
    let rows: Vec<HealthRow> = sqlx::query_as(
        "SELECT f.id, f.provider_id, f.code, f.name, f.state, f.kind, f.status, \
           f.predecessor_id, f.created_at, f.updated_at, f.retired_at, p.name AS provider, \
           (SELECT MAX(a.through_seq) FROM facility_acks a WHERE a.facility_id = f.id) AS acked_seq, \
           (SELECT MAX(a.acked_at) FROM facility_acks a WHERE a.facility_id = f.id) AS acked_at, \
           (SELECT MAX(r.at) FROM facility_reconciliations r WHERE r.facility_id = f.id) \
             AS reconciled_at, \
           (SELECT CASE WHEN r.matched THEN 1 ELSE 0 END FROM facility_reconciliations r \
             WHERE r.facility_id = f.id ORDER BY r.at DESC, r.id DESC LIMIT 1) AS last_matched, \
           (SELECT MAX(r.at) FROM facility_reconciliations r \
             WHERE r.facility_id = f.id AND r.matched = TRUE) AS matched_at, \
           (SELECT MIN(c.at) FROM registry_changes c WHERE c.seq > COALESCE( \
             (SELECT MAX(a.through_seq) FROM facility_acks a WHERE a.facility_id = f.id), 0)) \
             AS oldest_waiting \
         FROM facilities f JOIN providers p ON p.id = f.provider_id \
         WHERE f.retired_at IS NULL ORDER BY p.name, f.state, f.name, f.code",
    )
    .fetch_all(&mut *transaction)
    .await?;
    transaction.commit().await?;
    let now = now_millis();
    Ok(rows
        .into_iter()
        .map(|row| {
            let facility = facility_from((
                row.id,
                row.provider_id,
                row.code,
                row.name,
                row.state,
                row.kind,
                row.status,
                row.predecessor_id,
                row.created_at,
                row.updated_at,
                row.retired_at,
            ));
            FacilityHealth {
                facility,
                provider: row.provider,
                acked_seq: row.acked_seq,
                acked_at: row.acked_at,
                lag_seqs: head - row.acked_seq.unwrap_or(0),
                lag_ms: row.oldest_waiting.map_or(0, |at| (now - at).max(0)),
                reconciled_at: row.reconciled_at,
                reconciled_matched: row.last_matched.map(|matched| matched == 1),
                matched_at: row.matched_at,
            }
        })
        .collect())
}

/// A facility as an attorney sees it for one of their numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedAt {
    pub provider: String,
    pub code: String,
    pub name: String,
    pub state: String,
    pub status: FacilityStatus,
    /// When it first acknowledged a seq at or past the one that added
    /// the number (None: not yet).
    pub applied_at: Option<i64>,
    /// Its last matching reconciliation at or past that seq (None: none).
    pub reconciled_at: Option<i64>,
}

/// provider, code, name, state, status, applied at, reconciled at.
type AppliedRow = (
    String,
    String,
    String,
    String,
    FacilityStatus,
    Option<i64>,
    Option<i64>,
);

/// For the number `e164` (privileged now), every facility not retired:
/// whether it applied the number and reconciled since, matching `search`
/// (a part of the facility's name, or a state's USPS code; empty: all),
/// by state and name, at most `limit`.
pub async fn applied_at(
    pool: &AnyPool,
    e164: &str,
    search: &str,
    limit: i64,
) -> Result<Vec<AppliedAt>, sqlx::Error> {
    let search = search.trim();
    let pattern = format!("%{}%", search.to_lowercase());
    let rows: Vec<AppliedRow> = sqlx::query_as(
        "SELECT p.name, f.code, f.name, f.state, f.status, \
               (SELECT MIN(a.acked_at) FROM facility_acks a \
                WHERE a.facility_id = f.id AND a.through_seq >= i.added_seq), \
               (SELECT MAX(r.at) FROM facility_reconciliations r \
                WHERE r.facility_id = f.id AND r.matched = TRUE AND r.as_of_seq >= i.added_seq) \
             FROM facilities f JOIN providers p ON p.id = f.provider_id \
             JOIN privileged_intervals i ON i.e164 = $1 AND i.until IS NULL \
             WHERE f.retired_at IS NULL \
               AND ($2 = '' OR LOWER(f.name) LIKE $3 OR f.state = UPPER($2)) \
             ORDER BY f.state, f.name, p.name LIMIT $4",
    )
    .bind(e164)
    .bind(search)
    .bind(&pattern)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(provider, code, name, state, status, applied_at, reconciled_at)| AppliedAt {
                provider,
                code,
                name,
                state,
                status,
                applied_at,
                reconciled_at,
            },
        )
        .collect())
}
