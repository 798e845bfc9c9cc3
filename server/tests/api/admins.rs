//! Admins: bootstrapped from the command line, made to set up TOTP before
//! any admin page opens, then asked for a code at every sign-in; the
//! review queue; and a password change ending the other sessions.

use crate::helpers::journeys::*;
use crate::helpers::journeys::{PASSWORD, log_in, verified_account};
use crate::helpers::{Engine, browser_like_client, form_error, spawn_app};

db_test!(
    async fn admins_give_a_fresh_code_at_every_sign_in(engine: Engine) {
        let app = spawn_app(engine).await;
        let admin = enrolled_site_admin(&app, "ada@example.org").await;
        log_out(&app).await;
        // Someone else is signed in on this browser when the admin starts.
        verified_account(&app, "jane@example.org").await;
        assert_eq!(
            location(&log_in(&app, "jane@example.org", PASSWORD).await),
            "/account"
        );

        let password_step = log_in(&app, &admin.email, ADMIN_PASSWORD).await;
        assert_eq!(location(&password_step), "/login/two-factor");
        assert_eq!(
            location(&app.get("/account").await),
            "/login",
            "the password alone signs nobody in, and the earlier sign-in ended"
        );
        let wrong = post_second_factor(&app, &admin.code_at(-300)).await;
        assert!(form_error(&wrong).expect("error").contains("not valid"));

        // The next step's code is accepted (one step of drift)...
        let next_code = admin.code_at(30);
        let accepted = post_second_factor(&app, &next_code).await;
        assert_eq!(location(&accepted), "/account");
        assert_eq!(app.get("/admin/reviews").await.status(), 200);
        log_out(&app).await;

        // ...and never again.
        log_in(&app, &admin.email, ADMIN_PASSWORD).await;
        let replayed = post_second_factor(&app, &next_code).await;
        assert!(
            form_error(&replayed)
                .expect("error")
                .contains("already used")
        );

        // A recovery code works once, typed any way.
        let recovery = admin.recovery_codes[3].to_uppercase().replace('-', " ");
        assert_eq!(
            location(&post_second_factor(&app, &recovery).await),
            "/account"
        );
        log_out(&app).await;
        log_in(&app, &admin.email, ADMIN_PASSWORD).await;
        let reused = post_second_factor(&app, &recovery).await;
        assert!(
            form_error(&reused).is_some(),
            "a recovery code is single use"
        );
        let oversized = post_second_factor(&app, &"9".repeat(10_000)).await;
        assert!(form_error(&oversized).is_some());
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL")
                .fetch_one(app.database.pool())
                .await
                .expect("count");
        assert_eq!(left, 9);
    }
);

db_test!(
    async fn the_review_queue_decides_once_and_emails_the_reason(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        let _admin = enrolled_site_admin(&app, "ada@example.org").await;

        let queue = body(app.get("/admin/reviews").await).await;
        assert!(queue.contains("Jane Q. Doe") && queue.contains("jane@example.org"));
        assert!(queue.contains("bar number not on the roster"), "{queue}");
        let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
            .bind("jane@example.org")
            .fetch_one(app.database.pool())
            .await
            .expect("id");
        let id = user_id.to_string();

        let decide = |decision: &'static str, reason: &'static str, id: String| {
            let app = &app;
            async move {
                app.post_form_from(
                    "/admin/reviews",
                    "/api/decide_review",
                    &[("user_id", &id), ("decision", decision), ("reason", reason)],
                )
                .await
            }
        };
        for (decision, reason, id, expected) in [
            ("", "fine", id.clone(), "Choose approve or reject"),
            ("approve", "   ", id.clone(), "Give a reason"),
            ("maybe", "fine", id.clone(), "Choose approve or reject"),
            (
                "approve",
                "fine",
                "1; DROP TABLE users".to_owned(),
                "not in the queue",
            ),
            ("approve", "bell\u{7}", id.clone(), "cannot be emailed"),
        ] {
            let response = decide(decision, reason, id).await;
            let error = form_error(&response).unwrap_or_else(|| panic!("{decision} {reason}"));
            assert!(error.contains(expected), "{error}");
        }
        let hostile = "<b>Not on the CA roster</b>'; DROP TABLE users;--";
        let rejected = decide("reject", hostile, id.clone()).await;
        assert_eq!(location(&rejected), "/admin/reviews?decided=1");
        let mail = app.emails().pop().expect("mail");
        assert!(
            mail.contains("To: jane@example.org") && mail.contains(hostile),
            "{mail}"
        );
        let standing: String = sqlx::query_scalar("SELECT standing FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(app.database.pool())
            .await
            .expect("standing");
        assert_eq!(standing, "rejected");

        let twice = decide("approve", "changed my mind", id).await;
        assert!(
            form_error(&twice)
                .expect("error")
                .contains("decided already")
        );
        assert!(
            !body(app.get("/admin/reviews").await)
                .await
                .contains("jane@example.org")
        );
    }
);

db_test!(
    async fn attorneys_cannot_use_admin_functions(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        let response = app.get("/admin/reviews").await;
        assert_eq!(response.status(), 403);
        let page = body(response).await;
        assert!(page.contains("You do not have permission"), "{page}");
        let response = app
            .post_form_from(
                "/admin/reviews",
                "/api/decide_review",
                &[("user_id", "1"), ("decision", "approve"), ("reason", "me")],
            )
            .await;
        assert!(form_error(&response).expect("error").contains("permission"));
        assert_eq!(app.get("/admin/numbers").await.status(), 403);
        let response = app
            .post_form_from(
                "/admin/numbers",
                "/api/revoke_registration",
                &[
                    ("registration", "1"),
                    ("number", "2024561111"),
                    ("reason", "me"),
                ],
            )
            .await;
        assert!(form_error(&response).expect("error").contains("permission"));
        let standing: String = sqlx::query_scalar("SELECT standing FROM users")
            .fetch_one(app.database.pool())
            .await
            .expect("standing");
        assert_eq!(standing, "pending_review");
    }
);

db_test!(
    async fn changing_the_password_ends_the_other_sessions(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        let other = browser_like_client();
        let other_login = other
            .post(app.url("/api/log_in"))
            .header("referer", app.url("/login"))
            .form(&[("email", "jane@example.org"), ("password", PASSWORD)])
            .send()
            .await
            .expect("sign in elsewhere");
        assert_eq!(location(&other_login), "/account");

        let change = |current: &'static str, new: &'static str| {
            let app = &app;
            async move {
                app.post_form_from(
                    "/account/password",
                    "/api/change_password",
                    &[("current_password", current), ("password", new)],
                )
                .await
            }
        };
        let wrong = change("not my password", "amber quarry whistle").await;
        assert!(form_error(&wrong).expect("error").contains("not right"));
        let weak = change(PASSWORD, "password1234").await;
        assert!(form_error(&weak).is_some());
        let changed = change(PASSWORD, "amber quarry whistle").await;
        assert_eq!(location(&changed), "/account?password_changed=1");

        assert_eq!(
            app.get("/account").await.status(),
            200,
            "this session goes on"
        );
        let elsewhere = other.get(app.url("/account")).send().await.expect("get");
        assert_eq!(location(&elsewhere), "/login", "the other session ended");
        log_out(&app).await;
        assert!(form_error(&log_in(&app, "jane@example.org", PASSWORD).await).is_some());
        let with_new = log_in(&app, "jane@example.org", "amber quarry whistle").await;
        assert_eq!(location(&with_new), "/account");
    }
);
