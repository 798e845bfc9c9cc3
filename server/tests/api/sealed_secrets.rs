//! Secrets at rest (issue 17, item 2): TOTP secrets and webhook signing
//! secrets are stored sealed under the server's key; session rows hold no
//! secret in clear (the enrolment secret, recovery codes and a new API key
//! are sealed there, and taken by the page that shows them); `server
//! secrets rotate` moves every stored secret to the current key, all or
//! nothing, and records it in the audit trail.

use app::ssr::accounts::two_factor;
use app::ssr::infra::sealing::Keyring;
use app::ssr::providers::Scope;
use serde_json::{Value, json};

use crate::helpers::journeys::*;
use crate::helpers::{Engine, TestApp, run_server, spawn_app, spawn_app_with};

const K1: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const K2: &str = "k2:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
const K3: &str = "k3:404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";

/// Every session row's data, as stored (MessagePack: strings appear as
/// their bytes).
async fn session_data(app: &TestApp) -> Vec<Vec<u8>> {
    let table = match app.test_database.engine() {
        Engine::Sqlite => "tower_sessions",
        Engine::Postgres => "tower_sessions.session",
    };
    sqlx::query_scalar(&format!("SELECT data FROM {table}"))
        .fetch_all(app.database.pool())
        .await
        .expect("session rows")
}

fn holds(rows: &[Vec<u8>], text: &str) -> bool {
    rows.iter().any(|row| {
        row.windows(text.len())
            .any(|window| window == text.as_bytes())
    })
}

async fn stored_totp_secret(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar::<_, Option<String>>("SELECT totp_secret FROM users WHERE email_key = $1")
        .bind(email)
        .fetch_one(app.database.pool())
        .await
        .expect("account")
        .expect("a secret")
}

async fn stored_webhook_secret(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT secret FROM webhook_endpoints")
        .fetch_one(app.database.pool())
        .await
        .expect("endpoint")
}

/// An attorney signed in on `app.client` who turns two-step sign-in on
/// from the page; their authenticator app, and the session rows as they
/// were while the enrolment secret and then the recovery codes waited.
async fn attorney_enrolled(app: &TestApp, email: &str) -> (Admin, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    verified_account(app, email).await;
    log_in(app, email, PASSWORD).await;
    let phone = authenticator_from_page(app, email).await;
    let while_enrolling = session_data(app).await;
    enable_two_step(app, &phone, PASSWORD).await;
    let while_codes_wait = session_data(app).await;
    (phone, while_enrolling, while_codes_wait)
}

/// `server secrets rotate` on `database_url` with `SECRETS_KEYS=keys`:
/// whether it succeeded, and what it printed.
async fn rotate(database_url: &str, keys: &str) -> (bool, String) {
    run_server(
        &["secrets".as_ref(), "rotate".as_ref()],
        &[("DATABASE_URL", database_url), ("SECRETS_KEYS", keys)],
    )
    .await
}

async fn register_webhook(app: &TestApp, key: &str) -> String {
    let registered: Value = reqwest::Client::new()
        .put(app.url("/api/v1/webhook"))
        .bearer_auth(key)
        .json(&json!({ "url": "https://hooks.provider.example/x" }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    registered["secret"].as_str().expect("secret").to_owned()
}

db_test!(
    async fn stored_secrets_are_sealed_and_session_rows_hold_none_in_clear(engine: Engine) {
        let app = spawn_app(engine).await;
        let email = "ada@example.org";
        let (phone, while_enrolling, while_codes_wait) = attorney_enrolled(&app, email).await;

        // The enrolment secret waited in the session sealed, not in clear.
        assert!(holds(&while_enrolling, "sealed:v1:db:"));
        assert!(!holds(&while_enrolling, &phone.secret));
        // Stored sealed, under the database's own key (nothing configured).
        let stored = stored_totp_secret(&app, email).await;
        assert!(stored.starts_with("sealed:v1:db:"), "{stored}");
        assert!(!stored.contains(&phone.secret));

        // The recovery codes waited sealed too, and the page took them.
        let page = body(app.get("/account/two-factor/recovery-codes").await).await;
        let codes: Vec<String> = page
            .split("<code>")
            .skip(1)
            .filter_map(|item| item.split('<').next())
            .map(|code| code.trim().to_owned())
            .filter(|code| code.len() == 19 && code.matches('-').count() == 3)
            .collect();
        assert_eq!(codes.len(), 10, "ten codes shown: {page}");
        for code in &codes {
            assert!(!holds(&while_codes_wait, code), "{code} sat in clear");
        }
        let again = body(app.get("/account/two-factor/recovery-codes").await).await;
        assert!(!again.contains(&codes[0]), "shown once");

        // The sealed secret still signs the attorney in.
        log_out(&app).await;
        assert_eq!(
            location(&log_in(&app, email, PASSWORD).await),
            "/login/two-factor"
        );
        // The next step's code: the enrolment used this one.
        let step = post_second_factor(&app, &phone.code_at(30)).await;
        assert_eq!(location(&step), "/account");

        // A new API key waits sealed for the page that shows it.
        log_out(&app).await;
        enrolled_site_admin(&app, "site@example.org").await;
        provider_added_in_portal(&app, "Acme Phones").await;
        key_made_in_portal(&app, "Acme Phones").await;
        let while_key_waits = session_data(&app).await;
        let key = new_key_in(&body(app.get("/admin/providers?key=1").await).await);
        assert!(!holds(&while_key_waits, &key), "the key sat in clear");
        assert!(!holds(&session_data(&app).await, "fresh_provider_key"));

        // A webhook signing secret is stored sealed, bound to its provider.
        let secret = register_webhook(&app, &key).await;
        let stored = stored_webhook_secret(&app).await;
        assert!(stored.starts_with("sealed:v1:db:"), "{stored}");
        assert!(!stored.contains(&secret["whsec_".len()..]));
    }
);

db_test!(
    async fn rotation_moves_every_secret_to_the_current_key_all_or_nothing(engine: Engine) {
        let app = spawn_app_with(engine, &[("SECRETS_KEYS", K1)]).await;
        let pool = app.database.pool();
        let email = "ada@example.org";
        let (phone, _, _) = attorney_enrolled(&app, email).await;
        assert!(
            stored_totp_secret(&app, email)
                .await
                .starts_with("sealed:v1:k1:")
        );
        let key = key(&app, "Acme Phones", &[Scope::RegistryRead]).await;
        register_webhook(&app, &key).await;
        // An endpoint stored before sealing existed: its secret in clear.
        let clear = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        sqlx::query("UPDATE webhook_endpoints SET secret = $1")
            .bind(clear)
            .execute(pool)
            .await
            .expect("a clear secret");
        let database_url = app.test_database.url.clone();

        // Keys k2 (new, current) and k1 (old): both kinds move to k2.
        let (ok, output) = rotate(&database_url, &format!("{K2},{K1}")).await;
        assert!(ok, "{output}");
        assert!(
            output.contains(
                "sealed under key k2: 1 TOTP secrets and 1 webhook signing secrets resealed"
            ),
            "{output}"
        );
        let totp = stored_totp_secret(&app, email).await;
        assert!(totp.starts_with("sealed:v1:k2:"), "{totp}");
        let webhook = stored_webhook_secret(&app).await;
        assert!(webhook.starts_with("sealed:v1:k2:"), "{webhook}");
        let user_id = user_id(&app, email).await;
        let only_k2 = Keyring::parse(K2).expect("k2");
        assert!(
            two_factor::check(pool, &only_k2, user_id, &phone.code_at(30))
                .await
                .expect("opens under k2 alone"),
            "the attorney's code still works once k1 is gone"
        );
        let only_k1 = Keyring::parse(K1).expect("k1");
        assert!(
            two_factor::check(pool, &only_k1, user_id, &phone.code_at(30))
                .await
                .is_err(),
            "k1 alone no longer reads it"
        );
        let recorded: Vec<(String, String)> = sqlx::query_as(
            "SELECT subject, detail FROM audit_trail WHERE action = 'secrets_rotated'",
        )
        .fetch_all(pool)
        .await
        .expect("audit trail");
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].0, "key k2");
        assert!(
            recorded[0].1.contains("1 TOTP secrets"),
            "{:?}",
            recorded[0]
        );

        // Run again: nothing left to move.
        let (ok, output) = rotate(&database_url, &format!("{K2},{K1}")).await;
        assert!(ok, "{output}");
        assert!(
            output.contains("0 TOTP secrets and 0 webhook signing secrets resealed; 1 and 1"),
            "{output}"
        );

        // With k2 dropped too early, nothing opens: the rotation stops at
        // the first value, naming it.
        let (ok, output) = rotate(&database_url, K3).await;
        assert!(!ok, "{output}");
        assert!(
            output.contains(&format!("account {user_id}")) && output.contains("\"k2\""),
            "{output}"
        );
        // All or nothing: the TOTP secret reseals under k3 (k2 still
        // given), then a webhook secret under a key nobody has stops the
        // run, which takes the TOTP secret's new seal back too.
        let unknown = format!("sealed:v1:k9:{}", "A".repeat(64));
        sqlx::query("UPDATE webhook_endpoints SET secret = $1")
            .bind(&unknown)
            .execute(pool)
            .await
            .expect("a secret under a lost key");
        let before = (
            stored_totp_secret(&app, email).await,
            stored_webhook_secret(&app).await,
        );
        let (ok, output) = rotate(&database_url, &format!("{K3},{K2}")).await;
        assert!(!ok, "{output}");
        assert!(output.contains("no secret was resealed"), "{output}");
        assert!(
            output.contains("signing secret of provider") && output.contains("\"k9\""),
            "{output}"
        );
        let after = (
            stored_totp_secret(&app, email).await,
            stored_webhook_secret(&app).await,
        );
        assert_eq!(before, after, "all or nothing");
        let rotations: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_trail WHERE action = 'secrets_rotated'")
                .fetch_one(pool)
                .await
                .expect("count");
        assert_eq!(rotations, 2, "the failed run recorded nothing");
    }
);
