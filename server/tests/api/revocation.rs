//! A site admin revokes one attorney's registration of a number, with a
//! reason the attorney is emailed; the number leaves the registry through
//! the change log and the attorney cannot add it back.

use app::ssr::numbers::{self, NumberError};
use app::ssr::registry::Op;

use crate::helpers::journeys::{PASSWORD, log_in, verified_account};
use crate::helpers::journeys::{Phones, WHITE_HOUSE, log, phone, seed_status, user_id};
use crate::helpers::journeys::{body, enrolled_site_admin, location, log_out};
use crate::helpers::{Engine, form_error, spawn_app_without_worker};

const REASON: &str = "The number belongs to a <b>bail bonds</b> office, not a law office.";

db_test!(
    async fn a_revoked_number_leaves_the_registry_and_stays_out(engine: Engine) {
        let app = spawn_app_without_worker(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        let id = phones.proven_white_house(pool, jane).await;
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);

        let _admin = enrolled_site_admin(&app, "ada@example.org").await;
        let page = body(app.get("/admin/numbers?number=202-456-1111").await).await;
        assert!(page.contains("Jane Q. Doe"), "{page}");
        assert!(page.contains("is in the registry"), "{page}");
        let unreadable = body(app.get("/admin/numbers?number=call%20me").await).await;
        assert!(unreadable.contains("role=\"alert\""), "{unreadable}");

        let revoke = |registration: String, reason: &'static str| {
            let app = &app;
            async move {
                app.post_form_from(
                    "/admin/numbers",
                    "/api/revoke_registration",
                    &[
                        ("registration", &registration),
                        ("number", WHITE_HOUSE),
                        ("reason", reason),
                    ],
                )
                .await
            }
        };
        let id_text = id.to_string();
        for (registration, reason, expected) in [
            (id_text.clone(), "  ", "Give a reason"),
            (id_text.clone(), "bell\u{7}", "cannot be emailed"),
            (
                "1; DROP TABLE registrations".to_owned(),
                "fine",
                "not found",
            ),
            ("999999".to_owned(), "fine", "no longer current"),
        ] {
            let response = revoke(registration, reason).await;
            let error = form_error(&response).unwrap_or_else(|| panic!("{reason}"));
            assert!(
                error.to_lowercase().contains(&expected.to_lowercase()),
                "{error}"
            );
        }
        assert_eq!(log(&app).await.len(), 1, "nothing changed yet");

        let revoked = revoke(id_text.clone(), REASON).await;
        assert_eq!(
            location(&revoked),
            "/admin/numbers?number=%2B12024561111&revoked=1"
        );
        assert_eq!(
            log(&app).await,
            vec![
                (WHITE_HOUSE.to_owned(), Op::Add),
                (WHITE_HOUSE.to_owned(), Op::Remove)
            ]
        );
        let page = body(app.get("/admin/numbers?number=202-456-1111").await).await;
        assert!(
            page.contains("is not in the registry: every registration of it has ended"),
            "{page}"
        );
        let again = revoke(id_text, REASON).await;
        assert!(
            form_error(&again)
                .expect("error")
                .contains("no longer current")
        );
        // The notice is queued with the revocation and sent by the worker.
        assert!(!app.emails().iter().any(|mail| mail.contains("was revoked")));
        app.run_due_jobs().await;
        let mail = app
            .emails()
            .into_iter()
            .find(|mail| mail.contains("was revoked"))
            .expect("the revocation notice");
        assert!(
            mail.contains("To: jane@example.org") && mail.contains(REASON),
            "{mail}"
        );

        // Jane sees why, and cannot add the number back.
        log_out(&app).await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        let dashboard = body(app.get("/numbers").await).await;
        assert!(
            dashboard.contains("Revoked by the registry&#x27;s administrators")
                || dashboard.contains("Revoked by the registry's administrators"),
            "{dashboard}"
        );
        let re_added = app
            .post_form_from(
                "/numbers",
                "/api/add_number",
                &[("number", "2024561111"), ("label", ""), ("extension", "")],
            )
            .await;
        assert!(
            form_error(&re_added)
                .expect("error")
                .contains("revoked this number for you")
        );
        assert!(matches!(
            numbers::add_number(pool, jane, &phone("202 456 1111"), None, None).await,
            Err(NumberError::Revoked { .. })
        ));
    }
);
