//! The change log under concurrent writers: a reader following `seq` sees
//! every flip exactly once, in order, and ends with the true set.

use std::collections::BTreeSet;
use std::time::Duration;

use app::ssr::infra::db::Database;
use app::ssr::registry::{self, Op};

use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestDatabase};

db_test!(
    async fn a_reader_following_seq_sees_every_flip_once_in_order(engine: Engine) {
        let test_database = TestDatabase::create(engine).await;
        let database = Database::connect(&test_database.url, 12)
            .await
            .expect("connect");
        database.migrate().await.expect("migrate");
        let pool = database.pool().clone();
        let user_ids = writer_accounts(&pool, WRITERS).await;

        let writers: Vec<_> = user_ids
            .into_iter()
            .map(|user_id| tokio::spawn(writer(pool.clone(), user_id)))
            .collect();

        // The reader follows the log while the writers write.
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut flips = 0;
        loop {
            let writing = writers.iter().any(|w| !w.is_finished());
            let batch = registry::changes_after(&pool, cursor, 7)
                .await
                .expect("changes");
            for change in &batch {
                assert_eq!(change.seq, cursor + 1, "no gap, no repeat, in order");
                cursor = change.seq;
                flips += 1;
                match change.op {
                    Op::Add => assert!(seen.insert(change.e164.clone()), "added twice: {change:?}"),
                    Op::Remove => assert!(
                        seen.remove(&change.e164),
                        "removed while absent: {change:?}"
                    ),
                }
            }
            if batch.is_empty() {
                if !writing && cursor == registry::head(&pool).await.expect("head") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        for writer in writers {
            writer.await.expect("writer");
        }

        let truth: BTreeSet<String> =
            sqlx::query_scalar("SELECT DISTINCT e164 FROM registrations WHERE status = 'active'")
                .fetch_all(&pool)
                .await
                .expect("truth")
                .into_iter()
                .collect();
        let registry_now = crate::helpers::journeys::privileged_set(&pool).await;
        assert_eq!(seen, truth, "the reader ends with the true set");
        assert_eq!(registry_now, truth);
        assert!(
            flips >= NUMBERS.len(),
            "the writers flipped numbers: {flips}"
        );
        let intervals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM privileged_intervals")
            .fetch_one(&pool)
            .await
            .expect("intervals");
        let adds: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM registry_changes WHERE op = 'add'")
                .fetch_one(&pool)
                .await
                .expect("adds");
        assert_eq!(intervals, adds, "one interval per add");
        database.close().await;
    }
);
