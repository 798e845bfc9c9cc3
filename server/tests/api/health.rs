use crate::helpers::{Engine, spawn_app};

db_test!(
    async fn healthz_answers_with_a_request_id(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/healthz").await;
        assert_eq!(response.status(), 200);
        let request_id = response.headers().get("x-request-id").expect("request id");
        assert_eq!(request_id.len(), 36, "a UUID");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["status"], "ok");
    }
);

db_test!(
    async fn a_request_id_from_the_caller_is_kept(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", "trace-me-123")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    }
);

db_test!(
    async fn readyz_is_ready_once_migrations_are_applied(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["status"], "ready");
    }
);

db_test!(
    async fn readyz_reports_pending_migrations(engine: Engine) {
        let app = spawn_app(engine).await;
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 1")
            .execute(app.database.pool())
            .await
            .expect("forget migration 1");
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["reason"], "migrations pending");
        assert_eq!(body["pending"], serde_json::json!([1]));
    }
);

db_test!(
    async fn readyz_fails_when_the_database_is_unreachable(engine: Engine) {
        let app = spawn_app(engine).await;
        app.database.close().await;
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["reason"], "database unreachable");
        // Liveness does not depend on the database.
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
);

db_test!(
    async fn migrations_are_idempotent(engine: Engine) {
        let app = spawn_app(engine).await;
        app.database.migrate().await.expect("second run is a no-op");
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(app.database.pool())
            .await
            .expect("count");
        assert_eq!(applied as usize, app.database.embedded_migrations().len());
    }
);
