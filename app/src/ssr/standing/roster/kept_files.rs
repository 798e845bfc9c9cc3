//! The files of previewed roster uploads, kept until the preview is
//! decided, so that a column named on a preview reads the same file again
//! at once instead of asking the admin to upload it again.
//!
//! One file per preview, `upload-<id>.csv` in `ROSTER_FILES_DIR`, written
//! when a browser upload is staged and deleted when the upload is
//! committed, discarded or expires (the housekeeping task sweeps what a
//! crash left). Uploads from the command line keep no file: they are read
//! from a path the operator still has.

use std::path::{Path, PathBuf};

use sqlx::AnyPool;

use crate::ssr::standing::roster::upload::{self, Progress, UploadError, UploadRequest, Uploader};

/// Where the file of upload `upload_id` is kept.
pub fn path(dir: &Path, upload_id: i64) -> PathBuf {
    dir.join(format!("upload-{upload_id}.csv"))
}

/// Keeps a copy of `file`, the upload's bytes as received.
pub async fn keep(dir: &Path, upload_id: i64, file: &Path) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::copy(file, path(dir, upload_id)).await?;
    Ok(())
}

/// Deletes the kept file of a decided upload; one already gone is fine.
pub async fn forget(dir: &Path, upload_id: i64) {
    match tokio::fs::remove_file(path(dir, upload_id)).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(upload_id, %error, "cannot delete a kept roster file"),
    }
}

/// Deletes every kept file, an hour old at least, whose upload is no
/// longer a preview (the housekeeping task: previews that expired, or a
/// delete a crash missed). Returns how many went.
pub async fn sweep(pool: &AnyPool, dir: &Path) -> Result<u64, sqlx::Error> {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return Ok(0);
    };
    let previewed: std::collections::HashSet<i64> =
        sqlx::query_scalar("SELECT id FROM roster_uploads WHERE state = 'previewed'")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let mut swept = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let Some(upload_id) = name
            .to_str()
            .and_then(|name| name.strip_prefix("upload-"))
            .and_then(|rest| rest.strip_suffix(".csv"))
            .and_then(|id| id.parse::<i64>().ok())
        else {
            continue;
        };
        // A file kept after the list of previews was read belongs to a
        // preview the list does not know yet: spared while young.
        let young = entry
            .metadata()
            .await
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_none_or(|age| age < std::time::Duration::from_secs(3600));
        if !previewed.contains(&upload_id) && !young {
            forget(dir, upload_id).await;
            swept += 1;
        }
    }
    Ok(swept)
}

/// Reads the kept file of preview `upload_id` again, with the
/// jurisdiction's column names and status words as saved now, as a new
/// preview by `uploader`; the old preview is discarded and the file kept
/// for the new one. Returns the new upload's id, or `None` when no file
/// was kept (an upload from the command line, or one already decided) or
/// the upload is not of `jurisdiction` (the bar the name was saved for).
///
/// Errors: those of [`upload::stage`] (the file as read now has no bar
/// number column, say), in which case the old preview stays as it was.
pub async fn read_again(
    pool: &AnyPool,
    dir: &Path,
    upload_id: i64,
    jurisdiction: crate::domain::Jurisdiction,
    uploader: Uploader,
) -> Result<Option<i64>, UploadError> {
    let found: Option<(String, String, String)> = sqlx::query_as(
        "SELECT jurisdiction, mode, file_name FROM roster_uploads \
         WHERE id = $1 AND state = 'previewed'",
    )
    .bind(upload_id)
    .fetch_optional(pool)
    .await?;
    let kept = path(dir, upload_id);
    // A name saved for another bar says nothing about this file.
    let found = found.filter(|(of, ..)| *of == jurisdiction.code());
    let (Some((_, mode, file_name)), Ok(file)) = (found, std::fs::File::open(&kept)) else {
        return Ok(None);
    };
    let request = UploadRequest {
        jurisdiction,
        mode: upload::Mode::parse(&mode).ok_or(UploadError::NotFound)?,
        uploader: uploader.clone(),
        file_name,
    };
    let decided_by = uploader.user_id;
    let new_id = upload::stage(
        pool,
        &request,
        std::io::BufReader::new(file),
        std::sync::Arc::new(Progress::default()),
    )
    .await?;
    // Another request decided the old preview meanwhile (a second click,
    // another admin's commit): the new one goes too, so no stale preview
    // of the same file is left to commit.
    if let Err(error) = upload::discard(pool, upload_id, decided_by).await {
        upload::discard(pool, new_id, decided_by).await?;
        return Err(error);
    }
    tokio::fs::rename(&kept, path(dir, new_id))
        .await
        .map_err(UploadError::Read)?;
    Ok(Some(new_id))
}
