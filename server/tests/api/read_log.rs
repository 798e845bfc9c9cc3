//! The providers' read log (issue 17, item 5): look-ups of single numbers
//! are counted per key and hour, never kept number by number; snapshot,
//! feed and audit reads keep their exact trail; old counts are pruned.

use app::ssr::providers::{self, Scope};

use crate::helpers::journeys::key;
use crate::helpers::{Engine, eventually, spawn_app};

db_test! {
async fn lookups_are_counted_per_key_and_hour_and_never_kept_by_number(engine: Engine) {
    let app = spawn_app(engine).await;
    let pool = app.database.pool();
    let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    let client = reqwest::Client::new();
    for number in ["+12025550101", "+12025550102", "+12025550101"] {
        let answer = client
            .get(app.url(&format!("/api/v1/numbers/{number}")))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("look-up");
        assert_eq!(answer.status(), 200);
    }
    let answer = client
        .get(app.url("/api/v1/registry/snapshot"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("snapshot");
    assert_eq!(answer.status(), 200);

    let counted: i64 = eventually("the look-ups are counted", || async {
        let count: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(lookups) AS BIGINT) FROM provider_lookup_counts")
            .fetch_one(pool)
            .await
            .expect("counts");
        count.filter(|count| *count == 3)
    })
    .await;
    assert_eq!(counted, 3);
    let (hours, hour_start): (i64, i64) = sqlx::query_as("SELECT COUNT(*), MAX(hour_start) FROM provider_lookup_counts")
        .fetch_one(pool)
        .await
        .expect("hours");
    assert!(hours <= 2, "one row per key and hour: {hours}");
    assert_eq!(hour_start % 3_600_000, 0);
    let exact: Vec<String> = eventually("the snapshot is logged", || async {
        let rows: Vec<String> = sqlx::query_scalar("SELECT what FROM provider_reads ORDER BY at")
            .fetch_all(pool)
            .await
            .expect("reads");
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(exact, ["snapshot"]);
    assert!(exact.iter().all(|what| !what.contains("+1202")), "{exact:?}");

    // Counts of hours before the retention cutoff go; later ones stay.
    assert_eq!(providers::forget_lookup_counts_before(pool, hour_start).await.expect("prune"), 0);
    assert_eq!(providers::forget_lookup_counts_before(pool, hour_start + 3_600_000).await.expect("prune"), hours as u64);
}
}
