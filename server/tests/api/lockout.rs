//! Lock-out closed (issue 24, findings 6 and 9), one journey per path:
//! notices a stranger sets off never starve the attorney's password
//! reset; one client's wrong passwords do not stop the attorney signing
//! in from another; an old reset link dies when a new one is issued and
//! when the password changes; no queued job holds a bearer link; an
//! admin's number look-up is in the audit trail; an attorney with a live
//! number is offered two-step sign-in.

use app::domain::{EmailAddress, PersonName};
use app::ssr::accounts::admins::{AdminRole, create_admin};
use app::ssr::infra::audit_trail::{self, Actor};
use app::ssr::infra::mail::{MailTransport, Mailer};
use futures::future::join_all;

use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestApp, form_error, spawn_app, spawn_app_with};

const NEW_PASSWORD: &str = "quiet harbour kettle";
const HALF_HOUR_MS: i64 = 30 * 60 * 1000;

/// Mail limits count per half hour at the shortest: when less than `secs`
/// of this half hour is left, waits for the next one, so that a test's
/// counts share a window.
async fn clear_of_the_half_hour_end(secs: i64) {
    let now = app::ssr::infra::clock::now_millis();
    let left = HALF_HOUR_MS - now % HALF_HOUR_MS;
    if left < secs * 1000 {
        tokio::time::sleep(std::time::Duration::from_millis((left + 100) as u64)).await;
    }
}

fn emails_to(app: &TestApp, address: &str) -> Vec<String> {
    let header = format!("To: {address}");
    app.emails()
        .into_iter()
        .filter(|mail| mail.contains(&header))
        .collect()
}

async fn request_reset(app: &TestApp, email: &str) {
    let asked = app
        .post_form_from(
            "/forgot-password",
            "/api/request_password_reset",
            &[("email", email)],
        )
        .await;
    assert_eq!(location(&asked), "/forgot-password/sent");
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_form_from(
        &format!("/reset-password?token={token}"),
        "/api/reset_password",
        &[("token", token), ("password", password)],
    )
    .await
}

/// The reset link in the latest email to `email`: its token.
fn latest_reset_token(app: &TestApp, email: &str) -> String {
    token_of(&app.link_in_last_email_to(email, &app.url("/reset-password?token=")))
}

/// A sign-in posted through the trusted proxy on behalf of `client`.
async fn log_in_from(
    app: &TestApp,
    client: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    crate::helpers::browser_like_client()
        .post(app.url("/api/log_in"))
        .header("referer", app.url("/login"))
        .header("x-forwarded-for", client)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("request sent")
}

db_test!(
    async fn notices_a_stranger_sets_off_never_starve_the_password_reset(engine: Engine) {
        let app = spawn_app(engine).await;
        clear_of_the_half_hour_end(120).await;
        // Jane is the bar's email of record for CA 123456.
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        // Strangers claim her bar number (each claim asks her mailbox) and
        // sign up with her address (each tells her it has an account).
        for n in 0..6 {
            let stranger = format!("stranger{n}@example.org");
            assert_eq!(sign_up(&app, &stranger).await.status(), 302);
            assert_eq!(sign_up(&app, "jane@example.org").await.status(), 302);
        }
        let notices = emails_to(&app, "jane@example.org").len();
        assert!(notices >= 6, "the notices went out: {notices}");

        // Her reset still arrives, and works.
        request_reset(&app, "jane@example.org").await;
        let resets: Vec<String> = emails_to(&app, "jane@example.org")
            .into_iter()
            .filter(|mail| mail.contains("/reset-password?token="))
            .collect();
        assert_eq!(resets.len(), 1, "the reset arrived");
        let token = latest_reset_token(&app, "jane@example.org");
        assert_eq!(
            location(&reset(&app, &token, NEW_PASSWORD).await),
            "/login?reset=1"
        );
    }
);

db_test!(
    async fn one_clients_wrong_passwords_do_not_lock_the_attorney_out_of_another(engine: Engine) {
        let app = spawn_app_with(
            engine,
            &[
                ("AUTH_ATTEMPTS_PER_MINUTE", "100000"),
                ("TRUSTED_PROXY_HOPS", "1"),
            ],
        )
        .await;
        verified_account(&app, "jane@example.org").await;
        // An attacker at one address tries a hundred passwords at once.
        let attacker = "203.0.113.66";
        let guesses: Vec<String> = (0..100).map(|n| format!("guess number {n}")).collect();
        let answers = join_all(
            guesses
                .iter()
                .map(|guess| log_in_from(&app, attacker, "jane@example.org", guess)),
        )
        .await;
        // Jane, from her own network, signs in.
        let jane = log_in_from(&app, "198.51.100.7", "jane@example.org", PASSWORD).await;
        assert_eq!(form_error(&jane), None);
        assert_eq!(location(&jane), "/account");

        let stopped = answers
            .iter()
            .filter(|answer| {
                form_error(answer).is_some_and(|error| error.contains("Too many failed sign-ins"))
            })
            .count();
        assert!(stopped >= 80, "the attacker is stopped: {stopped}");
        // Even the right password does not open the account from there.
        let from_attacker = log_in_from(&app, attacker, "jane@example.org", PASSWORD).await;
        assert!(
            form_error(&from_attacker)
                .expect("refused")
                .contains("Too many failed sign-ins")
        );

        // A reset by email lifts every count of the account, that
        // address's too.
        request_reset(&app, "jane@example.org").await;
        let token = latest_reset_token(&app, "jane@example.org");
        assert_eq!(
            location(&reset(&app, &token, NEW_PASSWORD).await),
            "/login?reset=1"
        );
        let lifted = log_in_from(&app, attacker, "jane@example.org", NEW_PASSWORD).await;
        assert_eq!(form_error(&lifted), None);
        assert_eq!(location(&lifted), "/account");
    }
);

db_test!(
    async fn an_old_reset_link_dies_on_reissue_and_on_password_change(engine: Engine) {
        let app = spawn_app(engine).await;
        clear_of_the_half_hour_end(60).await;
        verified_account(&app, "jane@example.org").await;
        request_reset(&app, "jane@example.org").await;
        let first = latest_reset_token(&app, "jane@example.org");
        request_reset(&app, "jane@example.org").await;
        let second = latest_reset_token(&app, "jane@example.org");
        assert_ne!(first, second);
        let refused = reset(&app, &first, NEW_PASSWORD).await;
        assert!(
            form_error(&refused).expect("refused").contains("invalid"),
            "the first link died when the second was issued"
        );

        // Jane signs in and changes her password: the second link dies too.
        assert_eq!(
            location(&log_in(&app, "jane@example.org", PASSWORD).await),
            "/account"
        );
        let changed = app
            .post_form_from(
                "/account/password",
                "/api/change_password",
                &[("current_password", PASSWORD), ("password", NEW_PASSWORD)],
            )
            .await;
        assert_eq!(location(&changed), "/account?password_changed=1");
        let refused = reset(&app, &second, "another harbour kettle").await;
        assert!(
            form_error(&refused).expect("refused").contains("invalid"),
            "the second link died with the password change"
        );
    }
);

db_test!(
    async fn no_queued_job_holds_a_bearer_link(engine: Engine) {
        let app = spawn_app(engine).await;
        // A confirmation link, a reset link and an admin's invitation.
        verified_account(&app, "jane@example.org").await;
        request_reset(&app, "jane@example.org").await;
        let mailer = Mailer::new(
            "Counsel Registry <no-reply@example.org>",
            &MailTransport::Outbox(app.outbox.path().to_owned()),
        )
        .expect("mailer");
        create_admin(
            &app.database,
            &mailer,
            &app.address,
            &EmailAddress::parse("ada@example.org").expect("email"),
            &PersonName::parse("Ada Admin").expect("name"),
            AdminRole::Site,
            &Actor::command_line(),
        )
        .await
        .expect("admin created");

        let tokens: Vec<String> = app
            .emails()
            .iter()
            .flat_map(|mail| mail.split("token=").skip(1).map(str::to_owned))
            .map(|rest| {
                rest.split(|c: char| c.is_whitespace() || c == '&')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert!(tokens.len() >= 3, "three links went out: {tokens:?}");
        let payloads: Vec<String> = sqlx::query_scalar("SELECT payload FROM jobs")
            .fetch_all(app.database.pool())
            .await
            .expect("payloads");
        assert!(payloads.len() >= 3, "the emails were queued: {payloads:?}");
        for payload in &payloads {
            assert!(!payload.contains("token="), "a link in {payload}");
            for token in &tokens {
                assert!(!payload.contains(token.as_str()), "a token in {payload}");
            }
        }
    }
);

db_test!(
    async fn an_admins_number_look_up_is_in_the_audit_trail(engine: Engine) {
        let app = spawn_app(engine).await;
        let _admin = enrolled_site_admin(&app, "ada@example.org").await;
        let page = body(app.get("/admin/numbers?number=202-456-1111").await).await;
        assert!(page.contains("not in the registry"), "{page}");
        let entries = audit_trail::recent(app.database.pool(), 10)
            .await
            .expect("entries");
        let lookup = entries
            .iter()
            .find(|entry| entry.action == "number_looked_up")
            .unwrap_or_else(|| panic!("no look-up in {entries:?}"));
        assert!(lookup.subject.contains("+12024561111"), "{lookup:?}");
        assert!(lookup.actor.contains("ada@example.org"), "{lookup:?}");
        assert!(
            audit_trail::verify(app.database.pool())
                .await
                .expect("verify")
                .problems
                .is_empty()
        );
    }
);

db_test!(
    async fn an_attorney_with_a_live_number_is_offered_two_step_sign_in(engine: Engine) {
        let app = spawn_app(engine).await;
        let phones = Phones::new();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        assert_eq!(
            location(&log_in(&app, "jane@example.org", PASSWORD).await),
            "/account"
        );
        let offer = "data-testid=\"two-step-offer\"";
        let before = body(app.get("/account").await).await;
        assert!(!before.contains(offer), "no number yet: {before}");

        let jane = user_id(&app, "jane@example.org").await;
        phones.proven_white_house(app.database.pool(), jane).await;
        let live = body(app.get("/account").await).await;
        assert!(live.contains(offer), "{live}");
        assert!(live.contains("href=\"/account/two-factor\""), "{live}");

        let phone = authenticator_from_page(&app, "jane@example.org").await;
        enable_two_step(&app, &phone, PASSWORD).await;
        let after = body(app.get("/account").await).await;
        assert!(!after.contains(offer), "two-step is on: {after}");
    }
);
