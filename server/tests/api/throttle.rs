use crate::helpers::{Engine, TestApp, form_error, spawn_app, spawn_app_with};

async fn attempt_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_form_from(
        "/login",
        "/api/log_in",
        &[("email", email), ("password", password)],
    )
    .await
}

/// Sign-in limits count per minute: when less than `margin_ms` of this
/// minute is left, waits for the next one, so a test's attempts share a
/// window.
async fn early_in_a_minute(margin_ms: i64) {
    let into_minute = app::ssr::infra::clock::now_millis() % 60_000;
    if into_minute > 60_000 - margin_ms {
        tokio::time::sleep(std::time::Duration::from_millis(
            (60_000 - into_minute + 100) as u64,
        ))
        .await;
    }
}

/// The portal behind one trusted proxy, allowing one sign-in attempt a
/// minute per client address.
async fn behind_one_proxy(engine: Engine) -> TestApp {
    spawn_app_with(
        engine,
        &[
            ("AUTH_ATTEMPTS_PER_MINUTE", "1"),
            ("TRUSTED_PROXY_HOPS", "1"),
        ],
    )
    .await
}

/// A wrong sign-in through the proxy, with these `X-Forwarded-For` header
/// lines in order; the status of the answer.
async fn forwarded_attempt(app: &TestApp, lines: &[&str]) -> reqwest::StatusCode {
    let mut request = app
        .client
        .post(app.url("/api/log_in"))
        .header("referer", app.url("/login"));
    for line in lines {
        request = request.header("x-forwarded-for", *line);
    }
    request
        .form(&[("email", "jane@example.org"), ("password", "not it at all")])
        .send()
        .await
        .expect("request")
        .status()
}

fn current_hour_window() -> i64 {
    let now = app::ssr::infra::clock::now_millis();
    now - now % 3_600_000
}

db_test!(
    async fn too_many_attempts_from_one_address_get_429_with_retry_after(engine: Engine) {
        let app = spawn_app_with(engine, &[("AUTH_ATTEMPTS_PER_MINUTE", "3")]).await;
        // Windows are whole minutes: start early in one, so that all four
        // attempts fall in the same window.
        early_in_a_minute(20_000).await;
        for _ in 0..3 {
            let response = attempt_login(&app, "jane@example.org", "not the password at all").await;
            assert_eq!(response.status(), 302);
        }
        let refused = attempt_login(&app, "jane@example.org", "not the password at all").await;
        assert_eq!(refused.status(), 429);
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert!(refused.text().await.expect("body").contains("Try again in"));

        // Each endpoint counts on its own, and pages are never throttled.
        let reset = app
            .post_form_from(
                "/forgot-password",
                "/api/request_password_reset",
                &[("email", "jane@example.org")],
            )
            .await;
        assert_eq!(reset.status(), 302);
        assert_eq!(app.get("/login").await.status(), 200);

        // Guessing a phone number's code is limited per address too.
        let prove = || {
            app.post_form_from(
                "/numbers",
                "/api/prove_number",
                &[("registration", "1"), ("code", "123456")],
            )
        };
        for _ in 0..3 {
            assert_ne!(prove().await.status(), 429);
        }
        assert_eq!(prove().await.status(), 429);
    }
);

db_test!(
    async fn failed_sign_ins_are_counted_per_address(engine: Engine) {
        let app = spawn_app(engine).await;
        for _ in 0..2 {
            attempt_login(&app, "Someone@Example.org", "not the password at all").await;
        }
        let hits: i64 = sqlx::query_scalar("SELECT hits FROM rate_limits WHERE bucket = $1")
            .bind("login-failures:someone@example.org")
            .fetch_one(app.database.pool())
            .await
            .expect("a counter for the address");
        assert_eq!(hits, 2);
    }
);

db_test!(
    async fn sign_in_stops_at_100_failures_an_hour_but_reset_still_works(engine: Engine) {
        let app = spawn_app(engine).await;
        for email in ["jane@example.org", "nobody@example.org"] {
            sqlx::query(
                "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 100)",
            )
            .bind(format!("login-failures:{email}"))
            .bind(current_hour_window())
            .execute(app.database.pool())
            .await
            .expect("seed failures");
        }
        // Whether or not the address has an account, the answer is the same.
        let known = attempt_login(&app, "jane@example.org", "violet tugboat orbit").await;
        let unknown = attempt_login(&app, "nobody@example.org", "violet tugboat orbit").await;
        let message = form_error(&known).expect("refused");
        assert!(message.contains("Too many failed sign-ins"), "{message}");
        assert_eq!(form_error(&unknown), Some(message));

        let reset = app
            .post_form_from(
                "/forgot-password",
                "/api/request_password_reset",
                &[("email", "jane@example.org")],
            )
            .await;
        assert_eq!(reset.headers()["location"], "/forgot-password/sent");
    }
);

db_test!(
    async fn finished_rate_limit_windows_are_deleted(engine: Engine) {
        let app = spawn_app_with(engine, &[("SESSION_CLEANUP_INTERVAL_SECS", "1")]).await;
        sqlx::query("INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('old', 0, 5), ('live', $1, 1)")
            .bind(current_hour_window())
            .execute(app.database.pool())
            .await
            .expect("seed");
        let mut buckets: Vec<String> = Vec::new();
        for _ in 0..50 {
            buckets = sqlx::query_scalar("SELECT bucket FROM rate_limits ORDER BY bucket")
                .fetch_all(app.database.pool())
                .await
                .expect("buckets");
            if buckets == ["live"] {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(buckets, ["live"]);
    }
);

db_test!(
    async fn behind_a_trusted_proxy_each_client_address_counts_on_its_own(engine: Engine) {
        let app = behind_one_proxy(engine).await;
        let attempt = |client: &'static str| {
            let app = &app;
            async move { forwarded_attempt(app, &[&format!("6.6.6.6, {client}")]).await }
        };
        // Minute windows: stay inside one.
        early_in_a_minute(15_000).await;
        assert_eq!(attempt("203.0.113.7").await, 302);
        assert_eq!(attempt("203.0.113.7").await, 429);
        assert_eq!(
            attempt("198.51.100.9").await,
            302,
            "another client behind the proxy"
        );
    }
);

db_test!(
    async fn a_second_forwarded_for_line_cannot_choose_the_client_address(engine: Engine) {
        let app = behind_one_proxy(engine).await;
        // The client sends a line of its own, different each time; the
        // trusted proxy adds a second line with the address it saw.
        let attempt = |forged: &'static str, real: &'static str| {
            let app = &app;
            async move { forwarded_attempt(app, &[forged, real]).await }
        };
        early_in_a_minute(15_000).await;
        assert_eq!(attempt("1.1.1.1", "203.0.113.7").await, 302);
        assert_eq!(
            attempt("2.2.2.2", "203.0.113.7").await,
            429,
            "a fresh forged line is not a fresh client"
        );
        // IPv6 clients count per /64: another address in it is the same.
        assert_eq!(attempt("1.1.1.1", "2001:db8:1:2::1").await, 302);
        assert_eq!(attempt("1.1.1.1", "2001:db8:1:2::99").await, 429);
        let buckets: Vec<String> = sqlx::query_scalar(
            "SELECT bucket FROM rate_limits WHERE bucket LIKE 'ip:%' ORDER BY bucket",
        )
        .fetch_all(app.database.pool())
        .await
        .expect("buckets");
        assert_eq!(
            buckets,
            [
                "ip:2001:db8:1:2::/64:/api/log_in",
                "ip:203.0.113.7:/api/log_in"
            ]
        );
    }
);
