//! Journey steps the integration tests share: sign up and confirm, sign
//! in and out, enrol an admin with two-step sign-in, add and prove a
//! number, follow the change log. Each step checks that it worked, so a
//! test reads as the journey it walks.

use app::domain::phone::PhoneNumber;
use app::domain::{EmailAddress, PersonName};
use app::ssr::accounts::admins::{AdminRole, create_admin};
use app::ssr::infra::delivery::{Channel, CodeSender};
use app::ssr::infra::mail::{MailTransport, Mailer};
use app::ssr::numbers;
use app::ssr::providers::{self, Scope};
use app::ssr::registry::{self, Op};
use app::ssr::standing;
use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{TestApp, form_error};

// Steps first written for the accounts tests.

pub const PASSWORD: &str = "violet tugboat orbit";

pub fn sign_up_form<'a>(email: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("full_name", "Jane Q. Doe"),
        ("email", email),
        ("jurisdiction", "CA"),
        ("bar_number", "123456"),
        ("password", password),
    ]
}

pub async fn sign_up(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_form_from("/signup", "/api/sign_up", &sign_up_form(email, PASSWORD))
        .await
}

pub fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("token in link")
        .to_owned()
}

/// Confirms the address with the link's token and the helpers' password
/// ([`PASSWORD`]), as the one who created the account does: a
/// confirmation that proves a claim to a bar number takes it.
pub async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    let page = format!("/verify-email?token={token}");
    app.post_form_from(
        &page,
        "/api/verify_email",
        &[("token", token), ("password", PASSWORD)],
    )
    .await
}

pub async fn log_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_form_from(
        "/login",
        "/api/log_in",
        &[("email", email), ("password", password)],
    )
    .await
}

/// Signs up and confirms the email: an account ready to sign in.
pub async fn verified_account(app: &TestApp, email: &str) {
    assert_eq!(sign_up(app, email).await.status(), 302);
    let token = token_of(&app.link_in_last_email_to(email, &app.url("/verify-email")));
    assert_eq!(
        verify(app, &token).await.headers()["location"],
        "/login?verified=1"
    );
}

// Steps first written for the admins tests.

pub const ADMIN_PASSWORD: &str = "granite meadow lantern";

/// What a test needs to act as an admin who has set up TOTP.
pub struct Admin {
    pub email: String,
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

impl Admin {
    /// The code the admin's app shows `offset_secs` from now.
    pub fn code_at(&self, offset_secs: i64) -> String {
        let bytes = Secret::Encoded(self.secret.clone())
            .to_bytes()
            .expect("base32 secret");
        let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".into()).expect("totp");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        totp.generate(now.saturating_add_signed(offset_secs))
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("ascii location")
        .to_owned()
}

pub async fn body(response: reqwest::Response) -> String {
    response.text().await.expect("body")
}

/// The text of the element with attribute `marker`, as far as `keep`
/// accepts its characters.
fn text_of(html: &str, marker: &str, keep: impl Fn(char) -> bool) -> String {
    let attribute = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let start = attribute + html[attribute..].find('>').expect("end of tag") + 1;
    html[start..].chars().take_while(|c| keep(*c)).collect()
}

pub async fn post_second_factor(app: &TestApp, code: &str) -> reqwest::Response {
    app.post_form_from(
        "/login/two-factor",
        "/api/verify_second_factor",
        &[("code", code)],
    )
    .await
}

pub async fn log_out(app: &TestApp) {
    let response = app.post_form("/api/log_out", &[]).await;
    assert_eq!(response.status(), 302);
}

/// Creates a site admin, sets the password through the emailed link,
/// signs in on `app.client` and enrols TOTP, checking each step.
pub async fn enrolled_site_admin(app: &TestApp, email: &str) -> Admin {
    enrolled_admin(app, email, AdminRole::Site).await
}

/// Like [`enrolled_site_admin`], for any kind of admin.
pub async fn enrolled_admin(app: &TestApp, email: &str, role: AdminRole) -> Admin {
    let mailer = Mailer::new(
        "Counsel Registry <no-reply@example.org>",
        &MailTransport::Outbox(app.outbox.path().to_owned()),
    )
    .expect("mailer");
    create_admin(
        &app.database,
        &mailer,
        &app.address,
        &EmailAddress::parse(email).expect("email"),
        &PersonName::parse("Ada Admin").expect("name"),
        role,
        &app::ssr::infra::audit_trail::Actor::command_line(),
    )
    .await
    .expect("admin created");
    let token = token_of(&app.link_in_last_email(&app.url("/reset-password?token=")));
    let reset = app
        .post_form_from(
            "/reset-password",
            "/api/reset_password",
            &[("token", &token), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(location(&reset), "/login?reset=1");

    let signed_in = log_in(app, email, ADMIN_PASSWORD).await;
    assert_eq!(
        location(&signed_in),
        "/account/two-factor",
        "admins enrol first"
    );
    // The roster page serves every kind of admin.
    let queue = app.get("/admin/roster").await;
    assert_eq!(queue.status(), 302, "no admin page before TOTP");
    assert_eq!(location(&queue), "/account/two-factor");

    let page = body(app.get("/account/two-factor").await).await;
    let secret = text_of(&page, "data-testid=\"totp-secret\"", |c| {
        c.is_ascii_uppercase() || ('2'..='7').contains(&c)
    });
    assert!(secret.len() >= 32, "a 160-bit secret: {secret}");
    let mut admin = Admin {
        email: email.to_owned(),
        secret,
        recovery_codes: Vec::new(),
    };
    let wrong = app
        .post_form_from(
            "/account/two-factor",
            "/api/enable_two_factor",
            &[("code", "12345"), ("current_password", ADMIN_PASSWORD)],
        )
        .await;
    assert!(form_error(&wrong).expect("error").contains("not right"));
    // Turning it on asks for the current password.
    let no_password = app
        .post_form_from(
            "/account/two-factor",
            "/api/enable_two_factor",
            &[
                ("code", &admin.code_at(0)),
                ("current_password", "not the password"),
            ],
        )
        .await;
    assert!(
        form_error(&no_password)
            .expect("error")
            .contains("current password")
    );
    let enabled = app
        .post_form_from(
            "/account/two-factor",
            "/api/enable_two_factor",
            &[
                ("code", &admin.code_at(0)),
                ("current_password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&enabled), "/account/two-factor/recovery-codes");

    let codes_page = body(app.get("/account/two-factor/recovery-codes").await).await;
    admin.recovery_codes = codes_page
        .split("<code>")
        .skip(1)
        .map(|rest| rest.chars().take(19).collect::<String>())
        .collect();
    assert_eq!(admin.recovery_codes.len(), 10, "{codes_page}");
    let again = body(app.get("/account/two-factor/recovery-codes").await).await;
    assert!(!again.contains(&admin.recovery_codes[0]), "shown once only");

    assert_eq!(app.get("/admin/roster").await.status(), 200);
    admin
}

// Steps first written for the numbers tests.

pub const WHITE_HOUSE: &str = "+12024561111";

pub struct Phones {
    dir: tempfile::TempDir,
    pub sender: CodeSender,
    /// The key codes sent through `sender` are stored under.
    pub key: app::ssr::infra::secrets::CodeKey,
    /// The keys a call's code would be sealed under (unused by the outbox).
    pub keyring: app::ssr::infra::sealing::Keyring,
}

impl Phones {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let sender = CodeSender::Outbox(dir.path().to_owned());
        Self {
            dir,
            sender,
            key: app::ssr::infra::secrets::CodeKey::generate(),
            keyring: app::ssr::infra::sealing::Keyring::generate(
                app::ssr::infra::sealing::KeyId::parse("test").expect("id"),
            ),
        }
    }

    /// What `numbers::send_code` needs, sending through the outbox.
    pub fn outgoing(&self) -> numbers::Outgoing<'_> {
        numbers::Outgoing {
            sender: &self.sender,
            key: &self.key,
            keyring: &self.keyring,
            base_url: "http://127.0.0.1",
        }
    }

    /// How many codes went out.
    pub fn sent(&self) -> usize {
        code_files(self.dir.path()).len()
    }

    /// Lets the 30 s between codes pass, sends a new one by text and
    /// returns it.
    pub async fn new_code(&self, app: &TestApp, user_id: i64, id: i64) -> String {
        let_resend(app).await;
        numbers::send_code(
            app.database.pool(),
            self.outgoing(),
            user_id,
            id,
            Channel::Sms,
        )
        .await
        .expect("sent");
        self.last_code()
    }

    /// The code in the latest message sent.
    pub fn last_code(&self) -> String {
        latest_code(self.dir.path())
    }

    /// The attorney adds (202) 456-1111 and proves it by text: its id.
    pub async fn proven_white_house(&self, pool: &sqlx::AnyPool, user_id: i64) -> i64 {
        let id = numbers::add_number(pool, user_id, &phone(WHITE_HOUSE), None, None)
            .await
            .expect("added");
        numbers::send_code(pool, self.outgoing(), user_id, id, Channel::Sms)
            .await
            .expect("sent");
        numbers::verify_code(pool, &self.key, user_id, id, &self.last_code())
            .await
            .expect("proven");
        id
    }
}

/// The code in the latest code message (`code-<millis>-….txt`) in `dir`.
/// The code messages in an outbox directory, oldest first.
fn code_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("outbox")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

pub fn latest_code(dir: &std::path::Path) -> String {
    let files = code_files(dir);
    let text = std::fs::read_to_string(files.last().expect("a code was sent")).expect("read");
    // "code: 123456" by SMS, "code is 1, 2, 3, 4, 5, 6" read out by voice.
    let after = text.split(" code").nth(1).expect("code in message");
    let digits: String = after.chars().filter(char::is_ascii_digit).take(6).collect();
    assert_eq!(digits.len(), 6, "{text}");
    digits
}

pub async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("user")
}

/// An attorney in good standing other than Jane: a roster entry (CA,
/// active, email of record `email`) and an account that signs up with
/// that address and confirms it, so their claim is proven.
pub async fn verified_member(app: &TestApp, email: &str, full_name: &str, bar_number: &str) {
    let csv = format!(
        "jurisdiction,bar_number,full_name,status,email\nCA,{bar_number},{full_name},active,{email}\n"
    );
    standing::seed_csv(app.database.pool(), std::io::Cursor::new(csv), None)
        .await
        .expect("seed");
    let form = [
        ("full_name", full_name),
        ("email", email),
        ("jurisdiction", "CA"),
        ("bar_number", bar_number),
        ("password", PASSWORD),
    ];
    let response = app.post_form_from("/signup", "/api/sign_up", &form).await;
    assert_eq!(response.status(), 302);
    let token = token_of(&app.link_in_last_email_to(email, &app.url("/verify-email")));
    assert_eq!(
        verify(app, &token).await.headers()["location"],
        "/login?verified=1"
    );
}

pub async fn seed_status(app: &TestApp, status: &str) {
    // The roster's email of record is Jane's own address: confirming it at
    // sign-up proves her claim.
    let csv = format!(
        "jurisdiction,bar_number,full_name,status,email\nCA,123456,Jane Doe,{status},jane@example.org\n"
    );
    standing::seed_csv(app.database.pool(), std::io::Cursor::new(csv), None)
        .await
        .expect("seed");
}

pub async fn log(app: &TestApp) -> Vec<(String, Op)> {
    registry::changes_after(app.database.pool(), 0, 100)
        .await
        .expect("log")
        .into_iter()
        .map(|change| (change.e164, change.op))
        .collect()
}

/// Proves registration `id` with `code` through the dashboard's form, as
/// a browser without JavaScript does, and checks it was accepted.
pub async fn prove_through_the_form(app: &TestApp, id: &str, code: &str) {
    let proven = app
        .post_form_from(
            "/numbers",
            "/api/prove_number",
            &[("registration", id), ("code", code)],
        )
        .await;
    assert_eq!(
        proven.headers()["location"],
        format!("/numbers?proven={id}")
    );
}

/// Moves every code sent back past the wait between two codes, as if the
/// attorney had waited.
pub async fn let_resend(app: &TestApp) {
    sqlx::query("UPDATE number_codes SET created_at = created_at - $1")
        .bind(numbers::RESEND_AFTER_MS)
        .execute(app.database.pool())
        .await
        .expect("backdate codes");
}

pub fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw).expect("valid number")
}

// Steps first written for the registry tests.

pub const WRITERS: i64 = 8;

pub const STEPS_PER_WRITER: usize = 40;

pub const NUMBERS: [&str; 5] = [
    "+12025550101",
    "+12025550102",
    "+12025550103",
    "+13125550104",
    "+14155550105",
];

/// Makes the attorney's registration of `e164` active, or removes it, in
/// its own registry transaction.
pub async fn flip(pool: &sqlx::AnyPool, user_id: i64, e164: &str, activate: bool) {
    let mut write = registry::begin_write(pool).await.expect("begin");
    if activate {
        sqlx::query(
            "INSERT INTO registrations (user_id, e164, status, created_at) \
             VALUES ($1, $2, 'active', 0) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(e164)
        .execute(&mut *write.transaction)
        .await
        .expect("activate");
    } else {
        sqlx::query(
            "UPDATE registrations SET status = 'removed' \
             WHERE user_id = $1 AND e164 = $2 AND status = 'active'",
        )
        .bind(user_id)
        .bind(e164)
        .execute(&mut *write.transaction)
        .await
        .expect("remove");
    }
    registry::refresh(&mut write, e164).await.expect("refresh");
    write.commit().await.expect("commit");
}

/// One writer: attorney `user_id` adds and removes active registrations at
/// random.
pub async fn writer(pool: sqlx::AnyPool, user_id: i64) {
    for _ in 0..STEPS_PER_WRITER {
        let (e164, activate) = {
            let mut rng = rand::thread_rng();
            (NUMBERS[rng.gen_range(0..NUMBERS.len())], rng.gen_bool(0.5))
        };
        flip(&pool, user_id, e164, activate).await;
    }
}

/// [`WRITERS`] writer accounts, each holding one of [`NUMBERS`] at first,
/// then each a task flipping numbers at random ([`writer`]).
pub async fn start_writers(pool: &sqlx::AnyPool) -> Vec<tokio::task::JoinHandle<()>> {
    let user_ids = writer_accounts(pool, WRITERS).await;
    for (user_id, e164) in user_ids.iter().zip(NUMBERS) {
        flip(pool, *user_id, e164, true).await;
    }
    user_ids
        .into_iter()
        .map(|user_id| tokio::spawn(writer(pool.clone(), user_id)))
        .collect()
}

/// Applies one page of the change feed (`GET /api/v1/registry/changes`)
/// to a consumer's set of numbers, as a provider would, checking that
/// each change follows the last seq applied (`after`) with no gap and no
/// repeat, that an add is of a number absent and a remove of one present.
/// Returns the page's `next_after`.
pub fn apply_changes(
    applied: &mut std::collections::BTreeSet<String>,
    after: i64,
    page: &serde_json::Value,
) -> i64 {
    let mut last_seq = after;
    for change in page["changes"].as_array().expect("changes") {
        let seq = change["seq"].as_i64().expect("seq");
        assert_eq!(seq, last_seq + 1, "the feed has no gap and no repeat");
        last_seq = seq;
        let e164 = change["e164"].as_str().expect("e164").to_owned();
        if change["op"] == "add" {
            assert!(applied.insert(e164), "added twice");
        } else {
            assert!(applied.remove(&e164), "removed while absent");
        }
    }
    page["next_after"].as_i64().expect("cursor")
}

/// The numbers privileged now, as the registry's intervals hold them.
pub async fn privileged_set(pool: &sqlx::AnyPool) -> std::collections::BTreeSet<String> {
    registry::privileged_now(pool)
        .await
        .expect("now")
        .into_iter()
        .map(|(e164, _)| e164)
        .collect()
}

/// `count` attorney accounts for the writers; their ids.
pub async fn writer_accounts(pool: &sqlx::AnyPool, count: i64) -> Vec<i64> {
    for user in 1..=count {
        sqlx::query(
            "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, \
             password_hash, created_at) VALUES ($1, $1, 'A B', 'CA', $2, 'x', 0)",
        )
        .bind(format!("writer{user}@example.org"))
        .bind(user.to_string())
        .execute(pool)
        .await
        .expect("user");
    }
    sqlx::query_scalar("SELECT id FROM users ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("ids")
}

// Steps first written for the sessions tests.

pub fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("session=") || value.starts_with("__Host-session="))
        .expect("a session cookie")
        .to_owned()
}

// Steps first written for the provider API tests.

/// Revokes the key with this visible prefix, as `server provider
/// revoke-key` does.
pub async fn revoke_key(pool: &sqlx::AnyPool, prefix: &str) {
    providers::revoke_key(
        pool,
        &app::ssr::infra::audit_trail::Actor::command_line(),
        prefix,
    )
    .await
    .expect("revoked");
}

/// Creates provider `name` (once) and a key of `scopes` for it; the key.
pub async fn key(app: &TestApp, name: &str, scopes: &[Scope]) -> String {
    let pool = app.database.pool();
    let actor = app::ssr::infra::audit_trail::Actor::command_line();
    let _ = providers::create_provider(pool, &actor, name).await;
    providers::create_key(pool, &actor, name, scopes)
        .await
        .expect("key")
        .key
}

/// The signed-in site admin adds provider `name` from the portal.
pub async fn provider_added_in_portal(app: &TestApp, name: &str) {
    let added = app
        .post_form_from(
            "/admin/providers",
            "/api/create_provider",
            &[("name", name)],
        )
        .await;
    assert_eq!(location(&added), "/admin/providers?created=1");
}

/// The signed-in site admin makes a `registry:read` key for `provider`
/// from the portal; the page it is sent to shows the key once.
pub async fn key_made_in_portal(app: &TestApp, provider: &str) {
    let made = app
        .post_form_from(
            "/admin/providers",
            "/api/create_provider_key",
            &[("provider", provider), ("registry_read", "yes")],
        )
        .await;
    assert_eq!(location(&made), "/admin/providers?key=1");
}

/// The new key a providers page shows (`crk_…`).
pub fn new_key_in(page: &str) -> String {
    let key = text_of(page, "data-testid=\"new-provider-key\"", |c| {
        c.is_ascii_alphanumeric() || c == '_' || c == '-'
    });
    assert!(key.starts_with("crk_") && key.len() == 47, "{key}");
    key
}

// Steps first written for the takeover tests.

/// The authenticator app of the account signed in on `app.client`, set up
/// from the secret its two-step sign-in page shows.
pub async fn authenticator_from_page(app: &TestApp, email: &str) -> Admin {
    let page = body(app.get("/account/two-factor").await).await;
    Admin::holding(email, totp_secret_in(&page))
}

/// Turns two-step sign-in on with the app's current code and `password`.
pub async fn enable_two_step(app: &TestApp, phone: &Admin, password: &str) {
    let enabled = app
        .post_form_from(
            "/account/two-factor",
            "/api/enable_two_factor",
            &[("code", &phone.code_at(0)), ("current_password", password)],
        )
        .await;
    assert_eq!(location(&enabled), "/account/two-factor/recovery-codes");
}

/// The pending TOTP secret the two-step sign-in page shows (`html`).
pub fn totp_secret_in(html: &str) -> String {
    let secret = text_of(html, "data-testid=\"totp-secret\"", |c| {
        c.is_ascii_uppercase() || ('2'..='7').contains(&c)
    });
    assert!(secret.len() >= 32, "a 160-bit secret: {secret}");
    secret
}

impl Admin {
    /// The authenticator app of anyone (an attorney too) who set up
    /// two-step sign-in with `secret`; no recovery codes kept.
    pub fn holding(email: &str, secret: String) -> Self {
        Self {
            email: email.to_owned(),
            secret,
            recovery_codes: Vec::new(),
        }
    }
}

/// A multipart/form-data body as a browser sends it: text `fields`, then
/// one file field `(name, file name, content type, bytes)`; with the
/// `Content-Type` header value that goes with it.
pub fn multipart_body(
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &str, &[u8])>,
) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((name, file_name, content_type, content)) = file {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend(content);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

pub const BOUNDARY: &str = "----counsel-registry-test-boundary";

/// A roster upload's multipart body: `fields`, then the CSV as `file`.
pub fn multipart(fields: &[(&str, &str)], file: Option<&[u8]>) -> Vec<u8> {
    multipart_body(
        fields,
        file.map(|content| ("file", "roster.csv", "text/csv", content)),
    )
    .1
}

pub async fn post_upload(app: &TestApp, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/admin/roster/upload"))
        .header("referer", app.url("/admin/roster"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload sent")
}

/// Uploads a roster file through the portal as the signed-in admin and
/// returns the upload's id (from the redirect to its preview).
pub async fn upload_roster(app: &TestApp, jurisdiction: &str, mode: &str, file: &[u8]) -> i64 {
    let response = post_upload(
        app,
        multipart(
            &[("jurisdiction", jurisdiction), ("mode", mode)],
            Some(file),
        ),
    )
    .await;
    let target = location(&response);
    target
        .strip_prefix("/admin/roster/uploads/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("an upload, not {target}"))
}
