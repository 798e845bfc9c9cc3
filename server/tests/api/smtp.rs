//! Email through a real SMTP server process on loopback (Debian's
//! python3-aiosmtpd, installed by the test command), read back from the
//! maildir it delivers to.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::helpers::{Engine, spawn_app_with};

const PYTHON: &str = "/usr/bin/python3";

struct SmtpServer {
    port: u16,
    maildir: tempfile::TempDir,
    _process: Child,
}

/// Starts aiosmtpd, or says why it cannot (a failure under CI).
async fn start_smtp_server() -> Option<SmtpServer> {
    let available = std::process::Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "python3-aiosmtpd is required when CI=true"
        );
        eprintln!("SKIPPED: python3-aiosmtpd is not installed");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let maildir = tempfile::tempdir().expect("maildir");
    let process = Command::new(PYTHON)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        // A path that does not exist yet: the handler then creates the
        // maildir with its tmp/new/cur folders.
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start aiosmtpd");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(SmtpServer {
                port,
                maildir,
                _process: process,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start on port {port}");
}

impl SmtpServer {
    fn delivered(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail").join("new");
        std::fs::read_dir(new)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn sign_up_jane(app: &crate::helpers::TestApp) -> reqwest::Response {
    let form = [
        ("full_name", "Jane Q. Doe"),
        ("email", "jane@example.org"),
        ("jurisdiction", "CA"),
        ("bar_number", "123456"),
        ("password", "violet tugboat orbit"),
    ];
    app.post_form_from("/signup", "/api/sign_up", &form).await
}

db_test!(
    async fn the_verification_link_travels_through_a_real_smtp_server(engine: Engine) {
        let Some(smtp) = start_smtp_server().await else {
            return;
        };
        let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
        let app = spawn_app_with(engine, &[("SMTP_URL", &smtp_url)]).await;
        let response = sign_up_jane(&app).await;
        assert_eq!(response.headers()["location"], "/signup/check-email");
        assert!(app.emails().is_empty(), "nothing went to the outbox");

        let delivered = smtp.delivered();
        assert_eq!(delivered.len(), 1);
        let message = &delivered[0];
        assert!(message.contains("To: jane@example.org"), "{message}");
        assert!(
            message.contains("Subject: Confirm your email address"),
            "{message}"
        );
        let prefix = app.url("/verify-email?token=");
        let start = message.find(&prefix).expect("link in the message");
        let token = message[start + prefix.len()..]
            .split(|c: char| c.is_whitespace())
            .next()
            .expect("token");
        let verified = app
            .post_form_from("/verify-email", "/api/verify_email", &[("token", token)])
            .await;
        assert_eq!(verified.headers()["location"], "/login?verified=1");
    }
);

db_test!(
    async fn an_unreachable_smtp_server_loses_no_email(engine: Engine) {
        // Nothing listens on this port: the confirmation cannot go out at
        // once. The account and its email were committed together, so the
        // email stays queued for the worker to retry; the person is told
        // to check their mail as usual.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let app = spawn_app_with(
            engine,
            &[
                ("SMTP_URL", &format!("smtp://127.0.0.1:{port}")),
                // Only the try made at sign-up, none by the worker.
                ("JOB_POLL_INTERVAL_SECS", "3600"),
            ],
        )
        .await;
        let response = sign_up_jane(&app).await;
        assert_eq!(response.headers()["location"], "/signup/check-email");
        let pool = app.database.pool();
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(users, 1);
        let (state, attempts, error): (String, i64, Option<String>) =
            // The confirmation's job: it keeps whose link, never the link.
            sqlx::query_as(
                "SELECT state, attempts, last_error FROM jobs WHERE kind = 'account_link_email'",
            )
                .fetch_one(pool)
                .await
                .expect("the email is queued");
        assert_eq!((state.as_str(), attempts), ("queued", 1));
        assert!(
            error.is_some_and(|e| !e.is_empty()),
            "the failure is recorded"
        );
    }
);
