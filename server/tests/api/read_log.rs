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

db_test! {
async fn an_audit_only_key_has_an_hourly_budget_of_numbers_and_only_counts_are_kept(engine: Engine) {
    let app = crate::helpers::spawn_app_with(engine, &[("AUDIT_NUMBERS_PER_HOUR", "15")]).await;
    let pool = app.database.pool();
    let auditor = key(&app, "Acme Phones", &[Scope::AuditWrite]).await;
    let client = reqwest::Client::new();
    let audit = |count: usize| {
        let calls: Vec<serde_json::Value> = (0..count)
            .map(|i| serde_json::json!({"call_id": format!("c{i}"), "e164": format!("+1206555{i:04}"), "started_at": "2026-11-30T12:00:00Z"}))
            .collect();
        client
            .post(app.url("/api/v1/audit/calls"))
            .bearer_auth(&auditor)
            .json(&serde_json::json!({"calls": calls}))
            .send()
    };
    assert_eq!(audit(10).await.expect("audit").status(), 200);
    let refused = audit(10).await.expect("audit");
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_some());
    // The refused batch took nothing of the budget: 5 more fit.
    assert_eq!(audit(5).await.expect("audit").status(), 200);
    assert_eq!(audit(1).await.expect("audit").status(), 429);

    let logged: Vec<String> = eventually("the audits are logged", || async {
        let rows: Vec<String> = sqlx::query_scalar("SELECT what FROM provider_reads ORDER BY at, what")
            .fetch_all(pool)
            .await
            .expect("reads");
        (rows.len() == 4).then_some(rows)
    })
    .await;
    assert!(logged.contains(&"audit of 10 calls".to_owned()), "{logged:?}");
    assert!(logged.contains(&"audit of 5 calls".to_owned()), "{logged:?}");
    assert!(logged.iter().any(|what| what.contains("refused: over the hourly budget")), "{logged:?}");
    assert!(logged.iter().all(|what| !what.contains("+1")), "no number is kept: {logged:?}");
}
}
