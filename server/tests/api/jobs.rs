//! The job queue with several instances on one database: each job runs
//! once while its worker lives, again once a dead worker's lease runs out,
//! and failed tries back off until the job gives up.

use std::collections::HashSet;

use app::ssr::infra::db::Database;
use app::ssr::infra::jobs::{self, Job};
use app::ssr::infra::mail_queue::EmailJob;
use app::ssr::numbers::SendCodeJob;

use crate::helpers::{Engine, TestDatabase};

const LEASE_MS: i64 = 60_000;

/// Two "instances": separate pools on one migrated database, with no
/// server (and so no worker of its own) running.
async fn two_instances(engine: Engine) -> (TestDatabase, Database, Database) {
    let database = TestDatabase::create(engine).await;
    let first = Database::connect(&database.url, 5).await.expect("connect");
    first.migrate().await.expect("migrate");
    let second = Database::connect(&database.url, 5).await.expect("connect");
    (database, first, second)
}

async fn queue(database: &Database, count: usize) {
    for n in 0..count {
        let email = EmailJob {
            to: format!("n{n}@example.com"),
            subject: "s".into(),
            body: "b".into(),
        };
        jobs::enqueue(database.pool(), &email, 0)
            .await
            .expect("enqueue");
    }
}

db_test!(
    async fn workers_on_two_instances_take_each_job_once(engine: Engine) {
        let (_database, first, second) = two_instances(engine).await;
        queue(&first, 120).await;
        let mut workers = Vec::new();
        for (n, instance) in [&first, &second, &first, &second].into_iter().enumerate() {
            let instance = instance.clone();
            workers.push(tokio::spawn(async move {
                let name = format!("worker-{n}");
                let mut taken = Vec::new();
                loop {
                    let now = app::ssr::infra::clock::now_millis();
                    let claimed = jobs::claim(&instance, &name, now, LEASE_MS, 3)
                        .await
                        .expect("claim");
                    if claimed.is_empty() {
                        return taken;
                    }
                    for job in claimed {
                        assert!(
                            jobs::finish(instance.pool(), &job, &name, now)
                                .await
                                .expect("finish"),
                            "{name} still holds job {}",
                            job.id
                        );
                        taken.push(job.id);
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        let mut all = Vec::new();
        let mut busy_workers = 0;
        for worker in workers {
            let taken = worker.await.expect("worker");
            busy_workers += usize::from(!taken.is_empty());
            all.extend(taken);
        }
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 120, "no job taken twice");
        assert_eq!(distinct.len(), 120, "every job taken");
        assert!(busy_workers >= 2, "the workers really competed");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state <> 'done'")
            .fetch_one(first.pool())
            .await
            .expect("count");
        assert_eq!(left, 0);
    }
);

db_test!(
    async fn a_dead_workers_job_is_taken_again_after_its_lease(engine: Engine) {
        let (_database, first, second) = two_instances(engine).await;
        queue(&first, 1).await;
        let now = app::ssr::infra::clock::now_millis();
        let held = jobs::claim(&first, "crashed", now, LEASE_MS, 10)
            .await
            .expect("claim");
        assert_eq!(held.len(), 1);
        assert!(
            jobs::claim(&second, "other", now + 1, LEASE_MS, 10)
                .await
                .expect("claim")
                .is_empty(),
            "held while the lease lasts"
        );
        // The first instance "restarts": its lease runs out unfinished.
        let later = now + LEASE_MS + 1;
        let retaken = jobs::claim(&second, "other", later, LEASE_MS, 10)
            .await
            .expect("claim");
        assert_eq!(retaken.len(), 1);
        assert_eq!(retaken[0].attempts, 2);
        assert!(
            !jobs::finish(first.pool(), &held[0], "crashed", later)
                .await
                .expect("finish"),
            "a lost claim cannot finish the job"
        );
        assert!(
            jobs::finish(second.pool(), &retaken[0], "other", later)
                .await
                .expect("finish")
        );
    }
);

db_test!(
    async fn failed_tries_back_off_then_give_up(engine: Engine) {
        let (_database, first, _second) = two_instances(engine).await;
        queue(&first, 1).await;
        let mut now = app::ssr::infra::clock::now_millis();
        let job = jobs::claim(&first, "w", now, LEASE_MS, 1)
            .await
            .expect("claim")
            .remove(0);
        assert!(
            !jobs::fail(first.pool(), &job, "w", "smtp down", now, true)
                .await
                .expect("fail")
        );
        assert!(
            jobs::claim(&first, "w", now + 29_000, LEASE_MS, 1)
                .await
                .expect("claim")
                .is_empty(),
            "not before 30 s"
        );
        now += 37_000;
        let job = jobs::claim(&first, "w", now, LEASE_MS, 1)
            .await
            .expect("claim")
            .remove(0);
        assert_eq!(job.attempts, 2);
        assert!(
            jobs::fail(first.pool(), &job, "w", "no such mailbox", now, false)
                .await
                .expect("fail"),
            "a permanent failure gives up at once"
        );
        let (state, error): (String, Option<String>) =
            sqlx::query_as("SELECT state, last_error FROM jobs")
                .fetch_one(first.pool())
                .await
                .expect("job");
        assert_eq!(state, "failed");
        assert_eq!(error.as_deref(), Some("no such mailbox"));
        assert!(
            jobs::claim(&first, "w", now + 10 * LEASE_MS, LEASE_MS, 1)
                .await
                .expect("claim")
                .is_empty()
        );
    }
);

db_test!(
    async fn one_queued_job_per_key(engine: Engine) {
        let (_database, first, _second) = two_instances(engine).await;
        let pool = first.pool();
        let job = SendCodeJob {
            registration_id: 7,
            user_id: 1,
            channel: app::ssr::infra::delivery::Channel::Sms,
        };
        assert_eq!(job.dedupe_key().as_deref(), Some("send_code:7"));
        let add = || jobs::enqueue(pool, &job, 0);
        assert!(add().await.expect("enqueue"));
        assert!(!add().await.expect("enqueue"), "one queued at a time");
        let now = app::ssr::infra::clock::now_millis();
        let job = jobs::claim(&first, "w", now, LEASE_MS, 1)
            .await
            .expect("claim")
            .remove(0);
        jobs::finish(pool, &job, "w", now).await.expect("finish");
        assert!(add().await.expect("enqueue"), "a new one once it is done");
    }
);

db_test!(
    async fn finished_jobs_are_pruned_after_their_keeping_time(engine: Engine) {
        let (_database, first, _second) = two_instances(engine).await;
        queue(&first, 3).await;
        let now = app::ssr::infra::clock::now_millis();
        let claimed = jobs::claim(&first, "w", now, LEASE_MS, 3)
            .await
            .expect("claim");
        jobs::finish(first.pool(), &claimed[0], "w", now - 10_000)
            .await
            .expect("finish");
        jobs::fail(first.pool(), &claimed[1], "w", "gone", now - 10_000, false)
            .await
            .expect("fail");
        jobs::finish(first.pool(), &claimed[2], "w", now)
            .await
            .expect("finish");
        assert_eq!(
            jobs::prune(first.pool(), now - 5_000).await.expect("prune"),
            2
        );
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
            .fetch_one(first.pool())
            .await
            .expect("count");
        assert_eq!(left, 1, "the recent one stays");
    }
);
