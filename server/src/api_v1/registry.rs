//! Reading the registry: the snapshot, the change feed, acknowledgements
//! and the look-up of one number, now or at a past instant.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::domain::phone::PhoneNumber;
use app::ssr::providers::{self, ProviderError, Scope};
use app::ssr::registry::mirror::PrivilegeNow;
use app::ssr::registry::{self, digest};
use app::ssr::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::read_log::ReadLog;
use super::time::{parse_rfc3339, rfc3339};

/// Default and largest page of the change feed.
const DEFAULT_LIMIT: i64 = 1000;
const MAX_LIMIT: i64 = 10_000;
/// Longest long-poll, in seconds.
pub(super) const MAX_WAIT_SECS: u64 = 60;
/// How often a long request (long-poll, snapshot) checks that its key is
/// still unrevoked: as often as a revoked key could pass the key cache.
const KEY_CHECK_EVERY: Duration = super::auth::KEY_CACHE_TTL;

/// A privileged number in the snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotNumber {
    /// E.164, e.g. "+12024561111".
    pub e164: String,
    /// When it became privileged (RFC 3339).
    pub since: String,
}

/// The privileged set and the seq it reflects (`application/json`).
/// With `Accept: application/x-ndjson`: a first line `{"as_of_seq": N}`,
/// then one `SnapshotNumber` a line.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    pub as_of_seq: i64,
    /// Sorted by e164.
    pub numbers: Vec<SnapshotNumber>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// The registry as it was at this seq (at most the head); the head
    /// when absent.
    as_of_seq: Option<String>,
    /// Only the numbers of this bucket (0 to 255: the first byte of the
    /// SHA-256 of the E.164 text), as listed by /registry/digests.
    bucket: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/registry/snapshot",
    tag = "registry",
    params(SnapshotQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "The privileged numbers, streamed. With `Accept: application/x-ndjson` the same as NDJSON: a first line {\"as_of_seq\": N}, then one SnapshotNumber a line.", body = Snapshot),
        (status = 400, description = "A malformed `as_of_seq` or `bucket`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`as_of_seq` is past the head", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn snapshot(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<SnapshotQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let ndjson = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/x-ndjson"));
    let as_of_seq = match query.as_of_seq.as_deref() {
        Some(raw) => Some(number_param(Some(raw), "as_of_seq", 0, 0..=i64::MAX)?),
        None => None,
    };
    let bucket = match query.bucket.as_deref() {
        Some(raw) => Some(number_param(Some(raw), "bucket", 0, 0..=255)? as u8),
        None => None,
    };
    let pool = state.database.pool().clone();
    // Begun before answering, so a seq past the head is a 409, not a
    // body cut short.
    let reading = match (as_of_seq, bucket) {
        (None, None) => Reading::Now(digest::begin_read(&pool).await?),
        (as_of_seq, bucket) => {
            let as_of_seq = match as_of_seq {
                Some(seq) => seq,
                None => registry::head(&pool).await?,
            };
            let transaction = digest::begin_read_at(&pool, as_of_seq)
                .await
                .map_err(digest_refusal)?;
            Reading::At {
                transaction,
                as_of_seq,
                bucket,
            }
        }
    };
    log.record(
        caller.0.key_id,
        match (as_of_seq, bucket) {
            (None, None) => "snapshot".into(),
            (seq, bucket) => format!("snapshot as_of_seq={seq:?} bucket={bucket:?}"),
        },
    );
    let (sender, receiver) = mpsc::channel::<Bytes>(4);
    let key_id = caller.0.key_id;
    // Set once the last chunk is handed over: a channel that closes before
    // it was cut short, and the body must end with an error, not look whole.
    let whole = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce_snapshot(reading, ndjson, sender, whole.clone()));
    // A key revoked while its snapshot streams ends the body with an
    // error (the client sees it cut off, never a whole document) and stops
    // the producer: the answer is raced against every chunk, so it ends
    // the body even while the producer waits on a slow reader. The check
    // runs in its own task: a body is polled only while its client reads,
    // and a check suspended mid-query by a stalled client would keep a
    // pooled connection for as long as the client stalls.
    let (revoked_sender, revoked_receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(watch_revocation(
        state.database.pool().clone(),
        key_id,
        producer,
        revoked_sender,
    ));
    let revoked = Box::pin(async move {
        match revoked_receiver.await {
            Ok(error) => error,
            // The watch ended without a revocation: the read finished.
            Err(_) => std::future::pending().await,
        }
    });
    let chunks = futures::stream::unfold(
        (receiver, revoked, whole, false),
        |(mut receiver, mut revoked, whole, ended)| async move {
            if ended {
                return None;
            }
            tokio::select! {
                chunk = receiver.recv() => match chunk {
                    Some(chunk) => Some((Ok(chunk), (receiver, revoked, whole, false))),
                    None if whole.load(Ordering::Acquire) => None,
                    None => Some((
                        Err(std::io::Error::other("snapshot cut off")),
                        (receiver, revoked, whole, true),
                    )),
                },
                error = &mut revoked => Some((Err(error), (receiver, revoked, whole, true))),
            }
        },
    );
    // Fused: the compression layer polls again after the end, which a bare
    // `unfold` answers with a panic (found by schemathesis).
    let body = Body::from_stream(futures::StreamExt::fuse(chunks));
    let content_type = if ndjson {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// A seq past the head is the provider's 409.
fn digest_refusal(error: digest::DigestError) -> ApiError {
    match error {
        digest::DigestError::PastHead { .. } => ApiError::Conflict(error.to_string()),
        digest::DigestError::Database(cause) => ApiError::internal(cause),
    }
}

/// Sends the error that ends the body once the key is found revoked
/// (checked every [`KEY_CHECK_EVERY`]), and stops the snapshot's read.
/// Ends without sending once the read has finished or the body is gone;
/// a failed check is tried again at the next.
async fn watch_revocation(
    pool: AnyPool,
    key_id: i64,
    producer: tokio::task::JoinHandle<()>,
    revoked: tokio::sync::oneshot::Sender<std::io::Error>,
) {
    loop {
        tokio::time::sleep(KEY_CHECK_EVERY).await;
        if producer.is_finished() || revoked.is_closed() {
            return;
        }
        if let Ok(false) = providers::key_is_active(&pool, key_id).await {
            producer.abort();
            tracing::info!(key_id, "snapshot ended: its key was revoked");
            let _ = revoked.send(std::io::Error::other("the API key was revoked"));
            return;
        }
    }
}

/// What a snapshot reads: the set now, or at a past seq (one bucket of
/// it, or all), each in its own read transaction.
enum Reading {
    Now(Transaction<'static, Any>),
    At {
        transaction: Transaction<'static, Any>,
        as_of_seq: i64,
        bucket: Option<u8>,
    },
}

/// Longest a snapshot may spend reading the database into its spool file.
const SPOOL_DEADLINE: Duration = Duration::from_secs(300);
/// Longest a client may leave a chunk unread before its snapshot is
/// abandoned (the body then ends with an error).
const STALL_LIMIT: Duration = Duration::from_secs(120);
/// The size of the chunks the body is sent in.
const CHUNK_BYTES: usize = 64 * 1024;

/// Why a snapshot could not be spooled.
#[derive(Debug, thiserror::Error)]
enum SpoolError {
    #[error("reading the registry: {0}")]
    Database(#[from] sqlx::Error),
    #[error("writing the spool file: {0}")]
    Disk(#[from] std::io::Error),
    #[error("reading the registry took longer than {} s", SPOOL_DEADLINE.as_secs())]
    Deadline,
}

/// Spools the snapshot to a temporary file, releasing its database
/// connection as soon as the read is done, then hands the file to the body
/// in chunks. A slow or stalled reader so holds a file, never one of the
/// pool's connections (issue 16, item 4); one stalled past [`STALL_LIMIT`]
/// is dropped. Sets `whole` only once every chunk was handed over.
async fn produce_snapshot(
    reading: Reading,
    ndjson: bool,
    sender: mpsc::Sender<Bytes>,
    whole: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};

    let spooled = match tokio::time::timeout(SPOOL_DEADLINE, spool_snapshot(reading, ndjson)).await
    {
        Ok(spooled) => spooled,
        Err(_) => Err(SpoolError::Deadline),
    };
    let mut file = match spooled {
        Ok(file) => file,
        Err(error) => {
            tracing::error!(error = %error, "snapshot failed");
            return;
        }
    };
    if let Err(error) = file.rewind().await {
        tracing::error!(error = %error, "snapshot spool unreadable");
        return;
    }
    loop {
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        match (&mut file)
            .take(CHUNK_BYTES as u64)
            .read_to_end(&mut chunk)
            .await
        {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                tracing::error!(error = %error, "snapshot spool unreadable");
                return;
            }
        }
        match tokio::time::timeout(STALL_LIMIT, sender.send(Bytes::from(chunk))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return, // the client went away
            Err(_) => {
                tracing::info!("snapshot abandoned: its reader stalled");
                return;
            }
        }
    }
    whole.store(true, Ordering::Release);
}

/// Writes the snapshot to an unnamed temporary file from one consistent
/// read (so memory stays flat), and commits the read.
async fn spool_snapshot(reading: Reading, ndjson: bool) -> Result<tokio::fs::File, SpoolError> {
    use futures::TryStreamExt;
    use tokio::io::AsyncWriteExt;

    let (mut transaction, as_of_seq, bucket, sql) = match reading {
        Reading::Now(transaction) => (
            transaction,
            None,
            None,
            "SELECT e164, since FROM privileged_intervals WHERE until IS NULL ORDER BY e164",
        ),
        Reading::At {
            transaction,
            as_of_seq,
            bucket,
        } => {
            let sql = digest::numbers_at_sql(&transaction);
            (transaction, Some(as_of_seq), bucket, sql)
        }
    };
    let head = match as_of_seq {
        Some(seq) => seq,
        None => registry::head(&mut *transaction).await?,
    };
    let file = tokio::fs::File::from_std(tempfile::tempfile()?);
    let mut out = tokio::io::BufWriter::with_capacity(CHUNK_BYTES, file);
    if ndjson {
        out.write_all(format!("{{\"as_of_seq\":{head}}}\n").as_bytes())
            .await?;
    } else {
        out.write_all(format!("{{\"as_of_seq\":{head},\"numbers\":[").as_bytes())
            .await?;
    }
    let mut first = true;
    {
        let mut query = sqlx::query_as::<_, (String, i64)>(sql);
        if let Some(seq) = as_of_seq {
            query = query.bind(seq);
        }
        let mut rows = query.fetch(&mut *transaction);
        while let Some((e164, since)) = rows.try_next().await? {
            if bucket.is_some_and(|bucket| digest::bucket_of(&e164) != bucket) {
                continue;
            }
            // E.164 is `+` and digits: nothing in it needs escaping.
            let item = format!("{{\"e164\":\"{e164}\",\"since\":\"{}\"}}", rfc3339(since));
            if ndjson {
                out.write_all(item.as_bytes()).await?;
                out.write_all(b"\n").await?;
            } else {
                if !first {
                    out.write_all(b",").await?;
                }
                out.write_all(item.as_bytes()).await?;
            }
            first = false;
        }
    }
    transaction.commit().await?;
    if !ndjson {
        out.write_all(b"]}").await?;
    }
    out.flush().await?;
    Ok(out.into_inner())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Changes after this seq (default 0: from the start).
    after: Option<String>,
    /// At most this many (default 1000, at most 10000).
    limit: Option<String>,
    /// Seconds to wait for a change when there is none yet (at most 60).
    wait: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeItem {
    pub seq: i64,
    pub e164: String,
    /// "add" or "remove".
    pub op: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<ChangeItem>,
    /// The `after` of the next request.
    pub next_after: i64,
    pub has_more: bool,
}

/// A whole number in `range`, or a 400 naming the parameter.
fn number_param(
    raw: Option<&str>,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|value| range.contains(value))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

#[utoipa::path(
    get,
    path = "/api/v1/registry/changes",
    tag = "registry",
    params(ChangesQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Changes after `after`, in seq order", body = ChangesPage),
        (status = 400, description = "A malformed `after`, `limit` or `wait`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn changes(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    caller: Caller,
    Query(query): Query<ChangesQuery>,
) -> Result<Json<ChangesPage>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let after = number_param(query.after.as_deref(), "after", 0, 0..=i64::MAX)?;
    let limit = number_param(
        query.limit.as_deref(),
        "limit",
        DEFAULT_LIMIT,
        1..=MAX_LIMIT,
    )?;
    let wait = number_param(query.wait.as_deref(), "wait", 0, 0..=MAX_WAIT_SECS as i64)?;
    log.record(
        caller.0.key_id,
        format!("changes after={after} limit={limit}"),
    );
    let pool = state.database.pool();
    // Subscribed before the first read, so a change committed between the
    // two still wakes the wait.
    let mut head = state.registry.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
    let mut rows = registry::changes_after(pool, after, limit + 1).await?;
    // The wait holds no connection: it sleeps on the instance's copy of
    // the head ([`app::ssr::registry::mirror`]), checking only now and
    // then that the key is still active.
    while rows.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::select! {
            // The guard `wait_for` returns is dropped at once: it holds
            // the watch's lock.
            moved = async { head.wait_for(|head| *head > after).await.is_ok() } => {
                if !moved {
                    break;
                }
                rows = registry::changes_after(pool, after, limit + 1).await?;
                if rows.is_empty() {
                    // Not expected (the copy's head comes from the same
                    // log), but never a busy loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
            () = tokio::time::sleep(KEY_CHECK_EVERY) => {
                // A long-poll of a key revoked meanwhile ends as a new
                // request with it would: 401.
                if !providers::key_is_active(pool, caller.0.key_id).await? {
                    return Err(ApiError::Unauthorized);
                }
            }
        }
    }
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_after = rows.last().map_or(after, |change| change.seq);
    Ok(Json(ChangesPage {
        changes: rows
            .into_iter()
            .map(|change| ChangeItem {
                seq: change.seq,
                e164: change.e164,
                op: change.op.as_str().to_owned(),
                at: rfc3339(change.at),
            })
            .collect(),
        next_after,
        has_more,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AckRequest {
    /// The last seq the provider has applied.
    #[schema(minimum = 0)]
    pub through_seq: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AckResponse {
    pub through_seq: i64,
    /// RFC 3339.
    pub acked_at: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/registry/acks",
    tag = "registry",
    request_body = AckRequest,
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Recorded (the same seq again answers with its first time)", body = AckResponse),
        (status = 400, description = "Not the JSON described", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Past the head, or behind the last acknowledgement", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    super::audit::ApiJson(request): super::audit::ApiJson<AckRequest>,
) -> Result<Json<AckResponse>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    if request.through_seq < 0 {
        return Err(ApiError::BadRequest(
            "through_seq must not be negative".into(),
        ));
    }
    match providers::acknowledge(state.database.pool(), &caller.0, request.through_seq).await {
        Ok(acked_at) => Ok(Json(AckResponse {
            through_seq: request.through_seq,
            acked_at: rfc3339(acked_at),
        })),
        Err(error @ (ProviderError::AckPastHead { .. } | ProviderError::AckBehind { .. })) => {
            Err(ApiError::Conflict(error.to_string()))
        }
        Err(other) => Err(ApiError::internal(other)),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// An RFC 3339 instant; now when absent.
    at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Lookup {
    pub e164: String,
    pub privileged: bool,
    /// Privileged: when it became so. Otherwise: when it last stopped.
    pub since: Option<String>,
    /// Privileged: when it stopped (null while it is). Otherwise: when it
    /// next became privileged (null if it has not).
    pub until: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/numbers/{e164}",
    tag = "numbers",
    params(("e164" = String, Path, description = "The number, in any common format"), LookupQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "Whether the number is (was) privileged", body = Lookup),
        (status = 400, description = "An unreadable number or instant", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    caller: Caller,
    Path(raw): Path<String>,
    Query(query): Query<LookupQuery>,
) -> Result<Json<Lookup>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    // A number sent exactly as the registry keeps it (E.164, as providers'
    // systems send it) and held in this instance's copy was read and
    // checked when it entered the registry: it is answered from the copy
    // without libphonenumber, whose reading costs more than the rest of
    // the look-up's own work (measured: `.ci/bench-api`). Anything else is
    // read in full, so an unreadable number still gets its 400.
    let held = match query.at {
        None => state.registry.known_now(&raw).await?,
        Some(_) => None,
    };
    let (e164, found) = match held {
        Some(now) => (raw, at_now(now)),
        None => {
            let phone = PhoneNumber::parse(&raw)
                .map_err(|error| ApiError::BadRequest(error.to_string()))?;
            let found = match query.at.as_deref() {
                Some(at) => {
                    let at = parse_rfc3339(at, "at")?;
                    providers::privilege_at(state.database.pool(), phone.as_str(), at).await?
                }
                // Now: from this instance's copy, no query.
                None => at_now(state.registry.privilege_now(phone.as_str()).await?),
            };
            (phone.as_str().to_owned(), found)
        }
    };
    log.record_lookup(caller.0.key_id);
    Ok(Json(Lookup {
        e164,
        privileged: found.privileged,
        since: found.since.map(rfc3339),
        until: found.until.map(rfc3339),
    }))
}

/// A number's state now in the shape of a point-in-time answer: nothing
/// has become privileged after now, so `until` is always null.
fn at_now(now: PrivilegeNow) -> providers::PrivilegeAt {
    providers::PrivilegeAt {
        privileged: now.privileged,
        since: now.since,
        until: None,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DigestsQuery {
    /// The registry as it was at this seq (at most the head); the head
    /// when absent.
    as_of_seq: Option<String>,
}

/// One bucket's share of the registry at a seq.
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketDigest {
    /// 0 to 255: the first byte of the SHA-256 of a number's E.164 text.
    pub bucket: u8,
    pub count: i64,
    /// SHA-256 (lower-case hex) of the bucket's E.164 numbers sorted by
    /// byte order, each followed by "\n".
    pub digest: String,
}

/// The registry's digests at a seq: the whole set's and the 256
/// buckets', so a facility whose reconciliation failed can fetch only the
/// buckets that differ.
#[derive(Debug, Serialize, ToSchema)]
pub struct DigestsResponse {
    pub as_of_seq: i64,
    /// The whole set's count and digest (what a reconciliation compares).
    pub count: i64,
    pub digest: String,
    /// 256 of them, by bucket.
    pub buckets: Vec<BucketDigest>,
}

#[utoipa::path(
    get,
    path = "/api/v1/registry/digests",
    tag = "registry",
    params(DigestsQuery),
    security(("bearer" = ["registry:read"])),
    responses(
        (status = 200, description = "The whole set's and the 256 buckets' counts and digests", body = DigestsResponse),
        (status = 400, description = "A malformed `as_of_seq`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks registry:read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`as_of_seq` is past the head", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn digests(
    State(state): State<AppState>,
    Extension(log): Extension<ReadLog>,
    caller: Caller,
    Query(query): Query<DigestsQuery>,
) -> Result<Json<DigestsResponse>, ApiError> {
    caller.require(Scope::RegistryRead)?;
    let pool = state.database.pool();
    let as_of_seq = match query.as_of_seq.as_deref() {
        Some(raw) => number_param(Some(raw), "as_of_seq", 0, 0..=i64::MAX)?,
        None => registry::head(pool).await?,
    };
    log.record(caller.0.key_id, format!("digests as_of_seq={as_of_seq}"));
    let digests = digest::digests_at(pool, as_of_seq)
        .await
        .map_err(digest_refusal)?;
    Ok(Json(DigestsResponse {
        as_of_seq: digests.as_of_seq,
        count: digests.whole.count,
        digest: digests.whole.digest,
        buckets: digests
            .buckets
            .into_iter()
            .enumerate()
            .map(|(bucket, set)| BucketDigest {
                bucket: bucket as u8,
                count: set.count,
                digest: set.digest,
            })
            .collect(),
    }))
}
