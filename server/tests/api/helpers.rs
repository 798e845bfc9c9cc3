#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use app::ssr::db::Database;
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
    pub database: Database,
    pub test_database: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts the application on a free port with a fresh database.
pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, &[]).await
}

/// Like [`spawn_app`], with extra configuration variables.
pub async fn spawn_app_with(engine: Engine, variables: &[(&str, &str)]) -> TestApp {
    let test_database = TestDatabase::create(engine).await;
    let mut environment: HashMap<String, String> = HashMap::from([
        ("BIND_ADDRESS".to_owned(), "127.0.0.1:0".to_owned()),
        ("DATABASE_URL".to_owned(), test_database.url.clone()),
        ("DATABASE_MAX_CONNECTIONS".to_owned(), "5".to_owned()),
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
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client,
        database,
        test_database,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
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
        self.client
            .post(self.url(path))
            .header("accept", "text/html")
            .form(form)
            .send()
            .await
            .expect("request sent")
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
