//! Roster files as bars and spreadsheets really write them (issue 13):
//! the eight kinds in `fixtures/rosters/`, through the upload and through
//! `server roster import`; the rule that a readable bar number never
//! drops a member; status words mapped on the preview; the brake from the
//! command line; abandoned previews expiring; the changes download.

use std::time::Duration;

use app::ssr::infra::audit_trail::Actor;
use app::ssr::standing::roster::reading::FileEncoding;
use app::ssr::standing::roster::upload::{self as uploads, BrakeRule, Decision, UploadState};

use crate::helpers::journeys::{
    Phones, body, enrolled_site_admin, seed_status, upload_roster, user_id, verified_account,
};
use crate::helpers::{Engine, TestApp, TestDatabase, spawn_app};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/api/fixtures/rosters/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// (file, rows, encoding): every row of each must be read.
const KINDS: [(&str, i64, FileEncoding); 7] = [
    ("dates.csv", 4, FileEncoding::Utf8),
    ("windows-1252.csv", 3, FileEncoding::Windows1252),
    ("unicode-text.txt", 3, FileEncoding::Utf16Le),
    ("ragged.csv", 4, FileEncoding::Utf8),
    ("sep-line.csv", 2, FileEncoding::Utf8Bom),
    ("phones.csv", 5, FileEncoding::Utf8),
    ("header-words.csv", 2, FileEncoding::Utf8),
];

async fn roster_value(app: &TestApp, bar_number: &str, column: &str) -> Option<String> {
    sqlx::query_scalar(&format!(
        "SELECT {column} FROM roster WHERE jurisdiction = 'CA' AND bar_number = $1"
    ))
    .bind(bar_number)
    .fetch_one(app.database.pool())
    .await
    .expect("roster row")
}

async fn standing_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT standing FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("standing")
}

fn decision(skip: bool, confirm: Option<u64>) -> Decision {
    Decision {
        decided_by: None,
        actor: Actor::command_line(),
        skip_invalid: skip,
        confirm_removals: confirm,
    }
}

/// What the spreadsheets' cells became, once committed.
async fn assert_read_as_written(app: &TestApp) {
    for (bar, column, expected) in [
        ("101", "admitted_on", "2001-06-15"),
        ("102", "admitted_on", "1999-06-05"),
        ("103", "admitted_on", "1987"),
        ("201", "full_name", "José Núñez"),
        ("202", "full_name", "Siobhán O’Brien"),
        ("301", "full_name", "José Núñez"),
        ("303", "status", "suspended"),
        ("402", "email", "bo@example.org"),
        ("404", "admitted_on", "2001-02-03"),
        ("601", "office_phone", "+14155550120"),
        ("601", "office_phone_ext", "12"),
        ("602", "office_phone_ext", "204"),
        ("603", "office_phone_ext", "7"),
        ("604", "office_phone_ext", "3"),
        ("605", "office_phone", "+14155550124"),
        ("701", "status", "active"),
    ] {
        assert_eq!(
            roster_value(app, bar, column).await.as_deref(),
            Some(expected),
            "{bar} {column}"
        );
    }
}

db_test!(
    async fn every_kind_of_file_is_read_through_the_upload(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        enrolled_site_admin(&app, "ada@example.org").await;
        for (name, rows, encoding) in KINDS {
            let id = upload_roster(&app, "CA", "partial", &fixture(name)).await;
            let upload = uploads::upload(pool, id).await.expect("upload");
            assert_eq!(
                (upload.rows_valid, upload.rows_invalid, upload.rows_warned),
                (rows, 0, 0),
                "{name}: {:?}",
                uploads::errors(pool, id, 10).await
            );
            assert_eq!(upload.encoding, encoding, "{name}");
            let preview = body(app.get(&format!("/admin/roster/uploads/{id}")).await).await;
            assert!(preview.contains(encoding.describe()), "{name}");
            uploads::commit(pool, id, decision(false, None), BrakeRule::default())
                .await
                .unwrap_or_else(|error| panic!("{name}: {error}"));
        }
        assert_read_as_written(&app).await;

        // The open-data layout: "Registration Number" and split names are
        // read; its status words are unknown until confirmed on the preview.
        let id = upload_roster(&app, "CA", "partial", &fixture("open-data.csv")).await;
        let upload = uploads::upload(pool, id).await.expect("upload");
        assert_eq!((upload.rows_valid, upload.rows_invalid), (0, 4));
        assert_eq!(
            uploads::unknown_statuses(pool, id).await.expect("words"),
            vec![
                ("Currently registered".to_owned(), 2),
                ("Delinquent".to_owned(), 1),
                ("Suspended, currently registered".to_owned(), 1),
            ]
        );
        let preview_path = format!("/admin/roster/uploads/{id}");
        let preview = body(app.get(&preview_path).await).await;
        assert!(preview.contains("Status words to map"), "{preview}");
        for (word, status) in [
            ("Currently registered", "active"),
            ("Delinquent", "inactive"),
            ("Suspended, currently registered", "suspended"),
        ] {
            let id = id.to_string();
            let mapped = app
                .post_form_from(
                    &preview_path,
                    "/api/map_roster_status",
                    &[("upload", id.as_str()), ("word", word), ("status", status)],
                )
                .await;
            assert_eq!(
                crate::helpers::journeys::location(&mapped),
                preview_path,
                "{word}"
            );
        }
        let upload = uploads::upload(pool, id).await.expect("upload");
        assert_eq!((upload.rows_valid, upload.rows_invalid), (4, 0));
        uploads::commit(pool, id, decision(false, None), BrakeRule::default())
            .await
            .expect("committed");
        assert_eq!(
            roster_value(&app, "801", "full_name").await.as_deref(),
            Some("John Q. Public Jr.")
        );
        // Exact words: never "currently registered" inside another.
        assert_eq!(
            roster_value(&app, "803", "status").await.as_deref(),
            Some("suspended")
        );
        assert_eq!(
            roster_value(&app, "801", "admitted_on").await.as_deref(),
            Some("1990")
        );
        // The words are saved: the next file of this bar needs nothing.
        let again = upload_roster(&app, "CA", "partial", &fixture("open-data.csv")).await;
        let upload = uploads::upload(pool, again).await.expect("upload");
        assert_eq!((upload.rows_valid, upload.rows_invalid), (4, 0));
    }
);

fn server() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `server roster import` on a fixture; (success, stdout + stderr).
async fn import(url: &str, name: &str, extra: &[&str]) -> (bool, String) {
    let path = format!(
        "{}/tests/api/fixtures/rosters/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = server()
        .args(["roster", "import", &path, "--jurisdiction", "CA"])
        .args(extra)
        .env("DATABASE_URL", url)
        .output()
        .await
        .expect("run server roster import");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

db_test!(
    async fn every_kind_of_file_is_read_by_the_command_line(engine: Engine) {
        let database = TestDatabase::create(engine).await;
        for (name, rows, encoding) in KINDS {
            let (ok, out) = import(&database.url, name, &["--commit"]).await;
            assert!(ok, "{name}: {out}");
            assert!(
                out.contains(&format!("{rows} valid rows")) && out.contains("committed"),
                "{name}: {out}"
            );
            assert!(out.contains(encoding.describe()), "{name}: {out}");
        }
        // Without its words the open-data file is previewed, not committed,
        // and the unknown statuses are listed once each with their counts.
        let (ok, out) = import(&database.url, "open-data.csv", &["--commit"]).await;
        assert!(!ok, "{out}");
        assert!(out.contains("\"Currently registered\": 2 rows"), "{out}");
        let mapping = format!(
            "{}/tests/api/fixtures/rosters/open-data.mapping",
            env!("CARGO_MANIFEST_DIR")
        );
        let (ok, out) = import(
            &database.url,
            "open-data.csv",
            &["--mapping", &mapping, "--commit"],
        )
        .await;
        assert!(ok && out.contains("4 valid rows"), "{out}");
        // The seed reads with the same reader.
        let path = format!(
            "{}/tests/api/fixtures/rosters/windows-1252.csv",
            env!("CARGO_MANIFEST_DIR")
        );
        let output = server()
            .args(["roster", "seed", &path, "--jurisdiction", "NY"])
            .env("DATABASE_URL", &database.url)
            .output()
            .await
            .expect("seed");
        assert!(output.status.success(), "{output:?}");
        let pool = app::ssr::infra::db::Database::connect(&database.url, 1)
            .await
            .expect("connect");
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT full_name FROM roster WHERE jurisdiction IN ('CA', 'NY') \
               AND bar_number IN ('201', '301', '801') ORDER BY jurisdiction, bar_number",
        )
        .fetch_all(pool.pool())
        .await
        .expect("names");
        assert_eq!(
            names,
            vec![
                "José Núñez".to_owned(),
                "José Núñez".to_owned(),
                "John Q. Public Jr.".to_owned(),
                "José Núñez".to_owned(),
            ]
        );
        pool.close().await;
    }
);

db_test!(
    async fn a_member_whose_only_bad_cell_is_a_date_stays_listed_and_verified(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        // Jane (CA 123456) is on the roster, verified, with a number.
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        phones.proven_white_house(pool, jane).await;
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");
        enrolled_site_admin(&app, "ada@example.org").await;

        // A full roster, saved by Excel: Jane's date has a two-digit year,
        // her email is no address, her phone unreadable.
        let file = "bar_number,full_name,status,email,admitted_on,office_phone\r\n\
                    123456,Jane Doe,active,jane at example,6/15/01,call the desk\r\n";
        let id = upload_roster(&app, "CA", "full", file.as_bytes()).await;
        let upload = uploads::upload(pool, id).await.expect("upload");
        assert_eq!(
            (upload.rows_valid, upload.rows_invalid, upload.rows_warned),
            (1, 0, 1)
        );
        assert_eq!(upload.missing_members, 0);
        let errors = uploads::errors(pool, id, 10).await.expect("warnings");
        assert!(
            errors
                .iter()
                .any(|e| e.column_name == "admitted_on" && e.message.contains("1901 or 2001")),
            "{errors:?}"
        );
        let consequences = uploads::consequences(pool, &upload).await.expect("preview");
        assert!(consequences.standing_changes.is_empty());
        uploads::commit(pool, id, decision(false, None), BrakeRule::default())
            .await
            .expect("committed without skipping anything");
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");
        assert_eq!(
            roster_value(&app, "123456", "status").await.as_deref(),
            Some("active")
        );
        assert_eq!(roster_value(&app, "123456", "admitted_on").await, None);
        assert_eq!(
            roster_value(&app, "123456", "office_phone")
                .await
                .as_deref(),
            Some("call the desk"),
            "an unreadable phone is kept as written"
        );

        // An unknown status, skipped: Jane keeps her status, is not missing.
        let file = "bar_number,full_name,status\n123456,Jane Doe,Good standing\n";
        let id = upload_roster(&app, "CA", "full", file.as_bytes()).await;
        let upload = uploads::upload(pool, id).await.expect("upload");
        assert_eq!((upload.rows_invalid, upload.missing_members), (1, 0));
        assert!(matches!(
            uploads::commit(pool, id, decision(false, None), BrakeRule::default()).await,
            Err(uploads::UploadError::HasErrors(1))
        ));
        uploads::commit(pool, id, decision(true, None), BrakeRule::default())
            .await
            .expect("committed, skipping");
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");
        assert_eq!(
            roster_value(&app, "123456", "status").await.as_deref(),
            Some("active")
        );
    }
);

db_test!(
    async fn the_brake_stops_a_short_full_roster_until_the_count_is_repeated(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        enrolled_site_admin(&app, "ada@example.org").await;
        // 10 members listed; the next full roster has 7 of them (70% < 80%).
        let mut file = String::from("bar_number,full_name,status\n");
        for (n, name) in [
            "Ann", "Bo", "Cy", "Dee", "Ed", "Flo", "Gus", "Hal", "Ida", "Jo",
        ]
        .iter()
        .enumerate()
        {
            file.push_str(&format!("{n},{name} Member,active\n"));
        }
        let id = upload_roster(&app, "CA", "full", file.as_bytes()).await;
        uploads::commit(pool, id, decision(false, None), BrakeRule::default())
            .await
            .expect("first roster");
        let short: String = file
            .lines()
            .take(8)
            .map(|line| format!("{line}\n"))
            .collect();
        let id = upload_roster(&app, "CA", "full", short.as_bytes()).await;
        let preview_path = format!("/admin/roster/uploads/{id}");
        let preview = body(app.get(&preview_path).await).await;
        assert!(preview.contains("Type 3 to confirm"), "{preview}");
        let id_text = id.to_string();
        let refused = app
            .post_form_from(
                &preview_path,
                "/api/commit_roster_upload",
                &[("upload", id_text.as_str())],
            )
            .await;
        let message = crate::helpers::form_error(&refused).expect("refused");
        assert!(message.contains("3 would become not listed"), "{message}");
        let wrong = app
            .post_form_from(
                &preview_path,
                "/api/commit_roster_upload",
                &[("upload", id_text.as_str()), ("confirm_removals", "30")],
            )
            .await;
        assert!(crate::helpers::form_error(&wrong).is_some());
        let listed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM roster WHERE status = 'active' AND jurisdiction = 'CA'",
        )
        .fetch_one(pool)
        .await
        .expect("count");
        assert_eq!(listed, 10, "refused: nothing changed");
        let committed = app
            .post_form_from(
                &preview_path,
                "/api/commit_roster_upload",
                &[("upload", id_text.as_str()), ("confirm_removals", "3")],
            )
            .await;
        assert_eq!(
            crate::helpers::journeys::location(&committed),
            format!("/admin/roster/uploads/{id}?committed=1")
        );
        let upload = uploads::upload(pool, id).await.expect("upload");
        assert_eq!(upload.confirmed_removals, Some(3));
    }
);

db_test!(
    async fn the_command_line_needs_confirm_removals(engine: Engine) {
        let database = TestDatabase::create(engine).await;
        let (ok, out) = import(&database.url, "dates.csv", &["--full", "--commit"]).await;
        assert!(ok, "{out}");
        // A full roster of 2 where 4 are listed.
        let (ok, out) = import(&database.url, "sep-line.csv", &["--full", "--commit"]).await;
        assert!(!ok, "{out}");
        assert!(out.contains("--confirm-removals 4"), "{out}");
        let (ok, out) = import(
            &database.url,
            "sep-line.csv",
            &["--full", "--commit", "--confirm-removals", "4"],
        )
        .await;
        assert!(ok && out.contains("committed"), "{out}");
    }
);

db_test!(
    async fn abandoned_previews_expire_with_their_staged_rows(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        enrolled_site_admin(&app, "ada@example.org").await;
        let old = upload_roster(&app, "CA", "partial", &fixture("dates.csv")).await;
        let fresh = upload_roster(&app, "CA", "partial", &fixture("phones.csv")).await;
        // The first was left a day and a minute ago.
        sqlx::query("UPDATE roster_uploads SET created_at = created_at - $1 WHERE id = $2")
            .bind((24 * 60 + 1) * 60 * 1000_i64)
            .bind(old)
            .execute(pool)
            .await
            .expect("age it");
        let expired = uploads::expire_abandoned(pool, Duration::from_secs(24 * 3600))
            .await
            .expect("expire");
        assert_eq!(expired, 1);
        let staged = |id: i64| async move {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM roster_staging WHERE upload_id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .expect("count");
            n
        };
        assert_eq!(staged(old).await, 0);
        assert_eq!(staged(fresh).await, 5);
        let states = (
            uploads::upload(pool, old).await.expect("old").state,
            uploads::upload(pool, fresh).await.expect("fresh").state,
        );
        assert_eq!(states, (UploadState::Discarded, UploadState::Previewed));
    }
);

db_test!(
    async fn the_changes_download_lists_members_and_neutralises_formulas(engine: Engine) {
        let app = spawn_app(engine).await;
        enrolled_site_admin(&app, "ada@example.org").await;
        let file = "bar_number,full_name,status\n1,Ann Able,active\n2,Bo Baker,suspended\n";
        let first = upload_roster(&app, "CA", "full", file.as_bytes()).await;
        uploads::commit(
            app.database.pool(),
            first,
            decision(false, None),
            BrakeRule::default(),
        )
        .await
        .expect("committed");
        // Bo is in the portal, and someone else claims his bar number too:
        // both are named, with their standing, not one picked.
        sqlx::query(
            "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, \
             password_hash, created_at, standing) VALUES \
             ('bo@example.org', 'bo@example.org', 'Bo Baker', 'CA', '2', 'x', 0, 'verified'), \
             ('Not.Bo@example.org', 'not.bo@example.org', 'Bo Baker', 'CA', '2', 'x', 0, \
              'pending_review')",
        )
        .execute(app.database.pool())
        .await
        .expect("Bo");
        // "-" would start a formula in a spreadsheet.
        let file = "bar_number,full_name,status\n1,Ann Able,suspended\n2,Bo Baker,active\n3,-Cy Cole,active\n";
        let id = upload_roster(&app, "CA", "partial", file.as_bytes()).await;
        let response = app
            .get(&format!("/admin/roster/uploads/{id}/changes.csv"))
            .await;
        assert_eq!(response.status(), 200);
        let csv = response.text().await.expect("csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            vec![
                "bar_number,member,change,before,after,attorney_in_portal,numbers_affected",
                "1,Ann Able,changed,active,suspended,,",
                "2,Bo Baker,changed,suspended,active,bo@example.org (verified); Not.Bo@example.org (pending_review),",
                "3,'-Cy Cole,new,,active,,",
                // Two accounts claim bar number 2: a person decides.
                "2,Bo Baker,standing,verified,pending_review,bo@example.org (verified -> pending_review),",
            ]
        );
    }
);
