//! Hostile input (issue 24): megabytes of commas, `x` or `#` in a phone
//! field are refused before the field is read, in a page's form and in a
//! provider's call audit, and the server keeps answering meanwhile. How
//! fast is measured by `.ci/bench-hostile`, not here.

use serde_json::{Value, json};

use app::ssr::providers::Scope;

use crate::helpers::journeys::{PASSWORD, key, log_in, verified_account};
use crate::helpers::{Engine, TestApp, form_error, spawn_app};

/// Under the API's 4 MiB body limit, so the field reaches the reader.
const API_FIELD_BYTES: usize = 3 * 1024 * 1024;
/// Under the 2 MiB a form body may carry once URL-encoded (a comma is
/// three bytes there), for the same reason.
const FORM_FIELD_BYTES: usize = 600 * 1024;

async fn add_number(app: &TestApp, number: &str, extension: &str) -> reqwest::Response {
    app.post_form_from(
        "/numbers",
        "/api/add_number",
        &[("number", number), ("label", ""), ("extension", extension)],
    )
    .await
}

async fn audit(app: &TestApp, key: &str, e164: &str) -> Value {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/audit/calls"))
        .bearer_auth(key)
        .json(&json!({"calls": [
            {"call_id": "hostile", "e164": e164, "started_at": "2999-01-01T00:00:00Z"}
        ]}))
        .send()
        .await
        .expect("audit request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("audit json")
}

db_test!(
    async fn megabytes_in_phone_fields_are_refused_while_health_answers(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        let auditor = key(&app, "Acme Phones", &[Scope::AuditWrite]).await;

        let form_fill = |filler: &str| {
            format!(
                "202 555 0143{}",
                filler.repeat(FORM_FIELD_BYTES / filler.len())
            )
        };
        let api_fill = |filler: &str| {
            format!(
                "202 555 0143{}",
                filler.repeat(API_FIELD_BYTES / filler.len())
            )
        };
        let commas = form_fill(",");
        let exes = form_fill("x");
        let hashes = api_fill("#");
        let api_commas = api_fill(",");
        // Four at once, with /healthz asked while they run.
        let (number_field, extension_field, audit_hashes, audit_commas, health) = tokio::join!(
            add_number(&app, &commas, ""),
            add_number(&app, "202 555 0143", &exes),
            audit(&app, &auditor, &hashes),
            audit(&app, &auditor, &api_commas),
            app.get("/healthz"),
        );
        assert_eq!(health.status(), 200);
        for (response, length) in [
            (number_field, commas.chars().count()),
            (extension_field, exes.chars().count()),
        ] {
            let error = form_error(&response).expect("the form is refused");
            assert!(
                error.contains(&format!(
                    "A phone field is at most 80 characters, label and extension included; \
                     this one has {length}."
                )),
                "{error}"
            );
            // The refusal does not carry the field back.
            assert!(error.len() < 200, "{} bytes", error.len());
        }
        for answer in [audit_hashes, audit_commas] {
            let result = &answer["results"][0];
            assert_eq!(result["result"], "unreadable", "{result}");
            let reason = result["reason"].as_str().expect("reason");
            assert!(reason.contains("at most 80 characters"), "{reason}");
        }
        let registered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registrations")
            .fetch_one(app.database.pool())
            .await
            .expect("count");
        assert_eq!(registered, 0, "nothing was registered");
    }
);
