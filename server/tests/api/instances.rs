//! Two instances of the real binary on one database (issue 16, item 1):
//! what one instance writes the other serves, a visitor's session moves
//! between them as a load balancer would move it, and one instance killed
//! with SIGKILL mid-flight and started again loses nothing.
//!
//! Not driven here (covered in one process elsewhere): a code send's
//! retries (`numbers.rs`, `jobs.rs`), a webhook's retries and refusals
//! (`webhooks.rs`), and a roster upload's progress read from another
//! instance's board (`operations.rs`).

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use app::ssr::infra::audit_trail::Actor;
use app::ssr::providers::{self, Scope};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::journeys::{
    PASSWORD, apply_changes, flip, privileged_set, sign_up_form, start_writers, token_of,
};
use crate::helpers::{Engine, TestDatabase, browser_like_client, eventually};

/// One server process and the address it listens on.
struct Instance {
    child: Child,
    origin: String,
}

impl Instance {
    /// Starts the real binary on `database_url`, mail and codes written to
    /// `outbox` (shared, as one mail relay would be), and waits until it
    /// says where it listens.
    async fn start(database_url: &str, outbox: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json")
            .env("DATABASE_URL", database_url)
            .env("DATABASE_MAX_CONNECTIONS", "5")
            .env("BIND_ADDRESS", "127.0.0.1:0")
            .env("MAIL_OUTBOX_DIR", outbox)
            .env("CODE_OUTBOX_DIR", outbox)
            .env("JOB_POLL_INTERVAL_SECS", "1")
            .env("API_REQUESTS_PER_SECOND", "100000")
            .env("WEBHOOK_ALLOW_LOOPBACK", "true")
            .env("REVIEW_DOCUMENTS_DIR", outbox.join("review-documents"))
            .env("ROSTER_FILES_DIR", outbox.join("roster-files"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read log") {
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if entry["fields"]["message"] == "listening" {
                    return entry["fields"]["address"]
                        .as_str()
                        .expect("address")
                        .to_owned();
                }
            }
            panic!("the server stopped before listening");
        })
        .await
        .expect("the server listens within 60 s");
        // Keep reading, so a full pipe never blocks the server's logging.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            origin: format!("http://{address}"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// SIGKILL: no shutdown, no draining, as a crashed machine.
    async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }
}

/// The verification link's token in the one email to `to` in `outbox`;
/// panics if there are two (a mail job run twice).
fn only_token_to(outbox: &std::path::Path, to: &str) -> Option<String> {
    let header = format!("To: {to}");
    let mails: Vec<String> = std::fs::read_dir(outbox)
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter(|mail| mail.contains(&header))
        .collect();
    assert!(mails.len() <= 1, "{to} was mailed {} times", mails.len());
    let mail = mails.into_iter().next()?;
    let start = mail.find("token=")?;
    let link = mail[start..].split(char::is_whitespace).next()?;
    Some(token_of(link))
}

async fn api(client: &reqwest::Client, key: &str, url: String) -> Value {
    let response = client
        .get(&url)
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("json")
}

db_test!(
    async fn two_instances_on_one_database_lose_nothing_when_one_is_killed(engine: Engine) {
        let database = TestDatabase::create(engine).await;
        let outbox = tempfile::tempdir().expect("outbox");
        let a = Instance::start(&database.url, outbox.path()).await;
        let mut b = Instance::start(&database.url, outbox.path()).await;
        let pool = app::ssr::infra::db::Database::connect(&database.url, 10)
            .await
            .expect("connect");
        let pool = pool.pool().clone();

        // Sign-ups alternate between the instances; B is killed after the
        // third and started again after the fifth. Each address gets one
        // confirmation email, confirmed through the other instance.
        let browser = browser_like_client();
        let emails: Vec<String> = (0..8).map(|n| format!("attorney{n}@example.org")).collect();
        for (n, email) in emails.iter().enumerate() {
            if n == 3 {
                b.kill().await;
            }
            if n == 5 {
                b = Instance::start(&database.url, outbox.path()).await;
            }
            let here = if n % 2 == 0 || (3..5).contains(&n) {
                &a
            } else {
                &b
            };
            let response = browser
                .post(here.url("/api/sign_up"))
                .header("referer", here.url("/signup"))
                .form(&sign_up_form(email, PASSWORD))
                .send()
                .await
                .expect("sign up");
            assert_eq!(response.status(), 302, "sign-up {n} on {}", here.origin);
        }
        for (n, email) in emails.iter().enumerate() {
            let token = eventually(&format!("the confirmation email to {email}"), || async {
                only_token_to(outbox.path(), email)
            })
            .await;
            let there = if n % 2 == 0 { &b } else { &a };
            let confirmed = browser
                .post(there.url("/api/verify_email"))
                .header(
                    "referer",
                    there.url(&format!("/verify-email?token={token}")),
                )
                .form(&[("token", token.as_str())])
                .send()
                .await
                .expect("verify");
            assert_eq!(
                confirmed.headers()["location"],
                "/login?verified=1",
                "{email}"
            );
        }
        // Sessions live in the database: signed in on B, known on A.
        let signed_in = browser
            .post(b.url("/api/log_in"))
            .header("referer", b.url("/login"))
            .form(&[("email", emails[0].as_str()), ("password", PASSWORD)])
            .send()
            .await
            .expect("log in");
        assert_eq!(signed_in.status(), 302);
        let account = browser
            .get(a.url("/account"))
            .send()
            .await
            .expect("account");
        assert_eq!(account.status(), 200, "the session made on B is known on A");
        let page = account.text().await.expect("page");
        assert!(
            page.contains(&emails[0]),
            "A shows the account signed in on B"
        );
        // A number added on A, its code asked for on B and proven on A.
        let form = |instance: &Instance, path: &str, fields: &[(&str, &str)]| {
            browser
                .post(instance.url(path))
                .header("referer", instance.url("/numbers"))
                .form(fields)
                .send()
        };
        let added = form(
            &a,
            "/api/add_number",
            &[("number", "202-456-1111"), ("label", ""), ("extension", "")],
        )
        .await
        .expect("add");
        assert_eq!(added.status(), 302);
        let id: i64 = sqlx::query_scalar("SELECT id FROM registrations")
            .fetch_one(&pool)
            .await
            .expect("registration");
        let id = id.to_string();
        let sent = form(
            &b,
            "/api/send_number_code",
            &[("registration", &id), ("channel", "sms")],
        )
        .await
        .expect("send");
        assert_eq!(sent.headers()["location"], format!("/numbers?sent={id}"));
        let code = crate::helpers::journeys::latest_code(outbox.path());
        let proven = form(
            &a,
            "/api/prove_number",
            &[("registration", &id), ("code", &code)],
        )
        .await
        .expect("prove");
        assert_eq!(
            proven.headers()["location"],
            format!("/numbers?proven={id}")
        );

        // Every job ran once, whichever instance held it.
        let count = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .expect("jobs")
            }
        };
        assert_eq!(
            count("SELECT COUNT(*) FROM jobs WHERE state <> 'done'").await,
            0,
            "every job is done"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM jobs WHERE attempts > 1").await,
            0,
            "no job ran twice"
        );
        let code_messages = std::fs::read_dir(outbox.path())
            .expect("outbox")
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "txt"))
            .count();
        assert_eq!(code_messages, 1, "one code, sent once");

        // The provider feed: writers (a third process's worth of registry
        // transactions) change the registry while a consumer pages through
        // the change feed on A and B in turn, acknowledging each page on
        // the other. B is killed mid-way and started again.
        let actor = Actor::command_line();
        providers::create_provider(&pool, &actor, "Acme Phones")
            .await
            .expect("provider");
        let key = providers::create_key(&pool, &actor, "Acme Phones", &[Scope::RegistryRead])
            .await
            .expect("key")
            .key;
        let client = reqwest::Client::new();
        // The provider's webhook, registered on B: both instances' workers
        // deliver its notices.
        let (receiver, hook_url) = crate::webhooks::start_receiver().await;
        let registered: Value = client
            .put(b.url("/api/v1/webhook"))
            .bearer_auth(&key)
            .json(&json!({ "url": hook_url }))
            .send()
            .await
            .expect("webhook")
            .json()
            .await
            .expect("json");
        *receiver.secret.lock().expect("lock") =
            Some(registered["secret"].as_str().expect("secret").to_owned());
        let writers = start_writers(&pool).await;
        let mut applied: BTreeSet<String> = BTreeSet::new();
        let mut cursor = 0_i64;
        let mut pages = 0_u32;
        let mut b_down = false;
        loop {
            pages += 1;
            if pages == 20 {
                b.kill().await;
                b_down = true;
            }
            if pages == 40 {
                b = Instance::start(&database.url, outbox.path()).await;
                b_down = false;
            }
            let (reader, acker) = match (pages % 2, b_down) {
                (_, true) => (&a, &a),
                (0, false) => (&a, &b),
                _ => (&b, &a),
            };
            let writing = writers.iter().any(|writer| !writer.is_finished());
            let page = api(
                &client,
                &key,
                reader.url(&format!("/api/v1/registry/changes?after={cursor}&limit=5")),
            )
            .await;
            cursor = apply_changes(&mut applied, cursor, &page);
            if cursor > 0 {
                let acked = client
                    .post(acker.url("/api/v1/registry/acks"))
                    .bearer_auth(&key)
                    .json(&json!({ "through_seq": cursor }))
                    .send()
                    .await
                    .expect("ack");
                assert_eq!(
                    acked.status(),
                    200,
                    "ack through {cursor} on {}",
                    acker.origin
                );
            }
            if page["changes"].as_array().is_some_and(Vec::is_empty) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !page["has_more"].as_bool().expect("has_more") && !writing && pages > 40 {
                let head = app::ssr::registry::head(&pool).await.expect("head");
                if cursor == head {
                    break;
                }
            }
        }
        for writer in writers {
            writer.await.expect("writer");
        }
        let truth = privileged_set(&pool).await;
        assert_eq!(applied, truth, "the consumer ends equal to the registry");
        let acked: i64 = sqlx::query_scalar(
            "SELECT MAX(through_seq) FROM provider_acks a JOIN providers p ON p.id = a.provider_id \
             WHERE p.name = 'Acme Phones'",
        )
        .fetch_one(&pool)
        .await
        .expect("acks");
        assert_eq!(acked, cursor, "the last acknowledgement is kept");

        // Webhooks: the last notice reaches the head, and no notice was
        // delivered twice. A notice whose job the killed B held waits for
        // its lease to run out (5 min), so it is not lost but may still be
        // queued: then it is leased, not abandoned.
        let head = app::ssr::registry::head(&pool).await.expect("head");
        eventually("a notice through the head", || async {
            receiver
                .received()
                .iter()
                .any(|(seq, status)| *seq == head && *status == 200)
                .then_some(())
        })
        .await;
        let delivered: Vec<i64> = receiver
            .received()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        let distinct: BTreeSet<i64> = delivered.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            delivered.len(),
            "a notice delivered twice: {delivered:?}"
        );
        let abandoned: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'webhook' AND state = 'queued' \
             AND (locked_until IS NULL OR locked_until < $1) AND run_at < $1",
        )
        .bind(app::ssr::infra::clock::now_millis() - 5_000)
        .fetch_one(&pool)
        .await
        .expect("jobs");
        assert_eq!(abandoned, 0, "every webhook job is done or leased");

        // Each instance answers look-ups from its own copy of the registry:
        // both agree with the database, the restarted one included, and
        // both see a change neither of them made (another instance's)
        // without being asked anything else.
        let look_ups_agree = |truth: BTreeSet<String>, numbers: Vec<&'static str>| {
            let (a, b, client, key) = (&a, &b, &client, &key);
            async move {
                for instance in [a, b] {
                    for e164 in &numbers {
                        let expected = truth.contains(*e164);
                        eventually(&format!("{e164} on {}", instance.origin), || {
                            let url = instance.url(&format!("/api/v1/numbers/{e164}"));
                            async move {
                                let answer = api(client, key, url).await;
                                (answer["privileged"] == expected).then_some(())
                            }
                        })
                        .await;
                    }
                }
            }
        };
        let mut numbers = crate::helpers::journeys::NUMBERS.to_vec();
        look_ups_agree(truth.clone(), numbers.clone()).await;
        let attorney: i64 =
            sqlx::query_scalar("SELECT id FROM users WHERE email = 'writer1@example.org'")
                .fetch_one(&pool)
                .await
                .expect("writer");
        const LATE: &str = "+12025550177";
        flip(&pool, attorney, LATE, true).await;
        numbers.push(LATE);
        let mut truth = truth;
        truth.insert(LATE.to_owned());
        look_ups_agree(truth, numbers).await;
    }
);
