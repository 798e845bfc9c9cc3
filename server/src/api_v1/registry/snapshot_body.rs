//! The snapshot's body: the set is spooled from one consistent read into a
//! temporary file, then handed to the client in chunks, raced against the
//! key's revocation and the snapshot's deadline. A body that cannot be
//! finished ends with an error, never looking whole; its spool file is
//! deleted as it ends, however it ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use app::ssr::providers;
use app::ssr::registry;
use axum::body::{Body, Bytes};
use sqlx::{Any, AnyPool, Transaction};
use tempfile::TempPath;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::super::limits::Permit;
use super::super::time::rfc3339;
use super::KEY_CHECK_EVERY;

/// What a snapshot reads: the set now, or at a past seq (one bucket of
/// it, or all), each in its own read transaction.
pub(super) enum Reading {
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
/// Spool files are named `snapshot-….spool` in the spool directory.
const SPOOL_PREFIX: &str = "snapshot-";
const SPOOL_SUFFIX: &str = ".spool";

/// What bounds one snapshot: its place at the snapshot gate (given back
/// when the producer ends), the instant it must be done by, and where its
/// spool file goes.
pub(super) struct Bounds {
    pub(super) permit: Permit,
    pub(super) deadline: Instant,
    pub(super) spool_dir: PathBuf,
}

/// The body of the snapshot `reading` (NDJSON when `ndjson`, else JSON)
/// for the key `key_id`: starts the producer that spools and sends it
/// within `bounds`, and the watch that ends it should the key be revoked
/// meanwhile.
pub(super) fn stream(
    pool: AnyPool,
    key_id: i64,
    reading: Reading,
    ndjson: bool,
    bounds: Bounds,
) -> Body {
    let (sender, receiver) = mpsc::channel::<Bytes>(4);
    // Set once the last chunk is handed over: a channel that closes before
    // it was cut short, and the body must end with an error, not look whole.
    let whole = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce_snapshot(
        reading,
        ndjson,
        sender,
        whole.clone(),
        bounds,
    ));
    // A key revoked while its snapshot streams ends the body with an
    // error (the client sees it cut off, never a whole document) and stops
    // the producer: the answer is raced against every chunk, so it ends
    // the body even while the producer waits on a slow reader. The check
    // runs in its own task: a body is polled only while its client reads,
    // and a check suspended mid-query by a stalled client would keep a
    // pooled connection for as long as the client stalls.
    let (revoked_sender, revoked_receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(watch_revocation(pool, key_id, producer, revoked_sender));
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
    Body::from_stream(futures::StreamExt::fuse(chunks))
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

/// Why a snapshot could not be spooled.
#[derive(Debug, thiserror::Error)]
enum SpoolError {
    #[error("reading the registry: {0}")]
    Database(#[from] sqlx::Error),
    #[error("writing the spool file: {0}")]
    Disk(#[from] std::io::Error),
    #[error("reading the registry took longer than {} s", SPOOL_DEADLINE.as_secs())]
    Deadline,
    #[error("the snapshot's deadline passed while the registry was read")]
    WholeDeadline,
}

/// Spools the snapshot to a temporary file, releasing its database
/// connection as soon as the read is done, then hands the file to the body
/// in chunks. A slow or stalled reader so holds a file, never one of the
/// pool's connections (issue 16, item 4); one stalled past [`STALL_LIMIT`]
/// is dropped, and every reader at `bounds.deadline` (issue 24). Sets
/// `whole` only once every chunk was handed over. The spool file and the
/// gate's place go when this ends, or when it is aborted.
async fn produce_snapshot(
    reading: Reading,
    ndjson: bool,
    sender: mpsc::Sender<Bytes>,
    whole: Arc<AtomicBool>,
    bounds: Bounds,
) {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};

    let Bounds {
        permit: _permit,
        deadline,
        spool_dir,
    } = bounds;
    let spool_until = deadline.min(Instant::now() + SPOOL_DEADLINE);
    let spooled =
        match tokio::time::timeout_at(spool_until, spool_snapshot(reading, ndjson, &spool_dir))
            .await
        {
            Ok(spooled) => spooled,
            Err(_) if spool_until == deadline => Err(SpoolError::WholeDeadline),
            Err(_) => Err(SpoolError::Deadline),
        };
    // `_spool_file` deletes the file when dropped.
    let (mut file, _spool_file) = match spooled {
        Ok(spooled) => spooled,
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
        let stalled_at = Instant::now() + STALL_LIMIT;
        let sent =
            tokio::time::timeout_at(stalled_at.min(deadline), sender.send(Bytes::from(chunk)))
                .await;
        match sent {
            Ok(Err(_)) => return, // the client went away
            Ok(Ok(())) if Instant::now() < deadline => {}
            _ if Instant::now() >= deadline => {
                tracing::info!("snapshot ended: past its deadline");
                return;
            }
            _ => {
                tracing::info!("snapshot abandoned: its reader stalled");
                return;
            }
        }
    }
    whole.store(true, Ordering::Release);
}

/// Deletes the spool files in `directory` last written over `older_than`
/// ago: a snapshot past its deadline has ended, so such a file was left by
/// a process that died. Failures are logged; none stops the start.
pub(in super::super) fn sweep_spool(directory: &Path, older_than: Duration) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(SPOOL_PREFIX) && name.ends_with(SPOOL_SUFFIX)) {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > older_than);
        if stale {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(file = %name, "left-over snapshot spool file deleted"),
                Err(error) => tracing::warn!(file = %name, %error, "cannot delete a spool file"),
            }
        }
    }
}

/// Writes the snapshot to a temporary file in `spool_dir` from one
/// consistent read (so memory stays flat), and commits the read. Returns
/// the file and its path, which deletes it when dropped.
async fn spool_snapshot(
    reading: Reading,
    ndjson: bool,
    spool_dir: &Path,
) -> Result<(tokio::fs::File, TempPath), SpoolError> {
    use futures::TryStreamExt;
    use tokio::io::AsyncWriteExt;

    let (mut transaction, as_of_seq, bucket) = match reading {
        Reading::Now(transaction) => (transaction, None, None),
        Reading::At {
            transaction,
            as_of_seq,
            bucket,
        } => (transaction, Some(as_of_seq), bucket),
    };
    let head = match as_of_seq {
        Some(seq) => seq,
        None => registry::head(&mut *transaction).await?,
    };
    let (file, path) = tempfile::Builder::new()
        .prefix(SPOOL_PREFIX)
        .suffix(SPOOL_SUFFIX)
        .tempfile_in(spool_dir)?
        .into_parts();
    let file = tokio::fs::File::from_std(file);
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
        let mut rows = registry::privileged_set(&mut transaction, as_of_seq);
        while let Some((e164, since)) = rows.try_next().await? {
            if bucket.is_some_and(|bucket| registry::digest::bucket_of(&e164) != bucket) {
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
    Ok((out.into_inner(), path))
}
