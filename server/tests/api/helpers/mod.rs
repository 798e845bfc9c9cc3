//! What every integration test starts from: a fresh database per test
//! on each engine (`db_test!`), the application in-process on a free port,
//! a browser-like client, the outbox, and jobs run on demand.
//! `journeys` holds the steps tests share.

#![allow(dead_code)]

pub mod journeys;
pub mod snapshots;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::ssr::infra::db::Database;
use server::configuration::Settings;
use server::startup::Application;
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Declares an async test that runs once per engine, as
/// `<name>::sqlite` and `<name>::postgres`.
///
/// Without PostgreSQL the `postgres` variant reports a skip, except when
/// `CI=true`, where an unreachable server fails the test.
macro_rules! db_test {
    (async fn $name:ident($engine:ident : $engine_type:ty) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($engine: $engine_type) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::Engine::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_available().await {
                    run($crate::helpers::Engine::Postgres).await
                }
            }
        }
    };
}

/// Whether PostgreSQL answers. When it does not: a failure under CI, a
/// visible skip elsewhere.
pub async fn postgres_available() -> bool {
    let url = postgres_admin_url();
    let attempt = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await;
    match attempt {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            true
        }
        outcome => {
            let reason = match outcome {
                Ok(Err(error)) => error.to_string(),
                _ => "timed out".to_owned(),
            };
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL at {url} is required when CI=true: {reason}");
            }
            eprintln!("SKIPPED: PostgreSQL at {url} is unreachable ({reason})");
            false
        }
    }
}

/// A database of its own for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    engine: Engine,
    _directory: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(engine: Engine) -> Self {
        match engine {
            Engine::Sqlite => {
                let directory = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/registry.db", directory.path().display());
                Self {
                    url,
                    engine,
                    _directory: Some(directory),
                    postgres_name: None,
                }
            }
            Engine::Postgres => {
                let name = format!("cr_test_{}", uuid::Uuid::new_v4().simple());
                let admin = postgres_admin_url();
                let mut connection = PgConnection::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                connection
                    .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .expect("create test database");
                let _ = connection.close().await;
                let url = replace_database(&admin, &name);
                Self {
                    url,
                    engine,
                    _directory: None,
                    postgres_name: Some(name),
                }
            }
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on async
        // work: drop the database from a thread with its own runtime.
        let admin = postgres_admin_url();
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut connection) = PgConnection::connect(&admin).await {
                    let _ = connection
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await;
                }
            });
        });
        let _ = dropper.join();
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_POSTGRES_URL is a URL");
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// Keeps cookies, never follows redirects.
    pub client: reqwest::Client,
    /// `client`'s cookies.
    pub cookies: Arc<reqwest::cookie::Jar>,
    pub database: Database,
    /// The running application's state (to run due jobs on demand).
    pub state: app::ssr::state::AppState,
    pub test_database: TestDatabase,
    /// Where the application's email goes (one `.eml` file per message).
    pub outbox: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Keeps cookies, never follows redirects, and sends one `Accept` header
/// as browsers do (a per-request `.header("accept", …)` would add a second
/// one after reqwest's default, and servers read the first).
pub fn browser_like_client() -> reqwest::Client {
    browser_like_client_with(Arc::new(reqwest::cookie::Jar::default()))
}

/// Like [`browser_like_client`], keeping its cookies in `cookies`: what
/// another client made with the same jar (one asking for JSON, say) is
/// signed in as the same visitor.
pub fn browser_like_client_with(cookies: Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(cookies)
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Starts the application on a free port with a fresh database.
/// Polls `probe` until it finds something (every 100 ms, for at most 30
/// s): for what the app's background worker does in its own time.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 30 s for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, &[]).await
}

/// Like [`spawn_app`], with extra configuration variables.
pub async fn spawn_app_with(engine: Engine, variables: &[(&str, &str)]) -> TestApp {
    let test_database = TestDatabase::create(engine).await;
    let outbox = tempfile::tempdir().expect("outbox dir");
    let mut environment: HashMap<String, String> = HashMap::from([
        (
            "MAIL_OUTBOX_DIR".to_owned(),
            outbox.path().display().to_string(),
        ),
        (
            "CODE_OUTBOX_DIR".to_owned(),
            outbox.path().display().to_string(),
        ),
        ("BIND_ADDRESS".to_owned(), "127.0.0.1:0".to_owned()),
        ("DATABASE_URL".to_owned(), test_database.url.clone()),
        ("DATABASE_MAX_CONNECTIONS".to_owned(), "5".to_owned()),
        ("JOB_POLL_INTERVAL_SECS".to_owned(), "1".to_owned()),
        (
            "REVIEW_DOCUMENTS_DIR".to_owned(),
            outbox.path().join("review-documents").display().to_string(),
        ),
        (
            "ROSTER_FILES_DIR".to_owned(),
            outbox.path().join("roster-files").display().to_string(),
        ),
    ]);
    for (name, value) in variables {
        environment.insert((*name).to_owned(), (*value).to_owned());
    }
    let settings =
        Settings::from_lookup(|name| environment.get(name).cloned()).expect("valid test settings");
    let application = Application::build(&settings)
        .await
        .expect("application builds");
    let port = application.port();
    let database = application.database().clone();
    let state = application.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    let cookies = Arc::new(reqwest::cookie::Jar::default());
    let client = browser_like_client_with(cookies.clone());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client,
        cookies,
        database,
        state,
        test_database,
        outbox,
        stop: Some(stop),
        server: Some(server),
    }
}

/// Starts the application with its background worker idle (it polls
/// once an hour): the test runs due jobs itself with
/// [`TestApp::run_due_jobs`], so nothing happens behind its back.
/// The portal as production serves it: an https `PUBLIC_URL` (TLS ends at
/// a proxy), with the sealing keys production requires.
pub async fn spawn_app_over_tls(engine: Engine) -> TestApp {
    spawn_app_with(
        engine,
        &[
            ("PUBLIC_URL", "https://registry.example.org"),
            (
                "SECRETS_KEYS",
                "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            ),
        ],
    )
    .await
}

pub async fn spawn_app_without_worker(engine: Engine) -> TestApp {
    spawn_app_with(engine, &[("JOB_POLL_INTERVAL_SECS", "3600")]).await
}

impl TestApp {
    /// Runs every job due now, as the worker's rounds would, until none is
    /// left; returns how many ran. Jobs waiting out a backoff stay queued.
    pub async fn run_due_jobs(&self) -> usize {
        let mut ran = 0;
        loop {
            let claimed = app::ssr::worker::run_due(&self.state, "test")
                .await
                .expect("run due jobs");
            if claimed == 0 {
                return ran;
            }
            ran += claimed;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Posts an HTML form the way a browser without JavaScript does.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_form_from("/", path, form).await
    }

    /// Posts a form as if submitted on the page at `page` (its Referer):
    /// errors come back to that page in the URL.
    pub async fn post_form_from(
        &self,
        page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("referer", self.url(page))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    /// The messages in the outbox, oldest first, decoded to text.
    pub fn emails(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.outbox.path())
            .expect("outbox")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .map(|path| {
                let modified = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .expect("mtime");
                (modified, path)
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let raw = std::fs::read_to_string(path).expect("read eml");
                if raw.contains("Content-Transfer-Encoding: quoted-printable") {
                    decode_quoted_printable(&raw)
                } else {
                    raw
                }
            })
            .collect()
    }

    /// The first link starting with `prefix` in the latest email to `to`
    /// that has one (a sign-up may send several emails in one clock tick,
    /// whose order in the outbox is not reliable).
    pub fn link_in_last_email_to(&self, to: &str, prefix: &str) -> String {
        let header = format!("To: {to}");
        let emails = self.emails();
        let mail = emails
            .iter()
            .rev()
            .find(|mail| mail.contains(&header) && mail.contains(prefix))
            .unwrap_or_else(|| panic!("no email to {to} with a {prefix} link"));
        let start = mail.find(prefix).expect("prefix");
        mail[start..]
            .split(|c: char| c.is_whitespace())
            .next()
            .expect("link")
            .to_owned()
    }

    /// The first link in the last email that starts with `prefix`.
    pub fn link_in_last_email(&self, prefix: &str) -> String {
        let emails = self.emails();
        let last = emails.last().expect("an email was sent");
        let start = last
            .find(prefix)
            .unwrap_or_else(|| panic!("no {prefix} link in {last}"));
        last[start..]
            .split(|c: char| c.is_whitespace())
            .next()
            .expect("link")
            .to_owned()
    }

    /// Signals shutdown and waits for the server to stop.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("server task"),
            None => Ok(()),
        }
    }

    pub fn stop_signal(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }

    pub fn server_task(&mut self) -> Option<JoinHandle<anyhow::Result<()>>> {
        self.server.take()
    }
}

/// Undoes the quoted-printable transfer encoding lettre may choose.
fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=')
            .then(|| joined.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The error a server function sent back to the form's page, if any.
pub fn form_error(response: &reqwest::Response) -> Option<String> {
    use base64::Engine as _;
    let location = response.headers().get("location")?.to_str().ok()?;
    let url = url::Url::parse(location).ok()?;
    let encoded = url
        .query_pairs()
        .find(|(key, _)| key == "__err")?
        .1
        .into_owned();
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(encoded)
        .ok()?;
    let error: app::error::AppError = serde_json::from_slice(&bytes).ok()?;
    Some(error.to_string())
}

/// Runs the real `server` binary with `args`, an empty environment but
/// `PATH`, `RUST_LOG=error` and `variables`, and no standard input;
/// whether it succeeded, and its standard output and error together.
pub async fn run_server(args: &[&std::ffi::OsStr], variables: &[(&str, &str)]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .envs(variables.iter().copied())
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the server binary");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The status and, checked to be a problem document, its detail.
pub async fn problem(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/problem+json"),
        "status {status} from {}",
        response.url()
    );
    let body: serde_json::Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().is_some() && body["title"].as_str().is_some());
    (status, body["detail"].as_str().expect("detail").to_owned())
}
