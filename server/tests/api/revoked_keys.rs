//! A revoked key stops now: its long-polls and snapshots in flight end
//! (within the key check interval, 2 s), and a provider left without an
//! active key hears no more webhooks.

use std::time::{Duration, Instant};

use app::ssr::providers::Scope;

use crate::helpers::journeys::key;
use crate::helpers::{Engine, spawn_app};

db_test!(
    async fn a_revoked_keys_long_poll_ends_with_401(engine: Engine) {
        let app = spawn_app(engine).await;
        let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let started = Instant::now();
        let poll = tokio::spawn({
            let url = app.url("/api/v1/registry/changes?wait=30");
            let reader = reader.clone();
            async move {
                reqwest::Client::new()
                    .get(url)
                    .bearer_auth(reader)
                    .send()
                    .await
                    .expect("request")
                    .status()
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        crate::helpers::journeys::revoke_key(app.database.pool(), &reader[..12]).await;
        let status = tokio::time::timeout(Duration::from_secs(5), poll)
            .await
            .expect("the long-poll ends within 5 s, not after its 30")
            .expect("task");
        assert_eq!(status, 401);
        assert!(started.elapsed() < Duration::from_secs(6));
    }
);

db_test!(
    async fn a_revoked_keys_snapshot_is_cut_off(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        // About 10 MB of snapshot: more than the socket buffers between a
        // reader that stops reading and the server hold, so the stream is
        // still going when the key is revoked.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
             INSERT INTO privileged_intervals (e164, since, added_seq) \
             SELECT '+1' || (2025500000 + i), 0, i FROM n",
        )
        .execute(pool)
        .await
        .expect("numbers");
        let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let mut response = reqwest::Client::new()
            .get(app.url("/api/v1/registry/snapshot"))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let mut body = response
            .chunk()
            .await
            .expect("first chunk")
            .expect("data")
            .to_vec();
        crate::helpers::journeys::revoke_key(pool, &reader[..12]).await;
        // The reader pauses past the key check, then reads on.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let ended = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) => return Ok(()),
                    Err(error) => return Err(error),
                }
            }
        })
        .await
        .expect("the body ends");
        assert!(ended.is_err(), "the body must end in an error, not cleanly");
        assert!(
            body.len() < 200_000 * 40,
            "cut off early: {} bytes read",
            body.len()
        );
        assert!(!body.ends_with(b"]}"), "not a whole document");
    }
);
