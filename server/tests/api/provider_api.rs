//! The provider API v1: keys and scopes, problem documents, the feed, the
//! snapshot, acknowledgements, look-ups, audits, the rate limit, the read
//! log, the OpenAPI document, and a consumer that keeps up with writers.

use std::collections::BTreeSet;
use std::time::Duration;

use app::ssr::providers::{self, Scope};
use serde_json::{Value, json};

use crate::helpers::journeys::{flip, key, start_writers, writer_accounts};
use crate::helpers::{Engine, TestApp, eventually, problem, spawn_app, spawn_app_with};

const A: &str = "+12025550101";
const B: &str = "+12025550102";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
}

async fn post_json(app: &TestApp, key: &str, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(app.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "{:?}", response.url().path());
    response.json().await.expect("json")
}

db_test!(
    async fn audits_of_mixed_exports_answer_each_call(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let attorney = writer_accounts(pool, 1).await[0];
        flip(pool, attorney, A, true).await;
        let auditor = key(&app, "Acme Phones", &[Scope::AuditWrite]).await;
        let now = "2999-01-01T00:00:00Z";
        let calls = json!({"calls": [
            {"call_id": "privileged", "e164": "202\u{2011}555\u{2011}0101", "started_at": now},
            {"call_id": "london", "e164": "+44 20 7946 0958", "started_at": now},
            {"call_id": "jamaica", "e164": "+1 876 927 1234", "started_at": now},
            {"call_id": "garbled", "e164": "letters", "started_at": now},
            {"call_id": "invisible", "e164": "202\u{200B}555 0101", "started_at": now},
            {"call_id": "empty", "e164": "", "started_at": now},
            {"call_id": "premium", "e164": "1-900-976-1234", "started_at": now},
            {"call_id": "other", "e164": "(202) 555-0199", "started_at": now},
        ]});
        let response = post_json(&app, &auditor, "/api/v1/audit/calls", &calls).await;
        let audit = json(response).await;
        // The field providers already read is unchanged.
        assert_eq!(
            audit["privileged_calls"],
            json!([{"call_id": "privileged", "e164": A, "privileged_since": audit["results"][0]["privileged_since"]}])
        );
        let results = audit["results"].as_array().expect("results");
        let answers: Vec<(&str, &str, Option<&str>)> = results
            .iter()
            .map(|r| {
                (
                    r["call_id"].as_str().expect("id"),
                    r["result"].as_str().expect("result"),
                    r["e164"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            answers,
            vec![
                ("privileged", "privileged", Some(A)),
                ("london", "not_north_american", Some("+442079460958")),
                ("jamaica", "not_north_american", Some("+18769271234")),
                ("garbled", "unreadable", None),
                ("invisible", "unreadable", None),
                ("empty", "unreadable", None),
                ("premium", "not_privileged", Some("+19009761234")),
                ("other", "not_privileged", Some("+12025550199")),
            ]
        );
        assert!(results[0]["privileged_since"].as_str().is_some());
        assert!(results[0]["reason"].is_null() && results[7]["reason"].is_null());
        let reason = |i: usize| results[i]["reason"].as_str().expect("reason").to_owned();
        assert!(reason(2).contains("Jamaica"), "{}", reason(2));
        assert!(reason(4).contains("U+200B"), "{}", reason(4));
        assert!(!reason(4).contains('\u{200B}'));

        // An unreadable instant is still a malformed request.
        let (status, detail) = problem(
            post_json(
                &app,
                &auditor,
                "/api/v1/audit/calls",
                &json!({"calls": [{"call_id": "x", "e164": A, "started_at": "yesterday"}]}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, detail.contains("calls[0].started_at")),
            (400, true),
            "{detail}"
        );

        // The OpenAPI document describes the per-call answers.
        let document = json(
            app.client
                .get(app.url("/api/v1/openapi.json"))
                .send()
                .await
                .expect("openapi"),
        )
        .await;
        let verdicts = &document["components"]["schemas"]["CallVerdict"]["enum"];
        assert_eq!(
            verdicts,
            &json!([
                "privileged",
                "not_privileged",
                "not_north_american",
                "unreadable"
            ])
        );
        assert!(
            document["components"]["schemas"]["AuditResponse"]["properties"]["results"].is_object()
        );
    }
);

db_test!(
    async fn the_feed_snapshot_acks_lookups_and_audits(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let attorney = writer_accounts(pool, 1).await[0];
        flip(pool, attorney, A, true).await; // seq 1
        let between = app::ssr::infra::clock::now_millis();
        tokio::time::sleep(Duration::from_millis(20)).await;
        flip(pool, attorney, B, true).await; // seq 2
        flip(pool, attorney, A, false).await; // seq 3
        let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let auditor = key(&app, "Acme Phones", &[Scope::AuditWrite]).await;

        // Keys and scopes.
        let anonymous = client()
            .get(app.url("/api/v1/registry/changes"))
            .send()
            .await
            .expect("request");
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
        assert_eq!(problem(anonymous).await.0, 401);
        assert_eq!(
            problem(get(&app, "crk_wrong", "/api/v1/registry/changes").await)
                .await
                .0,
            401
        );
        assert_eq!(
            problem(get(&app, &auditor, "/api/v1/registry/changes").await)
                .await
                .0,
            403
        );
        let (status, detail) =
            problem(post_json(&app, &reader, "/api/v1/audit/calls", &json!({"calls": []})).await)
                .await;
        assert_eq!((status, detail.contains("audit:write")), (403, true));
        assert_eq!(
            problem(get(&app, &reader, "/api/v1/no/such/path").await)
                .await
                .0,
            404
        );

        // The change feed.
        let page = json(get(&app, &reader, "/api/v1/registry/changes?after=0").await).await;
        let ops: Vec<(i64, &str, &str)> = page["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| {
                (
                    c["seq"].as_i64().expect("seq"),
                    c["e164"].as_str().expect("e164"),
                    c["op"].as_str().expect("op"),
                )
            })
            .collect();
        assert_eq!(ops, vec![(1, A, "add"), (2, B, "add"), (3, A, "remove")]);
        assert_eq!(
            (page["next_after"].as_i64(), page["has_more"].as_bool()),
            (Some(3), Some(false))
        );
        assert!(
            page["changes"][0]["at"]
                .as_str()
                .expect("at")
                .ends_with('Z')
        );
        let first =
            json(get(&app, &reader, "/api/v1/registry/changes?after=0&limit=2").await).await;
        assert_eq!(
            (first["next_after"].as_i64(), first["has_more"].as_bool()),
            (Some(2), Some(true))
        );
        let past = json(get(&app, &reader, "/api/v1/registry/changes?after=99").await).await;
        assert_eq!(past["changes"], json!([]));
        assert_eq!(past["next_after"], 99);
        for bad in [
            "after=-1",
            "after=abc",
            "after=1.5",
            "limit=0",
            "limit=10001",
            "limit=99999999999999999999999",
            "wait=61",
        ] {
            let (status, detail) =
                problem(get(&app, &reader, &format!("/api/v1/registry/changes?{bad}")).await).await;
            assert_eq!(status, 400, "{bad}: {detail}");
        }

        // Long-poll: a change made while the request waits is answered at once.
        let waiting = {
            let (url, reader) = (
                app.url("/api/v1/registry/changes?after=3&wait=20"),
                reader.clone(),
            );
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let page: Value = client()
                    .get(url)
                    .bearer_auth(reader)
                    .send()
                    .await
                    .expect("request")
                    .json()
                    .await
                    .expect("json");
                (page, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        flip(pool, attorney, A, true).await; // seq 4
        let (page, waited) = waiting.await.expect("long poll");
        assert_eq!(page["changes"][0]["seq"], 4);
        assert!(
            waited < Duration::from_secs(15),
            "answered when the change came: {waited:?}"
        );

        // The snapshot, as JSON and as NDJSON.
        let snapshot = json(get(&app, &reader, "/api/v1/registry/snapshot").await).await;
        assert_eq!(snapshot["as_of_seq"], 4);
        let numbers: Vec<&str> = snapshot["numbers"]
            .as_array()
            .expect("numbers")
            .iter()
            .map(|n| n["e164"].as_str().expect("e164"))
            .collect();
        assert_eq!(numbers, vec![A, B], "sorted by e164");
        let ndjson = client()
            .get(app.url("/api/v1/registry/snapshot"))
            .bearer_auth(&reader)
            .header("accept", "application/x-ndjson")
            .send()
            .await
            .expect("request");
        assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
        let text = ndjson.text().await.expect("text");
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        assert_eq!(lines[0], json!({"as_of_seq": 4}));
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["e164"], B);
        // Compressed, as clients that send Accept-Encoding get it: the body
        // ends cleanly (the compression layer polls past the stream's end).
        let compressed = client()
            .get(app.url("/api/v1/registry/snapshot"))
            .bearer_auth(&reader)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("request");
        assert_eq!(compressed.headers()["content-encoding"], "gzip");
        assert!(!compressed.bytes().await.expect("the whole body").is_empty());

        // Acknowledgements.
        let acked = json(
            post_json(
                &app,
                &reader,
                "/api/v1/registry/acks",
                &json!({"through_seq": 2}),
            )
            .await,
        )
        .await;
        assert_eq!(acked["through_seq"], 2);
        let again = json(
            post_json(
                &app,
                &reader,
                "/api/v1/registry/acks",
                &json!({"through_seq": 2}),
            )
            .await,
        )
        .await;
        assert_eq!(
            again["acked_at"], acked["acked_at"],
            "the same ack answers with its time"
        );
        for (body, expected) in [
            (json!({"through_seq": 1}), 409),
            (json!({"through_seq": 99}), 409),
            (json!({"through_seq": -3}), 400),
            (json!({"through": 3}), 400),
        ] {
            let (status, detail) =
                problem(post_json(&app, &reader, "/api/v1/registry/acks", &body).await).await;
            assert_eq!(status, expected, "{body}: {detail}");
        }
        let not_json = client()
            .post(app.url("/api/v1/registry/acks"))
            .bearer_auth(&reader)
            .header("content-type", "application/json")
            .body("{\"through_seq\": ")
            .send()
            .await
            .expect("request");
        assert_eq!(problem(not_json).await.0, 400);
        let wrong_type = client()
            .post(app.url("/api/v1/registry/acks"))
            .bearer_auth(&reader)
            .header("content-type", "text/plain")
            .body("through_seq=3")
            .send()
            .await
            .expect("request");
        assert_eq!(problem(wrong_type).await.0, 415);
        // What attorneys see: B's interval (added at seq 2) is applied; A's
        // current one (added again at seq 4) is not yet.
        let applied = providers::applied_by(pool, B).await.expect("applied");
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].0, "Acme Phones");
        assert!(
            providers::applied_by(pool, A)
                .await
                .expect("applied")
                .is_empty()
        );
        let acks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_acks")
            .fetch_one(pool)
            .await
            .expect("acks");
        assert_eq!(acks, 1, "refused acks store nothing");

        // Look-ups, now and then.
        let b = json(get(&app, &reader, "/api/v1/numbers/(202)%20555-0102").await).await;
        assert_eq!(
            (b["e164"].as_str(), b["privileged"].as_bool()),
            (Some(B), Some(true))
        );
        assert!(b["until"].is_null());
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(between) * 1_000_000)
            .expect("instant")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("rfc3339");
        let then = json(get(&app, &reader, &format!("/api/v1/numbers/{B}?at={at}")).await).await;
        assert_eq!(then["privileged"], false, "B was added after {at}");
        assert!(
            then["until"].as_str().is_some(),
            "…and became privileged later"
        );
        let a_then = json(get(&app, &reader, &format!("/api/v1/numbers/{A}?at={at}")).await).await;
        assert_eq!(a_then["privileged"], true);
        assert!(a_then["until"].as_str().is_some(), "A was removed later");
        for bad in [
            "/api/v1/numbers/202-456-111",
            "/api/v1/numbers/+442079460958",
            &format!("/api/v1/numbers/{A}?at=yesterday"),
        ] {
            assert_eq!(problem(get(&app, &reader, bad).await).await.0, 400, "{bad}");
        }

        // Call audits.
        let calls = json!({"calls": [
            {"call_id": "c1", "e164": "202.555.0101", "started_at": at},
            {"call_id": "c2", "e164": B, "started_at": at},
            {"call_id": "c3", "e164": "(202) 555-0102", "started_at": "2999-01-01T00:00:00Z"},
        ]});
        let audit = json(post_json(&app, &auditor, "/api/v1/audit/calls", &calls).await).await;
        let ids: Vec<&str> = audit["privileged_calls"]
            .as_array()
            .expect("calls")
            .iter()
            .map(|c| c["call_id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, vec!["c1", "c3"]);
        assert_eq!(audit["privileged_calls"][0]["e164"], A);
        let too_many: Vec<Value> = (0..10_001)
            .map(|n| json!({"call_id": n.to_string(), "e164": A, "started_at": at}))
            .collect();
        let (status, detail) = problem(
            post_json(
                &app,
                &auditor,
                "/api/v1/audit/calls",
                &json!({"calls": too_many}),
            )
            .await,
        )
        .await;
        assert_eq!((status, detail.contains("10000")), (400, true), "{detail}");

        // Every read is logged; a revoked key stops working at once.
        let reads: i64 = eventually("the reads are logged", || async {
            // Look-ups are counted per hour, the other reads kept as made.
            let count: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM provider_reads) \
                 + (SELECT CAST(COALESCE(SUM(lookups), 0) AS BIGINT) FROM provider_lookup_counts)",
            )
            .fetch_one(pool)
            .await
            .expect("reads");
            (count >= 10).then_some(count)
        })
        .await;
        assert!(reads >= 10);
        crate::helpers::journeys::revoke_key(pool, &reader[..12]).await;
        refused_within_the_cache_ttl(&app, &reader).await;
    }
);

/// A revoked key is refused once the instance's key cache has let it go
/// (`KEY_CACHE_TTL`, 2 s): checked over at most 3 s.
async fn refused_within_the_cache_ttl(app: &TestApp, key: &str) {
    let started = std::time::Instant::now();
    loop {
        let response = get(app, key, "/api/v1/registry/changes").await;
        if response.status() == 401 {
            assert_eq!(problem(response).await.0, 401);
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "a revoked key still works after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

db_test!(
    async fn a_key_over_its_rate_limit_is_told_when_to_retry(engine: Engine) {
        let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "2")]).await;
        let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let mut limited = None;
        for _ in 0..10 {
            let response = get(&app, &reader, "/api/v1/registry/changes").await;
            if response.status() == 429 {
                limited = Some(response);
                break;
            }
        }
        let limited = limited.expect("a 429 within 10 quick requests");
        let retry: u64 = limited.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!(retry >= 1);
        assert_eq!(problem(limited).await.0, 429);
    }
);

db_test!(
    async fn the_openapi_document_covers_every_endpoint_and_status(engine: Engine) {
        let app = spawn_app(engine).await;
        let document: Value = json(
            client()
                .get(app.url("/api/v1/openapi.json"))
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert!(
            document["openapi"]
                .as_str()
                .expect("version")
                .starts_with("3.1")
        );
        let documented = |path: &str, method: &str, status: &str| {
            !document["paths"][path][method]["responses"][status].is_null()
        };
        let authenticated = [
            ("/api/v1/registry/snapshot", "get"),
            ("/api/v1/registry/changes", "get"),
            ("/api/v1/registry/acks", "post"),
            ("/api/v1/numbers/{e164}", "get"),
            ("/api/v1/audit/calls", "post"),
        ];
        for (path, method) in authenticated {
            for status in ["200", "401", "403", "429"] {
                assert!(documented(path, method, status), "{method} {path} {status}");
            }
            let problem_schema = &document["paths"][path][method]["responses"]["401"]["content"]["application/problem+json"];
            assert!(!problem_schema.is_null(), "{path}: problem+json documented");
        }
        for (path, method, status) in [
            ("/api/v1/registry/changes", "get", "400"),
            ("/api/v1/registry/acks", "post", "400"),
            ("/api/v1/registry/acks", "post", "409"),
            ("/api/v1/registry/acks", "post", "415"),
            ("/api/v1/numbers/{e164}", "get", "400"),
            ("/api/v1/audit/calls", "post", "400"),
            ("/api/v1/audit/calls", "post", "415"),
            ("/api/v1/webhook", "put", "422"),
        ] {
            assert!(documented(path, method, status), "{method} {path} {status}");
        }
        assert!(!document["components"]["securitySchemes"]["bearer"].is_null());
    }
);

db_test!(
    async fn a_consumer_of_snapshot_and_feed_keeps_up_with_writers(engine: Engine) {
        // The consumer polls as fast as it can: above the default per-key
        // limit (tested on its own above).
        let app = spawn_app_with(engine, &[("API_REQUESTS_PER_SECOND", "100000")]).await;
        let pool = app.database.pool().clone();
        let reader = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let writers = start_writers(&pool).await;

        // Apply the snapshot taken mid-way, then follow the feed after it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let snapshot = json(get(&app, &reader, "/api/v1/registry/snapshot").await).await;
        let mut applied: BTreeSet<String> = snapshot["numbers"]
            .as_array()
            .expect("numbers")
            .iter()
            .map(|n| n["e164"].as_str().expect("e164").to_owned())
            .collect();
        let mut cursor = snapshot["as_of_seq"].as_i64().expect("seq");
        loop {
            let writing = writers.iter().any(|w| !w.is_finished());
            let page = json(
                get(
                    &app,
                    &reader,
                    &format!("/api/v1/registry/changes?after={cursor}&limit=5"),
                )
                .await,
            )
            .await;
            cursor = crate::helpers::journeys::apply_changes(&mut applied, cursor, &page);
            if page["changes"].as_array().is_some_and(Vec::is_empty) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if !page["has_more"].as_bool().expect("has_more") && !writing {
                let head = app::ssr::registry::head(&pool).await.expect("head");
                if cursor == head {
                    break;
                }
            }
        }
        for writer in writers {
            writer.await.expect("writer");
        }
        let truth = crate::helpers::journeys::privileged_set(&pool).await;
        assert_eq!(applied, truth, "the consumer ends equal to the registry");
    }
);

db_test!(
    async fn site_admins_manage_providers_and_keys_in_the_portal(engine: Engine) {
        use crate::helpers::form_error;
        use crate::helpers::journeys::{
            body, enrolled_site_admin, key_made_in_portal, location, new_key_in,
            provider_added_in_portal,
        };

        let app = spawn_app(engine).await;
        let attorney = writer_accounts(app.database.pool(), 1).await[0];
        flip(app.database.pool(), attorney, A, true).await;
        enrolled_site_admin(&app, "ada@example.org").await;
        provider_added_in_portal(&app, "Acme Phones").await;
        let twice = app
            .post_form_from(
                "/admin/providers",
                "/api/create_provider",
                &[("name", "Acme Phones")],
            )
            .await;
        assert!(
            form_error(&twice)
                .expect("error")
                .contains("exists already")
        );
        let no_scope = app
            .post_form_from(
                "/admin/providers",
                "/api/create_provider_key",
                &[("provider", "Acme Phones")],
            )
            .await;
        assert!(
            form_error(&no_scope)
                .expect("error")
                .contains("Choose what the key may do")
        );
        key_made_in_portal(&app, "Acme Phones").await;
        let page = body(app.get("/admin/providers?key=1").await).await;
        let key = new_key_in(&page);
        assert!(
            page.contains("Never acknowledged; 1 changes behind"),
            "{page}"
        );
        assert!(page.contains("Behind for over an hour"), "flagged: {page}");
        let again = body(app.get("/admin/providers").await).await;
        assert!(!again.contains(&key), "shown once only");
        assert!(again.contains(&key[..12]), "the prefix stays visible");

        assert_eq!(
            get(&app, &key, "/api/v1/registry/changes").await.status(),
            200
        );
        let revoked = app
            .post_form_from(
                "/admin/providers",
                "/api/revoke_provider_key",
                &[("prefix", &key[..12])],
            )
            .await;
        assert_eq!(location(&revoked), "/admin/providers?revoked=1");
        refused_within_the_cache_ttl(&app, &key).await;
    }
);
