use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestApp, form_error, spawn_app};

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(app.database.pool())
        .await
        .expect("count users")
}

db_test!(
    async fn sign_up_verify_log_in_and_log_out(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = sign_up(&app, "jane@example.org").await;
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()["location"], "/signup/check-email");
        assert_eq!(user_count(&app).await, 1);

        let link = app.link_in_last_email(&app.url("/verify-email?token="));
        let token = token_of(&link);
        assert!(token.len() >= 22, "at least 128 bits");
        // Opening the link shows a confirmation button; it changes nothing.
        let page = app.get(&link.replace(&app.address, "")).await;
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .await
                .expect("body")
                .contains("Confirm my email address")
        );

        let unverified = log_in(&app, "jane@example.org", PASSWORD).await;
        assert!(
            form_error(&unverified)
                .expect("error")
                .contains("Confirm your email address")
        );

        assert_eq!(
            verify(&app, &token).await.headers()["location"],
            "/login?verified=1"
        );
        let reused = verify(&app, &token).await;
        assert!(form_error(&reused).expect("error").contains("already used"));

        let logged_in = log_in(&app, "JANE@example.org", PASSWORD).await;
        assert_eq!(logged_in.headers()["location"], "/account");
        let account = app.get("/account").await;
        assert_eq!(account.status(), 200);
        let html = account.text().await.expect("body");
        assert!(html.contains("Jane Q. Doe"));
        assert!(html.contains("CA 123456"));

        let logged_out = app.post_form_from("/account", "/api/log_out", &[]).await;

        assert_eq!(logged_out.headers()["location"], "/");
        let after = app.get("/account").await;
        assert_eq!(after.status(), 302, "signed out: sent to the login page");
        assert_eq!(after.headers()["location"], "/login");
    }
);

db_test!(
    async fn the_session_id_changes_at_login_and_the_old_one_dies(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        let before = app.post_form("/api/dismiss_notice", &[]).await;
        let old_cookie = crate::helpers::journeys::session_cookie(&before);
        let old_id = old_cookie.split(';').next().expect("pair").to_owned();

        let logged_in = log_in(&app, "jane@example.org", PASSWORD).await;
        let new_cookie = crate::helpers::journeys::session_cookie(&logged_in);
        assert_ne!(new_cookie.split(';').next(), Some(old_id.as_str()));

        // A fresh client presenting the pre-login id is not signed in.
        let stranger = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = stranger
            .get(app.url("/account"))
            .header("accept", "text/html")
            .header("cookie", old_id)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 302);
    }
);

db_test!(
    async fn wrong_password_and_unknown_email_get_the_same_answer(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        let wrong = log_in(&app, "jane@example.org", "not the password at all").await;
        let unknown = log_in(&app, "nobody@example.org", "not the password at all").await;
        assert_eq!(wrong.status(), unknown.status());
        assert_eq!(form_error(&wrong), form_error(&unknown));
        assert_eq!(
            form_error(&wrong).as_deref(),
            Some("Wrong email or password.")
        );
    }
);

db_test!(
    async fn signing_up_twice_with_one_email_reveals_nothing(engine: Engine) {
        let app = spawn_app(engine).await;
        let first = sign_up(&app, "jane@example.org").await;
        let second = sign_up(&app, "Jane@Example.org").await;
        assert_eq!(first.status(), second.status());
        assert_eq!(first.headers()["location"], second.headers()["location"]);
        assert_eq!(user_count(&app).await, 1);
        let emails = app.emails();
        assert_eq!(emails.len(), 2);
        assert!(emails[1].contains("already has one"));
    }
);

db_test!(
    async fn racing_sign_ups_with_one_email_create_one_account(engine: Engine) {
        let app = spawn_app(engine).await;
        let (a, b, c) = tokio::join!(
            sign_up(&app, "race@example.org"),
            sign_up(&app, "RACE@example.org"),
            sign_up(&app, "race@EXAMPLE.org"),
        );
        for response in [a, b, c] {
            assert_eq!(response.headers()["location"], "/signup/check-email");
        }
        assert_eq!(user_count(&app).await, 1);
    }
);

db_test!(
    async fn invalid_sign_ups_say_why_and_store_nothing(engine: Engine) {
        let app = spawn_app(engine).await;
        let long_name = "A".repeat(201);
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (sign_up_form("not-an-email", PASSWORD), "email address like"),
            (
                sign_up_form("jane@example.org", "short"),
                "at least 12 characters",
            ),
            (
                sign_up_form("jane@example.org", "QWERTY123456"),
                "commonly used",
            ),
            (
                sign_up_form("jane@example.org", "jane's long passphrase"),
                "email address in your password",
            ),
            (
                vec![
                    ("full_name", "<script>alert(1)</script>"),
                    ("email", "jane@example.org"),
                    ("jurisdiction", "CA"),
                    ("bar_number", "1"),
                    ("password", PASSWORD),
                ],
                "letters, spaces",
            ),
            (
                vec![
                    ("full_name", &long_name),
                    ("email", "jane@example.org"),
                    ("jurisdiction", "CA"),
                    ("bar_number", "1"),
                    ("password", PASSWORD),
                ],
                "at most 200",
            ),
            (
                vec![
                    ("full_name", "Jane Doe"),
                    ("email", "jane@example.org"),
                    ("jurisdiction", "'; DROP TABLE users; --"),
                    ("bar_number", "1"),
                    ("password", PASSWORD),
                ],
                "state or territory",
            ),
            (
                vec![
                    ("full_name", "Jane Doe"),
                    ("email", "jane@example.org"),
                    ("jurisdiction", "CA"),
                    ("bar_number", "1 OR 1=1"),
                    ("password", PASSWORD),
                ],
                "bar number",
            ),
        ];
        for (form, expected) in cases {
            let response = app.post_form_from("/signup", "/api/sign_up", &form).await;
            let error = form_error(&response).unwrap_or_else(|| panic!("no error for {form:?}"));
            assert!(error.contains(expected), "{error} / {expected}");
        }
        let missing = app
            .post_form_from("/signup", "/api/sign_up", &[("email", "jane@example.org")])
            .await;
        assert!(form_error(&missing).is_some(), "missing fields are refused");
        assert_eq!(user_count(&app).await, 0);
        assert!(app.emails().is_empty());
    }
);

db_test!(
    async fn an_expired_verification_link_is_refused(engine: Engine) {
        let app = spawn_app(engine).await;
        sign_up(&app, "jane@example.org").await;
        let token = token_of(&app.link_in_last_email(&app.url("/verify-email")));
        sqlx::query("UPDATE email_tokens SET expires_at = 0")
            .execute(app.database.pool())
            .await
            .expect("expire");
        let response = verify(&app, &token).await;
        assert!(form_error(&response).expect("error").contains("expired"));
        let forged = verify(&app, "A".repeat(22).as_str()).await;
        assert!(form_error(&forged).expect("error").contains("invalid"));
    }
);

db_test!(
    async fn names_are_stored_as_typed_and_shown_inert(engine: Engine) {
        let app = spawn_app(engine).await;
        let form = vec![
            ("full_name", "Zoë O'Brien-Ｓｍｉｔｈ"),
            ("email", "zoe@example.org"),
            ("jurisdiction", "ny"),
            ("bar_number", "0042"),
            ("password", PASSWORD),
        ];
        app.post_form_from("/signup", "/api/sign_up", &form).await;
        let token = token_of(&app.link_in_last_email(&app.url("/verify-email")));
        verify(&app, &token).await;
        log_in(&app, "zoe@example.org", PASSWORD).await;
        let html = app.get("/account").await.text().await.expect("body");
        assert!(
            html.contains("Zoë O&#x27;Brien-Smith") || html.contains("Zoë O'Brien-Smith"),
            "{html}"
        );
        assert!(html.contains("NY 42"));
    }
);

async fn request_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_form_from(
        "/forgot-password",
        "/api/request_password_reset",
        &[("email", email)],
    )
    .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    let page = format!("/reset-password?token={token}");
    app.post_form_from(
        &page,
        "/api/reset_password",
        &[("token", token), ("password", password)],
    )
    .await
}

db_test!(
    async fn a_password_reset_sets_a_new_password_without_signing_in(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        let response = request_reset(&app, "Jane@example.org").await;
        assert_eq!(response.headers()["location"], "/forgot-password/sent");
        let token = token_of(&app.link_in_last_email(&app.url("/reset-password?token=")));

        let weak = reset(&app, &token, "short").await;
        assert!(form_error(&weak).expect("error").contains("at least 12"));
        let named = reset(&app, &token, "the doe family forever").await;
        assert!(
            form_error(&named).expect("error").contains("name"),
            "the rule knows the account"
        );

        let done = reset(&app, &token, "new granite lantern").await;
        assert_eq!(done.headers()["location"], "/login?reset=1");
        assert_eq!(
            app.get("/account").await.status(),
            302,
            "no automatic login"
        );

        let reused = reset(&app, &token, "another granite lantern").await;
        assert!(form_error(&reused).expect("error").contains("already used"));
        let old = log_in(&app, "jane@example.org", PASSWORD).await;
        assert_eq!(
            form_error(&old).as_deref(),
            Some("Wrong email or password.")
        );
        let new = log_in(&app, "jane@example.org", "new granite lantern").await;
        assert_eq!(new.headers()["location"], "/account");
    }
);

db_test!(
    async fn a_reset_for_an_unknown_address_answers_the_same(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        let known = request_reset(&app, "jane@example.org").await;
        let unknown = request_reset(&app, "nobody@example.org").await;
        assert_eq!(known.status(), unknown.status());
        assert_eq!(known.headers()["location"], unknown.headers()["location"]);
        // Found by recipient: two mails written in the same clock tick have
        // no reliable order in the outbox.
        let emails = app.emails();
        assert!(
            emails
                .iter()
                .any(|mail| mail.contains("To: nobody@example.org")
                    && mail.contains("has no account")),
            "{emails:?}"
        );
        let tokens: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM email_tokens WHERE purpose = 'reset_password'",
        )
        .fetch_one(app.database.pool())
        .await
        .expect("count");
        assert_eq!(tokens, 1, "only the real account got a reset token");

        let invalid = request_reset(&app, "not an address").await;
        assert!(
            form_error(&invalid)
                .expect("error")
                .contains("email address like")
        );
    }
);

db_test!(
    async fn an_expired_or_foreign_reset_link_is_refused(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        // A verification token is not a reset token.
        sign_up(&app, "other@example.org").await;
        let verification = token_of(&app.link_in_last_email(&app.url("/verify-email")));
        let wrong_kind = reset(&app, &verification, "new granite lantern").await;
        assert!(form_error(&wrong_kind).expect("error").contains("invalid"));

        request_reset(&app, "jane@example.org").await;
        let token = token_of(&app.link_in_last_email(&app.url("/reset-password")));
        sqlx::query("UPDATE email_tokens SET expires_at = 0 WHERE purpose = 'reset_password'")
            .execute(app.database.pool())
            .await
            .expect("expire");
        let expired = reset(&app, &token, "new granite lantern").await;
        assert!(form_error(&expired).expect("error").contains("expired"));
        let still_old = log_in(&app, "jane@example.org", PASSWORD).await;
        assert_eq!(still_old.headers()["location"], "/account");
    }
);

db_test!(
    async fn a_sign_in_ends_after_the_absolute_limit_however_active(engine: Engine) {
        // Generous margins: under a loaded test run one request can take a
        // second, and the limit must not be crossed before the first check.
        let app =
            crate::helpers::spawn_app_with(engine, &[("SESSION_ABSOLUTE_TIMEOUT_SECS", "6")]).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        // The sign-in happened before this instant.
        let signed_in_by = std::time::Instant::now();
        assert_eq!(app.get("/account").await.status(), 200);
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(
            app.get("/account").await.status(),
            200,
            "activity does not extend it"
        );
        let past_limit = std::time::Duration::from_millis(6_500);
        tokio::time::sleep(past_limit.saturating_sub(signed_in_by.elapsed())).await;
        let expired = app.get("/account").await;
        assert_eq!(expired.status(), 302);
        assert_eq!(expired.headers()["location"], "/login");
    }
);

db_test!(
    async fn server_functions_answer_a_refusal_with_its_own_status(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        // As the hydrated page calls a server function: JSON back.
        let call = |fields: Vec<(&'static str, &'static str)>| {
            reqwest::Client::new()
                .post(app.url("/api/log_in"))
                .header("accept", "application/json")
                .header("referer", app.url("/login"))
                .form(&fields)
                .send()
        };
        let refused = call(vec![
            ("email", "jane@example.org"),
            ("password", "not the password at all"),
        ])
        .await
        .expect("log in");
        assert_eq!(
            refused.status(),
            400,
            "a refusal is not the server's failure"
        );
        let error: app::error::AppError = refused.json().await.expect("an AppError");
        assert_eq!(error.to_string(), "Wrong email or password.");
        let unreadable = call(vec![("email", "jane@example.org")])
            .await
            .expect("log in");
        assert_eq!(unreadable.status(), 400, "a form missing a field");
        let error: app::error::AppError = unreadable.json().await.expect("an AppError");
        assert!(
            error.to_string().contains("could not be read")
                && error.to_string().contains("password"),
            "{error}"
        );

        // Without JavaScript, refused twice from the page the first
        // refusal came back to: the page's address holds the latest error
        // only.
        let wrong = [("email", "jane@example.org"), ("password", "still not it")];
        let first = app.post_form_from("/login", "/api/log_in", &wrong).await;
        let back = location(&first);
        let back = back.strip_prefix(&app.address).expect("same origin");
        let second = app.post_form_from(back, "/api/log_in", &wrong).await;
        let again = location(&second);
        assert_eq!(again.matches("__err=").count(), 1, "{again}");
        assert_eq!(again.matches("__path=").count(), 1, "{again}");
        assert_eq!(
            form_error(&second).as_deref(),
            Some("Wrong email or password.")
        );
    }
);
