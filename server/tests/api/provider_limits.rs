//! Issue 24, finding 7: one provider key cannot exhaust the pool, the
//! disk or the site admins' mailboxes. Concurrent snapshots are capped per
//! key (429) and per instance (503), each with `Retry-After`; a snapshot
//! ends at its whole-stream deadline and its spool file goes with it; a
//! provider's facilities are capped; failing facilities are mailed to the
//! site admins in one batch per period.

use std::path::Path;
use std::time::{Duration, Instant};

use app::domain::{EmailAddress, PersonName};
use app::ssr::accounts::admins::{AdminRole, create_admin};
use app::ssr::infra::audit_trail::Actor;
use app::ssr::infra::mail::{MailTransport, Mailer};
use app::ssr::providers::Scope;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::helpers::journeys::{flip, key, writer_accounts};
use crate::helpers::snapshots::{many_numbers, stalled_snapshot_reader};
use crate::helpers::{Engine, TestApp, eventually, spawn_app_with};

async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
}

async fn send_json(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn put_facility(app: &TestApp, key: &str, code: &str, name: &str) -> reqwest::Response {
    send_json(
        app,
        key,
        reqwest::Method::PUT,
        &format!("/api/v1/facilities/{code}"),
        &json!({"name": name, "state": "WA", "kind": "jail"}),
    )
    .await
}

/// The `Retry-After` of `response`, in seconds.
fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}", response.status()))
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

/// The problem document of `response`: (status, type, detail).
async fn problem_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    let body: Value = response.json().await.expect("problem json");
    (
        status,
        body["type"].as_str().expect("type").to_owned(),
        body["detail"].as_str().expect("detail").to_owned(),
    )
}

/// Numbers enough that a snapshot of them (about 11 MB) outlasts what the
/// socket buffers between a reader that stops reading and the server hold.
const MANY: i64 = 200_000;

/// A small snapshot (one bucket of the registry), read whole; its status.
async fn small_snapshot(app: &TestApp, key: &str) -> u16 {
    let response = get(app, key, "/api/v1/registry/snapshot?bucket=0").await;
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    status
}

db_test!(
    async fn a_third_snapshot_on_one_key_is_told_when_to_retry(engine: Engine) {
        let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "1000")]).await;
        many_numbers(&app, MANY).await;
        let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let other = key(&app, "Bell Phones", &[Scope::RegistryRead]).await;

        let first = stalled_snapshot_reader(app.port, &reader).await;
        let _second = stalled_snapshot_reader(app.port, &reader).await;
        let third = get(&app, &reader, "/api/v1/registry/snapshot").await;
        assert_eq!(third.status(), 429);
        assert!(retry_after(&third) >= 1);
        let (_, kind, detail) = problem_of(third).await;
        assert!(kind.ends_with("/concurrency-limit"), "{kind}");
        assert!(
            detail.contains("2 snapshots") && detail.contains("this key"),
            "{detail}"
        );
        // Digests have their own cap; another key is not held up.
        let digests = get(&app, &reader, "/api/v1/registry/digests").await;
        assert_eq!(digests.status(), 200);
        assert_eq!(small_snapshot(&app, &other).await, 200);

        // One reader gone, its place is free again.
        drop(first);
        eventually("a snapshot once a reader left", || async {
            (small_snapshot(&app, &reader).await == 200).then_some(())
        })
        .await;
    }
);

db_test!(
    async fn the_instances_cap_answers_503_with_retry_after(engine: Engine) {
        let app = spawn_app_with(
            engine,
            &[
                ("API_REQUESTS_PER_SECOND", "1000"),
                ("API_SNAPSHOTS_TOTAL", "2"),
            ],
        )
        .await;
        many_numbers(&app, MANY).await;
        let acme = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let bell = key(&app, "Bell Phones", &[Scope::RegistryRead]).await;
        let cell = key(&app, "Cell Phones", &[Scope::RegistryRead]).await;

        let _held = (
            stalled_snapshot_reader(app.port, &acme).await,
            stalled_snapshot_reader(app.port, &bell).await,
        );
        let refused = get(&app, &cell, "/api/v1/registry/snapshot").await;
        assert_eq!(refused.status(), 503);
        assert!(retry_after(&refused) >= 1);
        let (_, kind, detail) = problem_of(refused).await;
        assert!(kind.ends_with("/server-busy"), "{kind}");
        assert!(
            detail.contains("2 snapshots") && detail.contains("server"),
            "{detail}"
        );
    }
);

/// The files in `directory`.
fn files_in(directory: &Path) -> Vec<String> {
    std::fs::read_dir(directory)
        .expect("spool dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

db_test!(
    async fn a_stalled_snapshot_ends_at_its_deadline_and_its_spool_file_goes(engine: Engine) {
        let spool = tempfile::tempdir().expect("spool dir");
        let spool_dir = spool.path().display().to_string();
        let app = spawn_app_with(
            engine,
            &[
                ("API_SNAPSHOT_DEADLINE_SECS", "10"),
                ("SNAPSHOT_SPOOL_DIR", &spool_dir),
            ],
        )
        .await;
        many_numbers(&app, MANY).await;
        let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;

        let started = Instant::now();
        let mut stalled = stalled_snapshot_reader(app.port, &reader).await;
        assert_eq!(
            files_in(spool.path()).len(),
            1,
            "the snapshot streams from a spool file in SNAPSHOT_SPOOL_DIR"
        );
        eventually("the spool file removed at the deadline", || async {
            files_in(spool.path()).is_empty().then_some(())
        })
        .await;
        assert!(
            started.elapsed() >= Duration::from_secs(9),
            "not before the deadline: {:?}",
            started.elapsed()
        );
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "the stall limit (120 s) did not end it: {:?}",
            started.elapsed()
        );
        // The body ends cut off: no closing chunk of a whole body.
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut rest))
            .await
            .expect("the connection ends")
            .ok();
        assert!(
            !rest.ends_with(b"0\r\n\r\n"),
            "the body must not look whole"
        );

        // Past the deadline the key's place is free again.
        assert_eq!(small_snapshot(&app, &reader).await, 200);
    }
);

db_test!(
    async fn facilities_past_the_providers_cap_are_refused(engine: Engine) {
        let app = spawn_app_with(
            engine,
            &[
                ("API_REQUESTS_PER_SECOND", "1000"),
                ("API_FACILITIES_PER_PROVIDER", "3"),
            ],
        )
        .await;
        let acme = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let bell = key(&app, "Bell Phones", &[Scope::RegistryRead]).await;
        for code in ["A1", "A2", "A3"] {
            assert_eq!(put_facility(&app, &acme, code, code).await.status(), 200);
        }
        let (status, kind, detail) = problem_of(put_facility(&app, &acme, "A4", "A4").await).await;
        assert_eq!(status, 409);
        assert!(kind.ends_with("/facility-limit"), "{kind}");
        assert!(detail.contains("3 facilities"), "{detail}");
        // Updating one it has is not creating one.
        assert_eq!(
            put_facility(&app, &acme, "A1", "Renamed").await.status(),
            200
        );
        // Another provider has its own allowance.
        assert_eq!(put_facility(&app, &bell, "B1", "B1").await.status(), 200);
        // Retiring one frees its place; bringing it back takes one.
        let retired = reqwest::Client::new()
            .delete(app.url("/api/v1/facilities/A3"))
            .bearer_auth(&acme)
            .send()
            .await
            .expect("retire");
        assert_eq!(retired.status(), 204);
        assert_eq!(put_facility(&app, &acme, "A4", "A4").await.status(), 200);
        assert_eq!(
            problem_of(put_facility(&app, &acme, "A3", "A3").await)
                .await
                .0,
            409,
            "a retired facility brought back counts again"
        );
        let listed: Value = get(&app, &acme, "/api/v1/facilities")
            .await
            .json()
            .await
            .expect("list");
        assert_eq!(listed["facilities"].as_array().expect("list").len(), 3);
    }
);

/// A site admin straight in the database (no sign-in needed here).
async fn site_admin(app: &TestApp, email: &str) {
    let mailer = Mailer::new(
        "Counsel Registry <no-reply@example.org>",
        &MailTransport::Outbox(app.outbox.path().to_owned()),
    )
    .expect("mailer");
    create_admin(
        &app.database,
        &mailer,
        &app.address,
        &EmailAddress::parse(email).expect("email"),
        &PersonName::parse("Ada Admin").expect("name"),
        AdminRole::Site,
        &Actor::command_line(),
    )
    .await
    .expect("admin created");
}

/// The facility alerts in the outbox, after running due jobs.
async fn alerts(app: &TestApp) -> Vec<String> {
    app.run_due_jobs().await;
    app.emails()
        .into_iter()
        // "A facility's attorney list needs…", "5 facilities' attorney lists…"
        .filter(|mail| mail.contains("attorney list"))
        .collect()
}

/// What housekeeping does each round for facilities.
async fn housekeeping(app: &TestApp) {
    app::ssr::providers::facilities::notify_unhealthy(app.database.pool(), &app.state.base_url)
        .await
        .expect("housekeeping");
}

/// A reconciliation of facility `code` that cannot match; its `match`.
async fn failed_reconciliation(app: &TestApp, key: &str, code: &str) {
    let answer: Value = send_json(
        app,
        key,
        reqwest::Method::POST,
        &format!("/api/v1/facilities/{code}/reconciliations"),
        &json!({"as_of_seq": 1, "count": 0, "digest": "0".repeat(64)}),
    )
    .await
    .json()
    .await
    .expect("reconciliation");
    assert_eq!(answer["match"], false, "{answer}");
}

db_test!(
    async fn failing_facilities_reach_each_site_admin_in_one_email(engine: Engine) {
        let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "1000")]).await;
        site_admin(&app, "ada@example.org").await;
        site_admin(&app, "grace@example.org").await;
        let pool = app.database.pool();
        let attorney = writer_accounts(pool, 1).await[0];
        flip(pool, attorney, "+12025550101", true).await;
        let provider = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let codes: Vec<String> = (1..=5).map(|i| format!("F{i}")).collect();
        for code in &codes {
            let name = format!("Facility {code} Jail");
            assert_eq!(
                put_facility(&app, &provider, code, &name).await.status(),
                200
            );
            failed_reconciliation(&app, &provider, code).await;
        }
        assert!(
            alerts(&app).await.is_empty(),
            "a failing reconciliation queues no email of its own"
        );

        housekeeping(&app).await;
        let mails = alerts(&app).await;
        assert_eq!(mails.len(), 2, "one email for each site admin: {mails:#?}");
        for to in ["ada@example.org", "grace@example.org"] {
            let mail = mails
                .iter()
                .find(|mail| mail.contains(&format!("To: {to}")))
                .unwrap_or_else(|| panic!("none to {to}"));
            for code in &codes {
                assert!(mail.contains(&format!("Facility {code} Jail")), "{mail}");
            }
            assert!(mail.contains("5 facilities"), "{mail}");
        }

        // Another failure within the period waits for the next batch.
        assert_eq!(
            put_facility(&app, &provider, "F6", "Facility F6 Jail")
                .await
                .status(),
            200
        );
        failed_reconciliation(&app, &provider, "F6").await;
        // The same ones failing again are not news.
        failed_reconciliation(&app, &provider, "F1").await;
        housekeeping(&app).await;
        assert_eq!(alerts(&app).await.len(), 2, "at most one batch per period");

        // A period later the next batch names only what is new.
        sqlx::query("UPDATE facility_alert_batches SET sent_at = sent_at - 24 * 60 * 60 * 1000")
            .execute(pool)
            .await
            .expect("backdate");
        housekeeping(&app).await;
        let mails = alerts(&app).await;
        assert_eq!(mails.len(), 4, "{mails:#?}");
        let latest = mails
            .iter()
            .filter(|mail| mail.contains("Facility F6 Jail"))
            .collect::<Vec<_>>();
        assert_eq!(latest.len(), 2);
        assert!(latest.iter().all(|mail| !mail.contains("Facility F1 Jail")));
    }
);

db_test!(
    async fn the_openapi_document_shows_the_new_refusals(engine: Engine) {
        let app = spawn_app_with(engine, &[]).await;
        let document: Value = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("openapi")
            .json()
            .await
            .expect("json");
        let documented = |path: &str, method: &str, status: &str| {
            !document["paths"][path][method]["responses"][status]["content"]
                ["application/problem+json"]
                .is_null()
        };
        for (path, method) in [
            ("/api/v1/registry/snapshot", "get"),
            ("/api/v1/registry/digests", "get"),
            ("/api/v1/facilities/{code}/reconciliations", "post"),
        ] {
            for status in ["429", "503"] {
                assert!(documented(path, method, status), "{method} {path} {status}");
            }
        }
        assert!(documented("/api/v1/facilities/{code}", "put", "409"));
    }
);
