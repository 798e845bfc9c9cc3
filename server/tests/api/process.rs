//! The real binary: configuration errors, the migrate command and SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{Engine, TestDatabase};

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn an_invalid_variable_stops_the_start_with_one_line_naming_it() {
    let output = server()
        .env("DATABASE_MAX_CONNECTIONS", "lots")
        .output()
        .await
        .expect("run server");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("DATABASE_MAX_CONNECTIONS"), "{stderr}");
}

db_test!(
    async fn migrate_command_applies_migrations(engine: Engine) {
        let database = TestDatabase::create(engine).await;
        let output = server()
            .arg("migrate")
            .env("DATABASE_URL", &database.url)
            .output()
            .await
            .expect("run server migrate");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
        let pool = app::ssr::infra::db::Database::connect(&database.url, 1)
            .await
            .expect("connect");
        assert_eq!(
            pool.readiness().await.expect("readiness"),
            app::ssr::infra::db::Readiness::Ready
        );
        pool.close().await;
    }
);

db_test!(
    async fn sigterm_stops_the_server_cleanly(engine: Engine) {
        let database = TestDatabase::create(engine).await;
        let mut child = server()
            .env("DATABASE_URL", &database.url)
            .env("BIND_ADDRESS", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read log") {
                if line.contains("listening") {
                    return true;
                }
            }
            false
        })
        .await
        .expect("server starts in time");
        assert!(listening);

        let pid = child.id().expect("pid").to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(killed.success());
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("exits in time")
            .expect("status");
        assert!(status.success(), "{status:?}");
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        assert!(rest.iter().any(|line| line.contains("stopped")), "{rest:?}");
    }
);

db_test!(
    async fn admin_and_roster_commands(engine: Engine) {
        let database = TestDatabase::create(engine).await;
        let outbox = tempfile::tempdir().expect("outbox");
        let run = |args: &[&str]| {
            let mut command = server();
            command
                .args(args)
                .env("DATABASE_URL", &database.url)
                .env("MAIL_OUTBOX_DIR", outbox.path());
            command.output()
        };

        let created = run(&["admin", "create", "--email", "boss@example.org"])
            .await
            .expect("run admin create");
        let stdout = String::from_utf8_lossy(&created.stdout);
        assert!(created.status.success(), "{stdout}");
        assert!(stdout.contains("created boss@example.org"), "{stdout}");
        let mails = std::fs::read_dir(outbox.path()).expect("outbox").count();
        assert_eq!(mails, 1, "the new admin is emailed a link");
        let promoted = run(&[
            "admin",
            "create",
            "--email",
            "BOSS@example.org",
            "--bar",
            "tx",
        ])
        .await
        .expect("run admin create again");
        assert!(String::from_utf8_lossy(&promoted.stdout).contains("now an administrator"));
        let refused = run(&["admin", "create", "--email", "not an email"])
            .await
            .expect("run admin create");
        assert!(!refused.status.success());

        let csv_dir = tempfile::tempdir().expect("dir");
        let good = csv_dir.path().join("roster.csv");
        std::fs::write(
            &good,
            "bar_number,full_name,status\n1,Ann Lee,active\n2,Bo Park,suspended\n",
        )
        .expect("write");
        let seeded = run(&[
            "roster",
            "seed",
            good.to_str().expect("path"),
            "--jurisdiction",
            "NY",
        ])
        .await
        .expect("run roster seed");
        let stdout = String::from_utf8_lossy(&seeded.stdout);
        assert!(stdout.contains("2 members in NY"), "{stdout}");
        let bad = csv_dir.path().join("bad.csv");
        std::fs::write(
            &bad,
            "bar_number,full_name,status\n3,Cy Diaz,active\n4,Di Ek,unknown\n",
        )
        .expect("write");
        let failed = run(&[
            "roster",
            "seed",
            bad.to_str().expect("path"),
            "--jurisdiction",
            "NY",
        ])
        .await
        .expect("run roster seed");
        assert!(!failed.status.success());
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(
            stderr.contains("nothing changed") && stderr.contains("line 3"),
            "{stderr}"
        );

        // Import: a preview first, then the commit; a file with a bad row
        // is not committed without --skip-invalid.
        let update = csv_dir.path().join("update.csv");
        std::fs::write(
            &update,
            "bar_number,full_name,status,notes\n1,Ann Lee,suspended,x\n5,Ed Fox,active,\n6,Flo Gu,gone,\n",
        )
        .expect("write");
        let path = update.to_str().expect("path");
        let preview = run(&["roster", "import", path, "--jurisdiction", "NY"])
            .await
            .expect("run roster import");
        let stdout = String::from_utf8_lossy(&preview.stdout);
        assert!(preview.status.success(), "{stdout}");
        assert!(
            stdout.contains("2 valid rows: 1 new, 1 changed, 0 unchanged")
                && stdout.contains("ignored columns: notes")
                && stdout.contains("line 4, column \"status\"")
                && stdout.contains("preview only"),
            "{stdout}"
        );
        let refused = run(&["roster", "import", path, "--jurisdiction", "NY", "--commit"])
            .await
            .expect("run roster import");
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("the roster is unchanged"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
        let committed = run(&[
            "roster",
            "import",
            path,
            "--jurisdiction",
            "NY",
            "--commit",
            "--skip-invalid",
        ])
        .await
        .expect("run roster import");
        let stdout = String::from_utf8_lossy(&committed.stdout);
        assert!(
            committed.status.success() && stdout.contains("committed:"),
            "{stdout}"
        );
        let missing = run(&["roster", "import", "/no/such.csv", "--jurisdiction", "NY"])
            .await
            .expect("run roster import");
        assert!(!missing.status.success());

        let check = app::ssr::infra::db::Database::connect(&database.url, 1)
            .await
            .expect("connect");
        let (members, admins): (i64, i64) = (
            sqlx::query_scalar("SELECT COUNT(*) FROM roster")
                .fetch_one(check.pool())
                .await
                .expect("count"),
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE role = 'bar_admin' AND admin_jurisdiction = 'TX'",
            )
            .fetch_one(check.pool())
            .await
            .expect("count"),
        );
        assert_eq!((members, admins), (3, 1), "seeded 2, imported 1 new");
        check.close().await;
    }
);
