//! Bulk roster uploads from bar associations: a CSV file is parsed on a
//! blocking thread, row by row, and staged in the database in batches
//! (memory stays bounded whatever the file's size); the upload is then
//! previewed against the current roster and the portal's attorneys, and
//! committed, or discarded, by an admin.
//!
//! Staging runs in one transaction: a file that breaks a limit, or is cut
//! off, leaves nothing behind. The commit is one registry write: the
//! roster, the standings it decides and the numbers that follow change
//! together or not at all, even if the process dies half-way.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Seek};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::mpsc;

use crate::domain::closed_set::closed_set;
use crate::domain::{ClaimState, Jurisdiction, NameKey, RosterStatus, Standing, StandingSource};
use crate::error::AppError;
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::registry;
use crate::ssr::rosters::reading::{
    self, Field, FileEncoding, Mappings, Member, OfficePhone, Problem, ReadError, Reader, Row,
    Severity,
};
use crate::ssr::rosters::{self, Attorneys, RosterEntry, Verdict};

/// Largest file taken, in bytes (50 MiB).
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Most data rows a file may have.
pub const MAX_ROWS: u64 = 1_000_000;
/// Row errors kept for the page and the download; all are counted.
pub const MAX_STORED_ERRORS: u64 = 10_000;
/// Rows per INSERT: 12 parameters each, well under both engines' limits.
const BATCH_ROWS: usize = 500;

/// The header of the downloadable template, in the documented order.
pub const TEMPLATE: &str = "bar_number,full_name,status,email,admitted_on,office_phone\n\
    12345,Jane Q. Doe,active,jane@example.org,2001-06-15,(202) 555-0143\n";

closed_set!(
    /// Whether members a file leaves out stay as they are or leave the
    /// roster (`roster_uploads.mode`).
    pub Mode {
        /// The whole membership: members missing from it become `not_listed`.
        Full = "full",
        /// Only the rows given change.
        Partial = "partial",
    }
);

closed_set!(
    /// Where an upload stands (`roster_uploads.state`): previewed until an
    /// admin commits or discards it; both are final.
    pub UploadState {
        Previewed = "previewed",
        Committed = "committed",
        Discarded = "discarded",
    }
);

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than 50 MiB")]
    TooLarge,
    #[error("the file has more than 1,000,000 rows")]
    TooManyRows,
    /// Not text in an encoding taken, no header, a column missing.
    #[error(transparent)]
    Unreadable(ReadError),
    #[error(
        "a full roster without a single valid row would mark every member not listed: nothing was stored"
    )]
    EmptyFullRoster,
    #[error("the file could not be read to its end: {0}")]
    Read(io::Error),
    #[error("you may upload rosters for {0} only")]
    NotYourJurisdiction(String),
    #[error("no such upload")]
    NotFound,
    #[error("this upload was already committed or discarded")]
    AlreadyDecided,
    #[error(
        "the file has {} with errors: map or fix them, or choose to skip them",
        crate::text::counted(*.0, "row", "rows")
    )]
    HasErrors(u64),
    /// The brake: the commit would take many out of good standing.
    #[error("{}", .0.describe())]
    NeedsConfirmation(Brake),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Who uploads: an admin in the browser, or the command line.
#[derive(Debug, Clone)]
pub struct Uploader {
    pub user_id: Option<i64>,
    /// The admin's email, or "command line (user@host)".
    pub label: String,
}

/// What the uploader asks for.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub jurisdiction: Jurisdiction,
    pub mode: Mode,
    pub uploader: Uploader,
    pub file_name: String,
}

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

/// A problem in a row, as the uploader is shown it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RowError {
    pub line: i64,
    pub column_name: String,
    pub cell: String,
    pub message: String,
    /// An error blocks the commit until mapped or skipped; a warning does not.
    pub severity: Severity,
}

impl From<Problem> for RowError {
    fn from(problem: Problem) -> Self {
        Self {
            line: problem.line as i64,
            column_name: problem.column,
            cell: problem.cell,
            message: problem.message,
            severity: problem.severity,
        }
    }
}

/// A member read from the file, ready for staging. Its blocking problems
/// are counted: a row with any changes nothing of its member on commit
/// (unless mapped first), yet holds the member's place in a full roster.
#[derive(Debug, Clone)]
struct StagedRow {
    line: i64,
    bar_number: String,
    full_name: Option<String>,
    name_key: Option<String>,
    status: Option<&'static str>,
    status_given: Option<String>,
    email: Option<String>,
    admitted_on: Option<String>,
    office_phone: Option<String>,
    office_phone_ext: Option<String>,
    blocking: i64,
    problems: Vec<RowError>,
}

enum Parsed {
    Row(StagedRow),
    /// A row whose bar number could not be read.
    Unread(RowError),
}

/// What the parser learnt about the file as a whole.
struct FileFacts {
    sha256: String,
    bytes: u64,
    encoding: FileEncoding,
    ignored_columns: Vec<String>,
    /// "field: header" of each field read.
    columns_read: Vec<String>,
    /// The optional fields the file has no column for.
    absent: Vec<Field>,
}

/// Counts the bytes read, refuses more than [`MAX_BYTES`], and hashes what
/// it passes on.
struct Metered<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    progress: Arc<Progress>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.read += n as u64;
        if self.read > MAX_BYTES {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "over 50 MiB"));
        }
        self.hasher.update(&buffer[..n]);
        self.progress.bytes.store(self.read, Ordering::Relaxed);
        Ok(n)
    }
}

impl From<ReadError> for UploadError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::TooLarge(_) => UploadError::TooLarge,
            ReadError::Io(io) if io.kind() == io::ErrorKind::FileTooLarge => UploadError::TooLarge,
            ReadError::Io(io) => UploadError::Read(io),
            other => UploadError::Unreadable(other),
        }
    }
}

/// Turns a member read from the file into a row to stage, checking that
/// it belongs to the upload's jurisdiction.
fn staged(member: Member, problems: Vec<Problem>, jurisdiction: Jurisdiction) -> StagedRow {
    let mut problems: Vec<RowError> = problems.into_iter().map(RowError::from).collect();
    if let Some(given) = member.jurisdiction
        && given != jurisdiction
    {
        problems.push(RowError {
            line: member.line as i64,
            column_name: "jurisdiction".into(),
            cell: given.code().to_owned(),
            message: format!(
                "this upload is for {}: the member was kept as they are",
                jurisdiction.code()
            ),
            severity: Severity::Error,
        });
    }
    let blocking = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count() as i64;
    let (office_phone, office_phone_ext) = member
        .office_phone
        .as_ref()
        .map(OfficePhone::columns)
        .map_or((None, None), |(phone, ext)| (Some(phone), ext));
    StagedRow {
        line: member.line as i64,
        bar_number: member.bar_number.as_str().to_owned(),
        name_key: member
            .full_name
            .as_ref()
            .map(|name| NameKey::of(name.as_str()).index_key()),
        full_name: member.full_name.map(|name| name.as_str().to_owned()),
        status: member.status.map(RosterStatus::as_str),
        status_given: member.status_given,
        email: member.email.map(|email| email.as_str().to_owned()),
        admitted_on: member.admitted_on.map(|date| date.as_str().to_owned()),
        office_phone,
        office_phone_ext,
        blocking,
        problems,
    }
}

/// Reads the CSV on the calling (blocking) thread and sends its rows in
/// batches; stops when the receiver hangs up.
fn parse<R: Read + Seek>(
    mut input: R,
    jurisdiction: Jurisdiction,
    mappings: &Mappings,
    progress: Arc<Progress>,
    batches: mpsc::Sender<Vec<Parsed>>,
) -> Result<FileFacts, UploadError> {
    let encoding = reading::sniff(&mut input, MAX_BYTES)?;
    let metered = Metered {
        inner: input,
        hasher: Sha256::new(),
        read: 0,
        progress: progress.clone(),
    };
    let mut reader = Reader::open(metered, encoding, mappings)?;
    let ignored_columns = reader.layout().ignored();
    let used = reader.layout().used();
    let absent = [Field::Email, Field::AdmittedOn, Field::OfficePhone]
        .into_iter()
        .filter(|optional| !used.iter().any(|(field, _)| field == optional))
        .collect();
    let columns_read = used
        .into_iter()
        .map(|(field, header)| format!("{field}: {header}"))
        .collect();
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut rows = 0_u64;
    while let Some(row) = reader.next_row(mappings)? {
        rows += 1;
        if rows > MAX_ROWS {
            return Err(UploadError::TooManyRows);
        }
        batch.push(match row {
            Row::Member { member, problems } => Parsed::Row(staged(member, problems, jurisdiction)),
            Row::Unreadable(problem) => Parsed::Unread(problem.into()),
        });
        if batch.len() == BATCH_ROWS {
            progress.rows.store(rows, Ordering::Relaxed);
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
            if batches.blocking_send(full).is_err() {
                return Err(UploadError::Read(io::Error::other("staging stopped")));
            }
        }
    }
    progress.rows.store(rows, Ordering::Relaxed);
    if !batch.is_empty() && batches.blocking_send(batch).is_err() {
        return Err(UploadError::Read(io::Error::other("staging stopped")));
    }
    let metered = reader.into_inner();
    Ok(FileFacts {
        sha256: format!("{:x}", metered.hasher.finalize()),
        bytes: metered.read,
        encoding,
        ignored_columns,
        columns_read,
        absent,
    })
}

/// Parses `input` and stages it as a new upload, previewed, read with the
/// jurisdiction's saved mappings. All or nothing: on any error no trace
/// of the upload is left. Returns its id.
pub async fn stage(
    pool: &AnyPool,
    request: &UploadRequest,
    input: impl Read + Seek + Send + 'static,
    progress: Arc<Progress>,
) -> Result<i64, UploadError> {
    let jurisdiction = request.jurisdiction;
    let mappings = load_mappings(pool, jurisdiction).await?;
    let mut transaction = db::begin_write(pool).await?;
    // Written first: on SQLite the transaction is a writer from the start.
    let upload_id: i64 = sqlx::query_scalar(
        "INSERT INTO roster_uploads (jurisdiction, mode, state, uploaded_by, uploader, file_name, \
           sha256, bytes, rows_valid, rows_invalid, ignored_columns, new_members, \
           changed_members, unchanged_members, missing_members, created_at) \
         VALUES ($1, $2, 'previewed', $3, $4, $5, '', 0, 0, 0, '', 0, 0, 0, 0, $6) RETURNING id",
    )
    .bind(jurisdiction.code())
    .bind(request.mode)
    .bind(request.uploader.user_id)
    .bind(&request.uploader.label)
    .bind(request.file_name.chars().take(200).collect::<String>())
    .bind(now_millis())
    .fetch_one(&mut *transaction)
    .await?;

    let (sender, mut receiver) = mpsc::channel::<Vec<Parsed>>(4);
    let parser = tokio::task::spawn_blocking(move || {
        parse(input, jurisdiction, &mappings, progress, sender)
    });
    let (mut valid, mut invalid, mut warned, mut unread, mut stored) = (0_u64, 0_u64, 0, 0, 0);
    while let Some(batch) = receiver.recv().await {
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for item in batch {
            match item {
                Parsed::Row(row) => rows.push(row),
                Parsed::Unread(error) => {
                    unread += 1;
                    invalid += 1;
                    errors.push(error);
                }
            }
        }
        let duplicates = insert_rows(&mut transaction, upload_id, &rows).await?;
        let repeated: HashSet<i64> = duplicates.iter().map(|d| d.line).collect();
        invalid += duplicates.len() as u64;
        unread += duplicates.len() as u64;
        errors.extend(duplicates);
        for row in rows {
            if repeated.contains(&row.line) {
                continue;
            }
            if row.blocking > 0 {
                invalid += 1;
            } else {
                valid += 1;
            }
            if row.problems.iter().any(|p| p.severity == Severity::Warning) {
                warned += 1;
            }
            errors.extend(row.problems);
        }
        let room = MAX_STORED_ERRORS.saturating_sub(stored) as usize;
        let kept = &errors[..errors.len().min(room)];
        insert_errors(&mut transaction, upload_id, kept).await?;
        stored += kept.len() as u64;
    }
    let facts = parser
        .await
        .map_err(|error| UploadError::Read(io::Error::other(error.to_string())))??;
    if request.mode == Mode::Full && valid + invalid - unread == 0 {
        return Err(UploadError::EmptyFullRoster);
    }

    sqlx::query(
        "UPDATE roster_uploads SET sha256 = $1, bytes = $2, rows_valid = $3, rows_invalid = $4, \
           ignored_columns = $5, encoding = $6, rows_warned = $7, rows_unread = $8, \
           columns_read = $9 WHERE id = $10",
    )
    .bind(&facts.sha256)
    .bind(facts.bytes as i64)
    .bind(valid as i64)
    .bind(invalid as i64)
    .bind(facts.ignored_columns.join(", "))
    .bind(facts.encoding)
    .bind(warned as i64)
    .bind(unread as i64)
    .bind(facts.columns_read.join("; "))
    .bind(upload_id)
    .execute(&mut *transaction)
    .await?;
    // A column the file does not have says nothing about its members:
    // they keep what the roster holds (a partial update of statuses alone
    // must not erase the emails of record that claims rest on).
    for field in &facts.absent {
        let columns: &[&str] = match field {
            Field::Email => &["email"],
            Field::AdmittedOn => &["admitted_on"],
            _ => &["office_phone", "office_phone_ext"],
        };
        for column in columns {
            sqlx::query(&format!(
                "UPDATE roster_staging SET {column} = (SELECT r.{column} FROM roster r \
                   WHERE r.jurisdiction = $2 AND r.bar_number = roster_staging.bar_number) \
                 WHERE upload_id = $1"
            ))
            .bind(upload_id)
            .bind(jurisdiction.code())
            .execute(&mut *transaction)
            .await?;
        }
    }
    recount(&mut transaction, upload_id).await?;
    transaction.commit().await?;
    Ok(upload_id)
}

/// Stages a batch; a bar number already staged (earlier in the file) is
/// not staged again but returned as a row error.
async fn insert_rows(
    transaction: &mut Transaction<'static, Any>,
    upload_id: i64,
    rows: &[StagedRow],
) -> Result<Vec<RowError>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "INSERT INTO roster_staging (upload_id, bar_number, line, full_name, name_key, status, \
         status_given, email, admitted_on, office_phone, office_phone_ext, blocking) VALUES {} \
         ON CONFLICT DO NOTHING RETURNING bar_number",
        db::values_placeholders(transaction, rows.len(), 12)
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql);
    for row in rows {
        query = query
            .bind(upload_id)
            .bind(&row.bar_number)
            .bind(row.line)
            .bind(&row.full_name)
            .bind(&row.name_key)
            .bind(row.status)
            .bind(&row.status_given)
            .bind(&row.email)
            .bind(&row.admitted_on)
            .bind(&row.office_phone)
            .bind(&row.office_phone_ext)
            .bind(row.blocking);
    }
    let mut inserted: HashSet<String> = query
        .fetch_all(&mut **transaction)
        .await?
        .into_iter()
        .collect();
    // The first row with a bar number is the one stored; the others are
    // told where it is, found in one query per batch (a file of one bar
    // number a million times must not cost a million queries).
    let repeated: Vec<&StagedRow> = rows
        .iter()
        .filter(|row| !inserted.remove(&row.bar_number))
        .collect();
    if repeated.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<&str> = repeated
        .iter()
        .map(|row| row.bar_number.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // `upload_id` is our own integer: written into the statement so the
    // placeholders stay one style per engine.
    let sql = format!(
        "SELECT bar_number, line FROM roster_staging WHERE upload_id = {upload_id} \
         AND bar_number IN (VALUES {})",
        db::values_placeholders(transaction, wanted.len(), 1)
    );
    let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
    for bar_number in &wanted {
        query = query.bind(*bar_number);
    }
    let first: std::collections::HashMap<String, i64> = query
        .fetch_all(&mut **transaction)
        .await?
        .into_iter()
        .collect();
    let duplicates = repeated
        .into_iter()
        .map(|row| RowError {
            line: row.line,
            column_name: "bar_number".into(),
            cell: row.bar_number.clone(),
            message: format!(
                "appears more than once in the file (first on line {}); this row was not read",
                first.get(&row.bar_number).copied().unwrap_or_default()
            ),
            severity: Severity::Error,
        })
        .collect();
    Ok(duplicates)
}

async fn insert_errors(
    transaction: &mut Transaction<'static, Any>,
    upload_id: i64,
    errors: &[RowError],
) -> Result<(), sqlx::Error> {
    for chunk in errors.chunks(BATCH_ROWS) {
        let sql = format!(
            "INSERT INTO roster_upload_errors (upload_id, line, column_name, cell, message, \
             severity) VALUES {}",
            db::values_placeholders(transaction, chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for error in chunk {
            query = query
                .bind(upload_id)
                .bind(error.line)
                .bind(&error.column_name)
                .bind(&error.cell)
                .bind(&error.message)
                .bind(error.severity);
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}

/// A condition true when roster row `r` and staged row `s` differ in
/// anything the roster keeps.
fn differs(r: &str, s: &str) -> String {
    format!(
        "({r}.full_name <> {s}.full_name OR {r}.status <> {s}.status \
         OR COALESCE({r}.email, '') <> COALESCE({s}.email, '') \
         OR COALESCE({r}.admitted_on, '') <> COALESCE({s}.admitted_on, '') \
         OR COALESCE({r}.office_phone, '') <> COALESCE({s}.office_phone, '') \
         OR COALESCE({r}.office_phone_ext, '') <> COALESCE({s}.office_phone_ext, ''))"
    )
}

/// Works out how the staged rows compare with the roster and stores the
/// counts. New, changed and unchanged count the valid rows only, so they
/// add up to `rows_valid`; rows with blocking problems are counted once,
/// in `rows_invalid` (they change nothing, and hold their member's place
/// in a full roster).
async fn recount(
    transaction: &mut Transaction<'static, Any>,
    upload_id: i64,
) -> Result<(), sqlx::Error> {
    let (jurisdiction, mode, unread): (String, Mode, i64) =
        sqlx::query_as("SELECT jurisdiction, mode, rows_unread FROM roster_uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_one(&mut **transaction)
            .await?;
    let new: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM roster_staging s WHERE s.upload_id = $1 AND s.blocking = 0 \
         AND NOT EXISTS \
         (SELECT 1 FROM roster r WHERE r.jurisdiction = $2 AND r.bar_number = s.bar_number)",
    )
    .bind(upload_id)
    .bind(&jurisdiction)
    .fetch_one(&mut **transaction)
    .await?;
    let (changed, unchanged): (i64, i64) = sqlx::query_as(&format!(
        "SELECT COALESCE(SUM(CASE WHEN s.blocking = 0 AND {d} THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN s.blocking = 0 AND NOT {d} THEN 1 ELSE 0 END), 0) \
         FROM roster_staging s JOIN roster r ON r.jurisdiction = $2 AND r.bar_number = s.bar_number \
         WHERE s.upload_id = $1",
        d = differs("r", "s")
    ))
    .bind(upload_id)
    .bind(&jurisdiction)
    .fetch_one(&mut **transaction)
    .await?;
    let missing: i64 = match mode {
        Mode::Partial => 0,
        Mode::Full => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM roster r WHERE r.jurisdiction = $2 \
                   AND r.status <> 'not_listed' AND NOT EXISTS (SELECT 1 FROM roster_staging s \
                   WHERE s.upload_id = $1 AND s.bar_number = r.bar_number)",
            )
            .bind(upload_id)
            .bind(&jurisdiction)
            .fetch_one(&mut **transaction)
            .await?
        }
    };
    let (staged, blocked): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN blocking > 0 THEN 1 ELSE 0 END), 0) \
         FROM roster_staging WHERE upload_id = $1",
    )
    .bind(upload_id)
    .fetch_one(&mut **transaction)
    .await?;
    sqlx::query(
        "UPDATE roster_uploads SET new_members = $1, changed_members = $2, \
           unchanged_members = $3, missing_members = $4, rows_valid = $5, rows_invalid = $6 \
         WHERE id = $7",
    )
    .bind(new)
    .bind(changed)
    .bind(unchanged)
    .bind(missing)
    .bind(staged - blocked)
    .bind(blocked + unread)
    .bind(upload_id)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// An upload as its history and preview show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Upload {
    pub id: i64,
    pub jurisdiction: String,
    pub mode: Mode,
    pub state: UploadState,
    pub uploader: String,
    pub file_name: String,
    pub sha256: String,
    pub bytes: i64,
    pub rows_valid: i64,
    pub rows_invalid: i64,
    pub ignored_columns: String,
    pub new_members: i64,
    pub changed_members: i64,
    pub unchanged_members: i64,
    pub missing_members: i64,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    /// 1 when the commit skipped rows with errors.
    pub skipped_invalid: i64,
    pub standings_changed: Option<i64>,
    pub numbers_added: Option<i64>,
    pub numbers_removed: Option<i64>,
    /// How the file's bytes were read.
    pub encoding: FileEncoding,
    /// Rows with warnings only (a cell left empty or kept as given).
    pub rows_warned: i64,
    /// The count the admin repeated to pass the brake, if it was needed.
    pub confirmed_removals: Option<i64>,
    /// Which header gave each field: "bar_number: Registration Number; …".
    pub columns_read: String,
}

const UPLOAD_COLUMNS: &str = "id, jurisdiction, mode, state, uploader, file_name, sha256, bytes, \
    rows_valid, rows_invalid, ignored_columns, new_members, changed_members, unchanged_members, \
    missing_members, created_at, decided_at, skipped_invalid, standings_changed, numbers_added, \
    numbers_removed, encoding, rows_warned, confirmed_removals, columns_read";

pub async fn upload(pool: &AnyPool, upload_id: i64) -> Result<Upload, UploadError> {
    sqlx::query_as(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM roster_uploads WHERE id = $1"
    ))
    .bind(upload_id)
    .fetch_optional(pool)
    .await?
    .ok_or(UploadError::NotFound)
}

/// How many roster uploads have been committed, all bars together.
pub async fn commits(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM roster_uploads WHERE state = 'committed'")
        .fetch_one(pool)
        .await
}

/// The latest uploads, newest first: for one jurisdiction, or all.
pub async fn history(
    pool: &AnyPool,
    jurisdiction: Option<Jurisdiction>,
    limit: i64,
) -> Result<Vec<Upload>, sqlx::Error> {
    match jurisdiction {
        Some(jurisdiction) => {
            sqlx::query_as(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM roster_uploads WHERE jurisdiction = $1 \
                 ORDER BY id DESC LIMIT $2"
            ))
            .bind(jurisdiction.code())
            .bind(limit)
            .fetch_all(pool)
            .await
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM roster_uploads ORDER BY id DESC LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await
        }
    }
}

/// The row problems (errors and warnings) of an upload, by line;
/// `limit` of them.
pub async fn errors(
    pool: &AnyPool,
    upload_id: i64,
    limit: i64,
) -> Result<Vec<RowError>, sqlx::Error> {
    sqlx::query_as(
        "SELECT line, column_name, cell, message, severity FROM roster_upload_errors \
         WHERE upload_id = $1 ORDER BY line, severity LIMIT $2",
    )
    .bind(upload_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// An earlier committed upload of the same file for the jurisdiction.
pub async fn same_file_committed(
    pool: &AnyPool,
    upload: &Upload,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, decided_at FROM roster_uploads WHERE jurisdiction = $1 AND sha256 = $2 \
           AND state = 'committed' AND id <> $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(&upload.jurisdiction)
    .bind(&upload.sha256)
    .bind(upload.id)
    .fetch_optional(pool)
    .await
    .map(|found: Option<(i64, Option<i64>)>| found.map(|(id, at)| (id, at.unwrap_or_default())))
}

/// An attorney in the portal whose standing the upload would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingChange {
    pub user_id: i64,
    pub full_name: String,
    pub email: String,
    pub bar_number: String,
    pub from: Standing,
    pub to: Standing,
}

/// What committing would do to the portal: whose standing changes, and
/// how many numbers would leave and enter the registry.
#[derive(Debug, Clone, Default)]
pub struct Consequences {
    pub standing_changes: Vec<StandingChange>,
    pub numbers_leaving: usize,
    pub numbers_entering: usize,
    /// Attorneys verified now who would not be after the commit.
    pub attorneys_leaving: u64,
}

/// One attorney's row in [`consequences`]: the account, its staged and
/// current roster entries, and what its claim rests on.
#[derive(sqlx::FromRow)]
struct RowFlat {
    id: i64,
    full_name: String,
    email: String,
    bar_number: String,
    standing: Standing,
    standing_source: Option<StandingSource>,
    blocking: Option<i64>,
    staged_name: Option<String>,
    staged_status: Option<String>,
    name_now: Option<String>,
    status_now: Option<String>,
    email_key: String,
    email_verified_at: Option<i64>,
    claim_state: ClaimState,
    staged_email: Option<String>,
    email_now: Option<String>,
    verified_others: i64,
}

/// Works out [`Consequences`] as the match would after the commit: an
/// attorney's entry is the staged row, else (full roster) their current
/// entry as not listed, else their current entry.
pub async fn consequences(pool: &AnyPool, upload: &Upload) -> Result<Consequences, sqlx::Error> {
    let rows: Vec<RowFlat> = sqlx::query_as(
        "SELECT u.id, u.full_name, u.email, u.bar_number, u.standing, u.standing_source, \
           s.blocking, s.full_name AS staged_name, s.status AS staged_status, \
           r.full_name AS name_now, r.status AS status_now, \
           u.email_key, u.email_verified_at, u.claim_state, \
           s.email AS staged_email, r.email AS email_now, \
           (SELECT COUNT(*) FROM users o WHERE o.jurisdiction = u.jurisdiction \
              AND o.bar_number = u.bar_number AND o.id <> u.id AND o.role = 'attorney' \
              AND o.standing = 'verified') AS verified_others \
         FROM users u \
         LEFT JOIN roster_staging s ON s.upload_id = $1 AND s.bar_number = u.bar_number \
         LEFT JOIN roster r ON r.jurisdiction = u.jurisdiction AND r.bar_number = u.bar_number \
         WHERE u.role = 'attorney' AND u.jurisdiction = $2 ORDER BY u.full_name, u.id",
    )
    .bind(upload.id)
    .bind(&upload.jurisdiction)
    .fetch_all(pool)
    .await?;
    let full = upload.mode == Mode::Full;
    let mut result = Consequences::default();
    let (mut losing, mut gaining) = (Vec::new(), Vec::new());
    for RowFlat {
        id,
        full_name: name,
        email,
        bar_number: bar,
        standing,
        standing_source: source,
        blocking,
        staged_name,
        staged_status,
        name_now,
        status_now,
        email_key,
        email_verified_at,
        claim_state,
        staged_email,
        email_now,
        verified_others,
    } in rows
    {
        // A staged row with blocking problems changes nothing of its
        // member (skipped, or waiting to be mapped) but is not missing.
        let staged = staged_name
            .zip(staged_status)
            .filter(|_| blocking == Some(0));
        let staged_used = staged.is_some();
        let entry = match (blocking, staged, name_now.zip(status_now)) {
            (_, Some((full_name, status)), _) => Some((full_name, status)),
            (None, None, Some((full_name, _))) if full => {
                Some((full_name, "not_listed".to_owned()))
            }
            (_, None, current) => current,
        }
        .map(|(full_name, status)| RosterEntry {
            jurisdiction: upload.jurisdiction.clone(),
            bar_number: bar.clone(),
            full_name,
            status,
        });
        let current = standing;
        let admin = source == Some(StandingSource::Admin);
        // The email of record as it will be after the commit.
        let email_of_record = if staged_used { staged_email } else { email_now };
        let claim = rosters::ClaimCheck::of(
            claim_state,
            &email_key,
            email_verified_at.is_some(),
            email_of_record.as_deref(),
            verified_others > 0,
        );
        let next = claim.limit(
            Verdict::of(entry.as_ref(), &name).next_standing(current, admin),
            current,
            admin,
        );
        if next == current {
            continue;
        }
        if current == Standing::Verified {
            losing.push(id);
        } else if next == Standing::Verified {
            gaining.push(id);
        }
        result.standing_changes.push(StandingChange {
            user_id: id,
            full_name: name,
            email,
            bar_number: bar,
            from: current,
            to: next,
        });
    }
    result.attorneys_leaving = losing.len() as u64;
    result.numbers_leaving = numbers_leaving(pool, &losing).await?;
    result.numbers_entering = numbers_entering(pool, &gaining).await?;
    Ok(result)
}

/// Numbers held active by these attorneys and by no one else.
async fn numbers_leaving(pool: &AnyPool, losing: &[i64]) -> Result<usize, sqlx::Error> {
    let mut numbers = HashSet::new();
    for user_id in losing {
        let held: Vec<String> = sqlx::query_scalar(
            "SELECT e164 FROM registrations WHERE user_id = $1 AND status = 'active'",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?;
        numbers.extend(held);
    }
    let mut leaving = 0;
    for e164 in numbers {
        let holders: Vec<i64> = sqlx::query_scalar(
            "SELECT user_id FROM registrations WHERE e164 = $1 AND status = 'active'",
        )
        .bind(&e164)
        .fetch_all(pool)
        .await?;
        if holders.iter().all(|holder| losing.contains(holder)) {
            leaving += 1;
        }
    }
    Ok(leaving)
}

/// Numbers these attorneys proved (still valid) that are not in the
/// registry now.
async fn numbers_entering(pool: &AnyPool, gaining: &[i64]) -> Result<usize, sqlx::Error> {
    let mut numbers = HashSet::new();
    for user_id in gaining {
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT r.e164 FROM registrations r WHERE r.user_id = $1 \
               AND r.status IN ('pending', 'suspended') AND r.proven_at IS NOT NULL \
               AND r.expires_at > $2 AND NOT EXISTS (SELECT 1 FROM privileged_intervals p \
                 WHERE p.e164 = r.e164 AND p.until IS NULL)",
        )
        .bind(user_id)
        .bind(now_millis())
        .fetch_all(pool)
        .await?;
        numbers.extend(waiting);
    }
    Ok(numbers.len())
}

/// When a commit needs a confirmation that repeats a count: the brake on
/// mass removals (a county once lost 1,228 of 1,300 registered numbers in
/// one bad import). Settings `ROSTER_BRAKE_PERCENT`,
/// `ROSTER_BRAKE_ATTORNEYS`, `ROSTER_BRAKE_FULL_PERCENT`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BrakeRule {
    /// More than this share (percent) of a jurisdiction's verified
    /// attorneys leaving good standing needs a confirmation.
    pub percent: f64,
    /// More than this many verified attorneys leaving good standing does.
    pub attorneys: u64,
    /// A full roster listing fewer than this share (percent) of the
    /// members listed now does.
    pub full_roster_percent: f64,
}

impl Default for BrakeRule {
    fn default() -> Self {
        Self {
            percent: 2.0,
            attorneys: 25,
            full_roster_percent: 80.0,
        }
    }
}

/// What a commit would take away, weighed by a [`BrakeRule`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Brake {
    pub rule: BrakeRule,
    pub jurisdiction: Jurisdiction,
    /// Verified attorneys of the jurisdiction now.
    pub verified: u64,
    /// Of them, those the commit takes out of good standing.
    pub attorneys_leaving: u64,
    /// Full rosters only: members listed now, listed in the file, and
    /// listed now but missing from the file.
    pub full: Option<(u64, u64, u64)>,
}

impl Brake {
    fn attorneys_pulled(&self) -> bool {
        self.attorneys_leaving > self.rule.attorneys
            || self.attorneys_leaving as f64 > self.verified as f64 * self.rule.percent / 100.0
    }

    fn roster_pulled(&self) -> bool {
        self.full.is_some_and(|(listed, in_file, _)| {
            listed > 0 && (in_file as f64) < listed as f64 * self.rule.full_roster_percent / 100.0
        })
    }

    /// The count the admin must repeat, when the brake is on: the verified
    /// attorneys leaving good standing, else the members a full roster
    /// leaves out.
    pub fn count(&self) -> Option<u64> {
        if self.attorneys_pulled() {
            Some(self.attorneys_leaving)
        } else if self.roster_pulled() {
            self.full.map(|(_, _, missing)| missing)
        } else {
            None
        }
    }

    /// Why the brake is on, and what to type.
    pub fn describe(&self) -> String {
        let code = self.jurisdiction.code();
        if self.attorneys_pulled() {
            format!(
                "this commit would take {} of the {} verified attorneys of {code} out of good \
                 standing (more than {}% or more than {}), and their numbers out of the registry: \
                 confirm by repeating the count, {}",
                self.attorneys_leaving,
                self.verified,
                self.rule.percent,
                self.rule.attorneys,
                self.attorneys_leaving
            )
        } else if let (true, Some((listed, in_file, missing))) = (self.roster_pulled(), self.full) {
            format!(
                "this full roster lists {in_file} members where the roster of {code} lists {listed} \
                 now (fewer than {}%): {missing} would become not listed. Check that the file is \
                 complete, and confirm by repeating the count, {missing}",
                self.rule.full_roster_percent
            )
        } else {
            "no confirmation is needed".into()
        }
    }
}

/// Weighs an upload's [`Consequences`] by the rule, for the preview.
pub async fn brake(
    pool: &AnyPool,
    upload: &Upload,
    consequences: &Consequences,
    rule: BrakeRule,
) -> Result<Brake, UploadError> {
    let jurisdiction =
        Jurisdiction::parse(&upload.jurisdiction).map_err(|_| UploadError::NotFound)?;
    let mut connection = pool.acquire().await?;
    let verified = verified_attorneys(&mut connection, jurisdiction)
        .await?
        .len() as u64;
    let full = match upload.mode {
        Mode::Full => Some(members_listed(&mut connection, upload.id, jurisdiction).await?),
        Mode::Partial => None,
    };
    Ok(Brake {
        rule,
        jurisdiction,
        verified,
        attorneys_leaving: consequences.attorneys_leaving,
        full,
    })
}

async fn verified_attorneys(
    connection: &mut sqlx::AnyConnection,
    jurisdiction: Jurisdiction,
) -> Result<HashSet<i64>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'attorney' AND jurisdiction = $1 \
           AND standing = 'verified'",
    )
    .bind(jurisdiction.code())
    .fetch_all(&mut *connection)
    .await?;
    Ok(ids.into_iter().collect())
}

/// (members listed now, members in the file, listed now but not in it).
async fn members_listed(
    connection: &mut sqlx::AnyConnection,
    upload_id: i64,
    jurisdiction: Jurisdiction,
) -> Result<(u64, u64, u64), sqlx::Error> {
    let (listed, missing): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM roster_staging s \
             WHERE s.upload_id = $1 AND s.bar_number = r.bar_number) THEN 1 ELSE 0 END), 0) \
         FROM roster r WHERE r.jurisdiction = $2 AND r.status <> 'not_listed'",
    )
    .bind(upload_id)
    .bind(jurisdiction.code())
    .fetch_one(&mut *connection)
    .await?;
    let in_file: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM roster_staging WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_one(&mut *connection)
            .await?;
    Ok((listed as u64, in_file as u64, missing as u64))
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReport {
    pub standings_changed: u64,
    pub numbers_added: i64,
    pub numbers_removed: i64,
}

/// How the admin decided to commit.
#[derive(Debug, Clone)]
pub struct Decision {
    pub decided_by: Option<i64>,
    /// Who decided, for the audit trail.
    pub actor: Actor,
    /// Leave out the rows with blocking errors (their members stay as they
    /// are, and are not missing).
    pub skip_invalid: bool,
    /// The count repeated for the brake, if any.
    pub confirm_removals: Option<u64>,
}

/// Applies a previewed upload to the roster, in one registry write: the
/// staged rows without blocking errors replace their members' entries
/// (only where something differs, so the same file twice changes
/// nothing), a full roster marks the members it left out `not_listed`
/// (never one whose row is in the file, readable or not), and the match
/// runs again for the jurisdiction, so standings and numbers follow
/// through the change log. When the [`Brake`] is on and the decision does
/// not repeat its count, nothing is written.
pub async fn commit(
    pool: &AnyPool,
    upload_id: i64,
    decision: Decision,
    rule: BrakeRule,
) -> Result<CommitReport, UploadError> {
    let mut write = registry::begin_write(pool).await?;
    let head_before = registry::head(&mut *write.transaction).await?;
    let found: Option<(String, Mode, i64)> = sqlx::query_as(
        "SELECT jurisdiction, mode, rows_invalid FROM roster_uploads \
         WHERE id = $1 AND state = 'previewed'",
    )
    .bind(upload_id)
    .fetch_optional(&mut *write.transaction)
    .await?;
    let Some((jurisdiction, mode, invalid)) = found else {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM roster_uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(&mut *write.transaction)
            .await?;
        return Err(match exists {
            Some(_) => UploadError::AlreadyDecided,
            None => UploadError::NotFound,
        });
    };
    if invalid > 0 && !decision.skip_invalid {
        return Err(UploadError::HasErrors(invalid as u64));
    }
    let code = Jurisdiction::parse(&jurisdiction).map_err(|_| UploadError::NotFound)?;
    let verified_before = verified_attorneys(&mut write.transaction, code).await?;
    let full = match mode {
        Mode::Full => Some(members_listed(&mut write.transaction, upload_id, code).await?),
        Mode::Partial => None,
    };
    let now = now_millis();
    sqlx::query(&format!(
        "INSERT INTO roster (jurisdiction, bar_number, full_name, name_key, status, email, \
           admitted_on, office_phone, office_phone_ext, updated_at) \
         SELECT $1, bar_number, full_name, name_key, status, email, admitted_on, office_phone, \
           office_phone_ext, $2 \
         FROM roster_staging WHERE upload_id = $3 AND blocking = 0 \
         ON CONFLICT (jurisdiction, bar_number) DO UPDATE SET full_name = excluded.full_name, \
           name_key = excluded.name_key, status = excluded.status, email = excluded.email, \
           admitted_on = excluded.admitted_on, office_phone = excluded.office_phone, \
           office_phone_ext = excluded.office_phone_ext, updated_at = excluded.updated_at \
         WHERE {}",
        differs("roster", "excluded")
    ))
    .bind(&jurisdiction)
    .bind(now)
    .bind(upload_id)
    .execute(&mut *write.transaction)
    .await?;
    if mode == Mode::Full {
        sqlx::query(
            "UPDATE roster SET status = 'not_listed', updated_at = $1 \
             WHERE jurisdiction = $2 AND status <> 'not_listed' AND NOT EXISTS \
               (SELECT 1 FROM roster_staging s WHERE s.upload_id = $3 \
                AND s.bar_number = roster.bar_number)",
        )
        .bind(now)
        .bind(&jurisdiction)
        .bind(upload_id)
        .execute(&mut *write.transaction)
        .await?;
    }
    let standings_changed = rosters::rematch(&mut write, Attorneys::Of(&jurisdiction)).await?;
    let verified_after = verified_attorneys(&mut write.transaction, code).await?;
    let brake = Brake {
        rule,
        jurisdiction: code,
        verified: verified_before.len() as u64,
        attorneys_leaving: verified_before.difference(&verified_after).count() as u64,
        full,
    };
    let confirmed = match brake.count() {
        // Dropping the write rolls everything above back.
        Some(count) if decision.confirm_removals != Some(count) => {
            return Err(UploadError::NeedsConfirmation(brake));
        }
        Some(count) => Some(count as i64),
        None => None,
    };
    let flips: Vec<(String, i64)> =
        sqlx::query_as("SELECT op, COUNT(*) FROM registry_changes WHERE seq > $1 GROUP BY op")
            .bind(head_before)
            .fetch_all(&mut *write.transaction)
            .await?;
    let count = |op: &str| {
        flips
            .iter()
            .find(|(name, _)| name == op)
            .map_or(0, |(_, n)| *n)
    };
    let report = CommitReport {
        standings_changed,
        numbers_added: count("add"),
        numbers_removed: count("remove"),
    };
    sqlx::query(
        "UPDATE roster_uploads SET state = 'committed', decided_by = $1, decided_at = $2, \
           skipped_invalid = $3, standings_changed = $4, numbers_added = $5, numbers_removed = $6, \
           confirmed_removals = $7 \
         WHERE id = $8",
    )
    .bind(decision.decided_by)
    .bind(now)
    .bind(i64::from(invalid > 0))
    .bind(report.standings_changed as i64)
    .bind(report.numbers_added)
    .bind(report.numbers_removed)
    .bind(confirmed)
    .bind(upload_id)
    .execute(&mut *write.transaction)
    .await?;
    sqlx::query("DELETE FROM roster_staging WHERE upload_id = $1")
        .bind(upload_id)
        .execute(&mut *write.transaction)
        .await?;
    audit_trail::append(
        &mut write.transaction,
        &decision.actor,
        AuditAction::RosterCommitted,
        &format!(
            "roster upload {upload_id} ({jurisdiction}, {})",
            mode.as_str()
        ),
        &format!(
            "{} standings changed, {} numbers entered and {} left the registry{}{}",
            report.standings_changed,
            report.numbers_added,
            report.numbers_removed,
            if decision.skip_invalid {
                "; rows with errors skipped"
            } else {
                ""
            },
            decision
                .confirm_removals
                .map(|count| format!("; {count} removals confirmed"))
                .unwrap_or_default()
        ),
    )
    .await?;
    write.commit().await?;
    Ok(report)
}

/// Drops a previewed upload without applying it.
pub async fn discard(
    pool: &AnyPool,
    upload_id: i64,
    decided_by: Option<i64>,
) -> Result<(), UploadError> {
    let mut transaction = db::begin_write(pool).await?;
    let discarded = sqlx::query(
        "UPDATE roster_uploads SET state = 'discarded', decided_by = $1, decided_at = $2 \
         WHERE id = $3 AND state = 'previewed'",
    )
    .bind(decided_by)
    .bind(now_millis())
    .bind(upload_id)
    .execute(&mut *transaction)
    .await?;
    if discarded.rows_affected() != 1 {
        return Err(UploadError::AlreadyDecided);
    }
    sqlx::query("DELETE FROM roster_staging WHERE upload_id = $1")
        .bind(upload_id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

/// Discards the previews nobody committed or discarded within `ttl`
/// (housekeeping): their staged rows are deleted, the history keeps the
/// upload as discarded. Returns how many expired.
pub async fn expire_abandoned(
    pool: &AnyPool,
    ttl: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let now = now_millis();
    let before = now - ttl.as_millis() as i64;
    let mut transaction = db::begin_write(pool).await?;
    let expired: Vec<i64> = sqlx::query_scalar(
        "UPDATE roster_uploads SET state = 'discarded', decided_at = $1 \
         WHERE state = 'previewed' AND created_at < $2 RETURNING id",
    )
    .bind(now)
    .bind(before)
    .fetch_all(&mut *transaction)
    .await?;
    for upload_id in &expired {
        sqlx::query("DELETE FROM roster_staging WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(expired.len() as u64)
}

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

/// The saved column names and status words of these jurisdictions, as
/// (jurisdiction, field or word, header or status), for the pages.
pub async fn saved_mappings(
    pool: &AnyPool,
    jurisdictions: &[Jurisdiction],
) -> Result<(Vec<(String, String, String)>, Vec<(String, String, String)>), sqlx::Error> {
    let mut columns = Vec::new();
    let mut words = Vec::new();
    for jurisdiction in jurisdictions {
        let mappings = load_mappings(pool, *jurisdiction).await?;
        let code = jurisdiction.code().to_owned();
        for (field, header) in mappings.columns {
            columns.push((code.clone(), field.as_str().to_owned(), header));
        }
        let mut sorted: Vec<_> = mappings.statuses.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (word, status) in sorted {
            words.push((code.clone(), word, status.as_str().to_owned()));
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
    let jurisdiction: Option<String> = sqlx::query_scalar(
        "SELECT jurisdiction FROM roster_uploads WHERE id = $1 AND state = 'previewed'",
    )
    .bind(upload_id)
    .fetch_optional(&mut *transaction)
    .await?;
    let jurisdiction = Jurisdiction::parse(&jurisdiction.ok_or(UploadError::AlreadyDecided)?)
        .map_err(|_| UploadError::NotFound)?;
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

/// Every attorney account in the portal with a bar number of
/// `jurisdiction`, as "email (standing)" joined by "; " per bar number, in
/// the order the accounts were made. All of them, with their standing, not
/// one picked: anyone can sign up with a bar number, so an unproven claim
/// must not read as "the" attorney.
async fn attorneys_in_portal(
    pool: &AnyPool,
    jurisdiction: &str,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let accounts: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT bar_number, email, standing FROM users \
         WHERE jurisdiction = $1 AND role = 'attorney' ORDER BY id",
    )
    .bind(jurisdiction)
    .fetch_all(pool)
    .await?;
    let mut by_bar_number: HashMap<String, String> = HashMap::new();
    for (bar_number, email, standing) in accounts {
        let cell = by_bar_number.entry(bar_number).or_default();
        if !cell.is_empty() {
            cell.push_str("; ");
        }
        cell.push_str(&format!("{email} ({standing})"));
    }
    Ok(by_bar_number)
}

/// The preview's changes as CSV, for a spreadsheet: one line per member
/// who is new, changed or (full roster) missing, with the status before
/// and after; and one per attorney in the portal whose standing changes,
/// with the numbers that leave or enter the registry. Cells a spreadsheet
/// would run as formulas are neutralised.
pub async fn changes_csv(pool: &AnyPool, upload: &Upload) -> Result<Vec<u8>, UploadError> {
    let csv_error = |error: csv::Error| UploadError::Read(io::Error::other(error.to_string()));
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, record: [&str; 7]| {
        let cells: Vec<String> = record.iter().map(|cell| neutralise_formula(cell)).collect();
        writer.write_record(&cells).map_err(csv_error)
    };
    write(
        &mut writer,
        [
            "bar_number",
            "member",
            "change",
            "before",
            "after",
            "attorney_in_portal",
            "numbers_affected",
        ],
    )?;
    type Changed = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let attorneys = attorneys_in_portal(pool, &upload.jurisdiction).await?;
    let attorney_of = |bar: &str| attorneys.get(bar).cloned().unwrap_or_default();
    let changed: Vec<Changed> = sqlx::query_as(&format!(
        "SELECT s.bar_number, s.full_name, r.full_name, r.status, s.status \
         FROM roster_staging s LEFT JOIN roster r \
           ON r.jurisdiction = $2 AND r.bar_number = s.bar_number \
         WHERE s.upload_id = $1 AND s.blocking = 0 AND (r.bar_number IS NULL OR {}) \
         ORDER BY s.line",
        differs("r", "s")
    ))
    .bind(upload.id)
    .bind(&upload.jurisdiction)
    .fetch_all(pool)
    .await?;
    for (bar, name, name_before, before, after) in changed {
        let change = if before.is_some() { "changed" } else { "new" };
        let member = name.or(name_before).unwrap_or_default();
        let (before, after) = (before.unwrap_or_default(), after.unwrap_or_default());
        let attorney = attorney_of(&bar);
        write(
            &mut writer,
            [&bar, &member, change, &before, &after, &attorney, ""],
        )?;
    }
    if upload.mode == Mode::Full {
        let missing: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT r.bar_number, r.full_name, r.status FROM roster r \
             WHERE r.jurisdiction = $2 AND r.status <> 'not_listed' AND NOT EXISTS \
               (SELECT 1 FROM roster_staging s WHERE s.upload_id = $1 \
                AND s.bar_number = r.bar_number) ORDER BY r.bar_number",
        )
        .bind(upload.id)
        .bind(&upload.jurisdiction)
        .fetch_all(pool)
        .await?;
        for (bar, name, before) in missing {
            let attorney = attorney_of(&bar);
            write(
                &mut writer,
                [&bar, &name, "missing", &before, "not_listed", &attorney, ""],
            )?;
        }
    }
    let consequences = consequences(pool, upload).await?;
    for change in consequences.standing_changes {
        let numbers: Vec<String> = sqlx::query_scalar(
            "SELECT e164 FROM registrations WHERE user_id = $1 \
               AND status IN ('active', 'pending', 'suspended') ORDER BY e164",
        )
        .bind(change.user_id)
        .fetch_all(pool)
        .await?;
        let standing = format!("{} -> {}", change.from, change.to);
        write(
            &mut writer,
            [
                &change.bar_number,
                &change.full_name,
                "standing",
                change.from.as_str(),
                change.to.as_str(),
                &format!("{} ({standing})", change.email),
                &numbers.join(" "),
            ],
        )?;
    }
    writer
        .into_inner()
        .map_err(|error| UploadError::Read(io::Error::other(error.to_string())))
}

/// A cell as a spreadsheet should show it: text that a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets
/// a leading apostrophe, as OWASP advises for CSV injection.
pub fn neutralise_formula(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// The row errors of an upload as CSV (line, column, value, message).
pub async fn errors_csv(pool: &AnyPool, upload_id: i64) -> Result<Vec<u8>, UploadError> {
    let rows = errors(pool, upload_id, MAX_STORED_ERRORS as i64).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, record: [&str; 5]| {
        writer
            .write_record(record)
            .map_err(|error| UploadError::Read(io::Error::other(error.to_string())))
    };
    write(
        &mut writer,
        ["line", "column", "value", "message", "severity"],
    )?;
    for row in rows {
        let line = row.line.to_string();
        let column = neutralise_formula(&row.column_name);
        let value = neutralise_formula(&row.cell);
        let message = neutralise_formula(&row.message);
        write(
            &mut writer,
            [&line, &column, &value, &message, row.severity.as_str()],
        )?;
    }
    writer
        .into_inner()
        .map_err(|error| UploadError::Read(io::Error::other(error.to_string())))
}

impl From<UploadError> for AppError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::NotFound => AppError::NotFound,
            UploadError::AlreadyDecided => {
                AppError::Conflict("This upload was already committed or discarded.".into())
            }
            UploadError::HasErrors(rows) => AppError::Validation(format!(
                "{} errors. Map their statuses above, fix the file and upload it \
                 again, or tick \"Skip the rows with errors\" to commit without them (their \
                 members stay as they are).",
                crate::text::counted(rows, "row has", "rows have")
            )),
            UploadError::NeedsConfirmation(brake) => {
                let mut message = brake.describe();
                if let Some(first) = message.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                AppError::Validation(format!("{message}. Nothing was changed."))
            }
            other => AppError::unexpected(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise_formula("+1 202"), "'+1 202");
        assert_eq!(neutralise_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_formula("Jane Doe"), "Jane Doe");
    }

    fn brake(verified: u64, leaving: u64, full: Option<(u64, u64, u64)>) -> Brake {
        Brake {
            rule: BrakeRule::default(),
            jurisdiction: Jurisdiction::parse("CA").expect("CA"),
            verified,
            attorneys_leaving: leaving,
            full,
        }
    }

    #[test]
    fn the_brake_counts_attorneys_then_missing_members() {
        // 2% of 1,000 is 20: 20 may leave, 21 may not without the count.
        assert_eq!(brake(1000, 20, None).count(), None);
        assert_eq!(brake(1000, 21, None).count(), Some(21));
        // More than 25 always needs it, however large the bar.
        assert_eq!(brake(100_000, 25, None).count(), None);
        assert_eq!(brake(100_000, 26, None).count(), Some(26));
        // A full roster with under 80% of the members listed now.
        assert_eq!(brake(0, 0, Some((1300, 1040, 260))).count(), None);
        assert_eq!(brake(0, 0, Some((1300, 72, 1228))).count(), Some(1228));
        assert!(
            brake(0, 0, Some((1300, 72, 1228)))
                .describe()
                .contains("1228 would become not listed")
        );
        // The first roster of a bar has nothing to lose.
        assert_eq!(brake(0, 0, Some((0, 5, 0))).count(), None);
    }
}
