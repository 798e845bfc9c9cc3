//! Two instances of the real binary on one database (issue 16, item 1):
//! what one instance writes the other serves, a visitor's session moves
//! between them as a load balancer would move it, and one instance killed
//! with SIGKILL mid-flight and started again loses nothing: sign-ups, code
//! sends and their retries, a roster upload and its progress, the change
//! feed with acknowledgements, webhooks with their retries and refusals.
//!
//! Where a test needs time to pass (a retry's backoff, the 5-minute lease
//! of a job whose instance died) it moves the job's times forward in the
//! database instead of waiting.
//!
//! Not a job, so not carried over: a code's first send is made by the
//! request that asks for it. An instance killed during it fails that
//! request like any other in flight; the code's row stays (Twilio may have
//! sent it), and the attorney may ask again after 30 seconds.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use app::ssr::infra::audit_trail::Actor;
use app::ssr::providers::{self, Scope};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::journeys::{
    PASSWORD, apply_changes, enrolled_site_admin, flip, location, multipart_body, privileged_set,
    sign_up_form, start_writers, token_of,
};
use crate::helpers::{Engine, TestDatabase, browser_like_client, eventually, spawn_app_with};

/// One server process and the address it listens on.
struct Instance {
    child: Child,
    origin: String,
    /// Its background worker's name, as `jobs.locked_by` holds it.
    worker: String,
}

impl Instance {
    /// Starts the real binary on `database_url`, mail and codes written to
    /// `outbox` (shared, as one mail relay would be), and waits until it
    /// says where it listens.
    async fn start(database_url: &str, outbox: &std::path::Path) -> Self {
        Self::start_with(database_url, outbox, &[]).await
    }

    /// Like [`Instance::start`], with extra configuration `variables`.
    async fn start_with(
        database_url: &str,
        outbox: &std::path::Path,
        variables: &[(&str, &str)],
    ) -> Self {
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
            .envs(variables.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (address, worker) = tokio::time::timeout(Duration::from_secs(60), async {
            let mut worker = None;
            while let Some(line) = lines.next_line().await.expect("read log") {
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let text = |field: &str| entry["fields"][field].as_str().map(str::to_owned);
                if entry["fields"]["message"] == "background worker started" {
                    worker = text("worker");
                }
                if entry["fields"]["message"] == "listening" {
                    return (
                        text("address").expect("address"),
                        worker.expect("the worker starts before the server listens"),
                    );
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
            worker,
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

/// Provider "Acme Phones" with a key that reads the registry, and its
/// webhook endpoint on loopback, registered through `origin`.
async fn provider_with_webhook(
    pool: &sqlx::AnyPool,
    origin: &str,
) -> (String, crate::webhooks::Receiver) {
    let actor = Actor::command_line();
    providers::create_provider(pool, &actor, "Acme Phones")
        .await
        .expect("provider");
    let key = providers::create_key(pool, &actor, "Acme Phones", &[Scope::RegistryRead])
        .await
        .expect("key")
        .key;
    let (receiver, hook_url) = crate::webhooks::start_receiver().await;
    let registered: Value = reqwest::Client::new()
        .put(format!("{origin}/api/v1/webhook"))
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
    (key, receiver)
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
        // The provider's webhook, registered on B: both instances' workers
        // deliver its notices.
        let (key, receiver) = provider_with_webhook(&pool, &b.origin).await;
        let client = reqwest::Client::new();
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

/// Ends the leases the killed `instance`'s worker held, as if their five
/// minutes had passed: its jobs are due to the instance still running.
async fn let_leases_of_run_out(pool: &sqlx::AnyPool, instance: &Instance) -> u64 {
    sqlx::query("UPDATE jobs SET locked_until = 0 WHERE locked_by = $1 AND state = 'queued'")
        .bind(&instance.worker)
        .execute(pool)
        .await
        .expect("leases")
        .rows_affected()
}

/// Brings queued retries forward, as if their backoff had passed.
async fn make_retries_due(pool: &sqlx::AnyPool) {
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
        .execute(pool)
        .await
        .expect("due");
}

/// (state, attempts) of the latest code send for registration `id`.
async fn code_send(pool: &sqlx::AnyPool, id: &str) -> (String, i64) {
    sqlx::query_as(
        "SELECT state, attempts FROM jobs WHERE dedupe_key = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(format!("send_code:{id}"))
    .fetch_one(pool)
    .await
    .expect("code send")
}

/// A roster upload sent to `origin` one piece at a time, as a slow line
/// sends it: each piece pushed into the sender goes out; dropping the
/// sender ends the body.
fn upload_in_pieces(
    client: &reqwest::Client,
    origin: &str,
    content_type: &str,
) -> (
    tokio::sync::mpsc::Sender<Vec<u8>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (pieces, receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        let piece = receiver.recv().await?;
        Some((Ok::<_, std::io::Error>(piece), receiver))
    });
    let request = client
        .post(format!("{origin}/admin/roster/upload"))
        .header("referer", format!("{origin}/admin/roster"))
        .header("content-type", content_type)
        .body(reqwest::Body::wrap_stream(body));
    (pieces, tokio::spawn(request.send()))
}

/// The upload progress the roster page polls for, asked of `origin` as the
/// hydrated page asks it (JSON).
async fn progress_on(
    cookies: &std::sync::Arc<reqwest::cookie::Jar>,
    origin: &str,
    token: &str,
) -> Option<(u64, u64, u64)> {
    let response = reqwest::Client::builder()
        .cookie_provider(cookies.clone())
        .build()
        .expect("client")
        .post(format!("{origin}/api/roster_upload_progress"))
        .header("accept", "application/json")
        .header("referer", format!("{origin}/admin/roster"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("progress");
    assert_eq!(response.status(), 200, "progress on {origin}");
    response.json().await.expect("json")
}

db_test!(
    async fn retries_refusals_and_an_upload_carry_over_between_instances(engine: Engine) {
        let (twilio, base) = crate::twilio::start_fake().await;
        let settings = [
            ("TWILIO_ACCOUNT_SID", crate::twilio::SID),
            ("TWILIO_AUTH_TOKEN", crate::twilio::TOKEN),
            ("TWILIO_FROM_NUMBER", crate::twilio::FROM),
            ("TWILIO_API_BASE", base.as_str()),
            ("WEBHOOK_ALLOW_LOOPBACK", "true"),
        ];
        // A runs in this process (its admin set up through it) with its
        // worker idle, so which instance holds a job is known; B is the
        // real binary on A's database, killed and started again.
        let mut a_settings = settings.to_vec();
        a_settings.push(("JOB_POLL_INTERVAL_SECS", "3600"));
        let a = spawn_app_with(engine, &a_settings).await;
        let database_url = a.test_database.url.clone();
        let start_b = || Instance::start_with(&database_url, a.outbox.path(), &settings);
        let mut b = start_b().await;
        let pool = a.database.pool().clone();

        // A roster upload received by B, its progress read on A. B is
        // killed half-way: nothing is staged, and the progress it left
        // reads as over once it is stale.
        enrolled_site_admin(&a, "ada@example.org").await;
        let mut roster = String::from("bar_number,full_name,status,email\n");
        for n in 1..=4000 {
            roster.push_str(&format!("{n},Pat Doe,active,\n"));
        }
        let upload = |token: &'static str| {
            multipart_body(
                &[
                    ("progress_token", token),
                    ("jurisdiction", "CA"),
                    ("mode", "partial"),
                ],
                Some(("file", "roster.csv", "text/csv", roster.as_bytes())),
            )
        };
        let (content_type, body) = upload("d1e5e1");
        let pieces: Vec<Vec<u8>> = body
            .chunks(body.len() / 8 + 1)
            .map(<[u8]>::to_vec)
            .collect();
        let (sender, sent) = upload_in_pieces(&a.client, &b.origin, &content_type);
        for piece in &pieces[..3] {
            sender.send(piece.clone()).await.expect("piece");
        }
        let (received, ..) = eventually("B's progress, read on A", || async {
            progress_on(&a.cookies, &a.address, "d1e5e1")
                .await
                .filter(|(received, ..)| *received > 0)
        })
        .await;
        assert!(received < roster.len() as u64, "{received}");
        b.kill().await;
        assert!(sent.await.expect("task").is_err(), "the upload was cut off");
        let staged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roster_uploads")
            .fetch_one(&pool)
            .await
            .expect("uploads");
        assert_eq!(staged, 0, "nothing of the cut-off upload is stored");
        sqlx::query("UPDATE roster_upload_progress SET updated_at = updated_at - 30000")
            .execute(&pool)
            .await
            .expect("age the progress");
        assert_eq!(
            progress_on(&a.cookies, &a.address, "d1e5e1").await,
            None,
            "the dead instance's upload reads as over"
        );

        // Sent again to the restarted B: A follows it to the end.
        b = start_b().await;
        let (content_type, body) = upload("d1e5e2");
        let (sender, sent) = upload_in_pieces(&a.client, &b.origin, &content_type);
        let mut seen = Vec::new();
        for piece in body.chunks(body.len() / 8 + 1) {
            sender.send(piece.to_vec()).await.expect("piece");
            tokio::time::sleep(Duration::from_millis(400)).await;
            seen.extend(progress_on(&a.cookies, &a.address, "d1e5e2").await);
        }
        drop(sender);
        let uploaded = sent.await.expect("task").expect("upload");
        assert_eq!(uploaded.status(), 303);
        let preview = location(&uploaded);
        assert!(preview.starts_with("/admin/roster/uploads/"), "{preview}");
        let received: Vec<u64> = seen.iter().map(|(received, ..)| *received).collect();
        assert!(
            received.windows(2).all(|pair| pair[0] <= pair[1])
                && received.iter().collect::<BTreeSet<_>>().len() >= 3,
            "the bar moves forward as the file arrives: {seen:?}"
        );
        eventually("the progress is over once staged", || async {
            progress_on(&a.cookies, &a.address, "d1e5e2")
                .await
                .is_none()
                .then_some(())
        })
        .await;
        let id = preview.rsplit('/').next().expect("id").to_owned();
        let committed = a
            .post_form_from(&preview, "/api/commit_roster_upload", &[("upload", &id)])
            .await;
        assert_eq!(location(&committed), format!("{preview}?committed=1"));
        let members: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM roster WHERE jurisdiction = 'CA'")
                .fetch_one(&pool)
                .await
                .expect("members");
        assert_eq!(members, 4000, "every row of the file B received");

        // An attorney signs up on B, confirms and signs in on A.
        let jane = browser_like_client();
        let email = "jane@example.org";
        let signed_up = jane
            .post(b.url("/api/sign_up"))
            .header("referer", b.url("/signup"))
            .form(&sign_up_form(email, PASSWORD))
            .send()
            .await
            .expect("sign up");
        assert_eq!(signed_up.status(), 302);
        let token = eventually("the confirmation email", || async {
            only_token_to(a.outbox.path(), email)
        })
        .await;
        let confirmed = a
            .post_form_from(
                &format!("/verify-email?token={token}"),
                "/api/verify_email",
                &[("token", token.as_str())],
            )
            .await;
        assert_eq!(location(&confirmed), "/login?verified=1");
        let on = |instance: &str, path: &str, fields: &[(&str, &str)]| {
            jane.post(format!("{instance}{path}"))
                .header("referer", format!("{instance}/numbers"))
                .form(fields)
                .send()
        };
        let signed_in = on(
            &a.address,
            "/api/log_in",
            &[("email", email), ("password", PASSWORD)],
        )
        .await
        .expect("log in");
        assert_eq!(signed_in.status(), 302);
        let add = |instance: String, number: &'static str| {
            let on = &on;
            let pool = &pool;
            async move {
                let added = on(
                    &instance,
                    "/api/add_number",
                    &[("number", number), ("label", ""), ("extension", "")],
                )
                .await
                .expect("add");
                assert_eq!(added.status(), 302);
                let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM registrations")
                    .fetch_one(pool)
                    .await
                    .expect("registration");
                id.to_string()
            }
        };
        let code_in_last_message = || -> String {
            crate::twilio::field(&twilio.last().1, "Body")
                .chars()
                .filter(char::is_ascii_digit)
                .take(6)
                .collect()
        };

        // A send in a Twilio outage, asked of B, is queued. B's worker
        // takes the retry and dies while Twilio has it, its answer never
        // back. Once the lease runs out, the restarted B sends it: the job
        // is tried again, not lost, and goes out once.
        let first = add(a.address.clone(), "202-456-1111").await;
        twilio.go_down_for(1);
        let queued = on(
            &b.origin,
            "/api/send_number_code",
            &[("registration", &first), ("channel", "sms")],
        )
        .await
        .expect("send");
        assert_eq!(location(&queued), format!("/numbers?queued={first}"));
        twilio.hold_next(1);
        make_retries_due(&pool).await;
        eventually("B's retry reaches Twilio", || async {
            (twilio.held() == 1).then_some(())
        })
        .await;
        b.kill().await;
        assert_eq!(code_send(&pool, &first).await, ("queued".into(), 1));
        assert_eq!(let_leases_of_run_out(&pool, &b).await, 1, "B held it");
        b = start_b().await;
        eventually("the restarted B sends it", || async {
            (code_send(&pool, &first).await.0 == "done").then_some(())
        })
        .await;
        assert_eq!(code_send(&pool, &first).await.1, 2, "tried twice, no more");
        assert_eq!(twilio.accepted(), 1, "one message went out");
        let code = code_in_last_message();
        let proven = on(
            &a.address,
            "/api/prove_number",
            &[("registration", &first), ("code", &code)],
        )
        .await
        .expect("prove");
        assert_eq!(location(&proven), format!("/numbers?proven={first}"));

        // Webhooks: registered on B; a private address refused on A. A
        // failed delivery is retried after B is killed and started again,
        // and a 410 answered to B turns the endpoint off in the database,
        // where every instance's worker reads it (only B's runs here).
        let (key, receiver) = provider_with_webhook(&pool, &b.origin).await;
        let client = reqwest::Client::new();
        // A private address is refused (here by A); B's registration stands.
        let refused = client
            .put(a.url("/api/v1/webhook"))
            .bearer_auth(&key)
            .json(&json!({ "url": "https://10.0.0.5/hook" }))
            .send()
            .await
            .expect("webhook");
        assert_eq!(refused.status(), 422);
        let attorney: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
            .bind(email)
            .fetch_one(&pool)
            .await
            .expect("jane");
        receiver.answer_next(&[500]);
        flip(&pool, attorney, "+12025550171", true).await;
        let head = app::ssr::registry::head(&pool).await.expect("head");
        eventually("the failed delivery", || async {
            receiver.received().contains(&(head, 500)).then_some(())
        })
        .await;
        b.kill().await;
        let_leases_of_run_out(&pool, &b).await;
        make_retries_due(&pool).await;
        b = start_b().await;
        eventually("the retry, by the restarted B", || async {
            receiver.received().contains(&(head, 200)).then_some(())
        })
        .await;
        receiver.answer_next(&[410]);
        flip(&pool, attorney, "+12025550172", true).await;
        eventually("the endpoint turned off", || async {
            let disabled: Option<i64> =
                sqlx::query_scalar("SELECT disabled_at FROM webhook_endpoints")
                    .fetch_one(&pool)
                    .await
                    .expect("endpoint");
            disabled.map(|_| ())
        })
        .await;
        let heard = receiver.received().len();
        flip(&pool, attorney, "+12025550173", true).await;
        // B's worker polls every second: three rounds.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            receiver.received().len(),
            heard,
            "a turned-off endpoint is not called"
        );
        let delivered: Vec<i64> = receiver
            .received()
            .into_iter()
            .filter(|(_, status)| *status == 200)
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(delivered, vec![head], "each notice delivered once");
        let stuck: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND attempts > 0 \
             AND (locked_until IS NULL OR locked_until < $1) AND run_at < $1",
        )
        .bind(app::ssr::infra::clock::now_millis() - 5_000)
        .fetch_one(&pool)
        .await
        .expect("jobs");
        assert_eq!(stuck, 0, "no job left behind");
        drop(b);
    }
);
