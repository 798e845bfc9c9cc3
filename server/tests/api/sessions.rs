use std::time::Duration;

use crate::helpers::journeys::*;
use crate::helpers::{Engine, spawn_app, spawn_app_with};

const NOTICE: &str = "is being built and is not yet in service";

async fn session_rows(app: &crate::helpers::TestApp) -> i64 {
    let table = match app.test_database.engine() {
        Engine::Sqlite => "tower_sessions",
        Engine::Postgres => "tower_sessions.session",
    };
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.database.pool())
        .await
        .expect("count sessions")
}

db_test!(
    async fn no_session_is_created_for_a_plain_visit(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/").await;
        assert!(response.headers().get("set-cookie").is_none());
        assert_eq!(session_rows(&app).await, 0);
    }
);

db_test!(
    async fn dismissing_the_notice_without_javascript_is_remembered(engine: Engine) {
        let app = spawn_app(engine).await;
        assert!(
            app.get("/")
                .await
                .text()
                .await
                .expect("body")
                .contains(NOTICE)
        );

        let response = app.post_form("/api/dismiss_notice", &[]).await;
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()["location"], "/");
        let cookie = session_cookie(&response);
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
        assert_eq!(session_rows(&app).await, 1);

        let html = app.get("/").await.text().await.expect("body");
        assert!(!html.contains(NOTICE), "the notice stays dismissed");
    }
);

db_test!(
    async fn over_tls_the_cookie_is_secure_and_host_prefixed(engine: Engine) {
        let app = crate::helpers::spawn_app_over_tls(engine).await;
        let response = app.post_form("/api/dismiss_notice", &[]).await;
        let cookie = session_cookie(&response);
        assert!(cookie.starts_with("__Host-session="), "{cookie}");
        assert!(cookie.contains("Secure"), "{cookie}");
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
);

db_test!(
    async fn a_forged_session_cookie_is_ignored(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app
            .client
            .get(app.url("/"))
            .header("cookie", "session=not-a-real-session-id")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        assert!(response.text().await.expect("body").contains(NOTICE));
    }
);

db_test!(
    async fn server_functions_refuse_get(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/api/dismiss_notice").await;
        assert!(
            response.status() == 404 || response.status() == 405,
            "{}",
            response.status()
        );
        assert_eq!(session_rows(&app).await, 0);
    }
);

db_test!(
    async fn expired_sessions_are_deleted_in_the_background(engine: Engine) {
        let app = spawn_app_with(engine, &[("SESSION_CLEANUP_INTERVAL_SECS", "1")]).await;
        // One live session through the application, one expired long ago.
        app.post_form("/api/dismiss_notice", &[]).await;
        let insert_expired = match engine {
            Engine::Sqlite => {
                "INSERT INTO tower_sessions (id, data, expiry_date) VALUES ('expired', X'00', 0)"
            }
            Engine::Postgres => {
                "INSERT INTO tower_sessions.session (id, data, expiry_date) \
                 VALUES ('expired', '\\x00'::bytea, to_timestamp(0))"
            }
        };
        sqlx::query(insert_expired)
            .execute(app.database.pool())
            .await
            .expect("insert expired session");
        assert_eq!(session_rows(&app).await, 2);

        let mut remaining = 2;
        for _ in 0..50 {
            remaining = session_rows(&app).await;
            if remaining == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            remaining, 1,
            "the expired session is gone, the live one stays"
        );
    }
);
