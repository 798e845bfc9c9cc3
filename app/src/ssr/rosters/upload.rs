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

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::mpsc;

use crate::domain::closed_set::closed_set;
use crate::domain::{
    BarNumber, ClaimState, EmailAddress, Jurisdiction, NameKey, PersonName, RosterStatus, Standing,
    StandingSource,
};
use crate::error::AppError;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::rosters::{self, Attorneys, RosterEntry, Verdict};
use crate::ssr::{infra::db, registry};

/// Largest file taken, in bytes (50 MiB).
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Most data rows a file may have.
pub const MAX_ROWS: u64 = 1_000_000;
/// Most columns a header may have: the format has six.
pub const MAX_COLUMNS: usize = 64;
/// Row errors kept for the page and the download; all are counted.
pub const MAX_STORED_ERRORS: u64 = 10_000;
/// Longest cell kept in an error report.
const MAX_CELL_SHOWN: usize = 200;
/// Rows per INSERT: 9 parameters each, well under both engines' limits.
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
    #[error("the header has {0} columns; a roster has at most 64")]
    TooManyColumns(usize),
    #[error("the file is empty: the first line must be the header")]
    Empty,
    #[error("the header is not UTF-8 text")]
    HeaderNotUtf8,
    #[error("the header has no {column} column{hint}")]
    MissingColumn { column: &'static str, hint: String },
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
    #[error("the file has {0} rows with errors: fix them, or choose to skip them")]
    HasErrors(u64),
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

/// The uploads this instance is working on, by account and a token the
/// browser chose, so the page can show how far the checking got.
#[derive(Debug, Clone, Default)]
pub struct ProgressBoard(Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<Progress>>>>);

impl ProgressBoard {
    fn key(user_id: i64, token: &str) -> String {
        format!("{user_id}:{token}")
    }

    /// Registers an upload; it leaves the board when the entry is dropped.
    pub fn enter(&self, user_id: i64, token: &str) -> ProgressEntry {
        let progress = Arc::new(Progress::default());
        let key = Self::key(user_id, token);
        if let Ok(mut board) = self.0.lock() {
            board.insert(key.clone(), progress.clone());
        }
        ProgressEntry {
            board: self.clone(),
            key,
            progress,
        }
    }

    /// (bytes received, bytes checked, rows checked) of an upload.
    pub fn read(&self, user_id: i64, token: &str) -> Option<(u64, u64, u64)> {
        let board = self.0.lock().ok()?;
        let progress = board.get(&Self::key(user_id, token))?;
        Some((
            progress.received.load(Ordering::Relaxed),
            progress.bytes.load(Ordering::Relaxed),
            progress.rows.load(Ordering::Relaxed),
        ))
    }
}

/// An upload on the [`ProgressBoard`], taken off when dropped (also when
/// the request is abandoned half-way).
pub struct ProgressEntry {
    board: ProgressBoard,
    key: String,
    pub progress: Arc<Progress>,
}

impl Drop for ProgressEntry {
    fn drop(&mut self) {
        if let Ok(mut board) = self.board.0.lock() {
            board.remove(&self.key);
        }
    }
}

/// A row that could not be taken, as the uploader is shown it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RowError {
    pub line: i64,
    pub column_name: String,
    pub cell: String,
    pub message: String,
}

/// A valid row, ready for staging.
#[derive(Debug, Clone)]
struct StagedRow {
    line: i64,
    bar_number: String,
    full_name: String,
    name_key: String,
    status: &'static str,
    email: Option<String>,
    admitted_on: Option<String>,
    office_phone: Option<String>,
}

enum Parsed {
    Row(StagedRow),
    Invalid(RowError),
}

/// What the parser learnt about the file as a whole.
struct FileFacts {
    sha256: String,
    bytes: u64,
    ignored_columns: Vec<String>,
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

fn read_error(error: csv::Error) -> UploadError {
    match error.into_kind() {
        csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::FileTooLarge => UploadError::TooLarge,
        csv::ErrorKind::Io(io) => UploadError::Read(io),
        other => UploadError::Read(io::Error::other(format!("{other:?}"))),
    }
}

/// The columns of the format, found in a header.
struct Columns {
    count: usize,
    bar_number: usize,
    full_name: usize,
    status: usize,
    email: Option<usize>,
    admitted_on: Option<usize>,
    office_phone: Option<usize>,
    jurisdiction: Option<usize>,
    ignored: Vec<String>,
}

impl Columns {
    fn of(header: &csv::ByteRecord) -> Result<Self, UploadError> {
        if header.len() > MAX_COLUMNS {
            return Err(UploadError::TooManyColumns(header.len()));
        }
        let names: Vec<String> = header
            .iter()
            .map(|raw| {
                std::str::from_utf8(raw)
                    .map(|name| name.trim_start_matches('\u{feff}').trim().to_lowercase())
                    .map_err(|_| UploadError::HeaderNotUtf8)
            })
            .collect::<Result<_, _>>()?;
        let find = |wanted: &str| names.iter().position(|name| name == wanted);
        let required = |column: &'static str| {
            find(column).ok_or_else(|| {
                let joined = names.join(",");
                let hint = match [';', '\t', '|'].into_iter().find(|c| joined.contains(*c)) {
                    Some(';') => {
                        " (the file seems separated by semicolons: save it as CSV with commas)"
                    }
                    Some('\t') => " (the file seems separated by tabs: save it as CSV with commas)",
                    Some(_) => " (the file seems separated by bars: save it as CSV with commas)",
                    None => "",
                };
                UploadError::MissingColumn {
                    column,
                    hint: hint.to_owned(),
                }
            })
        };
        let known = [
            "bar_number",
            "full_name",
            "status",
            "email",
            "admitted_on",
            "office_phone",
            "jurisdiction",
        ];
        Ok(Self {
            count: names.len(),
            bar_number: required("bar_number")?,
            full_name: required("full_name")?,
            status: required("status")?,
            email: find("email"),
            admitted_on: find("admitted_on"),
            office_phone: find("office_phone"),
            jurisdiction: find("jurisdiction"),
            ignored: names
                .iter()
                .filter(|name| !known.contains(&name.as_str()))
                .cloned()
                .collect(),
        })
    }

    /// Checks one record, as the uploader would want each problem named.
    fn check(&self, record: &csv::ByteRecord, line: i64, jurisdiction: Jurisdiction) -> Parsed {
        let invalid = |column: &str, cell: &str, message: &str| {
            Parsed::Invalid(RowError {
                line,
                column_name: column.to_owned(),
                cell: cell.chars().take(MAX_CELL_SHOWN).collect(),
                message: message.to_owned(),
            })
        };
        if record.len() != self.count {
            return invalid(
                "",
                "",
                &format!("expected {} fields, found {}", self.count, record.len()),
            );
        }
        let raw = |index: usize| record.get(index).unwrap_or_default();
        macro_rules! cell {
            ($index:expr, $name:literal) => {
                match std::str::from_utf8(raw($index)) {
                    Ok(value) => value.trim(),
                    Err(_) => {
                        return invalid(
                            $name,
                            &String::from_utf8_lossy(raw($index)),
                            "not UTF-8 text",
                        );
                    }
                }
            };
        }
        if let Some(index) = self.jurisdiction {
            let given = cell!(index, "jurisdiction");
            if !given.eq_ignore_ascii_case(jurisdiction.code()) {
                return invalid(
                    "jurisdiction",
                    given,
                    &format!("this upload is for {}", jurisdiction.code()),
                );
            }
        }
        let bar_number = cell!(self.bar_number, "bar_number");
        let bar_number = match BarNumber::parse(bar_number) {
            Ok(parsed) => parsed,
            Err(error) => return invalid("bar_number", bar_number, &error.to_string()),
        };
        let full_name = cell!(self.full_name, "full_name");
        let full_name = match PersonName::parse(full_name) {
            Ok(parsed) => parsed,
            Err(error) => return invalid("full_name", full_name, &error.to_string()),
        };
        let status_text = cell!(self.status, "status");
        let status = match RosterStatus::parse(status_text) {
            Some(RosterStatus::NotListed) | None => {
                return invalid(
                    "status",
                    status_text,
                    "not one of active, inactive, suspended, disbarred, deceased, resigned",
                );
            }
            Some(status) => status,
        };
        let email = match self.email {
            Some(index) => match cell!(index, "email") {
                "" => None,
                given => match EmailAddress::parse(given) {
                    Ok(address) => Some(address.as_str().to_owned()),
                    Err(error) => return invalid("email", given, &error.to_string()),
                },
            },
            None => None,
        };
        let admitted_on = match self.admitted_on {
            Some(index) => match cell!(index, "admitted_on") {
                "" => None,
                given if rosters::is_iso_date(given) => Some(given.to_owned()),
                given => return invalid("admitted_on", given, "not a date written YYYY-MM-DD"),
            },
            None => None,
        };
        let office_phone = match self.office_phone {
            Some(index) => match cell!(index, "office_phone") {
                "" => None,
                given
                    if given.chars().count() <= 40
                        && given
                            .chars()
                            .all(|c| c.is_ascii_digit() || " +-().xXextEXT".contains(c)) =>
                {
                    Some(given.to_owned())
                }
                given => {
                    return invalid(
                        "office_phone",
                        given,
                        "not a phone number (digits, spaces, + - ( ) and ext, at most 40)",
                    );
                }
            },
            None => None,
        };
        Parsed::Row(StagedRow {
            line,
            name_key: NameKey::of(full_name.as_str()).index_key(),
            bar_number: bar_number.as_str().to_owned(),
            full_name: full_name.as_str().to_owned(),
            status: status.as_str(),
            email,
            admitted_on,
            office_phone,
        })
    }
}

/// Reads the CSV on the calling (blocking) thread and sends its rows in
/// batches; stops when the receiver hangs up.
fn parse(
    input: impl Read,
    jurisdiction: Jurisdiction,
    progress: Arc<Progress>,
    batches: mpsc::Sender<Vec<Parsed>>,
) -> Result<FileFacts, UploadError> {
    let mut metered = Metered {
        inner: input,
        hasher: Sha256::new(),
        read: 0,
        progress: progress.clone(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(&mut metered);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(read_error)? {
        return Err(UploadError::Empty);
    }
    let columns = Columns::of(&record)?;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut rows = 0_u64;
    while reader.read_byte_record(&mut record).map_err(read_error)? {
        // A blank line is no row.
        if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            return Err(UploadError::TooManyRows);
        }
        let line = record.position().map_or(0, |p| p.line()) as i64;
        batch.push(columns.check(&record, line, jurisdiction));
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
    drop(reader);
    Ok(FileFacts {
        sha256: format!("{:x}", metered.hasher.finalize()),
        bytes: metered.read,
        ignored_columns: columns.ignored,
    })
}

/// Parses `input` and stages it as a new upload, previewed. All or
/// nothing: on any error no trace of the upload is left. Returns its id.
pub async fn stage(
    pool: &AnyPool,
    request: &UploadRequest,
    input: impl Read + Send + 'static,
    progress: Arc<Progress>,
) -> Result<i64, UploadError> {
    let jurisdiction = request.jurisdiction;
    let mut transaction = pool.begin().await?;
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
    let parser = tokio::task::spawn_blocking(move || parse(input, jurisdiction, progress, sender));
    let (mut valid, mut invalid) = (0_u64, 0_u64);
    while let Some(batch) = receiver.recv().await {
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for item in batch {
            match item {
                Parsed::Row(row) => rows.push(row),
                Parsed::Invalid(error) => errors.push(error),
            }
        }
        let duplicates = insert_rows(&mut transaction, upload_id, &rows).await?;
        valid += (rows.len() - duplicates.len()) as u64;
        errors.extend(duplicates);
        let room = MAX_STORED_ERRORS.saturating_sub(invalid) as usize;
        insert_errors(
            &mut transaction,
            upload_id,
            &errors[..errors.len().min(room)],
        )
        .await?;
        invalid += errors.len() as u64;
    }
    let facts = parser
        .await
        .map_err(|error| UploadError::Read(io::Error::other(error.to_string())))??;
    if request.mode == Mode::Full && valid == 0 {
        return Err(UploadError::EmptyFullRoster);
    }

    let counts = Counts::of(
        &mut transaction,
        upload_id,
        jurisdiction,
        request.mode,
        valid,
    )
    .await?;
    sqlx::query(
        "UPDATE roster_uploads SET sha256 = $1, bytes = $2, rows_valid = $3, rows_invalid = $4, \
           ignored_columns = $5, new_members = $6, changed_members = $7, unchanged_members = $8, \
           missing_members = $9 WHERE id = $10",
    )
    .bind(&facts.sha256)
    .bind(facts.bytes as i64)
    .bind(valid as i64)
    .bind(invalid as i64)
    .bind(facts.ignored_columns.join(", "))
    .bind(counts.new)
    .bind(counts.changed)
    .bind(counts.unchanged)
    .bind(counts.missing)
    .bind(upload_id)
    .execute(&mut *transaction)
    .await?;
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
         email, admitted_on, office_phone) VALUES {} ON CONFLICT DO NOTHING RETURNING bar_number",
        db::values_placeholders(transaction, rows.len(), 9)
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
            .bind(&row.email)
            .bind(&row.admitted_on)
            .bind(&row.office_phone);
    }
    let mut inserted: HashSet<String> = query
        .fetch_all(&mut **transaction)
        .await?
        .into_iter()
        .collect();
    let mut duplicates = Vec::new();
    for row in rows {
        // The first row with a bar number is the one stored.
        if inserted.remove(&row.bar_number) {
            continue;
        }
        let first: i64 = sqlx::query_scalar(
            "SELECT line FROM roster_staging WHERE upload_id = $1 AND bar_number = $2",
        )
        .bind(upload_id)
        .bind(&row.bar_number)
        .fetch_one(&mut **transaction)
        .await?;
        duplicates.push(RowError {
            line: row.line,
            column_name: "bar_number".into(),
            cell: row.bar_number.clone(),
            message: format!("appears more than once in the file (first on line {first})"),
        });
    }
    Ok(duplicates)
}

async fn insert_errors(
    transaction: &mut Transaction<'static, Any>,
    upload_id: i64,
    errors: &[RowError],
) -> Result<(), sqlx::Error> {
    for chunk in errors.chunks(BATCH_ROWS) {
        let sql = format!(
            "INSERT INTO roster_upload_errors (upload_id, line, column_name, cell, message) VALUES {}",
            db::values_placeholders(transaction, chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for error in chunk {
            query = query
                .bind(upload_id)
                .bind(error.line)
                .bind(&error.column_name)
                .bind(&error.cell)
                .bind(&error.message);
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
         OR COALESCE({r}.office_phone, '') <> COALESCE({s}.office_phone, ''))"
    )
}

/// How an upload compares with the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub new: i64,
    pub changed: i64,
    pub unchanged: i64,
    pub missing: i64,
}

impl Counts {
    async fn of(
        transaction: &mut Transaction<'static, Any>,
        upload_id: i64,
        jurisdiction: Jurisdiction,
        mode: Mode,
        valid: u64,
    ) -> Result<Self, sqlx::Error> {
        let new: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM roster_staging s WHERE s.upload_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM roster r WHERE r.jurisdiction = $2 AND r.bar_number = s.bar_number)",
        )
        .bind(upload_id)
        .bind(jurisdiction.code())
        .fetch_one(&mut **transaction)
        .await?;
        let changed: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM roster_staging s JOIN roster r \
               ON r.jurisdiction = $2 AND r.bar_number = s.bar_number \
             WHERE s.upload_id = $1 AND {}",
            differs("r", "s")
        ))
        .bind(upload_id)
        .bind(jurisdiction.code())
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
                .bind(jurisdiction.code())
                .fetch_one(&mut **transaction)
                .await?
            }
        };
        Ok(Self {
            new,
            changed,
            unchanged: valid as i64 - new - changed,
            missing,
        })
    }
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
}

const UPLOAD_COLUMNS: &str = "id, jurisdiction, mode, state, uploader, file_name, sha256, bytes, \
    rows_valid, rows_invalid, ignored_columns, new_members, changed_members, unchanged_members, \
    missing_members, created_at, decided_at, skipped_invalid, standings_changed, numbers_added, \
    numbers_removed";

pub async fn upload(pool: &AnyPool, upload_id: i64) -> Result<Upload, UploadError> {
    sqlx::query_as(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM roster_uploads WHERE id = $1"
    ))
    .bind(upload_id)
    .fetch_optional(pool)
    .await?
    .ok_or(UploadError::NotFound)
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

/// The row errors of an upload, by line; `limit` of them.
pub async fn errors(
    pool: &AnyPool,
    upload_id: i64,
    limit: i64,
) -> Result<Vec<RowError>, sqlx::Error> {
    sqlx::query_as(
        "SELECT line, column_name, cell, message FROM roster_upload_errors \
         WHERE upload_id = $1 ORDER BY line LIMIT $2",
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
           s.full_name AS staged_name, s.status AS staged_status, \
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
        let staged = staged_name.is_some();
        let entry = match (staged_name.zip(staged_status), name_now.zip(status_now)) {
            (Some((full_name, status)), _) => Some((full_name, status)),
            (None, Some((full_name, _))) if full => Some((full_name, "not_listed".to_owned())),
            (None, current) => current,
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
        let email_of_record = if staged { staged_email } else { email_now };
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

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReport {
    pub standings_changed: u64,
    pub numbers_added: i64,
    pub numbers_removed: i64,
}

/// Applies a previewed upload to the roster, in one registry write: the
/// staged rows replace their members' entries (only where something
/// differs, so the same file twice changes nothing), a full roster marks
/// the members it left out `not_listed`, and the match runs again for the
/// jurisdiction, so standings and numbers follow through the change log.
pub async fn commit(
    pool: &AnyPool,
    upload_id: i64,
    decided_by: Option<i64>,
    skip_invalid: bool,
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
    if invalid > 0 && !skip_invalid {
        return Err(UploadError::HasErrors(invalid as u64));
    }
    let now = now_millis();
    sqlx::query(&format!(
        "INSERT INTO roster (jurisdiction, bar_number, full_name, name_key, status, email, \
           admitted_on, office_phone, updated_at) \
         SELECT $1, bar_number, full_name, name_key, status, email, admitted_on, office_phone, $2 \
         FROM roster_staging WHERE upload_id = $3 \
         ON CONFLICT (jurisdiction, bar_number) DO UPDATE SET full_name = excluded.full_name, \
           name_key = excluded.name_key, status = excluded.status, email = excluded.email, \
           admitted_on = excluded.admitted_on, office_phone = excluded.office_phone, \
           updated_at = excluded.updated_at \
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
           skipped_invalid = $3, standings_changed = $4, numbers_added = $5, numbers_removed = $6 \
         WHERE id = $7",
    )
    .bind(decided_by)
    .bind(now)
    .bind(i64::from(invalid > 0))
    .bind(report.standings_changed as i64)
    .bind(report.numbers_added)
    .bind(report.numbers_removed)
    .bind(upload_id)
    .execute(&mut *write.transaction)
    .await?;
    sqlx::query("DELETE FROM roster_staging WHERE upload_id = $1")
        .bind(upload_id)
        .execute(&mut *write.transaction)
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
    let mut transaction = pool.begin().await?;
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
    let write = |writer: &mut csv::Writer<Vec<u8>>, record: [&str; 4]| {
        writer
            .write_record(record)
            .map_err(|error| UploadError::Read(io::Error::other(error.to_string())))
    };
    write(&mut writer, ["line", "column", "value", "message"])?;
    for row in rows {
        let line = row.line.to_string();
        let value = neutralise_formula(&row.cell);
        let message = neutralise_formula(&row.message);
        write(&mut writer, [&line, &row.column_name, &value, &message])?;
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
                "{rows} rows have errors. Fix the file and upload it again, or tick \
                 \"Skip the rows with errors\" to commit without them."
            )),
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

    #[test]
    fn the_progress_board_shows_an_upload_while_it_runs() {
        let board = ProgressBoard::default();
        let entry = board.enter(7, "abc");
        entry.progress.received.store(100, Ordering::Relaxed);
        entry.progress.rows.store(3, Ordering::Relaxed);
        assert_eq!(board.read(7, "abc"), Some((100, 0, 3)));
        assert_eq!(board.read(8, "abc"), None, "another account's upload");
        drop(entry);
        assert_eq!(board.read(7, "abc"), None, "gone once over");
    }
}
