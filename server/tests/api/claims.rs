//! Only the attorney can claim their bar number (issue 12): the impostor
//! who knows a name and a bar number is never verified and their number
//! never enters the feed; the bar's email of record confirms or blocks a
//! claim; a revoked number stays out through other accounts until an
//! admin allows it; reviewers see evidence uploaded as files, checked by
//! content.

use app::domain::Jurisdiction;
use app::ssr::accounts::admins::AdminRole;
use app::ssr::numbers::{self, HELD_FOR_REVIEW, Proven};
use app::ssr::registry::Op;

use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestApp, form_error, spawn_app};

async fn standing_and_reason(app: &TestApp, email: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT standing, standing_reason FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("standing")
}

/// Signs up with the sign-up helper's name and bar number (Jane Q. Doe,
/// CA 123456) under another address, and confirms that address.
async fn sign_up_and_confirm_as(app: &TestApp, email: &str) {
    let response = app
        .post_form_from("/signup", "/api/sign_up", &sign_up_form(email, PASSWORD))
        .await;
    assert_eq!(response.status(), 302);
    let token = token_of(&app.link_in_last_email_to(email, &app.url("/verify-email")));
    assert_eq!(
        verify(app, &token).await.headers()["location"],
        "/login?verified=1"
    );
}

/// The claim link's token in the latest claim email to `to`.
fn claim_token(app: &TestApp, to: &str) -> String {
    let link = app.link_in_last_email_to(to, &app.url("/claim?token="));
    link.split("token=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("token")
        .to_owned()
}

async fn answer(app: &TestApp, token: &str, answer: &str) -> reqwest::Response {
    app.post_form_from(
        &format!("/claim?token={token}"),
        "/api/answer_claim",
        &[("token", token), ("answer", answer)],
    )
    .await
}

db_test!(
    async fn an_impostor_with_a_published_name_and_bar_number_is_never_verified(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        // The roster: Jane Doe, CA 123456, active, email of record jane@….
        seed_status(&app, "active").await;
        let admin = enrolled_site_admin(&app, "admin@example.org").await;
        log_out(&app).await;

        // The impostor knows Jane's name and bar number, signs up with
        // their own address and confirms it.
        sign_up_and_confirm_as(&app, "impostor@example.org").await;
        let (standing, reason) = standing_and_reason(&app, "impostor@example.org").await;
        assert_eq!(standing, "pending_review");
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("waiting for proof through the bar's email of record")),
            "{reason:?}"
        );
        // The bar's address for that number was asked.
        let asked = app
            .emails()
            .into_iter()
            .find(|mail| mail.contains("To: jane@example.org") && mail.contains("/claim?token="))
            .expect("a claim link to the email of record");
        assert!(asked.contains("impostor@example.org"), "{asked}");
        assert!(asked.contains("Someone asked to register phone numbers under your bar number"));

        // Their number, proven by a code to their own phone, stays out.
        let impostor = user_id(&app, "impostor@example.org").await;
        let phones = Phones::new();
        phones.proven_white_house(pool, impostor).await;
        assert!(log(&app).await.is_empty(), "nothing entered the feed");

        // The real Jane answers "this was not me".
        let token = claim_token(&app, "jane@example.org");
        let page = app.get(&format!("/claim?token={token}")).await;
        let page = page.text().await.expect("page");
        assert!(page.contains("impostor@example.org") && page.contains("CA 123456"));
        let blocked = answer(&app, &token, "not-mine").await;
        assert_eq!(
            blocked.headers()["location"],
            "/claim/answered?answer=not-mine"
        );
        let state: String =
            sqlx::query_scalar("SELECT claim_state FROM users WHERE email_key = $1")
                .bind("impostor@example.org")
                .fetch_one(pool)
                .await
                .expect("claim state");
        assert_eq!(state, "disputed");
        assert!(
            app.emails()
                .iter()
                .any(|mail| mail.contains(&format!("To: {}", admin.email))
                    && mail.contains("A bar number claim was disputed")),
            "the reviewers are alerted"
        );
        // The link is used up, and a second link cannot undo the dispute.
        let again = answer(&app, &token, "mine").await;
        assert!(form_error(&again).expect("refused").contains("invalid"));
        let mut write = app::ssr::registry::begin_write(pool).await.expect("write");
        let queued =
            app::ssr::standing::claims::queue_link(&mut write.transaction, &app.address, impostor)
                .await
                .expect("queued");
        write.commit().await.expect("commit");
        assert!(queued.is_some());
        let second = claim_token(&app, "jane@example.org");
        let undo = answer(&app, &second, "mine").await;
        assert!(
            form_error(&undo).is_some(),
            "a dispute stands until a reviewer decides"
        );
        // A roster re-match does not verify them either.
        seed_status(&app, "active").await;
        assert_eq!(
            standing_and_reason(&app, "impostor@example.org").await.0,
            "pending_review"
        );
        assert!(log(&app).await.is_empty());
    }
);

db_test!(
    async fn a_claim_confirmed_from_the_roster_address_verifies_the_attorney(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        app::ssr::standing::seed_csv(
            pool,
            std::io::Cursor::new(
                "jurisdiction,bar_number,full_name,status,email\n\
                 CA,123456,Jane Doe,active,jdoe@bar-firm.example\n",
            ),
            None,
        )
        .await
        .expect("seed");
        // Jane signs up with her own address, not the firm's on record.
        verified_account(&app, "jane@example.org").await;
        assert_eq!(
            standing_and_reason(&app, "jane@example.org").await.0,
            "pending_review"
        );
        let token = claim_token(&app, "jdoe@bar-firm.example");
        let confirmed = answer(&app, &token, "mine").await;
        assert_eq!(
            confirmed.headers()["location"],
            "/claim/answered?answer=mine"
        );
        assert_eq!(
            standing_and_reason(&app, "jane@example.org").await.0,
            "verified"
        );
        let jane = user_id(&app, "jane@example.org").await;
        Phones::new().proven_white_house(pool, jane).await;
        assert_eq!(log(&app).await, vec![(WHITE_HOUSE.to_owned(), Op::Add)]);

        // The account page says verified and offers no claim link any more.
        log_in(&app, "jane@example.org", PASSWORD).await;
        let page = body(app.get("/account").await).await;
        assert!(
            page.contains("Verified attorney in good standing"),
            "{page}"
        );
        assert!(!page.contains("Send the link to my bar"));
    }
);

db_test!(
    async fn a_revoked_number_stays_out_until_an_admin_allows_it(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        seed_status(&app, "active").await;
        verified_account(&app, "jane@example.org").await;
        verified_member(&app, "jane.too@example.org", "Jane Too", "654321").await;
        let admin_account = enrolled_site_admin(&app, "admin@example.org").await;
        let admin_id = user_id(&app, &admin_account.email).await;
        let phones = Phones::new();
        let jane = user_id(&app, "jane@example.org").await;
        let revoked = phones.proven_white_house(pool, jane).await;
        numbers::revoke(
            pool,
            &app::ssr::infra::audit_trail::Actor::command_line(),
            admin_id,
            revoked,
            "Not an office line.",
            &app.address,
        )
        .await
        .expect("revoked");
        let before = log(&app).await;
        assert_eq!(before.last().map(|(_, op)| *op), Some(Op::Remove));

        // Her colleague proves the same number: it is held, not active.
        let colleague = user_id(&app, "jane.too@example.org").await;
        let id = numbers::add_number(pool, colleague, &phone(WHITE_HOUSE), None, None)
            .await
            .expect("added");
        numbers::send_code(
            pool,
            phones.outgoing(),
            colleague,
            id,
            app::ssr::infra::delivery::Channel::Sms,
        )
        .await
        .expect("sent");
        let proven = numbers::verify_code(pool, &phones.key, colleague, id, &phones.last_code())
            .await
            .expect("proven");
        assert!(!matches!(proven, Proven::Active));
        let reason: Option<String> =
            sqlx::query_scalar("SELECT status_reason FROM registrations WHERE id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .expect("reason");
        assert_eq!(reason.as_deref(), Some(HELD_FOR_REVIEW));
        assert_eq!(log(&app).await, before, "nothing entered the feed");

        // The admin sees it held and allows it after review.
        let lookup = body(app.get("/admin/numbers?number=%2B12024561111").await).await;
        assert!(lookup.contains("Allow after review"), "{lookup}");
        let allowed = app
            .post_form_from(
                "/admin/numbers?number=%2B12024561111",
                "/api/allow_held_registration",
                &[("registration", &id.to_string()), ("number", WHITE_HOUSE)],
            )
            .await;
        assert_eq!(
            allowed.headers()["location"],
            "/admin/numbers?number=%2B12024561111"
        );
        assert_eq!(
            log(&app).await.last(),
            Some(&(WHITE_HOUSE.to_owned(), Op::Add))
        );
    }
);

async fn upload_document(app: &TestApp, file_name: &str, content: &[u8]) -> String {
    // Browsers send whatever type the name suggests; the server reads the
    // content instead.
    let (content_type, body) = multipart_body(
        &[],
        Some(("document", file_name, "application/pdf", content)),
    );
    let response = app
        .client
        .post(app.url("/account/review-documents"))
        .header("referer", app.url("/account"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload sent");
    location(&response)
}

/// The message of an upload sent back to the account page.
fn refusal(target: &str) -> String {
    let encoded = target
        .strip_prefix("/account?document_error=")
        .unwrap_or_else(|| panic!("a refusal, not {target}"));
    url::form_urlencoded::parse(format!("e={encoded}").as_bytes())
        .next()
        .map(|(_, message)| message.into_owned())
        .expect("message")
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake but typed by its signature";

db_test!(
    async fn reviewers_of_the_jurisdiction_see_evidence_checked_by_content(engine: Engine) {
        let app = spawn_app(engine).await;
        let pool = app.database.pool();
        // Pat is not on any roster: only a reviewer can verify them.
        let form = [
            ("full_name", "Pat Newman"),
            ("email", "pat@example.org"),
            ("jurisdiction", "CA"),
            ("bar_number", "999"),
            ("password", PASSWORD),
        ];
        app.post_form_from("/signup", "/api/sign_up", &form).await;
        let token =
            token_of(&app.link_in_last_email_to("pat@example.org", &app.url("/verify-email")));
        verify(&app, &token).await;
        log_in(&app, "pat@example.org", PASSWORD).await;
        let account = body(app.get("/account").await).await;
        assert!(account.contains("Upload for review"), "{account}");

        let exe = refusal(&upload_document(&app, "card.pdf", b"MZ\x90\x00 an executable").await);
        assert!(exe.contains("not a PDF, JPEG or PNG"), "{exe}");
        let mut huge = PNG.to_vec();
        huge.resize(5 * 1024 * 1024 + 1, 0);
        let big = refusal(&upload_document(&app, "card.png", &huge).await);
        assert!(big.contains("larger than 5 MiB"), "{big}");
        let script = refusal(
            &upload_document(
                &app,
                "letter.pdf",
                b"%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>",
            )
            .await,
        );
        assert!(script.contains("JavaScript"), "{script}");
        let stored = upload_document(&app, "../../etc/passwd.png", PNG).await;
        assert_eq!(stored, "/account?document=added");
        let documents: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, original_name, stored_name FROM review_documents ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .expect("documents");
        assert_eq!(documents.len(), 1, "refused files left nothing");
        let (document_id, shown_name, stored_name) = documents[0].clone();
        assert_eq!(shown_name, "passwd.png");
        let directory = app.outbox.path().join("review-documents");
        assert_eq!(
            std::fs::read(directory.join(&stored_name)).expect("stored"),
            PNG
        );
        log_out(&app).await;

        // A Texas bar admin neither sees Pat nor opens the document.
        enrolled_admin(
            &app,
            "tx-bar@example.org",
            AdminRole::Bar(Jurisdiction::parse("TX").expect("TX")),
        )
        .await;
        let queue = body(app.get("/admin/reviews").await).await;
        assert!(!queue.contains("Pat Newman"), "{queue}");
        let hidden = app
            .get(&format!("/admin/reviews/documents/{document_id}"))
            .await;
        assert_eq!(hidden.status(), 404);
        log_out(&app).await;

        // A California bar admin sees the claim and the document.
        enrolled_admin(
            &app,
            "ca-bar@example.org",
            AdminRole::Bar(Jurisdiction::parse("CA").expect("CA")),
        )
        .await;
        let queue = body(app.get("/admin/reviews").await).await;
        assert!(
            queue.contains("Pat Newman") && queue.contains("passwd.png"),
            "{queue}"
        );
        let document = app
            .get(&format!("/admin/reviews/documents/{document_id}"))
            .await;
        assert_eq!(document.status(), 200);
        assert_eq!(document.headers()["content-type"], "image/png");
        assert!(
            document.headers()["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("attachment")
        );
        assert_eq!(document.headers()["x-content-type-options"], "nosniff");
        assert_eq!(document.bytes().await.expect("bytes").as_ref(), PNG);

        // The decision deletes the evidence, row and file.
        let pat = user_id(&app, "pat@example.org").await;
        let decided = app
            .post_form_from(
                "/admin/reviews",
                "/api/decide_review",
                &[
                    ("user_id", &pat.to_string()),
                    ("decision", "approve"),
                    ("reason", "Bar card checked."),
                ],
            )
            .await;
        assert_eq!(decided.headers()["location"], "/admin/reviews?decided=1");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM review_documents")
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(left, 0);
        assert!(!directory.join(&stored_name).exists());
    }
);
