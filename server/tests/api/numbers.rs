//! Registering numbers: proof by code, the limits on codes, and the
//! registry following the attorney's standing.

use app::domain::phone::PhoneNumber;
use app::ssr::code_sender::{Channel, CodeSender};
use app::ssr::numbers::{self, NumberError, Proven};
use app::ssr::registry::{self, Op};
use app::ssr::roster;

use crate::accounts::verified_account;
use crate::helpers::{Engine, TestApp, spawn_app};

const WHITE_HOUSE: &str = "+12024561111";

struct Phones {
    dir: tempfile::TempDir,
    sender: CodeSender,
}

impl Phones {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let sender = CodeSender::Outbox(dir.path().to_owned());
        Self { dir, sender }
    }

    /// The code in the latest message sent.
    fn last_code(&self) -> String {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("outbox")
            .map(|entry| entry.expect("entry").path())
            .collect();
        files.sort();
        let text = std::fs::read_to_string(files.last().expect("a code was sent")).expect("read");
        // "code: 123456" by SMS, "code is 1, 2, 3, 4, 5, 6" read out by voice.
        let after = text.split(" code").nth(1).expect("code in message");
        let digits: String = after.chars().filter(char::is_ascii_digit).take(6).collect();
        assert_eq!(digits.len(), 6, "{text}");
        digits
    }
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("user")
}

async fn seed_status(app: &TestApp, status: &str) {
    let csv = format!("jurisdiction,bar_number,full_name,status\nCA,123456,Jane Doe,{status}\n");
    roster::seed_csv(app.database.pool(), csv.as_bytes(), None)
        .await
        .expect("seed");
}

async fn log(app: &TestApp) -> Vec<(String, Op)> {
    registry::changes_after(app.database.pool(), 0, 100)
        .await
        .expect("log")
        .into_iter()
        .map(|change| (change.e164, change.op))
        .collect()
}

fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw).expect("valid number")
}

db_test!(
    async fn a_proven_number_counts_while_its_attorney_is_verified(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;

        let id = numbers::add_number(pool, jane, &phone("(202) 456-1111"), None, None)
            .await
            .expect("added");
        assert!(matches!(
            numbers::add_number(pool, jane, &phone("202.456.1111"), None, None).await,
            Err(NumberError::AlreadyRegistered)
        ));
        numbers::send_code(pool, &phones.sender, jane, id, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert!(matches!(
            numbers::verify_code(pool, jane, id, wrong).await,
            Err(NumberError::WrongCode { tries_left: 4 })
        ));
        // Proven, but Jane is not verified yet: nothing enters the registry.
        assert_eq!(
            numbers::verify_code(pool, jane, id, &code)
                .await
                .expect("proven"),
            Proven::AwaitingVerification
        );
        assert!(log(&app).await.is_empty());

        seed_status(&app, "active").await;
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);
        seed_status(&app, "suspended").await;
        seed_status(&app, "active").await;
        numbers::remove_number(pool, jane, id)
            .await
            .expect("removed");
        assert_eq!(
            log(&app).await,
            vec![
                (WHITE_HOUSE.to_owned(), Op::Add),
                (WHITE_HOUSE.to_owned(), Op::Remove),
                (WHITE_HOUSE.to_owned(), Op::Add),
                (WHITE_HOUSE.to_owned(), Op::Remove),
            ]
        );
        assert!(matches!(
            numbers::remove_number(pool, jane, id).await,
            Err(NumberError::NotFound)
        ));
    }
);

db_test!(
    async fn codes_are_single_use_limited_and_expire(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        let id = numbers::add_number(pool, jane, &phone("212-736-5000"), None, None)
            .await
            .expect("added");

        // Used once, never again.
        numbers::send_code(pool, &phones.sender, jane, id, Channel::Voice)
            .await
            .expect("sent");
        let code = phones.last_code();
        numbers::verify_code(pool, jane, id, &code)
            .await
            .expect("proven");
        assert!(matches!(
            numbers::verify_code(pool, jane, id, &code).await,
            Err(NumberError::NoValidCode)
        ));

        // Five wrong tries end a code, even for the right digits after.
        numbers::send_code(pool, &phones.sender, jane, id, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        for guess in ["1", "abcdef", "' OR 1=1 --", "9999999", "12345"] {
            assert!(numbers::verify_code(pool, jane, id, guess).await.is_err());
        }
        assert!(matches!(
            numbers::verify_code(pool, jane, id, &code).await,
            Err(NumberError::TooManyTries)
        ));

        // An expired code is refused; a code is for its own attorney only.
        numbers::send_code(pool, &phones.sender, jane, id, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        sqlx::query("UPDATE number_codes SET expires_at = 0")
            .execute(pool)
            .await
            .expect("expire");
        assert!(matches!(
            numbers::verify_code(pool, jane, id, &code).await,
            Err(NumberError::NoValidCode)
        ));
        verified_account(&app, "mallory@example.org").await;
        let mallory = user_id(&app, "mallory@example.org").await;
        assert!(matches!(
            numbers::send_code(pool, &phones.sender, mallory, id, Channel::Sms).await,
            Err(NumberError::NotFound)
        ));

        // At most five codes an hour to one number.
        for _ in 0..2 {
            numbers::send_code(pool, &phones.sender, jane, id, Channel::Sms)
                .await
                .expect("sent");
        }
        assert!(matches!(
            numbers::send_code(pool, &phones.sender, jane, id, Channel::Sms).await,
            Err(NumberError::TooManySendsForNumber)
        ));
        let codes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM number_codes")
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(codes, 5);
    }
);

db_test!(
    async fn a_shared_number_stays_privileged_while_anyone_holds_it(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        seed_status(&app, "active").await;
        let mut holders = Vec::new();
        for email in ["jane@example.org", "jane.too@example.org"] {
            verified_account(&app, email).await;
            let user = user_id(&app, email).await;
            let id = numbers::add_number(pool, user, &phone("+1 202 456 1111"), None, None)
                .await
                .expect("added");
            numbers::send_code(pool, &phones.sender, user, id, Channel::Sms)
                .await
                .expect("sent");
            assert_eq!(
                numbers::verify_code(pool, user, id, &phones.last_code())
                    .await
                    .expect("proven"),
                Proven::Active
            );
            holders.push((user, id));
        }
        assert_eq!(log(&app).await.len(), 1, "one add for two holders");
        numbers::remove_number(pool, holders[0].0, holders[0].1)
            .await
            .expect("removed");
        assert_eq!(log(&app).await.len(), 1, "still held");
        numbers::remove_number(pool, holders[1].0, holders[1].1)
            .await
            .expect("removed");
        assert_eq!(
            log(&app).await.last(),
            Some(&(WHITE_HOUSE.to_owned(), Op::Remove))
        );
    }
);
