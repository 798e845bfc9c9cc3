//! A bar's own way of writing its roster: which header holds each field
//! and what its status words mean. Saved per jurisdiction so the next file
//! from the same bar reads without being mapped again.

use sqlx::{Any, AnyPool};

use crate::domain::{Jurisdiction, RosterStatus};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::standing::roster::reading::{self, Field, Mappings};

use super::UploadError;
use super::staging::recount;

/// A jurisdiction's saved column names and status words.
pub async fn load_mappings(
    pool: &AnyPool,
    jurisdiction: Jurisdiction,
) -> Result<Mappings, sqlx::Error> {
    let columns: Vec<(Field, String)> =
        sqlx::query_as("SELECT field, header FROM roster_column_maps WHERE jurisdiction = $1")
            .bind(jurisdiction.code())
            .fetch_all(pool)
            .await?;
    let words: Vec<(String, RosterStatus)> =
        sqlx::query_as("SELECT word, status FROM roster_status_words WHERE jurisdiction = $1")
            .bind(jurisdiction.code())
            .fetch_all(pool)
            .await?;
    Ok(Mappings {
        columns,
        statuses: words.into_iter().collect(),
    })
}

/// Saved column names as (jurisdiction, field, header), and status words
/// as (jurisdiction, word, status).
pub type SavedMappings = (
    Vec<(Jurisdiction, Field, String)>,
    Vec<(Jurisdiction, String, RosterStatus)>,
);

/// The saved column names and status words of these jurisdictions, as
/// (jurisdiction, field or word, header or status), for the pages.
pub async fn saved_mappings(
    pool: &AnyPool,
    jurisdictions: &[Jurisdiction],
) -> Result<SavedMappings, sqlx::Error> {
    let mut columns = Vec::new();
    let mut words = Vec::new();
    for jurisdiction in jurisdictions {
        let mappings = load_mappings(pool, *jurisdiction).await?;
        for (field, header) in mappings.columns {
            columns.push((*jurisdiction, field, header));
        }
        let mut sorted: Vec<_> = mappings.statuses.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (word, status) in sorted {
            words.push((*jurisdiction, word, status));
        }
    }
    Ok((columns, words))
}

/// Saves which header holds a field in this jurisdiction's files (an
/// empty header forgets it).
pub async fn save_column(
    executor: impl sqlx::Executor<'_, Database = Any>,
    jurisdiction: Jurisdiction,
    field: Field,
    header: &str,
) -> Result<(), sqlx::Error> {
    let header = header.trim();
    if header.is_empty() {
        sqlx::query("DELETE FROM roster_column_maps WHERE jurisdiction = $1 AND field = $2")
            .bind(jurisdiction.code())
            .bind(field)
            .execute(executor)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO roster_column_maps (jurisdiction, field, header, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (jurisdiction, field) \
         DO UPDATE SET header = excluded.header, updated_at = excluded.updated_at",
    )
    .bind(jurisdiction.code())
    .bind(field)
    .bind(header.chars().take(200).collect::<String>())
    .bind(now_millis())
    .execute(executor)
    .await?;
    Ok(())
}

/// Saves what one of this jurisdiction's status words means.
pub async fn save_status_word(
    executor: impl sqlx::Executor<'_, Database = Any>,
    jurisdiction: Jurisdiction,
    word: &str,
    status: RosterStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roster_status_words (jurisdiction, word, status, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (jurisdiction, word) \
         DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
    )
    .bind(jurisdiction.code())
    .bind(reading::fold_word(word))
    .bind(status)
    .bind(now_millis())
    .execute(executor)
    .await?;
    Ok(())
}

/// The status words of an upload the vocabulary did not know, each once,
/// with how many rows wrote it, most frequent first.
pub async fn unknown_statuses(
    pool: &AnyPool,
    upload_id: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status_given, COUNT(*) FROM roster_staging \
         WHERE upload_id = $1 AND status IS NULL AND status_given IS NOT NULL \
         GROUP BY status_given ORDER BY COUNT(*) DESC, status_given LIMIT 200",
    )
    .bind(upload_id)
    .fetch_all(pool)
    .await
}

/// Confirms what unknown status words mean: saves them to the
/// jurisdiction's vocabulary and applies them to the waiting upload (its
/// rows lose that blocking error), in one transaction.
pub async fn map_statuses(
    pool: &AnyPool,
    upload_id: i64,
    words: &[(String, RosterStatus)],
) -> Result<(), UploadError> {
    let mut transaction = db::begin_write(pool).await?;
    let jurisdiction: Jurisdiction = sqlx::query_scalar(
        "SELECT jurisdiction FROM roster_uploads WHERE id = $1 AND state = 'previewed'",
    )
    .bind(upload_id)
    .fetch_optional(&mut *transaction)
    .await?
    .ok_or(UploadError::AlreadyDecided)?;
    for (word, status) in words {
        save_status_word(&mut *transaction, jurisdiction, word, *status).await?;
        sqlx::query(
            "UPDATE roster_staging SET status = $1, status_given = NULL, blocking = blocking - 1 \
             WHERE upload_id = $2 AND status IS NULL AND status_given = $3",
        )
        .bind(status)
        .bind(upload_id)
        .bind(word)
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "DELETE FROM roster_upload_errors WHERE upload_id = $1 AND severity = 'error' \
               AND cell = $2 AND message LIKE 'status not in %'",
        )
        .bind(upload_id)
        .bind(word)
        .execute(&mut *transaction)
        .await?;
    }
    recount(&mut transaction, upload_id).await?;
    transaction.commit().await?;
    Ok(())
}
