//! The file's shape: which column holds each field. Bars name their
//! columns their own way ("Registration Number", "Last Name"), so headers
//! are compared loosely and a bar's saved mapping comes before the
//! built-in names; a header that lacks a required field refuses the file
//! with a hint at the likely cause (a separator other than the comma).

use std::io::{self, BufRead};

/// The fields live in the domain: the pages offer them to map a column.
pub use crate::domain::roster_upload::Field;

use super::{Mappings, ReadError};

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

/// Where each field is in the header.
#[derive(Debug, Clone)]
pub struct Layout {
    pub(super) width: usize,
    pub(super) headers: Vec<String>,
    columns: Vec<Option<usize>>,
    pub(super) jurisdiction: Option<usize>,
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

    pub(super) fn at(&self, field: Field) -> Option<usize> {
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
}

/// Chooses the separator from the head of the decoded text: a `sep=`
/// first line (written for Excel) names it, and is passed over; else a
/// header with tabs and no comma is read by tabs; else the comma.
pub(super) fn delimiter(text: &mut impl BufRead) -> io::Result<u8> {
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
    Ok(delimiter)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{members, read_all};
    use super::*;
    use crate::domain::RosterStatus;

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
}
