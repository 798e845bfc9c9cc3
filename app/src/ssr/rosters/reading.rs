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

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use encoding_rs::{CoderResult, Decoder, DecoderResult, Encoding, UTF_8, WINDOWS_1252};

use crate::domain::closed_set::closed_set;
use crate::domain::phone::{Extension, PhoneNumber};
use crate::domain::{BarNumber, EmailAddress, Jurisdiction, PersonName, RosterStatus};

/// Bytes decoded per step: memory stays bounded whatever the file's size.
const CHUNK: usize = 64 * 1024;
/// Longest cell repeated in a message.
const MAX_CELL_SHOWN: usize = 200;
/// Longest office phone kept as given when it cannot be read.
const MAX_PHONE_AS_GIVEN: usize = 60;

/// How to make a file this reader takes, said whenever one is refused.
pub const SAVE_AS_UTF8: &str = "in Excel, choose File > Save As > \"CSV UTF-8 (Comma delimited)\"; \
    in LibreOffice, tick \"Edit filter settings\" and choose Unicode (UTF-8)";

closed_set!(
    /// The text encoding a roster file was read in
    /// (`roster_uploads.encoding`), shown on the preview.
    pub FileEncoding {
        Utf8 = "utf-8",
        /// UTF-8 with a byte-order mark (Excel's "CSV UTF-8").
        Utf8Bom = "utf-8-bom",
        /// UTF-16 little-endian with a byte-order mark (Excel's "Unicode Text").
        Utf16Le = "utf-16le",
        Utf16Be = "utf-16be",
        /// Excel's plain "CSV" on Windows: taken only when the file is not
        /// UTF-8 and every byte decodes to a printable character.
        Windows1252 = "windows-1252",
    }
);

impl FileEncoding {
    /// In words for the preview.
    pub fn describe(self) -> &'static str {
        match self {
            FileEncoding::Utf8 => "UTF-8",
            FileEncoding::Utf8Bom => "UTF-8 with a byte-order mark",
            FileEncoding::Utf16Le => "UTF-16 (little-endian, Excel's \"Unicode Text\")",
            FileEncoding::Utf16Be => "UTF-16 (big-endian)",
            FileEncoding::Windows1252 => {
                "Windows-1252 (Excel's \"CSV\" on Windows): the file is not UTF-8, so it was read \
                 as Windows-1252; check the accented names in the preview"
            }
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            FileEncoding::Utf8 | FileEncoding::Utf8Bom => UTF_8,
            FileEncoding::Utf16Le => encoding_rs::UTF_16LE,
            FileEncoding::Utf16Be => encoding_rs::UTF_16BE,
            FileEncoding::Windows1252 => WINDOWS_1252,
        }
    }
}

closed_set!(
    /// How much a problem in a row weighs (`roster_upload_errors.severity`).
    pub Severity {
        /// Blocks the commit until mapped, fixed or skipped.
        Error = "error",
        /// Only says what was left empty or kept as given.
        Warning = "warning",
    }
);

closed_set!(
    /// The fields of the roster format a column can be mapped to
    /// (`roster_column_maps.field`).
    pub Field {
        BarNumber = "bar_number",
        FullName = "full_name",
        GivenName = "given_name",
        MiddleName = "middle_name",
        FamilyName = "family_name",
        NameSuffix = "name_suffix",
        Status = "status",
        Email = "email",
        AdmittedOn = "admitted_on",
        OfficePhone = "office_phone",
    }
);

impl Field {
    /// Header names taken without a mapping, folded (see [`fold_header`]);
    /// the first is the field's own name.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::BarNumber => &[
                "barnumber",
                "barno",
                "barid",
                "registrationnumber",
                "attorneynumber",
                "attorneyregistrationnumber",
                "licensenumber",
            ],
            Field::FullName => &["fullname", "name", "attorneyname", "membername"],
            Field::GivenName => &["givenname", "firstname"],
            Field::MiddleName => &["middlename", "middleinitial"],
            Field::FamilyName => &["familyname", "lastname", "surname"],
            Field::NameSuffix => &["namesuffix", "suffix"],
            Field::Status => &[
                "status",
                "registrationstatus",
                "licensestatus",
                "memberstatus",
            ],
            Field::Email => &["email", "emailaddress"],
            Field::AdmittedOn => &[
                "admittedon",
                "admissiondate",
                "dateadmitted",
                "dateofadmission",
                "yearadmitted",
            ],
            Field::OfficePhone => &[
                "officephone",
                "phone",
                "phonenumber",
                "businessphone",
                "telephone",
            ],
        }
    }

    fn index(self) -> usize {
        Field::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// A header name as compared: lower case, without spaces, underscores,
/// hyphens or a byte-order mark ("Bar Number", "bar_number" and
/// "BAR-NUMBER" are one name).
pub fn fold_header(name: &str) -> String {
    name.chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '_' | '-' | '\u{feff}')))
        .flat_map(char::to_lowercase)
        .collect()
}

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

/// Reads all of `input` once to choose its encoding, then rewinds it.
/// Refuses a file that is not text in one of the encodings taken, or that
/// is larger than `limit` bytes.
pub fn sniff<R: Read + Seek>(input: &mut R, limit: u64) -> Result<FileEncoding, ReadError> {
    let mut head = [0_u8; 3];
    let mut filled = 0;
    while filled < head.len() {
        let n = input.read(&mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    input.seek(SeekFrom::Start(0))?;
    let found = match Encoding::for_bom(&head[..filled]) {
        Some((encoding, bom_length)) => {
            let bom_length = bom_length as u64;
            let kind = if encoding == UTF_8 {
                FileEncoding::Utf8Bom
            } else if encoding == encoding_rs::UTF_16LE {
                FileEncoding::Utf16Le
            } else {
                FileEncoding::Utf16Be
            };
            let bom = encoding.new_decoder_with_bom_removal();
            if let Some(offset) = scan(input, bom, limit, bom_length)? {
                return Err(ReadError::BadEncoding {
                    encoding: encoding.name(),
                    offset,
                });
            }
            kind
        }
        None => match scan(input, UTF_8.new_decoder_without_bom_handling(), limit, 0)? {
            None => FileEncoding::Utf8,
            Some(_) => {
                input.seek(SeekFrom::Start(0))?;
                let windows = WINDOWS_1252.new_decoder_without_bom_handling();
                match scan(input, windows, limit, 0)? {
                    None => FileEncoding::Windows1252,
                    Some(offset) => return Err(ReadError::NotText { offset }),
                }
            }
        },
    };
    input.seek(SeekFrom::Start(0))?;
    Ok(found)
}

/// Decodes all of `input`; the offset of the first byte that is not text
/// (malformed, or a control character other than tab and line ends, which
/// no roster holds and which a wrong guess of encoding produces), if any.
/// `bom`: the length of the byte-order mark the decoder skips.
fn scan<R: Read>(
    input: &mut R,
    mut decoder: Decoder,
    limit: u64,
    bom: u64,
) -> Result<Option<u64>, ReadError> {
    let mut buffer = vec![0_u8; CHUNK];
    let mut text = String::with_capacity(
        decoder
            .max_utf8_buffer_length_without_replacement(CHUNK)
            .unwrap_or(4 * CHUNK),
    );
    let mut consumed = 0_u64;
    loop {
        let n = input.read(&mut buffer)?;
        let last = n == 0;
        let mut source = &buffer[..n];
        loop {
            text.clear();
            let (result, read) =
                decoder.decode_to_string_without_replacement(source, &mut text, last);
            // NUL and C1 controls are what a wrong guess of encoding
            // produces (UTF-16 read as bytes, Windows-1252's unassigned
            // bytes); no roster holds them.
            let stray = |c: char| c == '\0' || ('\u{80}'..='\u{9f}').contains(&c);
            if let Some(index) = text.find(stray) {
                let before = input_bytes(decoder.encoding(), &text[..index]);
                // Once past the first decode, `consumed` counts the mark.
                let mark = if consumed == 0 { bom } else { 0 };
                return Ok(Some(consumed + mark + before));
            }
            source = &source[read..];
            consumed += read as u64;
            if consumed > limit {
                return Err(ReadError::TooLarge(limit));
            }
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                // The bad sequence is `bad` bytes long and `after` more
                // were consumed behind it (encoding_rs's `Malformed`).
                DecoderResult::Malformed(bad, after) => {
                    return Ok(Some(
                        consumed.saturating_sub(u64::from(bad) + u64::from(after)),
                    ));
                }
            }
        }
        if last {
            return Ok(None);
        }
    }
}

/// How many bytes of input in `encoding` decoded to `text`: so an error
/// names the byte where it is, not the start of the chunk it was read in
/// (a character split across two chunks can put it up to 3 bytes late).
fn input_bytes(encoding: &'static Encoding, text: &str) -> u64 {
    let bytes = if encoding == UTF_8 {
        text.len()
    } else if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        2 * text.encode_utf16().count()
    } else {
        // Windows-1252: one byte a character.
        text.chars().count()
    };
    bytes as u64
}

/// A byte stream decoded to UTF-8 as it is read (the byte-order mark
/// removed). [`sniff`] has checked the whole file already.
pub struct Decoded<R> {
    inner: R,
    decoder: Decoder,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    finished: bool,
}

impl<R: Read> Decoded<R> {
    pub fn new(inner: R, encoding: FileEncoding) -> Self {
        Self {
            inner,
            decoder: encoding.encoding().new_decoder_with_bom_removal(),
            buffer: vec![0_u8; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            finished: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.finished || out.is_empty() {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.end = self.inner.read(&mut self.buffer)?;
                self.start = 0;
                self.eof = self.end == 0;
            }
            let (result, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.buffer[self.start..self.end], out, self.eof);
            self.start += read;
            if self.eof && result == CoderResult::InputEmpty {
                self.finished = true;
            }
            if written > 0 {
                return Ok(written);
            }
            if result == CoderResult::OutputFull {
                return Err(io::Error::other("read buffer too small to decode into"));
            }
        }
    }
}

/// A calendar date of admission, or only its year: `YYYY-MM-DD` or `YYYY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionDate(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error(
        "two-digit year {0:?}: it could be 19{0} or 20{0}, so it was not guessed; write the year \
         in full (YYYY-MM-DD, M/D/YYYY or YYYY)"
    )]
    TwoDigitYear(String),
    #[error("no such day in the calendar")]
    NoSuchDay,
    #[error("not a date: write YYYY-MM-DD, M/D/YYYY, MM/DD/YYYY or a bare year YYYY")]
    Unreadable,
}

impl AdmissionDate {
    /// Reads `YYYY-MM-DD`, `M/D/YYYY` or `MM/DD/YYYY` (US order, month
    /// first, as Excel writes dates back in the US), or a bare year.
    pub fn parse(raw: &str) -> Result<Self, DateError> {
        let text = raw.trim();
        let digits = |part: &str, min: usize, max: usize| {
            (min..=max).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
        };
        let (year, month, day) = if digits(text, 4, 4) {
            let year: i32 = text.parse().map_err(|_| DateError::Unreadable)?;
            if !(1800..=2200).contains(&year) {
                return Err(DateError::Unreadable);
            }
            return Ok(Self(text.to_owned()));
        } else if let [year, month, day] = text.split('-').collect::<Vec<_>>().as_slice() {
            if !(digits(year, 4, 4) && digits(month, 1, 2) && digits(day, 1, 2)) {
                return Err(DateError::Unreadable);
            }
            (*year, *month, *day)
        } else if let [month, day, year] = text.split('/').collect::<Vec<_>>().as_slice() {
            if !(digits(month, 1, 2) && digits(day, 1, 2)) {
                return Err(DateError::Unreadable);
            }
            if digits(year, 2, 2) {
                return Err(DateError::TwoDigitYear((*year).to_owned()));
            }
            if !digits(year, 4, 4) {
                return Err(DateError::Unreadable);
            }
            (*year, *month, *day)
        } else {
            return Err(DateError::Unreadable);
        };
        let (Ok(year), Ok(month), Ok(day)) =
            (year.parse::<i32>(), month.parse::<u8>(), day.parse::<u8>())
        else {
            return Err(DateError::Unreadable);
        };
        let date = time::Month::try_from(month)
            .and_then(|month| time::Date::from_calendar_date(year, month, day))
            .map_err(|_| DateError::NoSuchDay)?;
        Ok(Self(format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An office phone as a roster gives it: read into E.164 and an extension
/// when the portal's phone parser takes it, else the text as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficePhone {
    Number {
        number: PhoneNumber,
        extension: Option<Extension>,
    },
    AsGiven(String),
}

impl OfficePhone {
    /// Reads a phone cell as people write it in signatures: `(415)
    /// 555-0120 ext: 12`, `415-555-0121 #204`, `… extension 7`, `…, 3`,
    /// `… x7`, Unicode dashes and non-breaking spaces (see
    /// [`PhoneNumber::read`]). Returns the phone
    /// and, when it could not be read, why (it is then kept as given).
    pub fn read(raw: &str) -> (Self, Option<String>) {
        // The portal's own reader, so a cell and the number form agree.
        let read = PhoneNumber::read(raw, "").map_err(|e| e.to_string());
        match read {
            Ok((number, extension)) => (OfficePhone::Number { number, extension }, None),
            Err(why) => {
                let kept: String = raw.trim().chars().take(MAX_PHONE_AS_GIVEN).collect();
                (OfficePhone::AsGiven(kept), Some(why))
            }
        }
    }

    /// (the number as stored, its extension).
    pub fn columns(&self) -> (String, Option<String>) {
        match self {
            OfficePhone::Number { number, extension } => (
                number.as_str().to_owned(),
                extension.as_ref().map(|e| e.as_str().to_owned()),
            ),
            OfficePhone::AsGiven(text) => (text.clone(), None),
        }
    }
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

/// Where each field is in the header.
#[derive(Debug, Clone)]
pub struct Layout {
    width: usize,
    headers: Vec<String>,
    columns: Vec<Option<usize>>,
    jurisdiction: Option<usize>,
}

impl Layout {
    /// Finds the fields in a header: saved mappings first, then the
    /// built-in names. Needs a bar number, a status, and a full name or a
    /// family name.
    pub fn of(header: &csv::StringRecord, mappings: &Mappings) -> Result<Self, ReadError> {
        if header.len() > 64 {
            return Err(ReadError::TooManyColumns(header.len()));
        }
        let headers: Vec<String> = header
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        let folded: Vec<String> = headers.iter().map(|h| fold_header(h)).collect();
        let find = |name: &str| folded.iter().position(|h| *h == fold_header(name));
        let mut columns = vec![None; Field::ALL.len()];
        for field in Field::ALL {
            let mapped = mappings
                .columns
                .iter()
                .filter(|(f, _)| f == field)
                .find_map(|(_, name)| find(name));
            columns[field.index()] =
                mapped.or_else(|| field.aliases().iter().find_map(|alias| find(alias)));
        }
        let layout = Self {
            width: headers.len(),
            jurisdiction: find("jurisdiction"),
            headers,
            columns,
        };
        let missing = |wanted: &str| {
            let joined = layout.headers.join(",");
            let hint = match [';', '\t', '|'].into_iter().find(|c| joined.contains(*c)) {
                Some(';') => {
                    " (the file seems separated by semicolons: save it as CSV with commas, or put sep=; on its first line)"
                }
                Some('\t') => " (the file seems separated by tabs: save it as CSV with commas)",
                Some(_) => " (the file seems separated by bars: save it as CSV with commas)",
                None => {
                    " (say which column holds it under \"Column names\" on the upload page, or with --column FIELD=HEADER on the command line)"
                }
            };
            ReadError::MissingColumn {
                wanted: wanted.to_owned(),
                found: layout
                    .headers
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                hint,
            }
        };
        if layout.at(Field::BarNumber).is_none() {
            return Err(missing("bar number (bar_number)"));
        }
        if layout.at(Field::FullName).is_none() && layout.at(Field::FamilyName).is_none() {
            return Err(missing("name (full_name, or family_name with given_name)"));
        }
        if layout.at(Field::Status).is_none() {
            return Err(missing("status"));
        }
        Ok(layout)
    }

    fn at(&self, field: Field) -> Option<usize> {
        self.columns[field.index()]
    }

    /// Whether the file has a `jurisdiction` column.
    pub fn has_jurisdiction(&self) -> bool {
        self.jurisdiction.is_some()
    }

    /// The columns read, as (field, the header as written).
    pub fn used(&self) -> Vec<(Field, String)> {
        Field::ALL
            .iter()
            .filter_map(|field| self.at(*field).map(|i| (*field, self.headers[i].clone())))
            .collect()
    }

    /// The header names no field reads.
    pub fn ignored(&self) -> Vec<String> {
        (0..self.width)
            .filter(|i| !self.columns.contains(&Some(*i)) && self.jurisdiction != Some(*i))
            .map(|i| self.headers[i].clone())
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// Reads one data row; None for a row with no value at all.
    pub fn read(&self, record: &csv::StringRecord, line: u64, mappings: &Mappings) -> Option<Row> {
        if record.iter().all(|cell| cell.trim().is_empty()) {
            return None;
        }
        let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).unwrap_or("").trim();
        let name_of = |field: Field| {
            self.at(field)
                .map_or(field.as_str().to_owned(), |i| self.headers[i].clone())
        };
        let problem = |field: Field, value: &str, message: String, severity: Severity| Problem {
            line,
            column: name_of(field),
            cell: value.chars().take(MAX_CELL_SHOWN).collect(),
            message,
            severity,
        };
        let bar_cell = cell(self.at(Field::BarNumber));
        let bar_number = match BarNumber::parse(bar_cell) {
            Ok(bar_number) => bar_number,
            Err(error) => {
                return Some(Row::Unreadable(problem(
                    Field::BarNumber,
                    bar_cell,
                    format!("{error} The row names no one and was not read."),
                    Severity::Error,
                )));
            }
        };
        let mut problems = Vec::new();
        let mut kept = false;
        // Extra fields that hold something mean the cells may be shifted.
        if record.len() > self.width && record.iter().skip(self.width).any(|c| !c.trim().is_empty())
        {
            kept = true;
            problems.push(Problem {
                line,
                column: String::new(),
                cell: String::new(),
                message: format!(
                    "the row has {} fields but the header {}: its values may be shifted, so the \
                     member was kept as they are",
                    record.len(),
                    self.width
                ),
                severity: Severity::Error,
            });
        }
        let jurisdiction = match self.jurisdiction {
            Some(index) => {
                let given = cell(Some(index));
                match Jurisdiction::parse(given) {
                    Ok(jurisdiction) => Some(jurisdiction),
                    Err(error) => {
                        kept = true;
                        problems.push(Problem {
                            line,
                            column: self.headers[index].clone(),
                            cell: given.chars().take(MAX_CELL_SHOWN).collect(),
                            message: format!("{error} The member was kept as they are."),
                            severity: Severity::Error,
                        });
                        None
                    }
                }
            }
            None => None,
        };
        let full_name = match self.at(Field::FullName) {
            Some(index) => cell(Some(index)).to_owned(),
            None => [
                Field::GivenName,
                Field::MiddleName,
                Field::FamilyName,
                Field::NameSuffix,
            ]
            .into_iter()
            .map(|field| cell(self.at(field)))
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        };
        let full_name = match PersonName::parse(&full_name) {
            Ok(name) => Some(name),
            Err(error) => {
                problems.push(problem(
                    if self.at(Field::FullName).is_some() {
                        Field::FullName
                    } else {
                        Field::FamilyName
                    },
                    &full_name,
                    // The reader does not know whether the member is new:
                    // the message is true of both.
                    format!(
                        "{error} Skipped, this row changes nothing: a member already on the \
                         roster keeps the name they have, a new one is not added."
                    ),
                    Severity::Error,
                ));
                None
            }
        };
        let status_cell = cell(self.at(Field::Status));
        let status = mappings.status(status_cell);
        let status_given = match status {
            Some(_) => None,
            None if status_cell.is_empty() => {
                problems.push(problem(
                    Field::Status,
                    status_cell,
                    "no status given: the member keeps the status they have now; fix the row or \
                     skip it"
                        .into(),
                    Severity::Error,
                ));
                None
            }
            None => {
                problems.push(problem(
                    Field::Status,
                    status_cell,
                    // The word itself is in the value column: the message
                    // does not repeat it.
                    "status not in this bar's vocabulary (active, inactive, suspended, disbarred, \
                     deceased, resigned, or the bar's own words once confirmed): map it on the \
                     preview page (or with --status WORD=STATUS) or skip the row; until then the \
                     member keeps the status they have now"
                        .into(),
                    Severity::Error,
                ));
                Some(status_cell.chars().take(MAX_CELL_SHOWN).collect())
            }
        };
        let email = match cell(self.at(Field::Email)) {
            "" => None,
            given => match EmailAddress::parse(given) {
                Ok(address) => Some(address),
                Err(error) => {
                    problems.push(problem(
                        Field::Email,
                        given,
                        format!("{error} Left empty; the member was read."),
                        Severity::Warning,
                    ));
                    None
                }
            },
        };
        let admitted_on = match cell(self.at(Field::AdmittedOn)) {
            "" => None,
            given => match AdmissionDate::parse(given) {
                Ok(date) => Some(date),
                Err(error) => {
                    problems.push(problem(
                        Field::AdmittedOn,
                        given,
                        format!("{error}. Left empty; the member was read."),
                        Severity::Warning,
                    ));
                    None
                }
            },
        };
        let office_phone = match cell(self.at(Field::OfficePhone)) {
            "" => None,
            given => {
                let (phone, why) = OfficePhone::read(given);
                if let Some(why) = why {
                    problems.push(problem(
                        Field::OfficePhone,
                        given,
                        format!("{why} Kept as written; the member was read."),
                        Severity::Warning,
                    ));
                }
                Some(phone)
            }
        };
        Some(Row::Member {
            member: Member {
                line,
                bar_number,
                full_name,
                status,
                status_given,
                email,
                admitted_on,
                office_phone,
                jurisdiction,
                kept,
            },
            problems,
        })
    }
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
        let mut delimiter = b',';
        let head = text.fill_buf()?;
        if head.len() >= 5 && head[..4].eq_ignore_ascii_case(b"sep=") && head[4].is_ascii() {
            delimiter = head[4];
            let mut first = String::new();
            text.read_line(&mut first)?;
        } else {
            // Excel's "Unicode Text" and "Text (Tab delimited)" separate by
            // tabs: a header with tabs and no comma is read so.
            let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
            if first_line.contains(&b'\t') && !first_line.contains(&b',') {
                delimiter = b'\t';
            }
        }
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

    #[test]
    fn an_unreadable_byte_is_named_where_it_is() {
        // 0x81: not UTF-8, and unassigned in Windows-1252.
        let mut bytes = b"bar_number,full_name,status\n1,Ann ".to_vec();
        let at = bytes.len() as u64;
        bytes.extend([0x81]);
        bytes.extend(b",active\n");
        assert!(matches!(
            sniff(&mut Cursor::new(bytes), u64::MAX),
            Err(ReadError::NotText { offset }) if offset == at
        ));
        // A NUL in UTF-16: two bytes a character before it.
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "bar_number\n1\0".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        assert!(matches!(
            sniff(&mut Cursor::new(utf16), u64::MAX),
            Err(ReadError::BadEncoding { offset: 26, .. })
        ));
    }

    fn read_all(bytes: &[u8], mappings: &Mappings) -> Result<(FileEncoding, Vec<Row>), ReadError> {
        let mut input = Cursor::new(bytes.to_vec());
        let encoding = sniff(&mut input, u64::MAX)?;
        let mut reader = Reader::open(input, encoding, mappings)?;
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row(mappings)? {
            rows.push(row);
        }
        Ok((encoding, rows))
    }

    fn members(rows: &[Row]) -> Vec<&Member> {
        rows.iter()
            .filter_map(|row| match row {
                Row::Member { member, .. } => Some(member),
                Row::Unreadable(_) => None,
            })
            .collect()
    }

    #[test]
    fn dates_as_spreadsheets_write_them() {
        let read = |raw| AdmissionDate::parse(raw).map(|d| d.0);
        assert_eq!(read("2001-06-15"), Ok("2001-06-15".into()));
        assert_eq!(read("6/15/2001"), Ok("2001-06-15".into()));
        assert_eq!(read("06/05/2001"), Ok("2001-06-05".into()));
        assert_eq!(read("1987"), Ok("1987".into()));
        assert_eq!(read("6/15/01"), Err(DateError::TwoDigitYear("01".into())));
        assert!(
            DateError::TwoDigitYear("01".into())
                .to_string()
                .contains("1901 or 2001")
        );
        assert_eq!(read("2/30/2001"), Err(DateError::NoSuchDay));
        assert_eq!(read("15/6/2001"), Err(DateError::NoSuchDay));
        assert_eq!(read("June 2001"), Err(DateError::Unreadable));
    }

    #[test]
    fn office_phones_with_extensions() {
        for (raw, e164, ext) in [
            ("(415) 555-0120 ext: 12", "+14155550120", Some("12")),
            ("415-555-0121 #204", "+14155550121", Some("204")),
            ("(415) 555-0122 extension 7", "+14155550122", Some("7")),
            ("415-555-0123, 3", "+14155550123", Some("3")),
            ("415\u{2011}555\u{2011}0124", "+14155550124", None),
            ("415 555 0125 x7", "+14155550125", Some("7")),
        ] {
            let (phone, why) = OfficePhone::read(raw);
            assert_eq!(why, None, "{raw}");
            assert_eq!(
                phone.columns(),
                (e164.to_owned(), ext.map(str::to_owned)),
                "{raw}"
            );
        }
        let (phone, why) = OfficePhone::read("call the front desk");
        assert_eq!(phone, OfficePhone::AsGiven("call the front desk".into()));
        assert!(why.is_some());
    }

    #[test]
    fn headers_ignore_case_spaces_underscores_and_hyphens() {
        assert_eq!(fold_header("Bar Number"), "barnumber");
        assert_eq!(fold_header("\u{feff}BAR_number"), "barnumber");
        assert_eq!(fold_header("bar-Number"), "barnumber");
        let (_, rows) = read_all(
            b"Bar Number,Full Name,Status\n123,Jane Doe,Active\n",
            &Mappings::default(),
        )
        .expect("read");
        let read = members(&rows);
        assert_eq!(read[0].status, Some(RosterStatus::Active));
    }

    #[test]
    fn encodings_are_sniffed_and_never_half_read() {
        let utf8 = "bar_number,full_name,status\n1,José O’Brien,active\n";
        let (encoding, rows) = read_all(utf8.as_bytes(), &Mappings::default()).expect("utf-8");
        assert_eq!(encoding, FileEncoding::Utf8);
        assert_eq!(
            members(&rows)[0].full_name.as_ref().map(PersonName::as_str),
            Some("José O’Brien")
        );

        let (windows, _, _) = WINDOWS_1252.encode(utf8);
        let (encoding, rows) = read_all(&windows, &Mappings::default()).expect("1252");
        assert_eq!(encoding, FileEncoding::Windows1252);
        assert_eq!(
            members(&rows)[0].full_name.as_ref().map(PersonName::as_str),
            Some("José O’Brien")
        );

        let mut utf16 = vec![0xff, 0xfe];
        for unit in utf8.encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        let (encoding, rows) = read_all(&utf16, &Mappings::default()).expect("utf-16");
        assert_eq!(encoding, FileEncoding::Utf16Le);
        assert_eq!(members(&rows).len(), 1);

        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend(utf8.as_bytes());
        assert_eq!(
            read_all(&bom, &Mappings::default()).expect("bom").0,
            FileEncoding::Utf8Bom
        );

        // Bytes that are neither: 0x81 is undefined in Windows-1252 (a C1
        // control once decoded).
        let refused = read_all(
            b"bar_number,full_name,status\n1,Jos\x81,active\n",
            &Mappings::default(),
        );
        let message = refused.expect_err("refused").to_string();
        assert!(message.contains("CSV UTF-8"), "{message}");
    }

    #[test]
    fn shapes_excel_writes() {
        let file = "sep=,\r\nbar_number,full_name,status,email,admitted_on\r\n1,Ann Able,active\r\n2,Bo Baker,active,,,,\r\n";
        let (_, rows) = read_all(file.as_bytes(), &Mappings::default()).expect("read");
        let read = members(&rows);
        assert_eq!(read.len(), 2);
        assert!(
            read.iter()
                .all(|m| !m.kept && m.status == Some(RosterStatus::Active))
        );
        let semicolons = "sep=;\nbar_number;full_name;status\n1;Ann Able;active\n";
        let (_, rows) = read_all(semicolons.as_bytes(), &Mappings::default()).expect("read");
        assert_eq!(members(&rows).len(), 1);
    }

    #[test]
    fn a_readable_bar_number_always_reads_a_member() {
        let file = "bar_number,full_name,status,email,admitted_on,office_phone\n\
                    1,Ann Able,active,not an email,6/15/01,call me\n\
                    2,,Currently registered,,,\n";
        let (_, rows) = read_all(file.as_bytes(), &Mappings::default()).expect("read");
        let Row::Member { member, problems } = &rows[0] else {
            panic!("a member")
        };
        assert_eq!(member.status, Some(RosterStatus::Active));
        assert!(member.email.is_none() && member.admitted_on.is_none());
        assert_eq!(problems.len(), 3);
        assert!(problems.iter().all(|p| p.severity == Severity::Warning));
        let Row::Member { member, problems } = &rows[1] else {
            panic!("a member")
        };
        assert_eq!((member.full_name.is_none(), member.status), (true, None));
        assert_eq!(member.status_given.as_deref(), Some("Currently registered"));
        assert!(problems.iter().all(|p| p.severity == Severity::Error));
    }

    #[test]
    fn statuses_match_exactly_and_names_compose() {
        let mut mappings = Mappings::default();
        mappings
            .statuses
            .insert(fold_word("Currently registered"), RosterStatus::Active);
        mappings.statuses.insert(
            fold_word("Suspended, currently registered"),
            RosterStatus::Suspended,
        );
        mappings
            .columns
            .push((Field::BarNumber, "Registration Number".into()));
        let file = "Registration Number,First Name,Middle Name,Last Name,Suffix,Status\n\
                    7,John,Q.,Public,Jr.,Currently  registered\n\
                    8,Mary,,Major,,\"Suspended, currently registered\"\n\
                    9,Ed,,Ellis,,Delinquent\n";
        let (_, rows) = read_all(file.as_bytes(), &mappings).expect("read");
        let read = members(&rows);
        assert_eq!(
            read[0].full_name.as_ref().map(PersonName::as_str),
            Some("John Q. Public Jr.")
        );
        assert_eq!(read[0].status, Some(RosterStatus::Active));
        assert_eq!(read[1].status, Some(RosterStatus::Suspended));
        assert_eq!(read[2].status, None);
    }
}
