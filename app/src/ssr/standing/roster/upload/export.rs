//! The CSV downloads of an upload: its changes and its row errors, for a
//! spreadsheet. Every cell a spreadsheet would run as a formula is
//! neutralised here, since the cells come from a file anyone could write.

use std::collections::HashMap;
use std::io;

use sqlx::AnyPool;

use super::preview::{Upload, consequences, errors};
use super::{MAX_STORED_ERRORS, Mode, UploadError, differs};

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
    let attorneys = attorneys_in_portal(pool, upload.jurisdiction.code()).await?;
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
    .bind(upload.jurisdiction)
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
        .bind(upload.jurisdiction)
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
}
