//! The one CSV reader for roster files, used by the bulk upload and by
//! `server roster seed`: files as bars and spreadsheets really write them.
//!
//! - **Encodings.** UTF-8 with or without a byte-order mark; UTF-16 LE or
//!   BE with its mark (Excel's "Unicode Text"); otherwise, only when the
//!   bytes are not UTF-8, Windows-1252 (Excel's "CSV" on Windows) if every
//!   byte decodes to a printable character. Anything else is refused
//!   whole. The whole file is checked first ([`sniff`]) so a file is never
//!   half read; decoding is `encoding_rs`, streaming in 64 KiB chunks.
//! - **Shapes.** A `sep=,` first line (written for Excel) chooses the
//!   separator; rows shorter than the header read their missing cells as
//!   empty; extra fields that are empty are ignored.
//! - **Columns.** Header names are compared with case, spaces, underscores
//!   and hyphens ignored; a jurisdiction's saved column mapping comes
//!   first, then the built-in names ([`Field::aliases`]). A full name may
//!   be composed of given, middle, family and suffix columns.
//! - **Cells.** A member whose bar number is readable is always read:
//!   unreadable optional cells (email, admission date, office phone)
//!   become empty with a warning; an unreadable name or status is left
//!   unset (the member keeps the previous one) with a blocking error.
//!
//! This module keeps what the steps share (the problems and members a row
//! reads into, the mappings, the errors that refuse a file) and the
//! [`Reader`] that drives them: `encoding` decides how the bytes are text,
//! `layout` where each field is in the header, `rows` what one row says.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};

use crate::domain::{BarNumber, EmailAddress, Jurisdiction, PersonName, RosterStatus};

mod encoding;
mod layout;
mod rows;

pub use encoding::{Decoded, FileEncoding, sniff};
pub use layout::{Field, Layout, fold_header};
pub use rows::{AdmissionDate, DateError, OfficePhone};

/// A row problem's weight lives in the domain: the preview shows it.
pub use crate::domain::roster_upload::Severity;

/// Bytes decoded per step: memory stays bounded whatever the file's size.
const CHUNK: usize = 64 * 1024;

/// How to make a file this reader takes, said whenever one is refused.
pub const SAVE_AS_UTF8: &str = "in Excel, choose File > Save As > \"CSV UTF-8 (Comma delimited)\"; \
    in LibreOffice, tick \"Edit filter settings\" and choose Unicode (UTF-8)";

/// A status word as compared: trimmed, single-spaced, lower case. Two
/// words match only when these are equal: never a part of one, so
/// "Suspended, currently registered" is not "Currently registered".
pub fn fold_word(word: &str) -> String {
    word.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A jurisdiction's ways of writing its roster: column names and status
/// words, saved (see `upload::save_mappings`) or given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    /// Field → header name (any spelling: it is folded when compared).
    pub columns: Vec<(Field, String)>,
    /// Folded word → status.
    pub statuses: HashMap<String, RosterStatus>,
}

impl Mappings {
    /// The status a cell says, by the jurisdiction's words first, then ours
    /// (exactly, case and spaces aside); `not_listed` is never read from a
    /// file: it is what a full roster makes of the members it leaves out.
    pub fn status(&self, cell: &str) -> Option<RosterStatus> {
        let folded = fold_word(cell);
        if let Some(status) = self.statuses.get(&folded) {
            return Some(*status);
        }
        RosterStatus::ALL
            .iter()
            .copied()
            .filter(|status| *status != RosterStatus::NotListed)
            .find(|status| status.as_str() == folded)
    }
}

/// Why a file was refused whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "the file is neither UTF-8 text nor Windows-1252 text (near byte {offset}, the bytes read \
         as neither): nothing was read. Save it as CSV UTF-8: {SAVE_AS_UTF8}"
    )]
    NotText { offset: u64 },
    #[error(
        "the file starts with a {encoding} byte-order mark, but near byte {offset} the bytes \
         are not {encoding} text: nothing was read. Save it as CSV UTF-8: {SAVE_AS_UTF8}"
    )]
    BadEncoding { encoding: &'static str, offset: u64 },
    #[error("the file is empty: the first line must be the header")]
    Empty,
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the header has {0} columns; a roster has at most 64")]
    TooManyColumns(usize),
    #[error("the header (columns {found}) has no {wanted} column{hint}")]
    MissingColumn {
        wanted: String,
        found: String,
        hint: &'static str,
    },
    #[error("the file could not be read to its end: {0}")]
    Io(#[from] io::Error),
}

/// A problem in one row, as the uploader is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    /// The column as the file names it ("" for the row as a whole).
    pub column: String,
    pub cell: String,
    pub message: String,
    pub severity: Severity,
}

/// A member as read from a row whose bar number could be read.
#[derive(Debug, Clone)]
pub struct Member {
    pub line: u64,
    pub bar_number: BarNumber,
    /// None: unreadable, the member keeps their previous name (blocking).
    pub full_name: Option<PersonName>,
    /// None: unknown, the member keeps their previous status (blocking).
    pub status: Option<RosterStatus>,
    /// The status cell as written, when the vocabulary did not know it.
    pub status_given: Option<String>,
    pub email: Option<EmailAddress>,
    pub admitted_on: Option<AdmissionDate>,
    pub office_phone: Option<OfficePhone>,
    /// The row's `jurisdiction` column, when the file has one and it reads.
    pub jurisdiction: Option<Jurisdiction>,
    /// True when nothing of the row can be trusted beyond its bar number
    /// (fields shifted, another jurisdiction): the member stays as is.
    pub kept: bool,
}

/// One data row.
#[derive(Debug, Clone)]
pub enum Row {
    /// The bar number reads: the member is never dropped.
    Member {
        member: Member,
        problems: Vec<Problem>,
    },
    /// No bar number could be read: the row cannot name anyone.
    Unreadable(Problem),
}

/// Reads a decoded roster file row by row.
pub struct Reader<R: Read> {
    csv: csv::Reader<BufReader<Decoded<R>>>,
    layout: Layout,
    record: csv::StringRecord,
}

impl<R: Read> Reader<R> {
    /// Opens a file whose encoding [`sniff`] found: honours a `sep=` first
    /// line and reads the header.
    pub fn open(input: R, encoding: FileEncoding, mappings: &Mappings) -> Result<Self, ReadError> {
        let mut text = BufReader::with_capacity(CHUNK, Decoded::new(input, encoding));
        let delimiter = layout::delimiter(&mut text)?;
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .delimiter(delimiter)
            .from_reader(text);
        let mut record = csv::StringRecord::new();
        if !csv.read_record(&mut record).map_err(csv_error)? {
            return Err(ReadError::Empty);
        }
        let layout = Layout::of(&record, mappings)?;
        Ok(Self {
            csv,
            layout,
            record,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The next data row (blank rows are passed over), or None at the end.
    pub fn next_row(&mut self, mappings: &Mappings) -> Result<Option<Row>, ReadError> {
        loop {
            if !self.csv.read_record(&mut self.record).map_err(csv_error)? {
                return Ok(None);
            }
            let line = self.record.position().map_or(0, |p| p.line());
            if let Some(row) = self.layout.read(&self.record, line, mappings) {
                return Ok(Some(row));
            }
        }
    }

    /// The undecoded input, to finish what wraps it (a hash, a count).
    pub fn into_inner(self) -> R {
        self.csv.into_inner().into_inner().into_inner()
    }
}

fn csv_error(error: csv::Error) -> ReadError {
    match error.into_kind() {
        csv::ErrorKind::Io(io) => ReadError::Io(io),
        other => ReadError::Io(io::Error::other(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    pub(super) fn read_all(
        bytes: &[u8],
        mappings: &Mappings,
    ) -> Result<(FileEncoding, Vec<Row>), ReadError> {
        let mut input = Cursor::new(bytes.to_vec());
        let encoding = sniff(&mut input, u64::MAX)?;
        let mut reader = Reader::open(input, encoding, mappings)?;
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row(mappings)? {
            rows.push(row);
        }
        Ok((encoding, rows))
    }

    pub(super) fn members(rows: &[Row]) -> Vec<&Member> {
        rows.iter()
            .filter_map(|row| match row {
                Row::Member { member, .. } => Some(member),
                Row::Unreadable(_) => None,
            })
            .collect()
    }
}
