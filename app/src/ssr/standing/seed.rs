//! Seeding the roster from a CSV file without preview: for bootstrapping
//! and development (`server roster seed`). The bulk upload with preview,
//! brake and commit is `roster::upload`.

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use sqlx::AnyPool;

use crate::domain::{Jurisdiction, NameKey};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::registry;

use super::roster::{reading, upload};
use super::{Attorneys, RosterError, rematch};

/// What a seed did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub members: u64,
    pub jurisdictions: Vec<&'static str>,
    pub standings_changed: u64,
    /// Cells left empty or kept as given, with why.
    pub warnings: Vec<reading::Problem>,
}

/// Loads roster rows from CSV with the uploads' reader (`reading`: the
/// same encodings, shapes, column names, dates and phones), replacing
/// entries with the same bar number, then re-runs the match. All rows or
/// none: a row with a blocking problem (no bar number, an unknown status,
/// an unreadable name, a bar number twice) stops the seed before anything
/// is stored; unreadable optional cells are left empty and reported. A
/// row without a jurisdiction column takes `default_jurisdiction`, whose
/// saved mappings are used. The bulk upload with preview is the roster
/// issue's; this is for bootstrapping and development.
pub async fn seed_csv(
    pool: &AnyPool,
    mut input: impl Read + Seek,
    default_jurisdiction: Option<Jurisdiction>,
) -> Result<SeedReport, RosterError> {
    let mappings = match default_jurisdiction {
        Some(jurisdiction) => upload::load_mappings(pool, jurisdiction).await?,
        None => reading::Mappings::default(),
    };
    let encoding = reading::sniff(&mut input, upload::MAX_BYTES)?;
    let mut reader = reading::Reader::open(input, encoding, &mappings)?;
    if !reader.layout().has_jurisdiction() && default_jurisdiction.is_none() {
        return Err(RosterError::MissingColumn("jurisdiction"));
    }

    let now = now_millis();
    let mut seen = BTreeSet::new();
    let mut jurisdictions = BTreeSet::new();
    let mut members = 0;
    let mut warnings = Vec::new();
    let mut write = registry::begin_write(pool).await?;
    while let Some(row) = reader.next_row(&mappings)? {
        let (member, problems) = match row {
            reading::Row::Member { member, problems } => (member, problems),
            reading::Row::Unreadable(problem) => return Err(problem.into()),
        };
        if let Some(blocking) = problems
            .iter()
            .find(|p| p.severity == reading::Severity::Error)
        {
            return Err(blocking.clone().into());
        }
        warnings.extend(problems);
        let line = member.line;
        let (Some(full_name), Some(status)) = (member.full_name, member.status) else {
            return Err(RosterError::InvalidRow {
                line,
                column: "status".into(),
                message: "no status or name".into(),
            });
        };
        let jurisdiction = match member.jurisdiction.or(default_jurisdiction) {
            Some(jurisdiction) => jurisdiction,
            None => return Err(RosterError::MissingColumn("jurisdiction")),
        };
        if !seen.insert((jurisdiction.code(), member.bar_number.as_str().to_owned())) {
            return Err(RosterError::DuplicateMember {
                line,
                jurisdiction: jurisdiction.code(),
                bar_number: member.bar_number.to_string(),
            });
        }
        let (office_phone, office_phone_ext) = member
            .office_phone
            .as_ref()
            .map(reading::OfficePhone::columns)
            .map_or((None, None), |(phone, ext)| (Some(phone), ext));

        sqlx::query(
            "INSERT INTO roster (jurisdiction, bar_number, full_name, name_key, status, email, \
             admitted_on, office_phone, office_phone_ext, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (jurisdiction, bar_number) DO UPDATE SET full_name = excluded.full_name, \
             name_key = excluded.name_key, status = excluded.status, email = excluded.email, \
             admitted_on = excluded.admitted_on, office_phone = excluded.office_phone, \
             office_phone_ext = excluded.office_phone_ext, updated_at = excluded.updated_at",
        )
        .bind(jurisdiction.code())
        .bind(member.bar_number.as_str())
        .bind(full_name.as_str())
        .bind(NameKey::of(full_name.as_str()).index_key())
        .bind(status.as_str())
        .bind(member.email.as_ref().map(|email| email.as_str()))
        .bind(member.admitted_on.as_ref().map(|date| date.as_str()))
        .bind(office_phone)
        .bind(office_phone_ext)
        .bind(now)
        .execute(&mut *write.transaction)
        .await?;
        jurisdictions.insert(jurisdiction.code());
        members += 1;
    }

    let mut standings_changed = 0;
    for jurisdiction in &jurisdictions {
        standings_changed += rematch(&mut write, Attorneys::Of(jurisdiction)).await?;
    }
    write.commit().await?;
    Ok(SeedReport {
        members,
        jurisdictions: jurisdictions.into_iter().collect(),
        standings_changed,
        warnings,
    })
}

impl From<reading::Problem> for RosterError {
    fn from(problem: reading::Problem) -> Self {
        RosterError::InvalidRow {
            line: problem.line,
            column: problem.column,
            message: format!("{} (value {:?})", problem.message, problem.cell),
        }
    }
}
