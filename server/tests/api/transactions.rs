//! Transactions that read before they write, while another connection
//! commits in between: what `server admin create` does while the portal
//! serves.

use std::time::Duration;

use app::ssr::infra::db::begin_write;

use crate::helpers::{Engine, spawn_app};

db_test! {
async fn a_write_transaction_that_read_first_still_writes_after_a_concurrent_commit(engine: Engine) {
    let app = spawn_app(engine).await;
    let pool = app.database.pool().clone();
    sqlx::query("CREATE TABLE scratch (n INTEGER NOT NULL)")
        .execute(&pool)
        .await
        .expect("create");

    let mut transaction = begin_write(&pool).await.expect("begin");
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scratch")
        .fetch_one(&mut *transaction)
        .await
        .expect("read");
    assert_eq!(before, 0);

    // Another connection writes now. A deferred SQLite transaction would
    // let it commit, and then fail its own write at once (BUSY_SNAPSHOT);
    // this one holds the write lock, so the other waits for the commit.
    let other = tokio::spawn({
        let pool = pool.clone();
        async move {
            sqlx::query("INSERT INTO scratch (n) VALUES (2)")
                .execute(&pool)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    sqlx::query("INSERT INTO scratch (n) VALUES (1)")
        .execute(&mut *transaction)
        .await
        .expect("the transaction that read first writes");
    transaction.commit().await.expect("commit");
    other
        .await
        .expect("join")
        .expect("the other writer waited and then wrote");

    let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM scratch ORDER BY n")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(rows, vec![1, 2]);
}
}
