//! Facilities and reconciliation (issue 15): a provider's facilities,
//! their acknowledgements while writers change the registry, a facility
//! whose copy lost numbers found by its digests and repaired by buckets,
//! a vendor switch held pending until it matches, and hostile input.

use std::collections::{BTreeMap, BTreeSet};

use app::ssr::providers::Scope;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::journeys::{flip, key, start_writers, writer_accounts};
use crate::helpers::{Engine, TestApp, problem, run_server, spawn_app_with};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn send(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = client().request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let url = response.url().path().to_owned();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "{url}: {text}");
    serde_json::from_str(&text).expect("json")
}

async fn put_facility(app: &TestApp, key: &str, code: &str, name: &str, state: &str) -> Value {
    ok_json(
        send(
            app,
            key,
            reqwest::Method::PUT,
            &format!("/api/v1/facilities/{code}"),
            Some(json!({"name": name, "state": state, "kind": "jail"})),
        )
        .await,
    )
    .await
}

/// The contract's digest: SHA-256 of the sorted numbers, each + "\n".
fn digest_of(numbers: &BTreeSet<String>) -> String {
    let mut hasher = Sha256::new();
    for number in numbers {
        hasher.update(number.as_bytes());
        hasher.update(b"\n");
    }
    format!("{:x}", hasher.finalize())
}

fn bucket_of(e164: &str) -> u8 {
    Sha256::digest(e164.as_bytes())[0]
}

/// `count` numbers made privileged, each in its own registry write.
async fn fill(app: &TestApp, count: usize) -> Vec<String> {
    let pool = app.database.pool();
    let user = writer_accounts(pool, 1).await[0];
    let numbers: Vec<String> = (0..count).map(|i| format!("+1206555{i:04}")).collect();
    for number in &numbers {
        flip(pool, user, number, true).await;
    }
    numbers
}

async fn snapshot_numbers(app: &TestApp, key: &str, query: &str) -> (i64, BTreeSet<String>) {
    let body = ok_json(
        send(
            app,
            key,
            reqwest::Method::GET,
            &format!("/api/v1/registry/snapshot{query}"),
            None,
        )
        .await,
    )
    .await;
    let numbers = body["numbers"]
        .as_array()
        .expect("numbers")
        .iter()
        .map(|n| n["e164"].as_str().expect("e164").to_owned())
        .collect();
    (body["as_of_seq"].as_i64().expect("seq"), numbers)
}

async fn reconcile(
    app: &TestApp,
    key: &str,
    code: &str,
    seq: i64,
    copy: &BTreeSet<String>,
) -> Value {
    ok_json(
        send(
            app,
            key,
            reqwest::Method::POST,
            &format!("/api/v1/facilities/{code}/reconciliations"),
            Some(json!({"as_of_seq": seq, "count": copy.len(), "digest": digest_of(copy)})),
        )
        .await,
    )
    .await
}

db_test! {
async fn a_facility_that_lost_numbers_is_found_by_its_digests_and_repaired_by_buckets(engine: Engine) {
    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let provider = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    let numbers = fill(&app, 400).await;
    for (code, name) in [("KC-1", "King County Jail"), ("PC-2", "Pierce County Jail"), ("SN-3", "Snohomish County Jail")] {
        let facility = put_facility(&app, &provider, code, name, "WA").await;
        assert_eq!(facility["status"], "live");
        assert_eq!(facility["kind"], "jail");
    }
    let listed = ok_json(send(&app, &provider, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    assert_eq!(listed["facilities"].as_array().expect("list").len(), 3);

    // Every facility holds the snapshot; a later change moves the head on.
    let (seq, truth) = snapshot_numbers(&app, &provider, "").await;
    assert_eq!(truth.len(), numbers.len());
    let pool = app.database.pool();
    let user = writer_accounts(pool, 0).await[0];
    flip(pool, user, &numbers[0], false).await;

    // Two copies are whole; the third lost 5% (20 numbers).
    let lost: BTreeSet<String> = truth.iter().step_by(20).cloned().collect();
    assert_eq!(lost.len(), 20);
    let mut damaged: BTreeSet<String> = truth.difference(&lost).cloned().collect();
    for code in ["KC-1", "PC-2"] {
        let answer = reconcile(&app, &provider, code, seq, &truth).await;
        assert_eq!(answer["match"], true, "{answer}");
        assert_eq!(answer["count"], truth.len());
        assert_eq!(answer["as_of_seq"], seq);
    }
    let answer = reconcile(&app, &provider, "SN-3", seq, &damaged).await;
    assert_eq!(answer["match"], false);
    assert_eq!(answer["count"], truth.len(), "the registry's own count at that seq");
    assert_eq!(answer["digest"], digest_of(&truth));

    // The bucket digests at that seq point at exactly the damaged buckets.
    let digests = ok_json(send(&app, &provider, reqwest::Method::GET, &format!("/api/v1/registry/digests?as_of_seq={seq}"), None).await).await;
    assert_eq!(digests["as_of_seq"], seq);
    assert_eq!(digests["digest"], digest_of(&truth));
    let buckets = digests["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 256);
    let mut local: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
    for number in &damaged {
        local.entry(bucket_of(number)).or_default().insert(number.clone());
    }
    let differing: BTreeSet<u8> = buckets
        .iter()
        .filter(|bucket| {
            let index = bucket["bucket"].as_u64().expect("bucket") as u8;
            let mine = local.get(&index).cloned().unwrap_or_default();
            bucket["digest"] != digest_of(&mine) || bucket["count"] != mine.len()
        })
        .map(|bucket| bucket["bucket"].as_u64().expect("bucket") as u8)
        .collect();
    let expected: BTreeSet<u8> = lost.iter().map(|number| bucket_of(number)).collect();
    assert_eq!(differing, expected, "exactly the buckets that lost numbers");

    // Repair: fetch only those buckets, as of the same seq.
    for bucket in &differing {
        let (at, numbers) = snapshot_numbers(&app, &provider, &format!("?as_of_seq={seq}&bucket={bucket}")).await;
        assert_eq!(at, seq);
        assert!(numbers.iter().all(|n| bucket_of(n) == *bucket));
        damaged.extend(numbers);
    }
    assert_eq!(damaged, truth);
    let answer = reconcile(&app, &provider, "SN-3", seq, &damaged).await;
    assert_eq!(answer["match"], true);

    // Every reconciliation is kept with its result.
    let stored: Vec<(i64,)> = sqlx::query_as("SELECT CASE WHEN matched THEN 1 ELSE 0 END FROM facility_reconciliations ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("stored");
    assert_eq!(stored, vec![(1,), (1,), (0,), (1,)]);

    // The snapshot now (after the removal) differs from the one at `seq`.
    let (now, current) = snapshot_numbers(&app, &provider, "").await;
    assert_eq!(now, seq + 1);
    assert!(!current.contains(&numbers[0]));
    let (_, past) = snapshot_numbers(&app, &provider, &format!("?as_of_seq={seq}")).await;
    assert_eq!(past, truth);
}
}

db_test! {
async fn a_vendor_switch_stays_pending_until_the_new_providers_list_matches(engine: Engine) {
    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let old = key(&app, "Old Vendor", &[Scope::RegistryRead]).await;
    let new = key(&app, "New Vendor", &[Scope::RegistryRead]).await;
    fill(&app, 30).await;
    assert_eq!(put_facility(&app, &old, "yakima", "Yakima County Jail", "WA").await["status"], "live");
    // The same place, under the new vendor's own code and spelling of case.
    let switched = put_facility(&app, &new, "WA-0042", "YAKIMA COUNTY JAIL", "wa").await;
    assert_eq!(switched["status"], "pending");
    let predecessor: Option<i64> = sqlx::query_scalar("SELECT predecessor_id FROM facilities WHERE code = 'WA-0042'")
        .fetch_one(app.database.pool())
        .await
        .expect("row");
    assert!(predecessor.is_some());

    // A list rebuilt short does not make it live; the whole list does.
    let (seq, truth) = snapshot_numbers(&app, &new, "").await;
    let short: BTreeSet<String> = truth.iter().take(3).cloned().collect();
    assert_eq!(reconcile(&app, &new, "WA-0042", seq, &short).await["match"], false);
    let listed = ok_json(send(&app, &new, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    assert_eq!(listed["facilities"][0]["status"], "pending");
    assert_eq!(reconcile(&app, &new, "WA-0042", seq, &truth).await["match"], true);
    let listed = ok_json(send(&app, &new, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    assert_eq!(listed["facilities"][0]["status"], "live");

    // A different place in another state is not a switch.
    assert_eq!(put_facility(&app, &new, "OR-1", "Yakima County Jail", "OR").await["status"], "live");
}
}

db_test! {
async fn facility_acknowledgements_hold_their_order_while_eight_writers_change_the_registry(engine: Engine) {
    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let pool = app.database.pool().clone();
    let provider = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    for code in ["A", "B", "C"] {
        put_facility(&app, &provider, code, &format!("Facility {code}"), "WA").await;
    }
    let writers = start_writers(&pool).await;
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    while writers.iter().any(|w| !w.is_finished()) {
        for code in ["A", "B", "C"] {
            let head = app::ssr::registry::head(&pool).await.expect("head");
            let answer = ok_json(send(&app, &provider, reqwest::Method::POST, &format!("/api/v1/facilities/{code}/acks"), Some(json!({"through_seq": head}))).await).await;
            assert_eq!(answer["through_seq"], head);
            assert!(answer["acked_at"].as_str().is_some());
            last.insert(code, head);
        }
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let head = app::ssr::registry::head(&pool).await.expect("head");
    for (code, seq) in &last {
        if *seq > 0 {
            let (status, detail) = problem(send(&app, &provider, reqwest::Method::POST, &format!("/api/v1/facilities/{code}/acks"), Some(json!({"through_seq": seq - 1}))).await).await;
            assert_eq!(status, 409, "{detail}");
            assert!(detail.contains("before this facility's last acknowledgement"), "{detail}");
        }
        let (status, detail) = problem(send(&app, &provider, reqwest::Method::POST, &format!("/api/v1/facilities/{code}/acks"), Some(json!({"through_seq": head + 1}))).await).await;
        assert_eq!(status, 409, "{detail}");
        // The same seq again answers with its first time.
        let again = ok_json(send(&app, &provider, reqwest::Method::POST, &format!("/api/v1/facilities/{code}/acks"), Some(json!({"through_seq": seq}))).await).await;
        assert_eq!(again["through_seq"], *seq);
    }
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM facility_acks")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(kept >= 3, "acknowledgements are kept: {kept}");
}
}

db_test! {
async fn hostile_facility_requests_are_refused_with_problems(engine: Engine) {
    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let mine = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    let theirs = key(&app, "Other Phones", &[Scope::RegistryRead]).await;
    let auditor = key(&app, "Acme Phones", &[Scope::AuditWrite]).await;
    fill(&app, 5).await;
    put_facility(&app, &theirs, "THEIRS", "Their Jail", "OR").await;
    put_facility(&app, &mine, "MINE", "My Jail", "WA").await;
    let head = app::ssr::registry::head(app.database.pool()).await.expect("head");
    let zero = "0".repeat(64);

    // Unknown, and another provider's: the same 404.
    for code in ["NOPE", "THEIRS"] {
        let (status, detail) = problem(send(&app, &mine, reqwest::Method::POST, &format!("/api/v1/facilities/{code}/acks"), Some(json!({"through_seq": 0}))).await).await;
        assert_eq!(status, 404, "{detail}");
        assert!(detail.contains(code), "{detail}");
        let (status, _) = problem(send(&app, &mine, reqwest::Method::POST, &format!("/api/v1/facilities/{code}/reconciliations"), Some(json!({"as_of_seq": 0, "count": 0, "digest": zero}))).await).await;
        assert_eq!(status, 404);
        let (status, _) = problem(send(&app, &mine, reqwest::Method::DELETE, &format!("/api/v1/facilities/{code}"), None).await).await;
        assert_eq!(status, 404);
    }
    // Not hex, too short, negative, in the future.
    for (body, expected) in [
        (json!({"as_of_seq": head, "count": 1, "digest": "z".repeat(64)}), 400),
        (json!({"as_of_seq": head, "count": 1, "digest": "abc"}), 400),
        (json!({"as_of_seq": -1, "count": 1, "digest": zero}), 400),
        (json!({"as_of_seq": head, "count": -5, "digest": zero}), 400),
        (json!({"as_of_seq": head + 1, "count": 0, "digest": zero}), 409),
        (json!({"as_of_seq": "7", "count": 0, "digest": zero}), 400),
    ] {
        let (status, detail) = problem(send(&app, &mine, reqwest::Method::POST, "/api/v1/facilities/MINE/reconciliations", Some(body.clone())).await).await;
        assert_eq!(status, expected, "{body}: {detail}");
    }
    let (status, detail) = problem(send(&app, &mine, reqwest::Method::GET, &format!("/api/v1/registry/digests?as_of_seq={}", head + 1), None).await).await;
    assert_eq!(status, 409, "{detail}");
    for query in ["as_of_seq=-1", "as_of_seq=x", "bucket=256", "bucket=-1"] {
        let (status, _) = problem(send(&app, &mine, reqwest::Method::GET, &format!("/api/v1/registry/snapshot?{query}"), None).await).await;
        assert_eq!(status, 400, "{query}");
    }
    let (status, _) = problem(send(&app, &mine, reqwest::Method::GET, &format!("/api/v1/registry/snapshot?as_of_seq={}", head + 1), None).await).await;
    assert_eq!(status, 409);

    // Codes: a slash, encoded or not; too long; bad bodies.
    let (status, detail) = problem(send(&app, &mine, reqwest::Method::PUT, "/api/v1/facilities/a%2Fb", Some(json!({"name": "X", "state": "WA", "kind": "jail"}))).await).await;
    assert_eq!(status, 400);
    assert!(detail.contains("U+002F"), "{detail}");
    let (status, _) = problem(send(&app, &mine, reqwest::Method::PUT, "/api/v1/facilities/a/b", Some(json!({"name": "X", "state": "WA", "kind": "jail"}))).await).await;
    assert_eq!(status, 404);
    let long = "x".repeat(65);
    let (status, _) = problem(send(&app, &mine, reqwest::Method::PUT, &format!("/api/v1/facilities/{long}"), Some(json!({"name": "X", "state": "WA", "kind": "jail"}))).await).await;
    assert_eq!(status, 400);
    for body in [
        json!({"name": "X", "state": "ZZ", "kind": "jail"}),
        json!({"name": "X", "state": "WA", "kind": "castle"}),
        json!({"name": "", "state": "WA", "kind": "jail"}),
        json!({"name": "X", "state": "WA"}),
    ] {
        let (status, detail) = problem(send(&app, &mine, reqwest::Method::PUT, "/api/v1/facilities/OK", Some(body.clone())).await).await;
        assert_eq!(status, 400, "{body}: {detail}");
    }
    // A key without registry:read.
    let (status, _) = problem(send(&app, &auditor, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    assert_eq!(status, 403);

    // Retired: gone from the list, refused for acks, back when PUT again;
    // its history stays.
    ok_json(send(&app, &mine, reqwest::Method::POST, "/api/v1/facilities/MINE/acks", Some(json!({"through_seq": head}))).await).await;
    let retired = send(&app, &mine, reqwest::Method::DELETE, "/api/v1/facilities/MINE", None).await;
    assert_eq!(retired.status(), 204);
    let listed = ok_json(send(&app, &mine, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    assert_eq!(listed["facilities"].as_array().expect("list").len(), 0);
    let (status, detail) = problem(send(&app, &mine, reqwest::Method::POST, "/api/v1/facilities/MINE/acks", Some(json!({"through_seq": head}))).await).await;
    assert_eq!(status, 404);
    assert!(detail.contains("retired"), "{detail}");
    put_facility(&app, &mine, "MINE", "My Jail", "WA").await;
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM facility_acks")
        .fetch_one(app.database.pool())
        .await
        .expect("count");
    assert_eq!(kept, 1);
}
}

db_test! {
async fn ten_thousand_facilities_are_listed(engine: Engine) {
    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let provider = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    let pool = app.database.pool();
    let provider_id: i64 = sqlx::query_scalar("SELECT id FROM providers WHERE name = 'Acme Phones'")
        .fetch_one(pool)
        .await
        .expect("provider");
    for chunk in (0..10_000).collect::<Vec<i64>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({provider_id}, 'F{i:05}', 'Facility {i}', 'WA', 'jail', 'live', 0, 0)"))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO facilities (provider_id, code, name, state, kind, status, created_at, updated_at) VALUES {}",
            values.join(", ")
        ))
        .execute(pool)
        .await
        .expect("insert");
    }
    let listed = ok_json(send(&app, &provider, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    let facilities = listed["facilities"].as_array().expect("list");
    assert_eq!(facilities.len(), 10_000);
    assert_eq!(facilities[0]["code"], "F00000");
    assert_eq!(facilities[9_999]["code"], "F09999");
}
}

db_test! {
async fn attorneys_and_site_admins_see_which_facilities_applied_and_reconciled(engine: Engine) {
    use crate::helpers::journeys::{PASSWORD, body, enrolled_site_admin, log_in, log_out, user_id, verified_member};

    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let provider = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    let other = key(&app, "Next Phones", &[Scope::RegistryRead]).await;
    verified_member(&app, "ruth@example.org", "Ruth Bader", "4242").await;
    let ruth = user_id(&app, "ruth@example.org").await;
    flip(app.database.pool(), ruth, "+12065550142", true).await;
    put_facility(&app, &provider, "KC", "King County Jail", "WA").await;
    put_facility(&app, &provider, "MC", "Multnomah County Jail", "OR").await;
    put_facility(&app, &other, "KC-NEW", "King County Jail", "WA").await; // a vendor switch
    let (seq, truth) = snapshot_numbers(&app, &provider, "").await;
    ok_json(send(&app, &provider, reqwest::Method::POST, "/api/v1/facilities/KC/acks", Some(json!({"through_seq": seq}))).await).await;
    ok_json(send(&app, &provider, reqwest::Method::POST, "/api/v1/facilities/MC/acks", Some(json!({"through_seq": seq}))).await).await;
    assert_eq!(reconcile(&app, &provider, "KC", seq, &truth).await["match"], true);

    assert_eq!(log_in(&app, "ruth@example.org", PASSWORD).await.status(), 302);
    let page = body(app.get("/numbers/facilities").await).await;
    assert!(page.contains("(206) 555-0142"), "{page}");
    let row = |name: &str| {
        page.split("data-testid=\"applied-row\"")
            .find(|row| row.contains(name))
            .map(|row| row.split("</tr>").next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no row for {name}: {page}"))
    };
    let king = row("King County Jail (WA)</th><td>Acme Phones");
    assert!(king.contains("Applied 2") && king.contains("Checked 2"), "{king}");
    let multnomah = row("Multnomah County Jail (OR)");
    assert!(multnomah.contains("Applied 2") && multnomah.contains("Never reconciled"), "{multnomah}");
    let switched = row("King County Jail (WA)</th><td>Next Phones");
    assert!(switched.contains("Not applied yet") && switched.contains("New provider: not checked yet"), "{switched}");

    // Searching by state keeps only that state's facilities.
    let oregon = body(app.get("/numbers/facilities?q=or").await).await;
    assert!(oregon.contains("Multnomah County Jail") && !oregon.contains("King County Jail"), "{oregon}");
    log_out(&app).await;

    enrolled_site_admin(&app, "ada@example.org").await;
    let page = body(app.get("/admin/facilities").await).await;
    assert!(page.contains("3 facilities; 1 flagged."), "{page}");
    assert!(page.contains("New provider: not matched yet"), "{page}");
    assert!(page.contains("matched"), "{page}");
    assert!(page.contains("Never reconciled"), "{page}");
}
}

db_test! {
async fn a_failed_reconciliation_emails_the_site_admins_once_per_incident(engine: Engine) {
    use crate::helpers::journeys::enrolled_site_admin;

    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    enrolled_site_admin(&app, "ada@example.org").await;
    let provider = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    fill(&app, 10).await;
    put_facility(&app, &provider, "KC", "King County Jail", "WA").await;
    let (seq, truth) = snapshot_numbers(&app, &provider, "").await;
    let short: BTreeSet<String> = truth.iter().skip(1).cloned().collect();
    // What housekeeping does every round: the batch of alerts, if due.
    let alerts = || async {
        app::ssr::providers::facilities::send_alerts(app.database.pool(), &app.state.base_url)
            .await
            .expect("alerts");
        app.run_due_jobs().await;
        std::fs::read_dir(app.outbox.path())
            .expect("outbox")
            .filter_map(|entry| std::fs::read_to_string(entry.expect("entry").path()).ok())
            .filter(|mail| mail.contains("attorney list needs attention"))
            .count()
    };
    // At most one batch a period: this moves the last one a period back.
    let a_period_later = || async {
        sqlx::query("UPDATE facility_alert_batches SET sent_at = sent_at - 24 * 60 * 60 * 1000")
            .execute(app.database.pool())
            .await
            .expect("backdate");
    };
    assert_eq!(reconcile(&app, &provider, "KC", seq, &short).await["match"], false);
    assert_eq!(alerts().await, 1);
    assert_eq!(reconcile(&app, &provider, "KC", seq, &short).await["match"], false);
    a_period_later().await;
    assert_eq!(alerts().await, 1, "the same incident is not mailed twice");
    assert_eq!(reconcile(&app, &provider, "KC", seq, &truth).await["match"], true);
    assert_eq!(reconcile(&app, &provider, "KC", seq, &short).await["match"], false);
    assert_eq!(alerts().await, 2, "a new incident after a match is");
    assert_eq!(reconcile(&app, &provider, "KC", seq, &truth).await["match"], true);
    assert_eq!(reconcile(&app, &provider, "KC", seq, &short).await["match"], false);
    assert_eq!(alerts().await, 2, "within the period the next one waits");
    a_period_later().await;
    assert_eq!(alerts().await, 3, "and goes in the next batch");
}
}

/// Runs the reference consumer once for `facility`; (success, output).
async fn consumer_once(
    app: &TestApp,
    key: &str,
    facility: &str,
    state: &std::path::Path,
) -> (bool, String) {
    let args: Vec<&std::ffi::OsStr> = [
        "consumer",
        "--url",
        &app.address,
        "--key",
        key,
        "--facility",
        facility,
        "--once",
        "--state",
    ]
    .into_iter()
    .map(std::ffi::OsStr::new)
    .chain([state.as_os_str()])
    .collect();
    run_server(&args, &[]).await
}

db_test! {
async fn the_reference_consumer_mirrors_acknowledges_and_repairs_a_drift_by_buckets(engine: Engine) {
    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let provider = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
    let numbers = fill(&app, 200).await;
    put_facility(&app, &provider, "KC", "King County Jail", "WA").await;
    let directory = tempfile::tempdir().expect("dir");
    let state = directory.path().join("kc.db");

    let (ok, output) = consumer_once(&app, &provider, "KC", &state).await;
    assert!(ok, "{output}");
    assert!(output.contains("matched"), "{output}");

    // The registry moves on: the consumer follows the feed.
    let pool = app.database.pool();
    let user = writer_accounts(pool, 0).await[0];
    for number in numbers.iter().take(5) {
        flip(pool, user, number, false).await;
    }
    flip(pool, user, "+12065559999", true).await;
    let (ok, output) = consumer_once(&app, &provider, "KC", &state).await;
    assert!(ok, "{output}");
    let head = app::ssr::registry::head(pool).await.expect("head");
    assert!(output.contains(&format!("reconciled at seq {head}: matched")), "{output}");
    let acked: Option<i64> = sqlx::query_scalar("SELECT MAX(through_seq) FROM facility_acks")
        .fetch_one(pool)
        .await
        .expect("acks");
    assert_eq!(acked, Some(head));

    // The facility's copy loses 5% of its numbers, and gains one it
    // should not hold: the next run finds the buckets and repairs them.
    let local = sqlx::SqlitePool::connect(&format!("sqlite://{}", state.display())).await.expect("state");
    let deleted = sqlx::query("DELETE FROM numbers WHERE e164 IN (SELECT e164 FROM numbers ORDER BY e164 LIMIT 10)")
        .execute(&local)
        .await
        .expect("delete");
    assert_eq!(deleted.rows_affected(), 10);
    sqlx::query("INSERT INTO numbers (e164) VALUES ('+12065550999')").execute(&local).await.expect("insert");
    local.close().await;
    let (ok, output) = consumer_once(&app, &provider, "KC", &state).await;
    assert!(ok, "{output}");
    assert!(output.contains("did not match; repaired"), "{output}");
    assert!(output.contains("(10 numbers added, 1 removed), then matched"), "{output}");
    let results: Vec<(i64,)> = sqlx::query_as("SELECT CASE WHEN matched THEN 1 ELSE 0 END FROM facility_reconciliations ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("results");
    assert_eq!(results, vec![(1,), (1,), (0,), (1,)]);
}
}

db_test! {
async fn a_site_admin_links_a_renamed_facility_to_its_former_providers(engine: Engine) {
    use crate::helpers::journeys::{body, enrolled_site_admin};

    let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
    let old = key(&app, "Old Vendor", &[Scope::RegistryRead]).await;
    let new = key(&app, "New Vendor", &[Scope::RegistryRead]).await;
    fill(&app, 20).await;
    put_facility(&app, &old, "YAK", "Yakima County Jail", "WA").await;
    put_facility(&app, &old, "KIT", "Kittitas County Jail", "WA").await;
    // Renamed under the new vendor: no automatic match.
    assert_eq!(put_facility(&app, &new, "WA-7", "Yakima Regional Detention", "WA").await["status"], "live");
    let pool = app.database.pool().clone();
    let id_of = |code: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM facilities WHERE code = $1")
                .bind(code)
                .fetch_one(&pool)
                .await
                .expect("id")
        }
    };
    let (renamed, yakima, kittitas) = (id_of("WA-7").await, id_of("YAK").await, id_of("KIT").await);

    enrolled_site_admin(&app, "ada@example.org").await;
    let page = body(app.get("/admin/facilities").await).await;
    assert!(page.contains("Same place as"), "{page}");
    // Not to another facility of the same provider.
    let refused = app
        .post_form_from("/admin/facilities", "/api/link_facility", &[("facility", &yakima.to_string()), ("predecessor", &kittitas.to_string())])
        .await;
    assert_ne!(refused.headers().get("location").and_then(|l| l.to_str().ok()), Some("/admin/facilities?linked=1"));
    let linked = app
        .post_form_from("/admin/facilities", "/api/link_facility", &[("facility", &renamed.to_string()), ("predecessor", &yakima.to_string())])
        .await;
    assert_eq!(linked.status(), 302);
    assert_eq!(linked.headers()["location"], "/admin/facilities?linked=1");
    let page = body(app.get("/admin/facilities?linked=1").await).await;
    assert!(page.contains("Took over from Yakima County Jail (YAK) · Old Vendor"), "{page}");
    assert!(page.contains("New provider: not matched yet"), "{page}");
    let trail = app::ssr::infra::audit_trail::recent(app.database.pool(), 1).await.expect("trail");
    assert_eq!(trail[0].action, "facility_linked");
    assert!(trail[0].actor.contains("ada@example.org"));

    // Pending until its list matches.
    let listed = ok_json(send(&app, &new, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    assert_eq!(listed["facilities"][0]["status"], "pending");
    let (seq, truth) = snapshot_numbers(&app, &new, "").await;
    assert_eq!(reconcile(&app, &new, "WA-7", seq, &truth).await["match"], true);
    let listed = ok_json(send(&app, &new, reqwest::Method::GET, "/api/v1/facilities", None).await).await;
    assert_eq!(listed["facilities"][0]["status"], "live");
}
}
