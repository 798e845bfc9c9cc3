//! A number abused by people who do not hold it (issue 24): strangers who
//! add an attorney's number cannot spend the codes its holder renews
//! with, and revoking one registration holds only the registrations it
//! should, in the open: the holder is told and the admins see a queue.
//! Also the send limits under many requests at once.

use std::time::Duration;

use app::ssr::infra::audit_trail::Actor;
use app::ssr::infra::delivery::Channel;
use app::ssr::numbers::{self, HELD_FOR_REVIEW, NumberError, Proven};
use app::ssr::registry::Op;

use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestApp, spawn_app, spawn_app_without_worker};

/// An attorney in good standing, written straight into `users` (how they
/// got there is the accounts tests' concern): their id.
async fn verified_attorney(app: &TestApp, email: &str, full_name: &str) -> i64 {
    let bar_number = format!("9{:05}", email.len() * 1000 + full_name.len());
    sqlx::query_scalar(
        "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, \
         password_hash, standing, email_verified_at, created_at) \
         VALUES ($1, $1, $2, 'CA', $3, 'x', 'verified', 0, 0) RETURNING id",
    )
    .bind(email)
    .bind(full_name)
    .bind(bar_number)
    .fetch_one(app.database.pool())
    .await
    .expect("attorney")
}

/// The attorney adds (202) 456-1111 and asks for a code by text.
async fn add_and_ask(
    app: &TestApp,
    phones: &Phones,
    user_id: i64,
) -> (i64, Result<(), NumberError>) {
    let pool = app.database.pool();
    let id = numbers::add_number(pool, user_id, &phone(WHITE_HOUSE), None, None)
        .await
        .expect("added");
    let sent = numbers::send_code(pool, phones.outgoing(), user_id, id, Channel::Sms).await;
    (id, sent)
}

/// Asks for a new code for the registration and proves it: a renewal.
async fn renew(app: &TestApp, phones: &Phones, user_id: i64, id: i64) -> Proven {
    let code = phones.new_code(app, user_id, id).await;
    numbers::verify_code(app.database.pool(), &phones.key, user_id, id, &code)
        .await
        .expect("proven")
}

async fn status_of(app: &TestApp, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, status_reason FROM registrations WHERE id = $1")
        .bind(id)
        .fetch_one(app.database.pool())
        .await
        .expect("registration")
}

/// Proofs a few milliseconds apart, so "proven before" is never a tie.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

db_test!(
    async fn strangers_cannot_spend_the_codes_a_holder_renews_with(engine: Engine) {
        let app = spawn_app_without_worker(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        let held = phones.proven_white_house(pool, jane).await;
        // Jane proved it long ago, and her proof runs out in a week.
        sqlx::query("UPDATE number_codes SET created_at = created_at - $1")
            .bind(2 * 60 * 60 * 1000_i64)
            .execute(pool)
            .await
            .expect("age codes");

        // One stranger adds her number and asks as often as allowed: five
        // codes an hour for that stranger and that number.
        let strangers: Vec<i64> = {
            let mut ids = Vec::new();
            for n in 0..20 {
                let email = format!("stranger{n}@example.org");
                ids.push(verified_attorney(&app, &email, &format!("Stranger {n}")).await);
            }
            ids
        };
        let (first, sent) = add_and_ask(&app, &phones, strangers[0]).await;
        sent.expect("a first code");
        for _ in 1..numbers::SENDS_PER_NUMBER_PER_HOUR {
            let_resend(&app).await;
            numbers::send_code(pool, phones.outgoing(), strangers[0], first, Channel::Sms)
                .await
                .expect("within the stranger's five");
        }
        let_resend(&app).await;
        assert!(matches!(
            numbers::send_code(pool, phones.outgoing(), strangers[0], first, Channel::Sms).await,
            Err(NumberError::TooManySendsForNumber)
        ));
        // Nineteen more strangers: the number's ceiling stops them.
        let (mut sent, mut refused) = (numbers::SENDS_PER_NUMBER_PER_HOUR, 0);
        for stranger in &strangers[1..] {
            match add_and_ask(&app, &phones, *stranger).await.1 {
                Ok(()) => sent += 1,
                Err(NumberError::NumberCeilingReached) => refused += 1,
                Err(other) => panic!("{other}"),
            }
        }

        // Jane still renews: her code goes out and proves the number.
        assert_eq!(renew(&app, &phones, jane, held).await, Proven::Active);
        let expires_at: i64 =
            sqlx::query_scalar("SELECT expires_at FROM registrations WHERE id = $1")
                .bind(held)
                .fetch_one(pool)
                .await
                .expect("expiry");
        assert!(expires_at > app::ssr::infra::clock::now_millis() + 364 * 24 * 3600 * 1000);
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);
        let ceiling = numbers::SENDS_TO_NUMBER_CEILING_PER_HOUR;
        assert_eq!(sent, ceiling, "the strangers together stop at the ceiling");
        assert_eq!(
            refused,
            20 - 1 - (ceiling - numbers::SENDS_PER_NUMBER_PER_HOUR)
        );
        // Jane's first code, the strangers' and her renewal's.
        assert_eq!(phones.sent() as i64, 1 + ceiling + 1);
        // Past the ceiling, she still gets her own five an hour.
        for _ in 1..numbers::SENDS_PER_NUMBER_PER_HOUR {
            phones.new_code(&app, jane, held).await;
        }
        let_resend(&app).await;
        assert!(matches!(
            numbers::send_code(pool, phones.outgoing(), jane, held, Channel::Sms).await,
            Err(NumberError::TooManySendsForNumber)
        ));
    }
);

db_test!(
    async fn revoking_an_unproven_registration_holds_nobody(engine: Engine) {
        let app = spawn_app_without_worker(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        let held = phones.proven_white_house(pool, jane).await;
        let admin = enrolled_site_admin(&app, "ada@example.org").await;
        let admin_id = user_id(&app, &admin.email).await;

        // Sam adds Jane's number and never proves it; an admin revokes it.
        let sam = verified_attorney(&app, "sam@example.org", "Sam Stranger").await;
        let (sams, _) = add_and_ask(&app, &phones, sam).await;
        numbers::revoke(
            pool,
            &Actor::command_line(),
            admin_id,
            sams,
            "Not this attorney's number.",
            &app.address,
        )
        .await
        .expect("revoked");

        // Jane renews, and her standing changes and comes back: she holds
        // the number throughout.
        assert_eq!(renew(&app, &phones, jane, held).await, Proven::Active);
        seed_status(&app, "suspended").await;
        seed_status(&app, "active").await;
        assert_eq!(status_of(&app, held).await, ("active".to_owned(), None));
        assert_eq!(
            log(&app).await,
            vec![
                (WHITE_HOUSE.to_owned(), Op::Add),
                (WHITE_HOUSE.to_owned(), Op::Remove),
                (WHITE_HOUSE.to_owned(), Op::Add),
            ]
        );
        app.run_due_jobs().await;
        assert!(
            !app.emails()
                .iter()
                .any(|mail| mail.contains("held for review")),
        );
    }
);

db_test!(
    async fn a_proven_revocation_holds_only_those_proven_after_it_and_says_so(engine: Engine) {
        let app = spawn_app_without_worker(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        let admin = enrolled_site_admin(&app, "ada@example.org").await;
        let admin_id = user_id(&app, &admin.email).await;
        let mallory = verified_attorney(&app, "mallory@example.org", "Mallory Bonds").await;
        let bob = verified_attorney(&app, "bob@example.org", "Bob Later").await;

        // Jane proves the number, then Mallory, then Bob.
        let janes = phones.proven_white_house(pool, jane).await;
        tick().await;
        let malloys = phones.proven_white_house(pool, mallory).await;
        tick().await;
        let bobs = phones.proven_white_house(pool, bob).await;
        numbers::revoke(
            pool,
            &Actor::command_line(),
            admin_id,
            malloys,
            "A bail bonds office, not a law office.",
            &app.address,
        )
        .await
        .expect("revoked");

        // Bob, proven after Mallory, is held at his renewal...
        assert_eq!(
            renew(&app, &phones, bob, bobs).await,
            Proven::AwaitingVerification
        );
        assert_eq!(
            status_of(&app, bobs).await,
            ("pending".to_owned(), Some(HELD_FOR_REVIEW.to_owned()))
        );
        // ...Jane, proven before her, is not.
        assert_eq!(renew(&app, &phones, jane, janes).await, Proven::Active);
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);

        // Bob is told, and the site admins are alerted, once.
        app.run_due_jobs().await;
        let held_mail = |to: &str| {
            app.emails()
                .into_iter()
                .filter(|mail| mail.contains(&format!("To: {to}")) && mail.contains("held"))
                .collect::<Vec<_>>()
        };
        let told = held_mail("bob@example.org");
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("(202) 456-1111"), "{}", told[0]);
        assert!(!told[0].contains("Mallory"), "no other attorney is named");
        assert_eq!(held_mail("ada@example.org").len(), 1);
        assert!(held_mail("jane@example.org").is_empty());
        assert_eq!(
            renew(&app, &phones, bob, bobs).await,
            Proven::AwaitingVerification
        );
        app.run_due_jobs().await;
        assert_eq!(held_mail("bob@example.org").len(), 1, "told once");

        // The site admins' queue lists Bob's registration, not Jane's.
        let queue = numbers::held_registrations(pool, 10).await.expect("queue");
        let queued: Vec<i64> = queue.iter().map(|held| held.registration_id).collect();
        assert_eq!(queued, vec![bobs]);
        let page = body(app.get("/admin/numbers").await).await;
        let listed = page
            .split("data-testid=\"held-queue\"")
            .nth(1)
            .unwrap_or_else(|| panic!("a queue in {page}"));
        assert!(listed.contains("Bob Later") && listed.contains("(202) 456-1111"));
        assert!(!listed.contains("Jane"), "{listed}");
        // Allowed after review, Bob's registration counts and leaves it.
        let allowed = app
            .post_form_from(
                "/admin/numbers",
                "/api/allow_held_registration",
                &[("registration", &bobs.to_string()), ("number", WHITE_HOUSE)],
            )
            .await;
        assert_eq!(location(&allowed), "/admin/numbers?number=%2B12024561111");
        assert_eq!(status_of(&app, bobs).await, ("active".to_owned(), None));
        assert!(
            numbers::held_registrations(pool, 10)
                .await
                .expect("queue")
                .is_empty()
        );
        let page = body(app.get("/admin/numbers").await).await;
        assert!(page.contains("No registration is held."), "{page}");
    }
);

// Parallel presses, first written with the numbers tests: the limits
// hold however many requests arrive at once.

/// How many codes went out through `phones` and how many are stored.
async fn codes_sent(app: &TestApp, phones: &Phones) -> (usize, i64) {
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM number_codes")
        .fetch_one(app.database.pool())
        .await
        .expect("count");
    (phones.sent(), stored)
}

db_test!(
    async fn fifty_parallel_sends_for_one_number_stay_within_its_limits(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        // Ten attorneys share one switchboard, none holding it yet: each
        // registration may have a code every 30 s, each attorney five an
        // hour for it, the number ten an hour from them all.
        let attorneys = writer_accounts(pool, 10).await;
        let mut registrations = Vec::new();
        for &attorney in &attorneys {
            let id = numbers::add_number(pool, attorney, &phone(WHITE_HOUSE), None, None)
                .await
                .expect("added");
            registrations.push((attorney, id));
        }

        // One registration, fifty presses at once: one code.
        let (jane, jane_id) = registrations[0];
        let presses = (0..50)
            .map(|_| numbers::send_code(pool, phones.outgoing(), jane, jane_id, Channel::Sms));
        let answers = futures::future::join_all(presses).await;
        let sent = answers.iter().filter(|answer| answer.is_ok()).count();
        assert_eq!(sent, 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|a| a.is_ok() || matches!(a, Err(NumberError::TooSoon { .. }))),
            "{answers:?}"
        );
        assert_eq!(codes_sent(&app, &phones).await, (1, 1));

        // Fifty at once over the ten registrations: the nine others get
        // one each (Jane's waits its 30 s), the number's ceiling in all.
        let presses = (0..50).map(|n| {
            let (attorney, id) = registrations[n % registrations.len()];
            numbers::send_code(pool, phones.outgoing(), attorney, id, Channel::Sms)
        });
        let answers = futures::future::join_all(presses).await;
        assert_eq!(
            answers.iter().filter(|answer| answer.is_ok()).count(),
            9,
            "{answers:?}"
        );
        assert_eq!(codes_sent(&app, &phones).await, (10, 10));

        // Fifty more once the 30 s have passed: the ceiling holds.
        let_resend(&app).await;
        let presses = (0..50).map(|n| {
            let (attorney, id) = registrations[n % registrations.len()];
            numbers::send_code(pool, phones.outgoing(), attorney, id, Channel::Sms)
        });
        let answers = futures::future::join_all(presses).await;
        assert!(
            answers.iter().all(|a| matches!(
                a,
                Err(NumberError::NumberCeilingReached | NumberError::TooSoon { .. })
            )),
            "{answers:?}"
        );
        assert_eq!(codes_sent(&app, &phones).await, (10, 10));
    }
);

db_test!(
    async fn fifty_parallel_sends_for_one_attorney_stay_within_the_daily_limit(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        let jane = writer_accounts(pool, 1).await[0];
        let mut registrations = Vec::new();
        for line in 0..25 {
            let number = phone(&format!("+1202555{:04}", 100 + line));
            registrations.push(
                numbers::add_number(pool, jane, &number, None, None)
                    .await
                    .expect("added"),
            );
        }
        let presses = (0..50).map(|n| {
            let id = registrations[n % registrations.len()];
            numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Voice)
        });
        let answers = futures::future::join_all(presses).await;
        let sent = answers.iter().filter(|answer| answer.is_ok()).count();
        assert_eq!(
            sent,
            usize::try_from(numbers::SENDS_PER_ATTORNEY_PER_DAY).expect("limit"),
            "{answers:?}"
        );
        assert!(
            answers
                .iter()
                .any(|a| matches!(a, Err(NumberError::TooManySendsForAttorney)))
        );
        assert_eq!(codes_sent(&app, &phones).await, (20, 20));
    }
);
