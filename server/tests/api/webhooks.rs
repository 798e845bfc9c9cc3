//! Webhooks: a provider registers an endpoint; each change of the
//! registry reaches it signed per Standard Webhooks (checked here with the
//! spec's reference crate); failures are retried from the job queue; a
//! 410 disables the endpoint; every attempt is logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::ssr::providers::Scope;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::journeys::{flip, writer_accounts};
use crate::helpers::{Engine, TestApp, eventually, spawn_app, spawn_app_with};

/// The receivers here listen on loopback, which webhooks may reach only
/// with the development setting.
async fn spawn_app_with_loopback_webhooks(engine: Engine) -> TestApp {
    spawn_app_with(engine, &[("WEBHOOK_ALLOW_LOOPBACK", "true")]).await
}

/// A webhook endpoint on loopback that checks each delivery's signature
/// (also used by `instances.rs`).
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) secret: Arc<Mutex<Option<String>>>,
    /// Statuses to answer with, in order; 200 once they run out.
    answers: Arc<Mutex<VecDeque<u16>>>,
    /// The through_seq of each verified delivery, with the status given.
    received: Arc<Mutex<Vec<(i64, u16)>>>,
}

async fn hook(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secret = receiver
        .secret
        .lock()
        .expect("lock")
        .clone()
        .expect("secret");
    standardwebhooks::Webhook::new(&secret)
        .expect("secret")
        .verify(&body, &headers)
        .expect("a valid Standard Webhooks signature");
    let payload: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(payload["type"], "registry.changed");
    let status = receiver
        .answers
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(200);
    receiver
        .received
        .lock()
        .expect("lock")
        .push((payload["through_seq"].as_i64().expect("seq"), status));
    StatusCode::from_u16(status).expect("status")
}

pub(crate) async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let router = Router::new()
        .route("/hook", post(hook))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (receiver, format!("http://{address}/hook"))
}

async fn put_webhook(app: &TestApp, key: &str, url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .put(app.url("/api/v1/webhook"))
        .bearer_auth(key)
        .json(&json!({ "url": url }))
        .send()
        .await
        .expect("request")
}

impl Receiver {
    /// The next deliveries are answered with `statuses`, in order.
    pub(crate) fn answer_next(&self, statuses: &[u16]) {
        self.answers.lock().expect("lock").extend(statuses);
    }

    pub(crate) fn received(&self) -> Vec<(i64, u16)> {
        self.received.lock().expect("lock").clone()
    }
}

db_test!(
    async fn changes_reach_the_endpoint_signed_retried_and_logged(engine: Engine) {
        let app = spawn_app_with_loopback_webhooks(engine).await;
        let pool = app.database.pool();
        let key = crate::helpers::journeys::key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let (receiver, url) = start_receiver().await;

        for bad in [
            "http://example.com/hook",
            "ftp://127.0.0.1/hook",
            "not a url",
            "https://acme:hunter2@hooks.example.com/hook",
        ] {
            assert_eq!(put_webhook(&app, &key, bad).await.status(), 400, "{bad}");
        }
        let registered: Value = put_webhook(&app, &key, &url)
            .await
            .json()
            .await
            .expect("json");
        let secret = registered["secret"].as_str().expect("secret").to_owned();
        assert!(secret.starts_with("whsec_"));
        *receiver.secret.lock().expect("lock") = Some(secret);

        let attorney = writer_accounts(pool, 1).await[0];
        flip(pool, attorney, "+12025550101", true).await; // seq 1
        eventually("the first delivery", || async {
            (receiver.received() == vec![(1, 200)]).then_some(())
        })
        .await;

        // A failure is retried from the queue (its backoff brought forward).
        receiver.answers.lock().expect("lock").push_back(500);
        flip(pool, attorney, "+12025550102", true).await; // seq 2
        eventually("the failed attempt", || async {
            (receiver.received().len() == 2).then_some(())
        })
        .await;
        assert_eq!(receiver.received()[1], (2, 500));
        // Finished, not merely claimed: a claimed job has its attempt
        // counted already, and its failure would set a backoff after ours.
        eventually("the retry is queued", || async {
            let queued: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'webhook' AND state = 'queued' AND attempts = 1 \
                 AND locked_until IS NULL",
            )
            .fetch_one(pool)
            .await
            .expect("jobs");
            (queued == 1).then_some(())
        })
        .await;
        sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
            .execute(pool)
            .await
            .expect("due");
        eventually("the retry succeeds", || async {
            (receiver.received().last() == Some(&(2, 200))).then_some(())
        })
        .await;

        // 410 Gone disables the endpoint: nothing more is sent.
        receiver.answers.lock().expect("lock").push_back(410);
        flip(pool, attorney, "+12025550103", true).await; // seq 3
        eventually("the endpoint is disabled", || async {
            let disabled: Option<i64> =
                sqlx::query_scalar("SELECT disabled_at FROM webhook_endpoints")
                    .fetch_one(pool)
                    .await
                    .expect("endpoint");
            disabled.map(|_| ())
        })
        .await;
        let sent = receiver.received().len();
        flip(pool, attorney, "+12025550104", true).await; // seq 4
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(
            receiver.received().len(),
            sent,
            "a disabled endpoint hears nothing"
        );

        let logged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries")
            .fetch_one(pool)
            .await
            .expect("log");
        assert_eq!(logged, sent as i64, "every attempt is in the delivery log");
        let unregistered = reqwest::Client::new()
            .delete(app.url("/api/v1/webhook"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request");
        assert_eq!(unregistered.status(), 204);
    }
);

db_test!(
    async fn endpoints_off_the_public_internet_are_refused_when_registered(engine: Engine) {
        let app = spawn_app(engine).await;
        let key = crate::helpers::journeys::key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        for (url, address, why) in [
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
                "link-local",
            ),
            ("https://10.0.0.5/hook", "10.0.0.5", "private"),
            (
                "http://127.0.0.1:5432/",
                "127.0.0.1",
                "WEBHOOK_ALLOW_LOOPBACK",
            ),
            (
                "https://[::ffff:127.0.0.1]/hook",
                "[::ffff:7f00:1]",
                "loopback",
            ),
            ("https://[fd00::1]/hook", "[fd00::1]", "unique local"),
            ("https://100.64.0.1/hook", "100.64.0.1", "shared"),
            (
                "https://[64:ff9b::a00:5]/hook",
                "[64:ff9b::a00:5]",
                "private",
            ),
            ("https://0x7f.1/hook", "127.0.0.1", "loopback"),
            ("https://localhost/hook", "localhost", "loopback"),
        ] {
            let response = put_webhook(&app, &key, url).await;
            assert_eq!(response.status(), 422, "{url}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let problem: Value = response.json().await.expect("problem");
            let detail = problem["detail"].as_str().expect("detail");
            assert!(detail.contains(address), "{url}: {detail}");
            assert!(detail.contains(why), "{url}: {detail}");
        }
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints")
            .fetch_one(app.database.pool())
            .await
            .expect("count");
        assert_eq!(stored, 0, "nothing refused is stored");
    }
);

db_test!(
    async fn a_name_resolving_to_loopback_is_not_called(engine: Engine) {
        let app = spawn_app_without_loopback_and_worker(engine).await;
        let pool = app.database.pool();
        let key = crate::helpers::journeys::key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let (receiver, url) = start_receiver().await;
        let registered: Value = put_webhook(&app, &key, "https://hooks.provider.example/x")
            .await
            .json()
            .await
            .expect("json");
        *receiver.secret.lock().expect("lock") =
            Some(registered["secret"].as_str().expect("secret").to_owned());
        // The name passed when registered and resolves to this machine now
        // (DNS rebinding); `localhost` stands for such a name, over HTTP
        // since the receiver has no certificate.
        let rebound = url.replace("127.0.0.1", "localhost");
        sqlx::query("UPDATE webhook_endpoints SET url = $1")
            .bind(&rebound)
            .execute(pool)
            .await
            .expect("rebind");
        let attorney = writer_accounts(pool, 1).await[0];
        flip(pool, attorney, "+12025550101", true).await;
        app.run_due_jobs().await;
        assert!(receiver.received().is_empty(), "loopback was reached");
        let (status, error, disabled): (Option<i64>, Option<String>, Option<i64>) = sqlx::query_as(
            "SELECT d.status, d.error, e.disabled_at FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id",
        )
        .fetch_one(pool)
        .await
        .expect("one attempt logged");
        assert_eq!(status, None);
        let error = error.expect("an error");
        assert!(error.contains("no public address"), "{error}");
        assert!(error.contains("loopback"), "{error}");
        assert_eq!(
            disabled, None,
            "a name may resolve elsewhere later: retried"
        );

        // A host written as an address never reaches the resolver: checked
        // before the call, and the endpoint disabled with the reason.
        sqlx::query("UPDATE webhook_endpoints SET url = $1")
            .bind(&url)
            .execute(pool)
            .await
            .expect("literal");
        sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
            .execute(pool)
            .await
            .expect("due");
        app.run_due_jobs().await;
        assert!(receiver.received().is_empty(), "loopback was reached");
        let reason: Option<String> =
            sqlx::query_scalar("SELECT disabled_reason FROM webhook_endpoints")
                .fetch_one(pool)
                .await
                .expect("endpoint");
        let reason = reason.expect("disabled");
        assert!(reason.contains("127.0.0.1"), "{reason}");
    }
);

/// Loopback receivers allowed (development), the worker idle: the test
/// runs the jobs itself.
async fn spawn_app_with_loopback_webhooks_and_idle_worker(engine: Engine) -> TestApp {
    spawn_app_with(
        engine,
        &[
            ("WEBHOOK_ALLOW_LOOPBACK", "true"),
            ("JOB_POLL_INTERVAL_SECS", "3600"),
        ],
    )
    .await
}

/// Webhooks as in production (public addresses only), the worker idle.
async fn spawn_app_without_loopback_and_worker(engine: Engine) -> TestApp {
    spawn_app_with(engine, &[("JOB_POLL_INTERVAL_SECS", "3600")]).await
}

db_test!(
    async fn a_provider_whose_last_key_is_revoked_hears_nothing(engine: Engine) {
        let app = spawn_app_with_loopback_webhooks_and_idle_worker(engine).await;
        let pool = app.database.pool();
        let first =
            crate::helpers::journeys::key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let second = app::ssr::providers::create_key(
            pool,
            &app::ssr::infra::audit_trail::Actor::command_line(),
            "Acme Phones",
            &[Scope::AuditWrite],
        )
        .await
        .expect("second key");
        let (receiver, url) = start_receiver().await;
        let registered: Value = put_webhook(&app, &first, &url)
            .await
            .json()
            .await
            .expect("json");
        *receiver.secret.lock().expect("lock") =
            Some(registered["secret"].as_str().expect("secret").to_owned());
        let attorney = writer_accounts(pool, 1).await[0];

        // One key of two revoked: the provider still hears.
        crate::helpers::journeys::revoke_key(pool, &first[..12]).await;
        flip(pool, attorney, "+12025550101", true).await; // seq 1
        app.run_due_jobs().await;
        assert_eq!(receiver.received(), vec![(1, 200)]);

        // A delivery queued before the last key goes is not sent, and the
        // endpoint is disabled, saying why.
        flip(pool, attorney, "+12025550102", true).await; // seq 2
        app::ssr::providers::webhooks::dispatch(pool)
            .await
            .expect("queued");
        crate::helpers::journeys::revoke_key(pool, &second.prefix).await;
        app.run_due_jobs().await;
        flip(pool, attorney, "+12025550103", true).await; // seq 3
        app.run_due_jobs().await;
        assert_eq!(
            receiver.received(),
            vec![(1, 200)],
            "nothing after the last key"
        );
        let reason: Option<String> =
            sqlx::query_scalar("SELECT disabled_reason FROM webhook_endpoints")
                .fetch_one(pool)
                .await
                .expect("endpoint");
        assert!(
            reason
                .as_deref()
                .is_some_and(|reason| reason.contains("no active API key")),
            "{reason:?}"
        );
    }
);

db_test!(
    async fn a_redirect_is_not_followed_and_a_large_answer_not_read(engine: Engine) {
        let app = spawn_app_with_loopback_webhooks_and_idle_worker(engine).await;
        let pool = app.database.pool();
        let key = crate::helpers::journeys::key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        let (receiver, target) = start_receiver().await;
        // An endpoint that answers 307 to the real receiver, with 1 MB of
        // body nobody asked for.
        let moved = Router::new().route(
            "/moved",
            post(move || {
                let target = target.clone();
                async move {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [("location", target)],
                        "x".repeat(1024 * 1024),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, moved).await });
        let registered: Value = put_webhook(&app, &key, &format!("http://{address}/moved"))
            .await
            .json()
            .await
            .expect("json");
        *receiver.secret.lock().expect("lock") =
            Some(registered["secret"].as_str().expect("secret").to_owned());

        let attorney = writer_accounts(pool, 1).await[0];
        flip(pool, attorney, "+12025550101", true).await;
        app.run_due_jobs().await;
        assert!(receiver.received().is_empty(), "the redirect was followed");
        let (status, error): (Option<i64>, Option<String>) =
            sqlx::query_as("SELECT status, error FROM webhook_deliveries")
                .fetch_one(pool)
                .await
                .expect("one attempt logged");
        assert_eq!(status, Some(307));
        let excerpt = error.expect("the start of the answer");
        assert_eq!(excerpt.len(), 1024, "at most 1 KiB of the answer is kept");
    }
);
