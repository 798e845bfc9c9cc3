//! How far an upload got, for the page's progress bar. The counts are
//! written to the database rather than kept in memory because the page
//! may ask any instance, not only the one receiving the file (issue 16).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyPool;

use crate::ssr::infra::clock::now_millis;

/// How far an upload got, for a progress bar (updated as it goes).
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the file received (browser uploads, while spooling).
    pub received: AtomicU64,
    /// Bytes of the file checked so far.
    pub bytes: AtomicU64,
    /// Rows checked so far.
    pub rows: AtomicU64,
}

/// How often an instance receiving an upload writes its progress down.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// A progress row older than this belongs to an instance that died.
const PROGRESS_STALE_MS: i64 = 30_000;

/// The uploads in progress, by account and a token the browser chose, so
/// the page can show how far the checking got. The instance receiving an
/// upload counts in memory and writes the counts to
/// `roster_upload_progress` every [`PROGRESS_EVERY`], so any instance
/// answers the page's question (issue 16).
#[derive(Debug, Clone)]
pub struct ProgressBoard {
    pool: AnyPool,
}

impl ProgressBoard {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Registers an upload; its row goes when the entry is dropped.
    pub fn enter(&self, user_id: i64, token: &str) -> ProgressEntry {
        let progress = Arc::new(Progress::default());
        let writer = tokio::spawn(write_progress(
            self.pool.clone(),
            user_id,
            token.to_owned(),
            progress.clone(),
        ));
        ProgressEntry {
            pool: self.pool.clone(),
            user_id,
            token: token.to_owned(),
            writer,
            progress,
        }
    }

    /// (bytes received, bytes checked, rows checked) of an upload, as last
    /// written down; None once it is over or its instance stopped.
    pub async fn read(
        &self,
        user_id: i64,
        token: &str,
    ) -> Result<Option<(u64, u64, u64)>, sqlx::Error> {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT received, checked, rows_checked FROM roster_upload_progress \
             WHERE user_id = $1 AND token = $2 AND updated_at > $3",
        )
        .bind(user_id)
        .bind(token)
        .bind(now_millis() - PROGRESS_STALE_MS)
        .fetch_optional(&self.pool)
        .await?;
        let unsigned = |value: i64| u64::try_from(value).unwrap_or(0);
        Ok(row.map(|(received, checked, rows)| {
            (unsigned(received), unsigned(checked), unsigned(rows))
        }))
    }
}

/// Writes `progress` down every [`PROGRESS_EVERY`] until aborted. A
/// failed write is skipped: the bar only lags.
async fn write_progress(pool: AnyPool, user_id: i64, token: String, progress: Arc<Progress>) {
    let signed =
        |counter: &AtomicU64| i64::try_from(counter.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
    loop {
        let written = sqlx::query(
            "INSERT INTO roster_upload_progress \
               (user_id, token, received, checked, rows_checked, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id, token) DO UPDATE SET received = excluded.received, \
               checked = excluded.checked, rows_checked = excluded.rows_checked, \
               updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(&token)
        .bind(signed(&progress.received))
        .bind(signed(&progress.bytes))
        .bind(signed(&progress.rows))
        .bind(now_millis())
        .execute(&pool)
        .await;
        if let Err(error) = written {
            tracing::debug!(error = %error, "roster upload progress not written");
        }
        tokio::time::sleep(PROGRESS_EVERY).await;
    }
}

/// An upload on the [`ProgressBoard`], taken off when dropped (also when
/// the request is abandoned half-way).
pub struct ProgressEntry {
    pool: AnyPool,
    user_id: i64,
    token: String,
    writer: tokio::task::JoinHandle<()>,
    pub progress: Arc<Progress>,
}

impl Drop for ProgressEntry {
    fn drop(&mut self) {
        self.writer.abort();
        let (pool, user_id, token) = (
            self.pool.clone(),
            self.user_id,
            std::mem::take(&mut self.token),
        );
        tokio::spawn(async move {
            let _ =
                sqlx::query("DELETE FROM roster_upload_progress WHERE user_id = $1 AND token = $2")
                    .bind(user_id)
                    .bind(token)
                    .execute(&pool)
                    .await;
        });
    }
}
