//! `server backup FILE` (issue 16, item 7): a consistent copy of a SQLite
//! database taken while writers change the registry; refused over an
//! existing file, and on PostgreSQL (whose backups are pg_dump's).

use app::ssr::infra::db::Database;

use crate::helpers::journeys::{WRITERS, start_writers};
use crate::helpers::{Engine, TestApp, run_server, spawn_app};

async fn backup(app: &TestApp, file: &std::path::Path) -> (bool, String) {
    run_server(
        &["backup".as_ref(), file.as_os_str()],
        &[("DATABASE_URL", &app.test_database.url)],
    )
    .await
}

db_test! {
async fn a_backup_is_a_consistent_copy_taken_while_writers_work(engine: Engine) {
    let app = spawn_app(engine).await;
    let pool = app.database.pool().clone();
    let writers = start_writers(&pool).await;
    let directory = tempfile::tempdir().expect("dir");
    let file = directory.path().join("copy.db");
    let (ok, output) = backup(&app, &file).await;
    for writer in writers {
        writer.await.expect("writer");
    }
    if engine == Engine::Postgres {
        assert!(!ok && output.contains("pg_dump"), "{output}");
        assert!(!file.exists());
        return;
    }
    assert!(ok && output.contains("integrity check ok"), "{output}");

    // The copy is one instant of the registry: its head is its last change,
    // and the open intervals are the numbers its log leaves privileged.
    let copy = Database::connect(&format!("sqlite://{}", file.display()), 1).await.expect("open the copy");
    let (head, last): (i64, Option<i64>) = sqlx::query_as("SELECT (SELECT seq FROM registry_head), (SELECT MAX(seq) FROM registry_changes)")
        .fetch_one(copy.pool())
        .await
        .expect("head");
    assert_eq!(Some(head), last.or(Some(0)));
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM privileged_intervals WHERE until IS NULL")
        .fetch_one(copy.pool())
        .await
        .expect("open");
    let by_log: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT e164, SUM(CASE WHEN op = 'add' THEN 1 ELSE -1 END) AS n \
         FROM registry_changes GROUP BY e164) WHERE n = 1",
    )
    .fetch_one(copy.pool())
    .await
    .expect("by log");
    assert_eq!(open, by_log);
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(copy.pool()).await.expect("users");
    assert_eq!(users, WRITERS);
    copy.close().await;

    // Never over an existing file.
    let (ok, output) = backup(&app, &file).await;
    assert!(!ok && output.contains("exists already"), "{output}");
}
}
