//! Issue 24: a claim is proven by the person who created the account,
//! never by a bare click. One who signs up with an attorney's published
//! name, bar number and the bar's email of record is not verified when
//! the attorney, trusting a friendly greeting, presses "confirm"; the bar's
//! email of record hears of every number that becomes privileged under
//! its bar number and can take it out; its "this was not me" outweighs a
//! reviewer's approval; a reviewer approving while a claim link waits for
//! an answer says so, on the record.

use app::ssr::registry::Op;

use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestApp, eventually, form_error, spawn_app};

/// The impostor's own password (not the one the helpers sign up with).
const IMPOSTOR_PASSWORD: &str = "copper harbor lantern";

/// The roster: Jane Doe, CA 123456, active, with `email` on record.
async fn roster_with_email_of_record(app: &TestApp, email: &str) {
    let csv = format!(
        "jurisdiction,bar_number,full_name,status,email\nCA,123456,Jane Doe,active,{email}\n"
    );
    app::ssr::standing::seed_csv(app.database.pool(), std::io::Cursor::new(csv), None)
        .await
        .expect("seed");
}

async fn standing_of(app: &TestApp, email: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT standing, standing_reason FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("standing")
}

/// The latest email to `to` whose text contains `marker`.
fn mail_to_with(app: &TestApp, to: &str, marker: &str) -> Option<String> {
    let header = format!("To: {to}");
    app.emails()
        .into_iter()
        .rev()
        .find(|mail| mail.contains(&header) && mail.contains(marker))
}

/// The first link in `mail` that starts with `prefix`.
fn link_in(mail: &str, prefix: &str) -> String {
    let start = mail
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {mail}"));
    mail[start..]
        .split(char::is_whitespace)
        .next()
        .expect("link")
        .to_owned()
}

/// The `token` parameter of a link.
fn token_in(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("token")
        .to_owned()
}

async fn confirm(app: &TestApp, token: &str, password: Option<&str>) -> reqwest::Response {
    let mut form = vec![("token", token)];
    form.extend(password.map(|password| ("password", password)));
    app.post_form_from(
        &format!("/verify-email?token={token}"),
        "/api/verify_email",
        &form,
    )
    .await
}

async fn answer_claim(app: &TestApp, token: &str, answer: &str) -> reqwest::Response {
    app.post_form_from(
        &format!("/claim?token={token}"),
        "/api/answer_claim",
        &[("token", token), ("answer", answer)],
    )
    .await
}

/// Someone signs up as Jane Q. Doe, CA 123456, with `email` and their own
/// password.
async fn impostor_signs_up(app: &TestApp, email: &str, password: &str) {
    let form = [
        ("full_name", "Jane Q. Doe"),
        ("email", email),
        ("jurisdiction", "CA"),
        ("bar_number", "123456"),
        ("password", password),
    ];
    let response = app.post_form_from("/signup", "/api/sign_up", &form).await;
    assert_eq!(response.status(), 302);
}

/// The site admin (signed in on `app.client`) decides on `user_id`.
async fn decide(app: &TestApp, user_id: i64, override_claim: bool) -> reqwest::Response {
    let id = user_id.to_string();
    let mut form = vec![
        ("user_id", id.as_str()),
        ("decision", "approve"),
        ("reason", "Bar card checked."),
    ];
    if override_claim {
        form.push(("override_claim", "yes"));
    }
    app.post_form_from("/admin/reviews", "/api/decide_review", &form)
        .await
}

db_test!(
    async fn a_bare_click_on_the_confirmation_verifies_no_one(engine: Engine) {
        let app = spawn_app(engine).await;
        // Jane Doe, CA 123456, email of record jane@example.org.
        seed_status(&app, "active").await;
        // The impostor knows all three and signs up with their own password.
        impostor_signs_up(&app, "jane@example.org", IMPOSTOR_PASSWORD).await;

        // Jane's mailbox is told what is claimed, and offers "not me".
        let mail = mail_to_with(&app, "jane@example.org", "/verify-email?token=")
            .expect("a confirmation to the email of record");
        for claimed in ["Jane Q. Doe", "CA 123456", "California", "answer=not-mine"] {
            assert!(mail.contains(claimed), "{claimed} in {mail}");
        }
        let token = token_in(&link_in(&mail, &app.url("/verify-email?token=")));
        // The page names the claim and asks for the account's password.
        let page = body(app.get(&format!("/verify-email?token={token}")).await).await;
        assert!(page.contains("CA 123456"), "{page}");
        assert!(page.contains("type=\"password\""), "{page}");
        assert!(page.contains("This was not me"), "{page}");

        // Jane, trusting the greeting, presses the button: no one is
        // verified, and the link still works for its real owner.
        let bare = confirm(&app, &token, None).await;
        assert!(
            form_error(&bare)
                .expect("a bare click is refused")
                .contains("password"),
            "{:?}",
            bare.headers().get("location")
        );
        let (standing, _) = standing_of(&app, "jane@example.org").await;
        assert_eq!(standing, "pending_review");
        // A password that is not the account's is refused too.
        let wrong = confirm(&app, &token, Some(PASSWORD)).await;
        assert!(form_error(&wrong).expect("refused").contains("password"));
        assert_eq!(
            standing_of(&app, "jane@example.org").await.0,
            "pending_review"
        );

        // The one who created the account, holding both the mailbox and the
        // password, is verified.
        let right = confirm(&app, &token, Some(IMPOSTOR_PASSWORD)).await;
        assert_eq!(location(&right), "/login?verified=1");
        assert_eq!(standing_of(&app, "jane@example.org").await.0, "verified");

        // An address that proves nothing stays one click.
        let form = [
            ("full_name", "Pat Newman"),
            ("email", "pat@example.org"),
            ("jurisdiction", "CA"),
            ("bar_number", "999"),
            ("password", PASSWORD),
        ];
        app.post_form_from("/signup", "/api/sign_up", &form).await;
        let pat =
            token_of(&app.link_in_last_email_to("pat@example.org", &app.url("/verify-email")));
        assert_eq!(
            location(&confirm(&app, &pat, None).await),
            "/login?verified=1"
        );
    }
);

db_test!(
    async fn this_was_not_me_on_the_confirmation_blocks_the_claim(engine: Engine) {
        let app = spawn_app(engine).await;
        seed_status(&app, "active").await;
        let admin = enrolled_site_admin(&app, "admin@example.org").await;
        impostor_signs_up(&app, "jane@example.org", IMPOSTOR_PASSWORD).await;
        let mail = mail_to_with(&app, "jane@example.org", "answer=not-mine").expect("confirmation");
        let not_me = link_in(&mail, &app.url("/verify-email?token="));
        let token = token_in(&not_me);

        let blocked = app
            .post_form_from(
                &format!("/verify-email?token={token}&answer=not-mine"),
                "/api/dispute_sign_up",
                &[("token", &token)],
            )
            .await;
        assert_eq!(location(&blocked), "/claim/answered?answer=not-mine");
        let state: String =
            sqlx::query_scalar("SELECT claim_state FROM users WHERE email_key = $1")
                .bind("jane@example.org")
                .fetch_one(app.database.pool())
                .await
                .expect("claim state");
        assert_eq!(state, "disputed");
        assert!(
            mail_to_with(&app, &admin.email, "A bar number claim was disputed").is_some(),
            "the reviewers are alerted"
        );
        // The confirmation is used up: the password no longer helps.
        let late = confirm(&app, &token, Some(IMPOSTOR_PASSWORD)).await;
        assert!(form_error(&late).expect("refused").contains("invalid"));
        assert_eq!(
            standing_of(&app, "jane@example.org").await.0,
            "pending_review"
        );
        // The reviewers find the disputed account in their queue.
        let queue = body(app.get("/admin/reviews").await).await;
        assert!(
            queue.contains("jane@example.org") && queue.contains("said this was not them"),
            "{queue}"
        );
    }
);

db_test!(
    async fn a_number_going_live_tells_the_email_of_record_whose_link_takes_it_out(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        roster_with_email_of_record(&app, "jdoe@bar-firm.example").await;
        // Jane signs up with her own address; the firm's address on record
        // confirms her claim.
        verified_account(&app, "jane@example.org").await;
        let claim = mail_to_with(&app, "jdoe@bar-firm.example", "answer=mine").expect("claim link");
        let token = token_in(&link_in(&claim, &app.url("/claim?token=")));
        answer_claim(&app, &token, "mine").await;
        assert_eq!(standing_of(&app, "jane@example.org").await.0, "verified");

        let jane = user_id(&app, "jane@example.org").await;
        let registration = Phones::new().proven_white_house(pool, jane).await;
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);

        // The email of record hears of it, with a link that takes it out.
        app.run_due_jobs().await;
        let notice = eventually("a notice to the email of record", || async {
            mail_to_with(&app, "jdoe@bar-firm.example", "(202) 456-1111")
        })
        .await;
        assert!(
            notice.contains("CA 123456") && notice.contains("jane@example.org"),
            "{notice}"
        );
        let suspend = link_in(&notice, &app.url("/claim?token="));
        assert!(suspend.contains("answer=not-mine"), "{suspend}");
        let token = token_in(&suspend);
        let page = body(app.get(&format!("/claim?token={token}")).await).await;
        assert!(
            page.contains("(202) 456-1111") && page.contains("This was not me"),
            "{page}"
        );
        // Told once per number going live, however often the worker runs.
        app.run_due_jobs().await;
        let notices = app
            .emails()
            .iter()
            .filter(|mail| {
                mail.contains("To: jdoe@bar-firm.example") && mail.contains("(202) 456-1111")
            })
            .count();
        assert_eq!(notices, 1);

        let answered = answer_claim(&app, &token, "not-mine").await;
        assert_eq!(location(&answered), "/claim/answered?answer=not-mine");
        assert_eq!(
            log(&app).await.last(),
            Some(&(WHITE_HOUSE.to_owned(), Op::Remove)),
            "the number left the feed"
        );
        assert_eq!(
            standing_of(&app, "jane@example.org").await.0,
            "pending_review"
        );
        let status: String = sqlx::query_scalar("SELECT status FROM registrations WHERE id = $1")
            .bind(registration)
            .fetch_one(pool)
            .await
            .expect("status");
        assert_eq!(status, "suspended");
    }
);

db_test!(
    async fn a_dispute_after_approval_takes_the_account_back_to_review(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        roster_with_email_of_record(&app, "jdoe@bar-firm.example").await;
        verified_account(&app, "impostor@example.org").await;
        let impostor = user_id(&app, "impostor@example.org").await;
        enrolled_site_admin(&app, "admin@example.org").await;
        // A reviewer approves, over the claim link still waiting.
        let approved = decide(&app, impostor, true).await;
        assert_eq!(location(&approved), "/admin/reviews?decided=1");
        assert_eq!(
            standing_of(&app, "impostor@example.org").await.0,
            "verified"
        );
        Phones::new().proven_white_house(pool, impostor).await;
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);

        // The real Jane answers the claim link: this was not me.
        let claim = mail_to_with(&app, "jdoe@bar-firm.example", "answer=mine").expect("claim link");
        let token = token_in(&link_in(&claim, &app.url("/claim?token=")));
        let answered = answer_claim(&app, &token, "not-mine").await;
        assert_eq!(location(&answered), "/claim/answered?answer=not-mine");

        let (standing, reason) = standing_of(&app, "impostor@example.org").await;
        assert_eq!(standing, "pending_review");
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("said this was not them")),
            "{reason:?}"
        );
        assert_eq!(
            log(&app).await.last(),
            Some(&(WHITE_HOUSE.to_owned(), Op::Remove)),
            "the number left the feed"
        );
        let queue = body(app.get("/admin/reviews").await).await;
        assert!(queue.contains("impostor@example.org"), "{queue}");
    }
);

db_test!(
    async fn approving_over_an_outstanding_claim_link_needs_a_recorded_override(engine: Engine) {
        let app = spawn_app(engine).await;
        roster_with_email_of_record(&app, "jdoe@bar-firm.example").await;
        verified_account(&app, "impostor@example.org").await;
        let impostor = user_id(&app, "impostor@example.org").await;
        enrolled_site_admin(&app, "admin@example.org").await;
        // The queue says a claim link waits for an answer.
        let queue = body(app.get("/admin/reviews").await).await;
        assert!(queue.contains("override_claim"), "{queue}");

        let refused = decide(&app, impostor, false).await;
        assert!(
            form_error(&refused)
                .expect("refused without the override")
                .contains("claim link"),
            "{:?}",
            refused.headers().get("location")
        );
        assert_eq!(
            standing_of(&app, "impostor@example.org").await.0,
            "pending_review"
        );

        let approved = decide(&app, impostor, true).await;
        assert_eq!(location(&approved), "/admin/reviews?decided=1");
        assert_eq!(
            standing_of(&app, "impostor@example.org").await.0,
            "verified"
        );
        let details: Vec<String> =
            sqlx::query_scalar("SELECT detail FROM audit_trail WHERE action = 'review_decided'")
                .fetch_all(app.database.pool())
                .await
                .expect("audit");
        assert_eq!(details.len(), 1, "{details:?}");
        assert!(
            details[0].contains("override") && details[0].contains("Bar card checked."),
            "{details:?}"
        );
    }
);

db_test!(
    async fn a_clicked_address_proves_a_later_claim_only_with_the_password(engine: Engine) {
        let app = spawn_app(engine).await;
        // The roster lists Jane without an email: her confirmation proves
        // nothing and stays one click.
        roster_with_email_of_record(&app, "").await;
        assert_eq!(sign_up(&app, "jane@example.org").await.status(), 302);
        let token =
            token_of(&app.link_in_last_email_to("jane@example.org", &app.url("/verify-email")));
        assert_eq!(
            location(&confirm(&app, &token, None).await),
            "/login?verified=1"
        );
        // The roster now lists her address: a click long ago is no proof.
        roster_with_email_of_record(&app, "jane@example.org").await;
        let (standing, reason) = standing_of(&app, "jane@example.org").await;
        assert_eq!(standing, "pending_review");
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("waiting for proof")),
            "{reason:?}"
        );
        // She asks for the link: a confirmation that takes her password.
        log_in(&app, "jane@example.org", PASSWORD).await;
        let asked = app
            .post_form_from("/account", "/api/request_claim_link", &[])
            .await;
        assert_eq!(location(&asked), "/account?claim_link=sent");
        let mail = mail_to_with(&app, "jane@example.org", "takes the password").expect("asked");
        let token = token_in(&link_in(&mail, &app.url("/verify-email?token=")));
        let bare = confirm(&app, &token, None).await;
        assert!(form_error(&bare).expect("refused").contains("password"));
        assert_eq!(
            location(&confirm(&app, &token, Some(PASSWORD)).await),
            "/login?verified=1"
        );
        assert_eq!(standing_of(&app, "jane@example.org").await.0, "verified");
    }
);
