//! SQLite connection settings: these only exist on one engine.

use crate::helpers::{Engine, spawn_app};

#[tokio::test]
async fn sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout() {
    let app = spawn_app(Engine::Sqlite).await;
    let pool = app.database.pool();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(foreign_keys, 1);
    let busy_timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(busy_timeout, 5000);
}

#[tokio::test]
async fn the_sqlite_file_and_its_directory_are_created() {
    let directory = tempfile::tempdir().expect("temp dir");
    let file = directory.path().join("deeper/still/registry.db");
    let url = format!("sqlite://{}", file.display());
    let database = app::ssr::infra::db::Database::connect(&url, 1)
        .await
        .expect("connect");
    database.migrate().await.expect("migrate");
    assert!(file.is_file());
    database.close().await;
}
