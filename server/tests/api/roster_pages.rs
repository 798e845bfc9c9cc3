//! Roster uploads through the portal: the streamed multipart upload, who
//! may upload where, the preview page, the commit, the errors download,
//! and bodies that are too big or cut off.

use app::ssr::accounts::admins::AdminRole;

use crate::helpers::journeys::{
    body, enrolled_admin, enrolled_site_admin, location, multipart, post_upload,
};
use crate::helpers::{Engine, TestApp, form_error, spawn_app};

/// The message an upload was refused with: the redirect back says only
/// that there is one; the page shows it, once, from the session.
async fn refusal(app: &TestApp, response: &reqwest::Response) -> String {
    let target = location(response);
    assert_eq!(target, "/admin/roster?refused=1", "a refusal");
    let page = body(app.get(&target).await).await;
    let message = page
        .split(r#"class="form-error""#)
        .nth(1)
        .and_then(|rest| rest.split("<p>").nth(1))
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("no refusal shown on {target}"))
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let again = body(app.get(&target).await).await;
    assert!(!again.contains(&message), "shown once");
    message
}

db_test!(
    async fn words_in_the_address_are_never_shown_as_a_refusal(engine: Engine) {
        let app = spawn_app(engine).await;
        enrolled_site_admin(&app, "ada@example.org").await;
        let page = body(
            app.get("/admin/roster?error=Your+roster+was+rejected%3A+call+555-0100&refused=1")
                .await,
        )
        .await;
        assert!(!page.contains("call 555-0100"));
        assert!(!page.contains("form-error"));
    }
);

const ROSTER: &str = "bar_number,full_name,status,email\n\
    1,Ann Able,active,\n\
    2,=HYPERLINK(\"http://evil.example\"),active,\n\
    3,Cy Cole,active,ann@example\n";

db_test!(
    async fn a_site_admin_uploads_previews_and_commits(engine: Engine) {
        let app = spawn_app(engine).await;
        enrolled_site_admin(&app, "ada@example.org").await;
        let page = body(app.get("/admin/roster").await).await;
        assert!(page.contains("Download the template") && page.contains("California (CA)"));

        // As the hydrated page sends it: with a progress token first.
        let uploaded = post_upload(
            &app,
            multipart(
                &[
                    ("progress_token", "0f3c9a"),
                    ("jurisdiction", "CA"),
                    ("mode", "partial"),
                ],
                Some(ROSTER.as_bytes()),
            ),
        )
        .await;
        assert_eq!(uploaded.status(), 303);
        let preview_path = location(&uploaded);
        assert!(
            preview_path.starts_with("/admin/roster/uploads/"),
            "{preview_path}"
        );
        let id = preview_path.rsplit('/').next().expect("id").to_owned();
        let preview = body(app.get(&preview_path).await).await;
        // The formula is no name (an error); the bad email is only left
        // empty (a warning): Cy is read.
        assert!(
            preview.contains("1 row with errors, 1 with warnings"),
            "{preview}"
        );
        assert!(preview.contains("Commit this upload"), "{preview}");

        let errors = app
            .get(&format!("/admin/roster/uploads/{id}/errors.csv"))
            .await;
        assert_eq!(errors.status(), 200);
        assert!(
            errors.headers()["content-disposition"]
                .to_str()
                .expect("ascii")
                .contains("attachment")
        );
        let csv = errors.text().await.expect("csv");
        assert!(csv.contains("'=HYPERLINK"), "{csv}");

        let refused = app
            .post_form_from(
                &preview_path,
                "/api/commit_roster_upload",
                &[("upload", &id)],
            )
            .await;
        assert!(
            form_error(&refused)
                .expect("error")
                .contains("1 row has errors"),
        );
        let committed = app
            .post_form_from(
                &preview_path,
                "/api/commit_roster_upload",
                &[("upload", &id), ("skip_invalid", "yes")],
            )
            .await;
        assert_eq!(
            location(&committed),
            format!("/admin/roster/uploads/{id}?committed=1")
        );
        let result = body(app.get(&preview_path).await).await;
        assert!(result.contains("Result: committed"), "{result}");
        let history = body(app.get("/admin/roster").await).await;
        assert!(history.contains("ada@example.org") && history.contains("committed"));
        let twice = app
            .post_form_from(
                &preview_path,
                "/api/commit_roster_upload",
                &[("upload", &id), ("skip_invalid", "yes")],
            )
            .await;
        assert!(
            form_error(&twice)
                .expect("error")
                .contains("already committed")
        );
    }
);

db_test!(
    async fn bad_uploads_are_refused_and_store_nothing(engine: Engine) {
        let app = spawn_app(engine).await;
        enrolled_admin(
            &app,
            "tex@example.org",
            AdminRole::Bar(app::domain::Jurisdiction::parse("TX").expect("TX")),
        )
        .await;
        let uploads = || async {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roster_uploads")
                .fetch_one(app.database.pool())
                .await
                .expect("count");
            count
        };

        // A Texas bar admin uploading for California.
        let other_bar = post_upload(
            &app,
            multipart(
                &[("jurisdiction", "CA"), ("mode", "full")],
                Some(ROSTER.as_bytes()),
            ),
        )
        .await;
        assert!(
            refusal(&app, &other_bar).await.contains("for TX only"),
            "{}",
            refusal(&app, &other_bar).await
        );
        // No mode, no file, no jurisdiction.
        let no_mode = post_upload(
            &app,
            multipart(&[("jurisdiction", "TX")], Some(ROSTER.as_bytes())),
        )
        .await;
        assert!(
            refusal(&app, &no_mode)
                .await
                .contains("full roster or a partial update")
        );
        let no_file = post_upload(
            &app,
            multipart(&[("jurisdiction", "TX"), ("mode", "full")], None),
        )
        .await;
        assert!(refusal(&app, &no_file).await.contains("Choose a CSV file"));
        // Wrong delimiter: refused as a file, with the reason.
        let semicolons = post_upload(
            &app,
            multipart(
                &[("jurisdiction", "TX"), ("mode", "full")],
                Some(b"bar_number;full_name;status\n1;Ann Able;active\n"),
            ),
        )
        .await;
        assert!(
            refusal(&app, &semicolons).await.contains("semicolons"),
            "{}",
            refusal(&app, &semicolons).await
        );
        // A body cut off before its end.
        let mut cut = multipart(
            &[("jurisdiction", "TX"), ("mode", "partial")],
            Some(ROSTER.as_bytes()),
        );
        cut.truncate(cut.len() - 40);
        let truncated = post_upload(&app, cut).await;
        assert!(
            refusal(&app, &truncated).await.contains("cut off"),
            "{}",
            refusal(&app, &truncated).await
        );
        // Over 50 MiB.
        let mut big = b"bar_number,full_name,status\n".to_vec();
        big.resize(50 * 1024 * 1024 + 1024, b'1');
        let too_big = post_upload(
            &app,
            multipart(&[("jurisdiction", "TX"), ("mode", "partial")], Some(&big)),
        )
        .await;
        assert!(
            refusal(&app, &too_big).await.contains("larger than 50 MiB"),
            "{}",
            refusal(&app, &too_big).await
        );
        assert_eq!(uploads().await, 0, "nothing stored");

        // Their own bar works; another bar's upload is invisible to them.
        let own = post_upload(
            &app,
            multipart(
                &[("jurisdiction", "TX"), ("mode", "partial")],
                Some(b"bar_number,full_name,status\n9,Tex Ritter,active\n"),
            ),
        )
        .await;
        assert!(location(&own).starts_with("/admin/roster/uploads/"));
        assert_eq!(uploads().await, 1);
        let california = app::ssr::standing::roster::upload::stage(
            app.database.pool(),
            &app::ssr::standing::roster::upload::UploadRequest {
                jurisdiction: app::domain::Jurisdiction::parse("CA").expect("CA"),
                mode: app::ssr::standing::roster::upload::Mode::Partial,
                uploader: app::ssr::standing::roster::upload::Uploader {
                    user_id: None,
                    label: "cli".into(),
                },
                file_name: "ca.csv".into(),
            },
            std::io::Cursor::new(b"bar_number,full_name,status\n1,Ann Able,active\n".to_vec()),
            Default::default(),
        )
        .await
        .expect("staged");
        let hidden = app
            .get(&format!("/admin/roster/uploads/{california}"))
            .await;
        assert_eq!(hidden.status(), 404);
        let hidden_errors = app
            .get(&format!("/admin/roster/uploads/{california}/errors.csv"))
            .await;
        assert_eq!(hidden_errors.status(), 404);
        let commit = app
            .post_form_from(
                "/admin/roster",
                "/api/commit_roster_upload",
                &[("upload", &california.to_string())],
            )
            .await;
        assert!(form_error(&commit).expect("error").contains("Not found"));
    }
);

db_test!(
    async fn attorneys_cannot_upload(engine: Engine) {
        use crate::helpers::journeys::{PASSWORD, log_in, verified_account};
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        assert_eq!(app.get("/admin/roster").await.status(), 403);
        let refused = post_upload(
            &app,
            multipart(
                &[("jurisdiction", "CA"), ("mode", "full")],
                Some(ROSTER.as_bytes()),
            ),
        )
        .await;
        // Sent back to the page, which an attorney may not open: the
        // refusal stays unread, and nothing was staged.
        assert_eq!(location(&refused), "/admin/roster?refused=1");
        let page = app.get("/admin/roster?refused=1").await;
        assert_eq!(page.status(), 403);
        assert!(body(page).await.contains("permission"));
        let template = app.get("/roster-template.csv").await;
        assert!(
            template
                .text()
                .await
                .expect("template")
                .starts_with("bar_number,full_name,status,email,admitted_on,office_phone\n")
        );
    }
);

db_test!(
    async fn a_column_named_on_a_preview_reads_the_same_file_again(engine: Engine) {
        use crate::helpers::journeys::upload_roster;
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        enrolled_site_admin(&app, "ada@example.org").await;
        let file = "Registration Number,Full Name,Status,Admit Date\n\
                    1,Ann Able,active,6/15/2001\n\
                    2,Bo Bell,active,1/31/2004\n";
        let first = upload_roster(&app, "CA", "full", file.as_bytes()).await;
        let first_page = format!("/admin/roster/uploads/{first}");
        let preview = body(app.get(&first_page).await).await;
        assert!(
            preview.contains("Ignored columns: Admit Date."),
            "{preview}"
        );
        let files = app.outbox.path().join("roster-files");
        let kept = |id: i64| files.join(format!("upload-{id}.csv"));
        assert_eq!(std::fs::read(kept(first)).expect("kept"), file.as_bytes());

        let save_from = |page: String| {
            let app = &app;
            async move {
                app.post_form_from(
                    &page,
                    "/api/save_roster_column",
                    &[
                        ("jurisdiction", "CA"),
                        ("field", "admitted_on"),
                        ("header", "Admit Date"),
                        ("back", &page),
                    ],
                )
                .await
            }
        };
        let target = location(&save_from(first_page.clone()).await);
        let second: i64 = target
            .strip_prefix("/admin/roster/uploads/")
            .and_then(|rest| rest.strip_suffix("?column_saved=1&read_again=1"))
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("a new preview, not {target}"));
        let states: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, state FROM roster_uploads ORDER BY id")
                .fetch_all(pool)
                .await
                .expect("uploads");
        assert_eq!(
            states,
            vec![(first, "discarded".into()), (second, "previewed".into())]
        );
        let admitted: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT admitted_on FROM roster_staging WHERE upload_id = $1 ORDER BY bar_number",
        )
        .bind(second)
        .fetch_all(pool)
        .await
        .expect("staged");
        assert_eq!(
            admitted,
            vec![Some("2001-06-15".into()), Some("2004-01-31".into())]
        );
        let preview = body(app.get(&target).await).await;
        assert!(
            preview.contains("the file was read again with it"),
            "{preview}"
        );
        assert!(!preview.contains("Ignored columns"), "{preview}");
        assert!(!kept(first).exists() && kept(second).exists());

        // Committed: the kept file goes.
        let committed = app
            .post_form_from(
                &format!("/admin/roster/uploads/{second}"),
                "/api/commit_roster_upload",
                &[("upload", &second.to_string())],
            )
            .await;
        assert_eq!(
            location(&committed),
            format!("/admin/roster/uploads/{second}?committed=1")
        );
        assert!(!kept(second).exists());

        // An upload whose file was not kept (from the command line): the
        // name is saved for the next file, as the page then says.
        let third = upload_roster(&app, "CA", "partial", file.as_bytes()).await;
        std::fs::remove_file(kept(third)).expect("kept");
        let third_page = format!("/admin/roster/uploads/{third}");
        assert_eq!(
            location(&save_from(third_page.clone()).await),
            format!("{third_page}?column_saved=1")
        );
    }
);
