//! What one row says: a member, with the problems found in its cells.
//! A member whose bar number reads is never dropped, because a full
//! roster that lost them would mark them not listed; so an unreadable
//! optional cell (email, admission date, office phone) is left empty with
//! a warning, and an unreadable name or status keeps what the member has
//! with a blocking error.

use crate::domain::phone::{Extension, PhoneNumber};
use crate::domain::{BarNumber, EmailAddress, Jurisdiction, PersonName, RosterStatus};

use super::{Field, Layout, Mappings, Member, Problem, Row, Severity};

/// Longest cell repeated in a message.
const MAX_CELL_SHOWN: usize = 200;
/// Longest office phone kept as given when it cannot be read.
const MAX_PHONE_AS_GIVEN: usize = 60;

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

impl Layout {
    /// Reads one data row; None for a row with no value at all.
    pub fn read(&self, record: &csv::StringRecord, line: u64, mappings: &Mappings) -> Option<Row> {
        if record.iter().all(|cell| cell.trim().is_empty()) {
            return None;
        }
        let row = RowCells {
            layout: self,
            record,
            line,
        };
        let bar_cell = row.cell(self.at(Field::BarNumber));
        let bar_number = match BarNumber::parse(bar_cell) {
            Ok(bar_number) => bar_number,
            Err(error) => {
                return Some(Row::Unreadable(row.problem(
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
        let jurisdiction = row.jurisdiction(&mut kept, &mut problems);
        let full_name = row.full_name(&mut problems);
        let (status, status_given) = row.status(mappings, &mut problems);
        let email = row.email(&mut problems);
        let admitted_on = row.admitted_on(&mut problems);
        let office_phone = row.office_phone(&mut problems);
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

/// One data row as the steps of [`Layout::read`] see it: its cells by
/// field, and each problem told with the row's line and the column's name
/// as the file writes it. Each step pushes its problems in the order the
/// row is read.
struct RowCells<'a> {
    layout: &'a Layout,
    record: &'a csv::StringRecord,
    line: u64,
}

impl<'a> RowCells<'a> {
    fn cell(&self, index: Option<usize>) -> &'a str {
        index.and_then(|i| self.record.get(i)).unwrap_or("").trim()
    }

    fn name_of(&self, field: Field) -> String {
        self.layout
            .at(field)
            .map_or(field.as_str().to_owned(), |i| {
                self.layout.headers[i].clone()
            })
    }

    fn problem(&self, field: Field, value: &str, message: String, severity: Severity) -> Problem {
        Problem {
            line: self.line,
            column: self.name_of(field),
            cell: value.chars().take(MAX_CELL_SHOWN).collect(),
            message,
            severity,
        }
    }

    /// The row's `jurisdiction` column, when the file has one; one that
    /// does not read keeps the member as they are.
    fn jurisdiction(&self, kept: &mut bool, problems: &mut Vec<Problem>) -> Option<Jurisdiction> {
        let line = self.line;
        match self.layout.jurisdiction {
            Some(index) => {
                let given = self.cell(Some(index));
                match Jurisdiction::parse(given) {
                    Ok(jurisdiction) => Some(jurisdiction),
                    Err(error) => {
                        *kept = true;
                        problems.push(Problem {
                            line,
                            column: self.layout.headers[index].clone(),
                            cell: given.chars().take(MAX_CELL_SHOWN).collect(),
                            message: format!("{error} The member was kept as they are."),
                            severity: Severity::Error,
                        });
                        None
                    }
                }
            }
            None => None,
        }
    }

    /// The full name, or one composed of given, middle, family and suffix.
    fn full_name(&self, problems: &mut Vec<Problem>) -> Option<PersonName> {
        let layout = self.layout;
        let full_name = match layout.at(Field::FullName) {
            Some(index) => self.cell(Some(index)).to_owned(),
            None => [
                Field::GivenName,
                Field::MiddleName,
                Field::FamilyName,
                Field::NameSuffix,
            ]
            .into_iter()
            .map(|field| self.cell(layout.at(field)))
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        };
        match PersonName::parse(&full_name) {
            Ok(name) => Some(name),
            Err(error) => {
                problems.push(self.problem(
                    if layout.at(Field::FullName).is_some() {
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
        }
    }

    /// (the status, the cell as written when the vocabulary did not know it).
    fn status(
        &self,
        mappings: &Mappings,
        problems: &mut Vec<Problem>,
    ) -> (Option<RosterStatus>, Option<String>) {
        let status_cell = self.cell(self.layout.at(Field::Status));
        let status = mappings.status(status_cell);
        let status_given = match status {
            Some(_) => None,
            None if status_cell.is_empty() => {
                problems.push(self.problem(
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
                problems.push(self.problem(
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
        (status, status_given)
    }

    fn email(&self, problems: &mut Vec<Problem>) -> Option<EmailAddress> {
        match self.cell(self.layout.at(Field::Email)) {
            "" => None,
            given => match EmailAddress::parse(given) {
                Ok(address) => Some(address),
                Err(error) => {
                    problems.push(self.problem(
                        Field::Email,
                        given,
                        format!("{error} Left empty; the member was read."),
                        Severity::Warning,
                    ));
                    None
                }
            },
        }
    }

    fn admitted_on(&self, problems: &mut Vec<Problem>) -> Option<AdmissionDate> {
        match self.cell(self.layout.at(Field::AdmittedOn)) {
            "" => None,
            given => match AdmissionDate::parse(given) {
                Ok(date) => Some(date),
                Err(error) => {
                    problems.push(self.problem(
                        Field::AdmittedOn,
                        given,
                        format!("{error}. Left empty; the member was read."),
                        Severity::Warning,
                    ));
                    None
                }
            },
        }
    }

    fn office_phone(&self, problems: &mut Vec<Problem>) -> Option<OfficePhone> {
        match self.cell(self.layout.at(Field::OfficePhone)) {
            "" => None,
            given => {
                let (phone, why) = OfficePhone::read(given);
                if let Some(why) = why {
                    problems.push(self.problem(
                        Field::OfficePhone,
                        given,
                        format!("{why} Kept as written; the member was read."),
                        Severity::Warning,
                    ));
                }
                Some(phone)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{members, read_all};
    use super::*;
    use crate::ssr::standing::roster::reading::fold_word;

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
