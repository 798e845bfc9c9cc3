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
//!
//! This module keeps what every step shares: the limits, the states an
//! upload goes through, its errors and the row problems shown to the
//! uploader. Each step lives in its own file: `staging` (the file into the
//! database), `progress`, `preview` (what the upload holds and would
//! change), `brake` (mass removals need a confirmation), `commit`,
//! `mappings` (a bar's column names and status words) and `export` (the
//! CSV downloads).

use std::io;

use crate::domain::Jurisdiction;
use crate::error::AppError;
use crate::ssr::standing::roster::reading::{Problem, ReadError, Severity};

mod brake;
mod commit;
mod export;
mod mappings;
mod preview;
mod progress;
mod staging;

pub use brake::{Brake, BrakeRule, brake};
pub use commit::{CommitReport, Decision, commit, discard, expire_abandoned};
pub use export::{changes_csv, errors_csv, neutralise_formula};
pub use mappings::{
    load_mappings, map_statuses, save_column, save_status_word, saved_mappings, unknown_statuses,
};
pub use preview::{
    Consequences, StandingChange, Upload, commits, consequences, errors, history,
    same_file_committed, upload,
};
pub use progress::{PROGRESS_EVERY, Progress, ProgressBoard, ProgressEntry};
pub use staging::stage;

/// The upload's closed sets live in the domain: the pages show them.
pub use crate::domain::roster_upload::{Mode, UploadState};

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
