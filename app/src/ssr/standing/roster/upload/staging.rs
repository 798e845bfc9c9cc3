//! Staging: the file read on a blocking thread and written to
//! `roster_staging` in batches, in one transaction, so memory stays
//! bounded whatever the file's size and a file that breaks a limit, or is
//! cut off, leaves nothing behind. The counts the preview shows are worked
//! out here too, since mapping a status word changes them again.

use std::collections::HashSet;
use std::io::{self, Read, Seek};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::mpsc;

use crate::domain::{Jurisdiction, NameKey, RosterStatus};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::standing::roster::reading::{
    self, Field, FileEncoding, Mappings, Member, OfficePhone, Problem, Reader, Row, Severity,
};

use super::mappings::load_mappings;
use super::progress::Progress;
use super::{
    BATCH_ROWS, MAX_BYTES, MAX_ROWS, MAX_STORED_ERRORS, Mode, RowError, UploadError, UploadRequest,
    differs,
};

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

/// Works out how the staged rows compare with the roster and stores the
/// counts. New, changed and unchanged count the valid rows only, so they
/// add up to `rows_valid`; rows with blocking problems are counted once,
/// in `rows_invalid` (they change nothing, and hold their member's place
/// in a full roster).
pub(super) async fn recount(
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
