//! Account takeover closed (issue 12, part 5), one journey per path: the
//! owner gets past a flood of wrong passwords, parallel guesses cannot
//! pass the limits, promotion needs a confirmed address, a sign-in starts
//! from an empty session, two-step sign-in is changed only with the
//! password, a promoted attorney's numbers leave the registry, and one
//! mailbox gets only a few emails of each kind.

use app::ssr::accounts::AccountError;
use app::ssr::infra::clock::now_millis;
use app::ssr::registry::Op;
use futures::future::join_all;

use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestApp, browser_like_client, form_error, spawn_app, spawn_app_with};

const HOUR_MS: i64 = 3_600_000;
const NEW_PASSWORD: &str = "quiet harbour kettle";

/// Sign-in limits count per hour: when less than `secs` of this hour is
/// left, waits for the next one, so that a test's counts share a window.
async fn clear_of_the_hour_end(secs: i64) {
    let left = HOUR_MS - now_millis() % HOUR_MS;
    if left < secs * 1000 {
        tokio::time::sleep(std::time::Duration::from_millis((left + 100) as u64)).await;
    }
}

/// `hits` counted on `bucket` in this hour (whatever was counted
/// before), as if that many tries had been made.
async fn seed_hits(app: &TestApp, bucket: &str, hits: i64) {
    let now = now_millis();
    sqlx::query(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = excluded.hits",
    )
    .bind(bucket)
    .bind(now - now % HOUR_MS)
    .bind(hits)
    .execute(app.database.pool())
    .await
    .expect("seed the count");
}

async fn hits(app: &TestApp, bucket: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT CAST(COALESCE(SUM(hits), 0) AS BIGINT) FROM rate_limits WHERE bucket = $1",
    )
    .bind(bucket)
    .fetch_one(app.database.pool())
    .await
    .expect("count")
}

/// The attorney signed in on `app.client` turns two-step sign-in on from
/// the page, with `password`; their authenticator app.
async fn two_step_sign_in_on(app: &TestApp, email: &str, password: &str) -> Admin {
    let phone = authenticator_from_page(app, email).await;
    enable_two_step(app, &phone, password).await;
    phone
}

/// Six digits none of the codes around now: surely wrong.
fn wrong_code(phone: &Admin) -> String {
    let near: Vec<String> = (-3..=3).map(|step| phone.code_at(step * 30)).collect();
    (0..10)
        .map(|digit| digit.to_string().repeat(6))
        .find(|code| !near.contains(code))
        .expect("a wrong code")
}

/// `server admin create --email <email>`, as the operator runs it.
async fn admin_create(app: &TestApp, email: &str) -> anyhow::Result<()> {
    let outbox = app.outbox.path().display().to_string();
    let variables = [
        ("DATABASE_URL", app.test_database.url.clone()),
        ("MAIL_OUTBOX_DIR", outbox),
    ];
    let settings = server::configuration::Settings::from_lookup(|name| {
        variables
            .iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, value)| value.clone())
    })
    .expect("settings");
    server::cli::admin(
        &settings,
        server::cli::AdminCommand::Create {
            email: email.to_owned(),
            name: "Site Administrator".to_owned(),
            bar: None,
        },
    )
    .await
}

fn emails_to(app: &TestApp, address: &str) -> Vec<String> {
    let header = format!("To: {address}");
    app.emails()
        .into_iter()
        .filter(|mail| mail.contains(&header))
        .collect()
}

async fn role_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT role FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("role")
}

async fn two_factor_on(app: &TestApp, email: &str) -> bool {
    sqlx::query_scalar::<_, Option<String>>("SELECT totp_secret FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("secret")
        .is_some()
}

/// A sign-in posted from a browser of its own (another client address
/// in effect): its answer.
async fn log_in_elsewhere(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    browser_like_client()
        .post(app.url("/api/log_in"))
        .header("referer", app.url("/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("request sent")
}

fn count_errors(answers: &[reqwest::Response], words: &str) -> usize {
    answers
        .iter()
        .filter(|answer| form_error(answer).is_some_and(|error| error.contains(words)))
        .count()
}

db_test!(
    async fn after_100_wrong_passwords_the_owner_gets_in_by_code_or_by_reset(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        assert_eq!(
            location(&log_in(&app, "jane@example.org", PASSWORD).await),
            "/account"
        );
        let jane_phone = two_step_sign_in_on(&app, "jane@example.org", PASSWORD).await;
        log_out(&app).await;
        verified_account(&app, "bob@example.org").await;

        clear_of_the_hour_end(60).await;
        // Someone tried 100 wrong passwords on each address this hour.
        for email in ["jane@example.org", "bob@example.org"] {
            seed_hits(&app, &format!("login-failures:{email}"), 100).await;
        }
        let attacker = log_in(&app, "jane@example.org", "a guess at the password").await;
        let refused = form_error(&attacker).expect("refused");
        assert!(refused.contains("Too many failed sign-ins"), "{refused}");

        // Jane has two-step sign-in: her password leads to the code, and
        // the code opens her account.
        let password_step = log_in(&app, "jane@example.org", PASSWORD).await;
        assert_eq!(form_error(&password_step), None);
        assert_eq!(location(&password_step), "/login/two-factor");
        let code_step = post_second_factor(&app, &jane_phone.code_at(30)).await;
        assert_eq!(location(&code_step), "/account");
        assert_eq!(app.get("/account").await.status(), 200);
        log_out(&app).await;
        // The attacker is still stopped.
        let again = log_in(&app, "jane@example.org", "another guess at it").await;
        assert!(
            form_error(&again)
                .expect("refused")
                .contains("Too many failed sign-ins")
        );

        // Bob has none: his right password is refused too...
        let bob = log_in(&app, "bob@example.org", PASSWORD).await;
        let refused = form_error(&bob).expect("refused");
        assert!(refused.contains("Too many failed sign-ins"), "{refused}");
        assert!(refused.contains("Reset your password"), "{refused}");
        assert_eq!(location(&app.get("/account").await), "/login");

        // ...until he resets it by email.
        let asked = app
            .post_form_from(
                "/forgot-password",
                "/api/request_password_reset",
                &[("email", "bob@example.org")],
            )
            .await;
        assert_eq!(location(&asked), "/forgot-password/sent");
        let token = token_of(
            &app.link_in_last_email_to("bob@example.org", &app.url("/reset-password?token=")),
        );
        let reset = app
            .post_form_from(
                "/reset-password",
                "/api/reset_password",
                &[("token", &token), ("password", NEW_PASSWORD)],
            )
            .await;
        assert_eq!(location(&reset), "/login?reset=1");
        let signed_in = log_in(&app, "bob@example.org", NEW_PASSWORD).await;
        assert_eq!(form_error(&signed_in), None);
        assert_eq!(location(&signed_in), "/account");
        assert_eq!(app.get("/account").await.status(), 200);
    }
);

db_test!(
    async fn wrong_passwords_sent_at_once_near_the_limit_cannot_pass_it(engine: Engine) {
        let app = spawn_app_with(engine, &[("AUTH_ATTEMPTS_PER_MINUTE", "100000")]).await;
        verified_account(&app, "jane@example.org").await;
        clear_of_the_hour_end(60).await;
        seed_hits(&app, "login-failures:jane@example.org", 95).await;

        // Twenty guesses from twenty browsers at once: five are left.
        let answers = join_all(
            (0..20).map(|_| log_in_elsewhere(&app, "jane@example.org", "one guess of many")),
        )
        .await;
        let wrong = count_errors(&answers, "Wrong email or password");
        let stopped = count_errors(&answers, "Too many failed sign-ins");
        assert_eq!((wrong, stopped), (5, 15), "checked, stopped");
        // All came from one client: only its first ten counted at the
        // address (issue 24), the rest were stopped by its own limit.
        assert_eq!(hits(&app, "login-failures:jane@example.org").await, 105);
    }
);

db_test!(
    async fn wrong_codes_sent_at_once_are_checked_at_most_ten_an_hour(engine: Engine) {
        let app = spawn_app_with(engine, &[("AUTH_ATTEMPTS_PER_MINUTE", "100000")]).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        let phone = two_step_sign_in_on(&app, "jane@example.org", PASSWORD).await;
        log_out(&app).await;
        clear_of_the_hour_end(60).await;

        // Someone who knows the password, from fifteen browsers.
        let browsers: Vec<reqwest::Client> = (0..15).map(|_| browser_like_client()).collect();
        let password_steps = join_all(browsers.iter().map(|browser| {
            browser
                .post(app.url("/api/log_in"))
                .header("referer", app.url("/login"))
                .form(&[("email", "jane@example.org"), ("password", PASSWORD)])
                .send()
        }))
        .await;
        for step in password_steps {
            assert_eq!(location(&step.expect("sent")), "/login/two-factor");
        }
        let guess = wrong_code(&phone);
        let answers: Vec<reqwest::Response> = join_all(browsers.iter().map(|browser| {
            browser
                .post(app.url("/api/verify_second_factor"))
                .header("referer", app.url("/login/two-factor"))
                .form(&[("code", guess.as_str())])
                .send()
        }))
        .await
        .into_iter()
        .map(|answer| answer.expect("sent"))
        .collect();
        let checked = count_errors(&answers, "not valid");
        let stopped = count_errors(&answers, "Too many failed sign-ins for this account");
        assert_eq!((checked, stopped), (10, 5), "checked, stopped");
        let jane = user_id(&app, "jane@example.org").await;
        assert_eq!(
            hits(&app, &format!("second-factor-failures:{jane}")).await,
            15
        );
        // The right passwords took their counts back.
        assert_eq!(hits(&app, "login-failures:jane@example.org").await, 0);
    }
);

db_test!(
    async fn burnt_code_tries_and_password_guesses_from_a_session_are_limited(engine: Engine) {
        let app = spawn_app_with(engine, &[("AUTH_ATTEMPTS_PER_MINUTE", "100000")]).await;
        verified_account(&app, "jane@example.org").await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        clear_of_the_hour_end(60).await;
        // A borrowed session cannot guess the password through the
        // two-step set-up: ten wrong ones, then it is refused unchecked.
        let mut refused = 0;
        for _ in 0..11 {
            let answer = app
                .post_form_from(
                    "/account/two-factor",
                    "/api/enable_two_factor",
                    &[("code", "000000"), ("current_password", "a wrong guess")],
                )
                .await;
            let error = form_error(&answer).expect("refused");
            if error.contains("Too many") {
                refused += 1;
            } else {
                assert!(error.contains("current password"), "{error}");
            }
        }
        assert_eq!(refused, 1, "the eleventh is refused unchecked");

        log_out(&app).await;

        // Bob's account: someone who knows his old password burns the
        // code tries; Bob resets by email and gets in with the new one and
        // a code.
        verified_account(&app, "bob@example.org").await;
        log_in(&app, "bob@example.org", PASSWORD).await;
        let phone = two_step_sign_in_on(&app, "bob@example.org", PASSWORD).await;
        log_out(&app).await;
        let bob = user_id(&app, "bob@example.org").await;
        seed_hits(&app, &format!("second-factor-failures:{bob}"), 10).await;
        app.post_form_from(
            "/forgot-password",
            "/api/request_password_reset",
            &[("email", "bob@example.org")],
        )
        .await;
        let token = token_of(
            &app.link_in_last_email_to("bob@example.org", &app.url("/reset-password?token=")),
        );
        let reset = app
            .post_form_from(
                "/reset-password",
                "/api/reset_password",
                &[("token", &token), ("password", NEW_PASSWORD)],
            )
            .await;
        assert_eq!(location(&reset), "/login?reset=1");
        assert_eq!(
            location(&log_in(&app, "bob@example.org", NEW_PASSWORD).await),
            "/login/two-factor"
        );
        let code = app
            .post_form_from(
                "/login/two-factor",
                "/api/verify_second_factor",
                // The next step's code: this step's was used to enrol.
                &[("code", &phone.code_at(30))],
            )
            .await;
        assert_eq!(location(&code), "/account");
    }
);

db_test!(
    async fn admin_create_promotes_only_a_confirmed_address_and_tells_its_owner(engine: Engine) {
        let app = spawn_app(engine).await;
        assert_eq!(sign_up(&app, "jane@example.org").await.status(), 302);

        // Whoever signed up with Jane's address never confirmed it.
        let refused = admin_create(&app, "jane@example.org")
            .await
            .expect_err("an unconfirmed address is not promoted");
        assert!(
            refused.chain().any(|cause| matches!(
                cause.downcast_ref::<AccountError>(),
                Some(AccountError::EmailNotVerified)
            )),
            "{refused:#}"
        );
        assert_eq!(role_of(&app, "jane@example.org").await, "attorney");
        assert!(
            !emails_to(&app, "jane@example.org")
                .iter()
                .any(|mail| mail.contains("now an administrator"))
        );

        // Once Jane confirms it, she is promoted and told.
        let token =
            token_of(&app.link_in_last_email_to("jane@example.org", &app.url("/verify-email")));
        assert_eq!(location(&verify(&app, &token).await), "/login?verified=1");
        admin_create(&app, "jane@example.org")
            .await
            .expect("promoted");
        assert_eq!(role_of(&app, "jane@example.org").await, "site_admin");
        let told = emails_to(&app, "jane@example.org")
            .into_iter()
            .filter(|mail| mail.contains("now an administrator"))
            .count();
        assert_eq!(told, 1);
        // Her own password, and two-step sign-in to set up first.
        assert_eq!(
            location(&log_in(&app, "jane@example.org", PASSWORD).await),
            "/account/two-factor"
        );
    }
);

db_test!(
    async fn a_sign_in_starts_from_an_empty_session(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        verified_account(&app, "bob@example.org").await;

        let jane_in = log_in(&app, "jane@example.org", PASSWORD).await;
        assert_eq!(location(&jane_in), "/account");
        let jane_cookie = session_cookie(&jane_in);
        let jane_secret = totp_secret_in(&body(app.get("/account/two-factor").await).await);
        assert_eq!(
            totp_secret_in(&body(app.get("/account/two-factor").await).await),
            jane_secret,
            "the pending secret waits in the session"
        );

        // Bob signs in on the same browser without Jane signing out.
        let bob_in = log_in(&app, "bob@example.org", PASSWORD).await;
        assert_eq!(location(&bob_in), "/account");
        let bob_cookie = session_cookie(&bob_in);
        assert_ne!(
            bob_cookie.split(';').next(),
            jane_cookie.split(';').next(),
            "a new session id"
        );
        let bob_secret = totp_secret_in(&body(app.get("/account/two-factor").await).await);
        assert_ne!(bob_secret, jane_secret, "Jane's pending secret is gone");

        // Bob turns it on and leaves his recovery codes unread: Jane,
        // signing in next on this browser, does not get them.
        let bob_phone = Admin::holding("bob@example.org", bob_secret);
        let enabled = app
            .post_form_from(
                "/account/two-factor",
                "/api/enable_two_factor",
                &[
                    ("code", &bob_phone.code_at(0)),
                    ("current_password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&enabled), "/account/two-factor/recovery-codes");
        assert_eq!(
            location(&log_in(&app, "jane@example.org", PASSWORD).await),
            "/account"
        );
        let codes_page = body(app.get("/account/two-factor/recovery-codes").await).await;
        assert!(!codes_page.contains("<code>"), "{codes_page}");
    }
);

db_test!(
    async fn two_step_sign_in_changes_only_with_the_password_and_the_owner_is_told(engine: Engine) {
        let app = spawn_app(engine).await;
        verified_account(&app, "jane@example.org").await;
        let signed_in = log_in(&app, "jane@example.org", PASSWORD).await;
        let cookie = session_cookie(&signed_in);
        let phone = Admin::holding(
            "jane@example.org",
            totp_secret_in(&body(app.get("/account/two-factor").await).await),
        );

        // Someone at Jane's open session without her password.
        let stranger = app
            .post_form_from(
                "/account/two-factor",
                "/api/enable_two_factor",
                &[
                    ("code", &phone.code_at(0)),
                    ("current_password", "not her password"),
                ],
            )
            .await;
        let refused = form_error(&stranger).expect("refused");
        assert!(refused.contains("current password"), "{refused}");
        assert!(!two_factor_on(&app, "jane@example.org").await);

        let enabled = app
            .post_form_from(
                "/account/two-factor",
                "/api/enable_two_factor",
                &[("code", &phone.code_at(0)), ("current_password", PASSWORD)],
            )
            .await;
        assert_eq!(location(&enabled), "/account/two-factor/recovery-codes");
        assert_ne!(
            session_cookie(&enabled).split(';').next(),
            cookie.split(';').next(),
            "a new session id"
        );
        assert!(two_factor_on(&app, "jane@example.org").await);
        assert_eq!(app.get("/account").await.status(), 200, "still signed in");
        let on = emails_to(&app, "jane@example.org");
        assert!(
            on.last()
                .is_some_and(|mail| mail.contains("Two-step sign-in is on")),
            "{on:?}"
        );

        // Off again: the password and a code, both right.
        let no_password = app
            .post_form_from(
                "/account/two-factor",
                "/api/disable_two_factor",
                &[
                    ("current_password", "not her password"),
                    ("code", &phone.code_at(30)),
                ],
            )
            .await;
        assert!(
            form_error(&no_password)
                .expect("refused")
                .contains("current password")
        );
        let no_code = app
            .post_form_from(
                "/account/two-factor",
                "/api/disable_two_factor",
                &[
                    ("current_password", PASSWORD),
                    ("code", &wrong_code(&phone)),
                ],
            )
            .await;
        assert!(form_error(&no_code).expect("refused").contains("not valid"));
        assert!(two_factor_on(&app, "jane@example.org").await);
        let disabled = app
            .post_form_from(
                "/account/two-factor",
                "/api/disable_two_factor",
                &[("current_password", PASSWORD), ("code", &phone.code_at(30))],
            )
            .await;
        assert_eq!(form_error(&disabled), None);
        assert_eq!(location(&disabled), "/account/two-factor?off=1");
        assert!(!two_factor_on(&app, "jane@example.org").await);
        let off = emails_to(&app, "jane@example.org");
        assert!(
            off.last()
                .is_some_and(|mail| mail.contains("Two-step sign-in is off")),
            "{off:?}"
        );

        // An admin must keep it.
        log_out(&app).await;
        let admin = enrolled_site_admin(&app, "ada@example.org").await;
        let attempt = app
            .post_form_from(
                "/account/two-factor",
                "/api/disable_two_factor",
                &[
                    ("current_password", ADMIN_PASSWORD),
                    ("code", &admin.code_at(30)),
                ],
            )
            .await;
        assert_eq!(
            form_error(&attempt).as_deref(),
            Some("You do not have permission to do that.")
        );
        assert!(two_factor_on(&app, "ada@example.org").await);
        assert!(
            !emails_to(&app, "ada@example.org")
                .iter()
                .any(|mail| mail.contains("Two-step sign-in is off"))
        );
    }
);

db_test!(
    async fn a_promoted_attorneys_numbers_leave_the_registry(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        let jane = user_id(&app, "jane@example.org").await;
        Phones::new().proven_white_house(pool, jane).await;
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);

        admin_create(&app, "jane@example.org")
            .await
            .expect("promoted");
        assert_eq!(
            log(&app).await,
            vec![
                (WHITE_HOUSE.to_owned(), Op::Add),
                (WHITE_HOUSE.to_owned(), Op::Remove)
            ]
        );
        // The roster confirming her standing again brings nothing back.
        seed_status(&app, "suspended").await;
        seed_status(&app, "active").await;
        assert_eq!(log(&app).await.len(), 2, "{:?}", log(&app).await);
    }
);

db_test!(
    async fn one_mailbox_gets_a_few_emails_of_each_kind_only(engine: Engine) {
        let app = spawn_app(engine).await;
        // Reset mail counts per half hour: stay inside one.
        let left = HOUR_MS / 2 - now_millis() % (HOUR_MS / 2);
        if left < 60_000 {
            tokio::time::sleep(std::time::Duration::from_millis((left + 100) as u64)).await;
        }
        // Jane's sign-up confirmation counts apart from the resets
        // (issue 24: other mail cannot use up the way back in).
        verified_account(&app, "jane@example.org").await;
        for address in ["nobody@example.org", "jane@example.org"] {
            for _ in 0..6 {
                let asked = app
                    .post_form_from(
                        "/forgot-password",
                        "/api/request_password_reset",
                        &[("email", address)],
                    )
                    .await;
                assert_eq!(location(&asked), "/forgot-password/sent", "the same answer");
            }
        }
        assert_eq!(emails_to(&app, "nobody@example.org").len(), 3);
        let resets_to_jane = emails_to(&app, "jane@example.org")
            .iter()
            .filter(|mail| mail.contains("/reset-password?token="))
            .count();
        assert_eq!(resets_to_jane, 3);
        assert_eq!(emails_to(&app, "jane@example.org").len(), 4);
    }
);
