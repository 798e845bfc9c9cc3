//! The roster match: seeding, matching at sign-up and re-matching when the
//! roster changes; a bad file stores nothing.

use app::domain::Jurisdiction;
use app::ssr::standing::{self, RosterError};

use crate::helpers::journeys::{sign_up, token_of, verified_account, verify};
use crate::helpers::{Engine, TestApp, spawn_app};

async fn standing_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT standing FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("standing")
}

async fn roster_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM roster")
        .fetch_one(app.database.pool())
        .await
        .expect("count roster")
}

async fn seed(app: &TestApp, csv: &str) -> Result<standing::SeedReport, RosterError> {
    standing::seed_csv(app.database.pool(), std::io::Cursor::new(csv), None).await
}

db_test!(
    async fn a_roster_change_verifies_and_unverifies_attorneys(engine: Engine) {
        let app = spawn_app(engine).await;
        // The sign-up helper's attorney is "Jane Q. Doe", CA 123456.
        verified_account(&app, "jane@example.org").await;
        assert_eq!(
            standing_of(&app, "jane@example.org").await,
            "pending_review"
        );

        let report = seed(
            &app,
            "Jurisdiction,Bar_Number,Full_Name,Status,Extra,Email\n\
             CA,0123456,\"DOE, JANE\",Active,ignored,Jane@Example.org\n\
             CA,777,Someone Else,active,,\n",
        )
        .await
        .expect("seeded");
        assert_eq!(report.members, 2);
        assert_eq!(report.jurisdictions, vec!["CA"]);
        assert_eq!(report.standings_changed, 1);
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");

        seed(
            &app,
            "jurisdiction,bar_number,full_name,status,email\nCA,123456,Jane Doe,suspended,jane@example.org\n",
        )
        .await
        .expect("seeded");
        assert_eq!(
            standing_of(&app, "jane@example.org").await,
            "pending_review"
        );
        let reason: String =
            sqlx::query_scalar("SELECT standing_reason FROM users WHERE email_key = $1")
                .bind("jane@example.org")
                .fetch_one(app.database.pool())
                .await
                .expect("reason");
        assert_eq!(reason, "roster status is suspended");
    }
);

db_test!(
    async fn the_roster_address_proves_a_claim_and_a_second_claim_waits(engine: Engine) {
        let app = spawn_app(engine).await;
        standing::seed_csv(
            app.database.pool(),
            std::io::Cursor::new(
                "bar_number,full_name,status,email\n123456,DOE JANE QUINN,active,jane@example.org\n",
            ),
            Some(Jurisdiction::parse("CA").expect("CA")),
        )
        .await
        .expect("seeded");
        assert_eq!(sign_up(&app, "jane@example.org").await.status(), 302);
        // Knowing the name and bar number is not enough: the address
        // must be confirmed first.
        assert_eq!(
            standing_of(&app, "jane@example.org").await,
            "pending_review"
        );
        let token = token_of(&app.link_in_last_email(&app.url("/verify-email")));
        assert_eq!(
            verify(&app, &token).await.headers()["location"],
            "/login?verified=1"
        );
        assert_eq!(standing_of(&app, "jane@example.org").await, "verified");

        // Someone else claiming Jane's bar number stays pending.
        let claim = [
            ("full_name", "Mallory Smith"),
            ("email", "mallory@example.org"),
            ("jurisdiction", "CA"),
            ("bar_number", "123456"),
            ("password", crate::helpers::journeys::PASSWORD),
        ];
        let response = app.post_form_from("/signup", "/api/sign_up", &claim).await;
        assert_eq!(response.status(), 302);
        assert_eq!(
            standing_of(&app, "mallory@example.org").await,
            "pending_review"
        );
        // Jane, who holds the bar number, is told.
        assert!(
            app.emails()
                .iter()
                .any(|mail| mail.contains("To: jane@example.org")
                    && mail.contains("Another account claims your bar number")),
            "the holder is told"
        );
    }
);

db_test!(
    async fn a_bad_roster_file_stores_nothing(engine: Engine) {
        let app = spawn_app(engine).await;
        let bad_files = [
            (
                "jurisdiction,bar_number,full_name,status\nCA,1,Ann Lee,active\nCA,2,Bo Park,retired\n",
                "line 3, column status",
            ),
            (
                "jurisdiction,bar_number,full_name,status\nCA,1,Ann Lee,active\nCA,0001,Bo Park,active\n",
                "appears twice",
            ),
            (
                "jurisdiction,bar_number,status\nCA,1,active\n",
                "no name (full_name, or family_name with given_name) column",
            ),
            (
                "bar_number,full_name,status\n1,Ann Lee,active\n",
                "no jurisdiction column",
            ),
            (
                "jurisdiction,bar_number,full_name,status\nZZ,1,Ann Lee,active\n",
                "column jurisdiction",
            ),
            (
                "jurisdiction,bar_number,full_name,status\nCA,1,<script>alert(1)</script>,active\n",
                "column full_name",
            ),
            (
                "jurisdiction;bar_number;full_name;status\nCA;1;Ann Lee;active\n",
                "no bar number (bar_number) column",
            ),
            (
                "jurisdiction,bar_number,full_name,status\nCA,1,Ann Lee\n",
                "column status",
            ),
        ];
        for (csv, expected) in bad_files {
            let error = seed(&app, csv).await.expect_err(csv).to_string();
            assert!(error.contains(expected), "{csv:?}: {error}");
            assert_eq!(roster_rows(&app).await, 0, "{csv:?} left rows behind");
        }
        // Neither UTF-8 nor Windows-1252 (0x81 is unassigned there).
        let not_utf8 = b"jurisdiction,bar_number,full_name,status\nCA,1,Ann \x81 Lee,active\n";
        assert!(
            standing::seed_csv(
                app.database.pool(),
                std::io::Cursor::new(&not_utf8[..]),
                None
            )
            .await
            .is_err()
        );
        assert_eq!(roster_rows(&app).await, 0);
    }
);
