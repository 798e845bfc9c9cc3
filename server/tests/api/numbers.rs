//! Registering numbers: proof by code, the limits on codes, and the
//! registry following the attorney's standing.

use app::ssr::infra::delivery::Channel;
use app::ssr::numbers::{self, NumberError, Proven};
use app::ssr::registry::Op;

use crate::helpers::journeys::*;
use crate::helpers::{Engine, spawn_app, spawn_app_without_worker};

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
        numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert!(matches!(
            numbers::verify_code(pool, &phones.key, jane, id, wrong).await,
            Err(NumberError::WrongCode { tries_left: 4 })
        ));
        // Proven, but Jane is not verified yet: nothing enters the registry.
        assert_eq!(
            numbers::verify_code(pool, &phones.key, jane, id, &code)
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
        numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Voice)
            .await
            .expect("sent");
        let code = phones.last_code();
        numbers::verify_code(pool, &phones.key, jane, id, &code)
            .await
            .expect("proven");
        assert!(matches!(
            numbers::verify_code(pool, &phones.key, jane, id, &code).await,
            Err(NumberError::NoValidCode)
        ));

        // A second code waits until the first had time to arrive.
        assert!(matches!(
            numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms).await,
            Err(NumberError::TooSoon { .. })
        ));
        let_resend(&app).await;

        // Five wrong tries end a code, even for the right digits after.
        numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        for guess in ["1", "abcdef", "' OR 1=1 --", "9999999", "12345"] {
            assert!(
                numbers::verify_code(pool, &phones.key, jane, id, guess)
                    .await
                    .is_err()
            );
        }
        assert!(matches!(
            numbers::verify_code(pool, &phones.key, jane, id, &code).await,
            Err(NumberError::TooManyTries)
        ));

        // An expired code is refused; a code is for its own attorney only.
        let_resend(&app).await;
        numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        sqlx::query("UPDATE number_codes SET expires_at = 0")
            .execute(pool)
            .await
            .expect("expire");
        assert!(matches!(
            numbers::verify_code(pool, &phones.key, jane, id, &code).await,
            Err(NumberError::NoValidCode)
        ));
        verified_account(&app, "mallory@example.org").await;
        let mallory = user_id(&app, "mallory@example.org").await;
        assert!(matches!(
            numbers::send_code(pool, phones.outgoing(), mallory, id, Channel::Sms).await,
            Err(NumberError::NotFound)
        ));

        // At most five codes an hour to one number.
        for _ in 0..2 {
            let_resend(&app).await;
            numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms)
                .await
                .expect("sent");
        }
        let_resend(&app).await;
        assert!(matches!(
            numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms).await,
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
        verified_account(&app, "jane@example.org").await;
        // A colleague at the same firm, with a bar number of her own.
        verified_member(&app, "jane.too@example.org", "Jane Too", "654321").await;
        for email in ["jane@example.org", "jane.too@example.org"] {
            let user = user_id(&app, email).await;
            let id = numbers::add_number(pool, user, &phone("+1 202 456 1111"), None, None)
                .await
                .expect("added");
            numbers::send_code(pool, phones.outgoing(), user, id, Channel::Sms)
                .await
                .expect("sent");
            assert_eq!(
                numbers::verify_code(pool, &phones.key, user, id, &phones.last_code())
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
        // A year on, unrenewed, the other holder's registration expires.
        sqlx::query("UPDATE registrations SET expires_at = 1 WHERE id = $1")
            .bind(holders[1].1)
            .execute(pool)
            .await
            .expect("age");
        assert_eq!(numbers::expire_due(pool).await.expect("expire"), 1);
        assert_eq!(numbers::expire_due(pool).await.expect("expire"), 0, "once");
        assert_eq!(
            log(&app).await.last(),
            Some(&(WHITE_HOUSE.to_owned(), Op::Remove))
        );
        assert!(matches!(
            numbers::remove_number(pool, holders[1].0, holders[1].1).await,
            Ok(())
        ));
        assert_eq!(
            log(&app).await.len(),
            2,
            "removing an expired number flips nothing"
        );
    }
);

db_test!(
    async fn the_dashboard_adds_proves_and_removes_numbers_without_javascript(engine: Engine) {
        use crate::helpers::form_error;
        use crate::helpers::journeys::{PASSWORD, log_in};

        let app = spawn_app(engine).await;
        assert_eq!(app.get("/numbers").await.headers()["location"], "/login");
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;

        let add = |number, label, extension| add_through_the_form(&app, number, label, extension);
        let long = "2".repeat(5_000);
        let long: &'static str = Box::leak(long.into_boxed_str());
        for (number, label, extension, expected) in [
            ("202-456-111l", "", "", "letters \"l\""),
            ("+44 20 7946 0958", "", "", "North American"),
            ("202-456-111", "", "", "not in use"),
            ("1-900-976-1234", "", "", "premium-rate"),
            (
                "<script>alert(1)</script>",
                "",
                "",
                "not part of a phone number",
            ),
            // Refused before it is read (issue 24): the field's limit.
            (long, "", "", "A phone field is at most 80 characters"),
            (
                "202 456 1111 2222 3333 4444 5555 6666 7777",
                "",
                "",
                "at most 40 characters",
            ),
            ("(202) 456-1111", "fax", "", "label"),
            ("(202) 456-1111", "office", "12345678901", "extension"),
            ("(202) 456-1111", "office", "12a", "extension"),
        ] {
            let error = form_error(&add(number, label, extension).await)
                .unwrap_or_else(|| panic!("{number} {label} {extension}"));
            assert!(error.contains(expected), "{number}: {error}");
        }
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registrations")
            .fetch_one(app.database.pool())
            .await
            .expect("count");
        assert_eq!(stored, 0, "refused input stores nothing");

        assert_eq!(
            add("(202) 456-1111", "office", "42").await.headers()["location"],
            "/numbers?added=(202)%20456-1111&ext=42"
        );
        let twice = add("202.456.1111", "", "").await;
        assert!(
            form_error(&twice)
                .expect("error")
                .contains("already registered")
        );
        let page = app.get("/numbers").await.text().await.expect("page");
        assert!(page.contains("(202) 456-1111 ext. 42 (office)"), "{page}");
        assert!(page.contains("Not proven yet"));
        let id: i64 = sqlx::query_scalar("SELECT id FROM registrations")
            .fetch_one(app.database.pool())
            .await
            .expect("id");
        let id = id.to_string();

        let no_channel = app
            .post_form_from(
                "/numbers",
                "/api/send_number_code",
                &[("registration", &id)],
            )
            .await;
        assert!(
            form_error(&no_channel)
                .expect("error")
                .contains("text message or voice")
        );
        let sent = app
            .post_form_from(
                "/numbers",
                "/api/send_number_code",
                &[("registration", &id), ("channel", "voice")],
            )
            .await;
        assert_eq!(sent.headers()["location"], format!("/numbers?sent={id}"));
        let code = latest_code(app.outbox.path());
        // Mistyped codes are refused with what was read, and cost no try;
        // one written down in groups, as the call reads it, is the code.
        let prove = |code: String| {
            let (app, id) = (&app, &id);
            async move {
                app.post_form_from(
                    "/numbers",
                    "/api/prove_number",
                    &[("registration", id.as_str()), ("code", code.as_str())],
                )
                .await
            }
        };
        for (typed, said) in [
            (code[..5].to_owned(), format!("“{}” has 5", &code[..5])),
            (format!("{code}!"), "has other characters".to_owned()),
        ] {
            let refused = prove(typed).await;
            let error = form_error(&refused).expect("refused");
            assert!(error.contains(&said), "{error}");
        }
        let tries: i64 = sqlx::query_scalar("SELECT wrong_tries FROM number_codes")
            .fetch_one(app.database.pool())
            .await
            .expect("tries");
        assert_eq!(tries, 0, "a mistyped code is not a wrong guess");
        let grouped = format!(" {} {} ", &code[..3], &code[3..]);
        assert_eq!(
            prove(grouped).await.headers()["location"],
            format!("/numbers?proven={id}")
        );
        let page = app.get("/numbers").await.text().await.expect("page");
        assert!(page.contains("In the registry until"), "{page}");
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);

        // Someone else's registration is not found, whatever they try.
        let other = crate::helpers::browser_like_client();
        verified_account(&app, "mallory@example.org").await;
        other
            .post(app.url("/api/log_in"))
            .header("referer", app.url("/login"))
            .form(&[("email", "mallory@example.org"), ("password", PASSWORD)])
            .send()
            .await
            .expect("sign in");
        let steal = other
            .post(app.url("/api/remove_number"))
            .header("referer", app.url("/numbers"))
            .form(&[("registration", id.as_str())])
            .send()
            .await
            .expect("post");
        assert!(form_error(&steal).expect("error").contains("Not found"));

        let removed = app
            .post_form_from("/numbers", "/api/remove_number", &[("registration", &id)])
            .await;
        assert_eq!(removed.headers()["location"], "/numbers?removed=1");
        assert_eq!(
            log(&app).await.last(),
            Some(&(WHITE_HOUSE.to_owned(), Op::Remove))
        );
    }
);

db_test!(
    async fn double_submits_and_racing_attorneys_leave_one_truth(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        verified_account(&app, "jane.too@example.org").await;
        let (jane, partner) = (
            user_id(&app, "jane@example.org").await,
            user_id(&app, "jane.too@example.org").await,
        );
        let number = phone("(202) 456-1111");

        // Two attorneys add one number at once: both hold it.
        let (first, second) = tokio::join!(
            numbers::add_number(pool, jane, &number, None, None),
            numbers::add_number(pool, partner, &number, None, None),
        );
        let (first, second) = (first.expect("jane adds"), second.expect("partner adds"));
        // One attorney submitting twice gets one registration.
        let (again, once_more) = tokio::join!(
            numbers::add_number(pool, jane, &number, None, None),
            numbers::add_number(pool, jane, &number, None, None),
        );
        assert!(again.is_err() && once_more.is_err());

        // The same right code submitted twice at once proves once.
        numbers::send_code(pool, phones.outgoing(), jane, first, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        let (a, b) = tokio::join!(
            numbers::verify_code(pool, &phones.key, jane, first, &code),
            numbers::verify_code(pool, &phones.key, jane, first, &code),
        );
        assert_eq!(
            usize::from(a.is_ok()) + usize::from(b.is_ok()),
            1,
            "{a:?} {b:?}"
        );
        numbers::send_code(pool, phones.outgoing(), partner, second, Channel::Sms)
            .await
            .expect("sent");
        numbers::verify_code(pool, &phones.key, partner, second, &phones.last_code())
            .await
            .expect("proven");
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);
    }
);

db_test!(
    async fn renewal_reminders_go_out_once_at_30_and_7_days(engine: Engine) {
        const DAY: i64 = 24 * 60 * 60 * 1000;

        let app = spawn_app_without_worker(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        let id = phones.proven_white_house(pool, jane).await;
        let expire_in = |days: i64| {
            sqlx::query("UPDATE registrations SET expires_at = $1 WHERE id = $2")
                .bind(app::ssr::infra::clock::now_millis() + days * DAY + DAY / 2)
                .bind(id)
                .execute(pool)
        };
        let remind = || numbers::queue_reminders(pool, &app.address);

        assert_eq!(remind().await.expect("reminders"), 0, "a year away");
        expire_in(20).await.expect("age");
        assert_eq!(remind().await.expect("reminders"), 1);
        assert_eq!(remind().await.expect("reminders"), 0, "once");
        // Queued with its claim, not sent until the worker runs.
        assert!(
            !app.emails()
                .iter()
                .any(|mail| mail.contains("Renew your number"))
        );
        assert_eq!(app.run_due_jobs().await, 1);
        let mail = app
            .emails()
            .into_iter()
            .find(|mail| mail.contains("Renew your number"))
            .expect("the reminder is sent");
        assert!(mail.contains("To: jane@example.org") && mail.contains("(202) 456-1111"));
        assert!(
            mail.contains("in\n20 days") || mail.contains("20 days"),
            "{mail}"
        );
        expire_in(5).await.expect("age");
        assert_eq!(remind().await.expect("reminders"), 1, "the 7-day reminder");
        assert_eq!(remind().await.expect("reminders"), 0);

        // Renewing starts the reminders afresh for the new year.
        let_resend(&app).await;
        numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms)
            .await
            .expect("sent");
        numbers::verify_code(pool, &phones.key, jane, id, &phones.last_code())
            .await
            .expect("renewed");
        expire_in(3).await.expect("age");
        assert_eq!(
            remind().await.expect("reminders"),
            1,
            "one reminder, not two"
        );
    }
);

/// The attorney's add-number form, posted without JavaScript.
async fn add_through_the_form(
    app: &crate::helpers::TestApp,
    number: &str,
    label: &str,
    extension: &str,
) -> reqwest::Response {
    app.post_form_from(
        "/numbers",
        "/api/add_number",
        &[
            ("number", number),
            ("label", label),
            ("extension", extension),
        ],
    )
    .await
}

db_test!(
    async fn numbers_pasted_from_signatures_are_read_and_shown_as_read(engine: Engine) {
        use crate::helpers::form_error;
        use crate::helpers::journeys::{PASSWORD, log_in};

        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        let add = |number, extension| add_through_the_form(&app, number, "", extension);

        // Refusals name what was read and why; nothing invisible is echoed.
        for (number, extension, expected) in [
            (
                "202-555-0144 x12",
                "13",
                "extension 12 but the extension field says 13",
            ),
            ("+1 876 927 1234", "", "Jamaica"),
            ("+1 809 221 1234", "", "toll-fraud"),
            ("202\u{200B}555-0145", "", "U+200B zero-width space"),
        ] {
            let error = form_error(&add(number, extension).await)
                .unwrap_or_else(|| panic!("{number} was accepted"));
            assert!(error.contains(expected), "{number}: {error}");
            assert!(!error.contains('\u{200B}'), "{error}");
        }

        // An extension in the number moves to the extension field; Unicode
        // hyphens and no-break spaces read as their plain forms.
        for (number, extension, location) in [
            (
                "(202) 555-0143 ext. 12",
                "",
                "/numbers?added=(202)%20555-0143&ext=12",
            ),
            (
                "202\u{2011}555\u{2011}0146 #7",
                "7",
                "/numbers?added=(202)%20555-0146&ext=7",
            ),
            (
                "202\u{00A0}555\u{202F}0147",
                "",
                "/numbers?added=(202)%20555-0147",
            ),
            (
                "1-800-555-LAWS",
                "",
                "/numbers?added=(800)%20555-5297&toll_free=1",
            ),
        ] {
            let added = add(number, extension).await;
            assert_eq!(added.headers()["location"], location, "{number}");
        }
        let stored: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT e164, extension FROM registrations ORDER BY id")
                .fetch_all(app.database.pool())
                .await
                .expect("stored");
        assert_eq!(
            stored,
            vec![
                ("+12025550143".to_owned(), Some("12".to_owned())),
                ("+12025550146".to_owned(), Some("7".to_owned())),
                ("+12025550147".to_owned(), None),
                ("+18005555297".to_owned(), None),
            ]
        );

        // The page says what was read, and warns about a toll-free number.
        let page = app
            .get("/numbers?added=(202)%20555-0143&ext=12")
            .await
            .text()
            .await
            .expect("page");
        assert!(
            page.contains("Added (202) 555-0143, extension 12, as we read it."),
            "{page}"
        );
        let page = app
            .get("/numbers?added=(800)%20555-5297&toll_free=1")
            .await
            .text()
            .await
            .expect("page");
        assert!(page.contains("Added (800) 555-5297"), "{page}");
        assert!(page.contains("many facilities"), "{page}");
        // A crafted link cannot put other words on the page.
        let page = app
            .get("/numbers?added=Call%20us%20now")
            .await
            .text()
            .await
            .expect("page");
        assert!(!page.contains("Call us now"));
    }
);

db_test!(
    async fn proving_counts_each_try_first_and_throttles_the_attorney(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        let phones = Phones::new();
        let jane = writer_accounts(pool, 1).await[0];
        let id = numbers::add_number(pool, jane, &phone(WHITE_HOUSE), None, None)
            .await
            .expect("added");
        numbers::send_code(pool, phones.outgoing(), jane, id, Channel::Sms)
            .await
            .expect("sent");
        let code = phones.last_code();
        let stored: String = sqlx::query_scalar("SELECT code_hash FROM number_codes")
            .fetch_one(pool)
            .await
            .expect("stored");
        assert_eq!(stored.len(), 64, "an HMAC-SHA256 tag in hex, not argon2");
        assert!(!stored.contains(&code));

        // Twenty wrong tries at once: five are compared, the code is spent.
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let tries = (0..20).map(|_| numbers::verify_code(pool, &phones.key, jane, id, wrong));
        let answers = futures::future::join_all(tries).await;
        let compared = answers
            .iter()
            .filter(|a| matches!(a, Err(NumberError::WrongCode { .. })))
            .count();
        assert_eq!(
            compared, 4,
            "the fifth wrong try ends the code: {answers:?}"
        );
        let counted: i64 = sqlx::query_scalar("SELECT wrong_tries FROM number_codes")
            .fetch_one(pool)
            .await
            .expect("tries");
        assert_eq!(counted, numbers::MAX_WRONG_TRIES);
        assert!(matches!(
            numbers::verify_code(pool, &phones.key, jane, id, &code).await,
            Err(NumberError::TooManyTries)
        ));

        // A code stored under another key (or an old argon2 hash) never
        // matches.
        let code = phones.new_code(&app, jane, id).await;
        let other_key = app::ssr::infra::secrets::CodeKey::generate();
        assert!(matches!(
            numbers::verify_code(pool, &other_key, jane, id, &code).await,
            Err(NumberError::WrongCode { tries_left: 4 })
        ));
        assert!(
            numbers::verify_code(pool, &phones.key, jane, id, &code)
                .await
                .is_ok()
        );

        // Without CODE_HMAC_KEY every instance on one database shares the
        // key kept in it.
        let stored = app::ssr::infra::secrets::CodeKey::stored(pool)
            .await
            .expect("stored key");
        let tag = app.state.code_key.tag(id, &code);
        assert!(stored.verify(id, &code, &tag));

        // Past the attorney's hourly tries, nothing is even looked up.
        let limit = numbers::PROOF_TRIES_PER_ATTORNEY.max_hits;
        let mut refused = 0;
        for _ in 0..limit {
            if matches!(
                numbers::verify_code(pool, &phones.key, jane, id, "123456").await,
                Err(NumberError::TooManyProofTries { .. })
            ) {
                refused += 1;
            }
        }
        assert!(refused > 0, "the attorney's tries are limited");
        assert!(matches!(
            numbers::verify_code(pool, &phones.key, jane, id, "123456").await,
            Err(NumberError::TooManyProofTries { retry_after_secs }) if retry_after_secs > 0
        ));
    }
);
