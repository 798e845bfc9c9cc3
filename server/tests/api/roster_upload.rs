//! Bulk roster uploads: staging with row errors, preview of what a commit
//! would do, the commit and its cascade, idempotence, and hostile files
//! that must leave nothing behind.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use app::domain::Jurisdiction;
use app::ssr::infra::audit_trail::Actor;
use app::ssr::registry::Op;
use app::ssr::standing::roster::reading::{FileEncoding, ReadError, Severity};
use app::ssr::standing::roster::upload::{
    self as uploads, BrakeRule, Decision, Mode, Progress, UploadError, UploadRequest, Uploader,
};

use crate::helpers::journeys::{PASSWORD, verified_account, verify};
use crate::helpers::journeys::{Phones, WHITE_HOUSE, log, seed_status, user_id};
use crate::helpers::{Engine, TestApp, spawn_app};

fn request(mode: Mode) -> UploadRequest {
    UploadRequest {
        jurisdiction: Jurisdiction::parse("CA").expect("CA"),
        mode,
        uploader: Uploader {
            user_id: None,
            label: "test".into(),
        },
        file_name: "roster.csv".into(),
    }
}

async fn stage(
    app: &TestApp,
    mode: Mode,
    input: impl Read + Seek + Send + 'static,
) -> Result<i64, UploadError> {
    uploads::stage(
        app.database.pool(),
        &request(mode),
        input,
        Arc::new(Progress::default()),
    )
    .await
}

async fn stage_text(app: &TestApp, mode: Mode, csv: &str) -> Result<i64, UploadError> {
    stage(app, mode, io::Cursor::new(csv.as_bytes().to_vec())).await
}

/// Commits as an admin would: `skip` the rows with errors, `confirm` the
/// brake's count.
async fn commit(
    app: &TestApp,
    upload_id: i64,
    skip: bool,
    confirm: Option<u64>,
) -> Result<uploads::CommitReport, UploadError> {
    let decision = Decision {
        decided_by: None,
        actor: Actor::command_line(),
        skip_invalid: skip,
        confirm_removals: confirm,
    };
    // These bars are tiny: without the floor (ROSTER_BRAKE_FLOOR), the
    // percentage alone decides, as it does for a large bar.
    let rule = BrakeRule {
        floor: 0,
        ..BrakeRule::default()
    };
    uploads::commit(app.database.pool(), upload_id, decision, rule).await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.database.pool())
        .await
        .expect("count")
}

async fn standing_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT standing FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("standing")
}

/// Pat Newman signs up as CA 777, which no roster lists yet.
async fn pending_attorney(app: &TestApp) {
    let form = [
        ("full_name", "Pat Newman"),
        ("email", "pat@example.org"),
        ("jurisdiction", "CA"),
        ("bar_number", "777"),
        ("password", PASSWORD),
    ];
    app.post_form_from("/signup", "/api/sign_up", &form).await;
    let link = app.link_in_last_email_to("pat@example.org", &app.url("/verify-email?token="));
    let token = link.split("token=").nth(1).expect("token").to_owned();
    verify(app, &token).await;
}

// BOM, CRLF, quoted fields, header case, an unknown column.
const FULL_ROSTER: &str = "\u{feff}Bar_Number,Full_Name,STATUS,email,admitted_on,office_phone,notes\r\n\
    123456,\"Doe, Jane Q.\",suspended,jane@example.org,2001-06-15,(202) 555-0143,\"said \"\"hi\"\"\"\r\n\
    777,Pat Newman,active,pat@example.org,2019-01-02,,\r\n";

db_test!(
    async fn a_full_roster_is_previewed_then_committed_with_its_cascade(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        // The roster knows Jane (active) and an old member.
        seed_status(&app, "active").await;
        app::ssr::standing::seed_csv(
            pool,
            io::Cursor::new("jurisdiction,bar_number,full_name,status\nCA,222,Old Member,active\n"),
            None,
        )
        .await
        .expect("seed");
        verified_account(&app, "jane@example.org").await;
        pending_attorney(&app).await;
        let jane = user_id(&app, "jane@example.org").await;
        phones.proven_white_house(pool, jane).await;
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");
        assert_eq!(standing_of(&app, "pat@example.org").await, "pending_review");

        let upload_id = stage_text(&app, Mode::Full, FULL_ROSTER)
            .await
            .expect("staged");
        let upload = uploads::upload(pool, upload_id).await.expect("upload");
        assert_eq!(upload.state, uploads::UploadState::Previewed);
        assert_eq!(upload.rows_valid, 2);
        assert_eq!(upload.rows_invalid, 0);
        assert_eq!(upload.ignored_columns, "notes");
        assert_eq!(
            (
                upload.new_members,
                upload.changed_members,
                upload.unchanged_members,
                upload.missing_members
            ),
            (1, 1, 0, 1)
        );
        assert_eq!(upload.sha256.len(), 64);
        let consequences = uploads::consequences(pool, &upload)
            .await
            .expect("consequences");
        let changes: Vec<(String, &str, &str)> = consequences
            .standing_changes
            .iter()
            .map(|change| {
                (
                    change.email.clone(),
                    change.from.as_str(),
                    change.to.as_str(),
                )
            })
            .collect();
        assert_eq!(
            changes,
            vec![
                ("jane@example.org".into(), "verified", "pending_review"),
                ("pat@example.org".into(), "pending_review", "verified"),
            ]
        );
        assert_eq!(consequences.numbers_leaving, 1);
        assert_eq!(consequences.numbers_entering, 0);
        assert_eq!(log(&app).await.len(), 1, "a preview changes nothing");
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");

        // Jane is the one verified attorney of CA: losing her is more than
        // 2%, so the brake asks for the count (1) and, refused, writes nothing.
        let refused = commit(&app, upload_id, false, None).await;
        assert!(
            matches!(&refused, Err(UploadError::NeedsConfirmation(brake)) if brake.count() == Some(1)),
            "{refused:?}"
        );
        assert!(matches!(
            commit(&app, upload_id, false, Some(2)).await,
            Err(UploadError::NeedsConfirmation(_))
        ));
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");
        assert_eq!(log(&app).await.len(), 1, "a refused commit changes nothing");
        let report = commit(&app, upload_id, false, Some(1))
            .await
            .expect("committed");
        assert_eq!(report.standings_changed, 2);
        assert_eq!((report.numbers_added, report.numbers_removed), (0, 1));
        assert_eq!(
            log(&app).await,
            vec![
                (WHITE_HOUSE.to_owned(), Op::Add),
                (WHITE_HOUSE.to_owned(), Op::Remove)
            ]
        );
        assert_eq!(
            standing_of(&app, "jane@example.org").await,
            "pending_review"
        );
        assert_eq!(standing_of(&app, "pat@example.org").await, "verified");
        let old: String = sqlx::query_scalar("SELECT status FROM roster WHERE bar_number = '222'")
            .fetch_one(pool)
            .await
            .expect("old member");
        assert_eq!(old, "not_listed");
        assert_eq!(count(&app, "roster_staging").await, 0, "staging is cleared");
        assert!(matches!(
            commit(&app, upload_id, false, Some(1)).await,
            Err(UploadError::AlreadyDecided)
        ));

        // The same file again: nothing new, nothing changes.
        let again = stage_text(&app, Mode::Full, FULL_ROSTER)
            .await
            .expect("staged");
        let upload = uploads::upload(pool, again).await.expect("upload");
        assert_eq!(
            (
                upload.new_members,
                upload.changed_members,
                upload.unchanged_members,
                upload.missing_members
            ),
            (0, 0, 2, 0)
        );
        assert_eq!(
            uploads::same_file_committed(pool, &upload)
                .await
                .expect("lookup")
                .map(|(id, _)| id),
            Some(upload_id)
        );
        let updated_before: Vec<i64> =
            sqlx::query_scalar("SELECT updated_at FROM roster ORDER BY bar_number")
                .fetch_all(pool)
                .await
                .expect("times");
        let report = commit(&app, again, false, None).await.expect("committed");
        assert_eq!(report.standings_changed, 0);
        assert_eq!((report.numbers_added, report.numbers_removed), (0, 0));
        let updated_after: Vec<i64> =
            sqlx::query_scalar("SELECT updated_at FROM roster ORDER BY bar_number")
                .fetch_all(pool)
                .await
                .expect("times");
        assert_eq!(updated_before, updated_after, "no row was rewritten");
        assert_eq!(log(&app).await.len(), 2);
        let history = uploads::history(pool, Jurisdiction::parse("CA").ok(), 10)
            .await
            .expect("history");
        assert_eq!(history.len(), 2);
        assert!(
            history
                .iter()
                .all(|upload| upload.state == uploads::UploadState::Committed)
        );
    }
);

db_test!(
    async fn bad_rows_are_reported_and_block_the_commit_unless_skipped(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let csv = "bar_number,full_name,status,admitted_on\n\
                   1,Ann Able,active,2001-02-03\n\
                   2,Bob Baker,retired,2001-02-03\n\
                   3,Cy Cole,active,02/03/2001\n\
                   1,Ann Again,active,\n\
                   4,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",active,\n\
                   5,Dee Dunn\n\
                   6,Eve Ellis,active,2001-02-30\n\
                   !!,Fay Fox,active,\n";
        let upload_id = stage_text(&app, Mode::Partial, csv).await.expect("staged");
        let upload = uploads::upload(pool, upload_id).await.expect("upload");
        // Ann, Cy (a US date) and Eve (a date that does not exist, left
        // empty) are read; Bob (unknown status), the repeated 1, the
        // formula name, Dee (no status) and the unreadable bar number block.
        assert_eq!(
            (upload.rows_valid, upload.rows_invalid, upload.rows_warned),
            (3, 5, 1)
        );
        let errors: Vec<(i64, String, Severity)> = uploads::errors(pool, upload_id, 100)
            .await
            .expect("errors")
            .into_iter()
            .map(|error| (error.line, error.column_name, error.severity))
            .collect();
        assert_eq!(
            errors,
            vec![
                (3, "status".to_owned(), Severity::Error),
                (5, "bar_number".to_owned(), Severity::Error),
                (6, "full_name".to_owned(), Severity::Error),
                (7, "status".to_owned(), Severity::Error),
                (8, "admitted_on".to_owned(), Severity::Warning),
                (9, "bar_number".to_owned(), Severity::Error),
            ]
        );
        let duplicate = &uploads::errors(pool, upload_id, 100).await.expect("errors")[1];
        assert!(
            duplicate.message.contains("first on line 2"),
            "{duplicate:?}"
        );
        assert_eq!(
            uploads::unknown_statuses(pool, upload_id)
                .await
                .expect("words"),
            vec![("retired".to_owned(), 1)]
        );
        let report = String::from_utf8(uploads::errors_csv(pool, upload_id).await.expect("csv"))
            .expect("utf-8");
        assert!(
            report.starts_with("line,column,value,message,severity\n"),
            "{report}"
        );
        assert!(
            report.contains("'=HYPERLINK"),
            "formula neutralised: {report}"
        );
        assert!(!report.contains(",=HYPERLINK"), "{report}");

        assert!(matches!(
            commit(&app, upload_id, false, None).await,
            Err(UploadError::HasErrors(5))
        ));
        assert_eq!(count(&app, "roster").await, 0, "refused: nothing applied");
        commit(&app, upload_id, true, None)
            .await
            .expect("committed, skipping the bad rows");
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT full_name, admitted_on FROM roster ORDER BY bar_number")
                .fetch_all(pool)
                .await
                .expect("roster");
        assert_eq!(
            rows,
            vec![
                ("Ann Able".to_owned(), Some("2001-02-03".to_owned())),
                ("Cy Cole".to_owned(), Some("2001-02-03".to_owned())),
                ("Eve Ellis".to_owned(), None),
            ]
        );
    }
);

/// A reader that gives `prefix`, then fails as a dropped connection does.
struct CutOff(io::Cursor<Vec<u8>>);

impl Seek for CutOff {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

impl Read for CutOff {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buffer)? {
            0 => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset",
            )),
            n => Ok(n),
        }
    }
}

db_test!(
    async fn hostile_files_are_refused_and_leave_nothing(engine: Engine) {
        let app = spawn_app(engine).await;
        let semicolons = stage_text(
            &app,
            Mode::Partial,
            "bar_number;full_name;status\n1;Ann Able;active\n",
        )
        .await;
        assert!(
            matches!(&semicolons, Err(UploadError::Unreadable(ReadError::MissingColumn { hint, .. })) if hint.contains("semicolons")),
            "{semicolons:?}"
        );
        assert!(matches!(
            stage_text(&app, Mode::Partial, "bar_number,full_name\n1,Ann Able\n").await,
            Err(UploadError::Unreadable(ReadError::MissingColumn { wanted, .. })) if wanted == "status"
        ));
        assert!(matches!(
            stage_text(&app, Mode::Partial, "").await,
            Err(UploadError::Unreadable(ReadError::Empty))
        ));
        let wide = format!(
            "bar_number,full_name,status,{}\n",
            (0..10_000)
                .map(|n| format!("c{n}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(matches!(
            stage_text(&app, Mode::Partial, &wide).await,
            Err(UploadError::Unreadable(ReadError::TooManyColumns(10_003)))
        ));
        // Bytes that are neither UTF-8 nor Windows-1252 (0x81 is unassigned
        // there): refused whole, saying how to save the file.
        let mut not_text = b"bar_number,full_name,status\n1,Ann ".to_vec();
        not_text.extend([0x81]);
        not_text.extend(b",active\n2,Bo Bell,active\n");
        let refused = stage(&app, Mode::Partial, io::Cursor::new(not_text)).await;
        assert!(
            matches!(
                &refused,
                Err(UploadError::Unreadable(ReadError::NotText { .. }))
            ),
            "{refused:?}"
        );
        let message = refused.expect_err("refused").to_string();
        assert!(message.contains("CSV UTF-8"), "{message}");
        // Not UTF-8 but clean Windows-1252: read as such, and said so.
        let mut windows = b"bar_number,full_name,status\n1,Ren\xe9e O\x92Brien,active\n".to_vec();
        windows.extend(b"2,Bo Bell,active\n");
        let staged = stage(&app, Mode::Partial, io::Cursor::new(windows))
            .await
            .expect("staged");
        let upload = uploads::upload(app.database.pool(), staged)
            .await
            .expect("upload");
        assert_eq!(upload.encoding, FileEncoding::Windows1252);
        assert_eq!((upload.rows_valid, upload.rows_invalid), (2, 0));
        uploads::discard(app.database.pool(), staged, None)
            .await
            .expect("discarded");
        assert!(matches!(
            stage_text(&app, Mode::Full, "bar_number,full_name,status\n").await,
            Err(UploadError::EmptyFullRoster)
        ));

        let truncated = CutOff(io::Cursor::new(
            b"bar_number,full_name,status\n1,Ann Able,active\n2,Bo".to_vec(),
        ));
        assert!(matches!(
            stage(&app, Mode::Partial, truncated).await,
            Err(UploadError::Read(_))
        ));

        // Over 50 MiB of rows (each one invalid, so only the count grows).
        let line = format!("{},x,active\n", "!".repeat(90));
        let big = RepeatLine::new(line, uploads::MAX_BYTES / 90 + 10);
        assert!(matches!(
            stage(&app, Mode::Partial, big).await,
            Err(UploadError::TooLarge)
        ));
        // More than a million rows.
        let many = RepeatLine::new("1\n".into(), uploads::MAX_ROWS + 1);
        assert!(matches!(
            stage(&app, Mode::Partial, many).await,
            Err(UploadError::TooManyRows)
        ));

        // Only the discarded upload is on record; nothing is staged.
        assert_eq!(count(&app, "roster_uploads").await, 1);
        assert_eq!(count(&app, "roster_staging").await, 0);
        assert_eq!(count(&app, "roster_upload_errors").await, 0);
        assert_eq!(count(&app, "roster").await, 0);
    }
);

/// A header, then `count` copies of one line, produced as they are read.
struct RepeatLine {
    header: io::Cursor<Vec<u8>>,
    line: Vec<u8>,
    count: u64,
    left: u64,
    offset: usize,
}

impl RepeatLine {
    fn new(line: String, count: u64) -> Self {
        Self {
            header: io::Cursor::new(b"bar_number,full_name,status\n".to_vec()),
            line: line.into_bytes(),
            count,
            left: count,
            offset: 0,
        }
    }
}

impl Seek for RepeatLine {
    /// Only back to the start, as the encoding check needs.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Start(0) => {
                self.header.set_position(0);
                self.left = self.count;
                self.offset = 0;
                Ok(0)
            }
            _ => Err(io::Error::other("only rewinds")),
        }
    }
}

impl Read for RepeatLine {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let mut written = self.header.read(buffer)?;
        while written < buffer.len() && self.left > 0 {
            let rest = &self.line[self.offset..];
            let n = rest.len().min(buffer.len() - written);
            buffer[written..written + n].copy_from_slice(&rest[..n]);
            written += n;
            self.offset += n;
            if self.offset == self.line.len() {
                self.offset = 0;
                self.left -= 1;
            }
        }
        Ok(written)
    }
}

/// bar_number, status, email, admitted_on, office_phone, office_phone_ext.
type RosterFields = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

db_test!(
    async fn a_file_without_an_optional_column_leaves_what_the_roster_holds(engine: Engine) {
        let app = spawn_app(engine).await;
        let full = stage_text(
            &app,
            Mode::Full,
            "bar_number,full_name,status,email,admitted_on,office_phone\n\
             1,Ann Able,active,ann@example.org,2001-06-15,(202) 456-1414 ext. 204\n\
             2,Bo Bell,active,bo@example.org,2004-01-31,\n",
        )
        .await
        .expect("staged");
        commit(&app, full, false, None).await.expect("committed");
        // A bar's status-only update: no email, date or phone column.
        let partial = stage_text(
            &app,
            Mode::Partial,
            "Bar Number,Full Name,Status\n1,Ann Able,suspended\n2,Bo Bell,active\n",
        )
        .await
        .expect("staged");
        let changed: i64 =
            sqlx::query_scalar("SELECT changed_members FROM roster_uploads WHERE id = $1")
                .bind(partial)
                .fetch_one(app.database.pool())
                .await
                .expect("counts");
        assert_eq!(changed, 1, "only Ann's status changes");
        commit(&app, partial, false, None).await.expect("committed");
        let rows: Vec<RosterFields> = sqlx::query_as(
            "SELECT bar_number, status, email, admitted_on, office_phone, office_phone_ext \
                 FROM roster WHERE jurisdiction = 'CA' ORDER BY bar_number",
        )
        .fetch_all(app.database.pool())
        .await
        .expect("roster");
        assert_eq!(
            rows,
            vec![
                (
                    "1".into(),
                    "suspended".into(),
                    Some("ann@example.org".into()),
                    Some("2001-06-15".into()),
                    Some("+12024561414".into()),
                    Some("204".into())
                ),
                (
                    "2".into(),
                    "active".into(),
                    Some("bo@example.org".into()),
                    Some("2004-01-31".into()),
                    None,
                    None
                ),
            ]
        );
    }
);

db_test!(
    async fn a_previews_counts_add_up_to_its_rows(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let first = stage_text(
            &app,
            Mode::Partial,
            "bar_number,full_name,status\n1,Ann Able,active\n2,Bob Baker,active\n3,Cy Cole,active\n",
        )
        .await
        .expect("staged");
        commit(&app, first, false, None).await.expect("committed");
        // Ann changes, Cy does not, Dee is new; Bob's status is unknown, so
        // his row changes nothing and is counted once, with the errors.
        let second = stage_text(
            &app,
            Mode::Partial,
            "bar_number,full_name,status\n1,Ann Able,suspended\n2,Bob Baker,retired\n\
             3,Cy Cole,active\n4,Dee Dunn,active\n",
        )
        .await
        .expect("staged");
        let upload = uploads::upload(pool, second).await.expect("upload");
        assert_eq!(
            (
                upload.new_members,
                upload.changed_members,
                upload.unchanged_members,
                upload.rows_valid,
                upload.rows_invalid
            ),
            (1, 1, 1, 3, 1)
        );
    }
);

db_test!(
    async fn preview_equals_commit_for_two_claimants_of_one_bar_number(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        // Two accounts claim CA 123456 under the same name; no roster
        // lists it yet, so both wait for review.
        verified_account(&app, "first@example.org").await;
        verified_account(&app, "second@example.org").await;
        let first = user_id(&app, "first@example.org").await;
        let second = user_id(&app, "second@example.org").await;
        // Both proved the claim (the claim links were followed while the
        // email of record pointed at each in turn): only the roster is
        // missing for either to be verified.
        sqlx::query("UPDATE users SET claim_state = 'proven' WHERE id IN ($1, $2)")
            .bind(first)
            .bind(second)
            .execute(pool)
            .await
            .expect("claims proven");

        let upload_id = stage_text(
            &app,
            Mode::Partial,
            "bar_number,full_name,status,email\n123456,Jane Q. Doe,active,jane@bar.example\n",
        )
        .await
        .expect("staged");
        let upload = uploads::upload(pool, upload_id).await.expect("upload");
        let preview = uploads::consequences(pool, &upload)
            .await
            .expect("consequences");
        let mut predicted: Vec<(i64, String)> = preview
            .standing_changes
            .iter()
            .map(|change| (change.user_id, change.to.as_str().to_owned()))
            .collect();
        predicted.sort();

        let report = commit(&app, upload_id, false, None).await.expect("commit");
        let mut after = Vec::new();
        for (id, email) in [(first, "first@example.org"), (second, "second@example.org")] {
            let standing = standing_of(&app, email).await;
            if standing != "pending_review" {
                after.push((id, standing));
            }
        }
        assert_eq!(
            predicted, after,
            "the preview names exactly the standings the commit changes"
        );
        assert_eq!(after, vec![(first, "verified".to_owned())]);
        assert_eq!(report.standings_changed, 1);
        assert_eq!(
            standing_of(&app, "second@example.org").await,
            "pending_review"
        );
    }
);
