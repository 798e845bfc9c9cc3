//! Each closed set's texts equal its migration's `CHECK (col IN (…))`
//! list, on both engines; and every such `CHECK` has its enum. A value
//! added on one side only fails here, not in production.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::domain::{
    Channel, ClaimState, DeliveryStatus, DocumentType, FacilityKind, FacilityStatus, Field,
    FileEncoding, JobState, Mode, NumberLabel, Op, RegistrationStatus, Role, RosterStatus,
    Severity, Standing, StandingSource, UploadState,
};
use crate::ssr::accounts::TokenPurpose;
use crate::ssr::infra::audit_trail::AuditAction;

type Column = (String, String);

/// `(table, column) → texts` of every `CHECK (column IN ('a', …))` in one
/// engine's migrations, the table being that of the nearest `CREATE
/// TABLE` or `ALTER TABLE` above.
fn check_lists(engine: &str) -> BTreeMap<Column, BTreeSet<String>> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(engine);
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("migrations folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    let mut lists = BTreeMap::new();
    for file in files {
        let sql = std::fs::read_to_string(&file).expect("read migration");
        let mut table = String::new();
        let mut rest = sql.as_str();
        loop {
            let next_table = ["CREATE TABLE ", "ALTER TABLE "]
                .iter()
                .filter_map(|k| rest.find(k).map(|at| (at, k.len())))
                .min();
            let next_check = rest.find("CHECK (");
            match (next_table, next_check) {
                (Some((at, len)), check) if check.is_none_or(|c| at < c) => {
                    rest = &rest[at + len..];
                    table = rest
                        .split(|c: char| c.is_whitespace() || c == '(')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                }
                (_, Some(at)) => {
                    rest = &rest[at + "CHECK (".len()..];
                    let clause = &rest[..rest.find(')').unwrap_or(rest.len())];
                    if let Some((column, values)) = clause.split_once(" IN") {
                        let values = values.trim().trim_start_matches('(');
                        let texts = values
                            .split(',')
                            .map(|v| v.trim().trim_matches('\'').to_owned())
                            .filter(|v| !v.is_empty())
                            .collect();
                        lists.insert((table.clone(), column.trim().to_owned()), texts);
                    }
                }
                _ => break,
            }
        }
    }
    lists
}

fn texts<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|v| as_str(*v).to_owned()).collect()
}

#[test]
fn every_check_list_equals_its_enum_on_both_engines() {
    let expected: BTreeMap<Column, BTreeSet<String>> = [
        (("users", "role"), texts(Role::ALL, Role::as_str)),
        (
            ("users", "standing"),
            texts(Standing::ALL, Standing::as_str),
        ),
        (
            ("users", "standing_source"),
            texts(StandingSource::ALL, StandingSource::as_str),
        ),
        (
            ("email_tokens", "purpose"),
            texts(TokenPurpose::ALL, TokenPurpose::as_str),
        ),
        (
            ("roster", "status"),
            texts(RosterStatus::ALL, RosterStatus::as_str),
        ),
        (
            ("registrations", "label"),
            texts(NumberLabel::ALL, NumberLabel::as_str),
        ),
        (
            ("registrations", "status"),
            texts(RegistrationStatus::ALL, RegistrationStatus::as_str),
        ),
        (("registry_changes", "op"), texts(Op::ALL, Op::as_str)),
        (
            ("number_codes", "channel"),
            texts(Channel::ALL, Channel::as_str),
        ),
        (
            ("number_codes", "delivery_status"),
            texts(DeliveryStatus::ALL, DeliveryStatus::as_str),
        ),
        (("jobs", "state"), texts(JobState::ALL, JobState::as_str)),
        (("roster_uploads", "mode"), texts(Mode::ALL, Mode::as_str)),
        (
            ("users", "claim_state"),
            texts(ClaimState::ALL, ClaimState::as_str),
        ),
        (
            ("review_documents", "content_type"),
            texts(DocumentType::ALL, DocumentType::as_str),
        ),
        (
            ("roster_uploads", "state"),
            texts(UploadState::ALL, UploadState::as_str),
        ),
        (
            ("roster_uploads", "encoding"),
            texts(FileEncoding::ALL, FileEncoding::as_str),
        ),
        (
            ("roster_upload_errors", "severity"),
            texts(Severity::ALL, Severity::as_str),
        ),
        (
            ("roster_status_words", "status"),
            texts(RosterStatus::ALL, RosterStatus::as_str),
        ),
        (
            ("roster_column_maps", "field"),
            texts(Field::ALL, Field::as_str),
        ),
        (
            ("audit_trail", "action"),
            texts(AuditAction::ALL, AuditAction::as_str),
        ),
        (
            ("facilities", "kind"),
            texts(FacilityKind::ALL, FacilityKind::as_str),
        ),
        (
            ("facilities", "status"),
            texts(FacilityStatus::ALL, FacilityStatus::as_str),
        ),
    ]
    .into_iter()
    .map(|((table, column), texts)| ((table.to_owned(), column.to_owned()), texts))
    .collect();
    for engine in ["sqlite", "postgres"] {
        assert_eq!(check_lists(engine), expected, "{engine} migrations");
    }
}
