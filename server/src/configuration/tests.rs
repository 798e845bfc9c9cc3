//! The configuration's behaviour as a whole: defaults, production checks,
//! and that every invalid value is one line naming its variable.

use std::collections::HashMap;
use std::time::Duration;

use app::ssr::infra::mail::MailTransport;

use super::*;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn defaults_run_locally_on_sqlite() {
    let s = settings(&[]).expect("defaults are valid");
    assert_eq!(s.bind_address.to_string(), "127.0.0.1:3000");
    assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(s.public_origin(s.bind_address), "http://127.0.0.1:3000");
    assert!(!s.served_over_tls());
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert_eq!(
        s.roster_brake,
        app::ssr::standing::roster::upload::BrakeRule::default()
    );
    assert_eq!(s.roster_preview_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(
        s.lookup_counts_retention,
        Duration::from_secs(365 * 24 * 3600)
    );
}

const SECRETS_KEYS: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

#[test]
fn twilio_needs_an_address_it_can_call_back() {
    let twilio = [
        ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
        ("TWILIO_AUTH_TOKEN", "token"),
        ("TWILIO_FROM_NUMBER", "+12025550100"),
    ];
    settings(&twilio).expect("on loopback: development, and the tests' fake");
    let mut served = twilio.to_vec();
    served.push(("BIND_ADDRESS", "0.0.0.0:3000"));
    let error = settings(&served).expect_err("Twilio cannot call back");
    assert_eq!(error.variable, "PUBLIC_URL");
    served.push(("PUBLIC_URL", "https://registry.example.org"));
    served.push(("SECRETS_KEYS", SECRETS_KEYS));
    settings(&served).expect("with the public address");
}

#[test]
fn production_brings_its_own_sealing_keys() {
    let error = settings(&[("PUBLIC_URL", "https://registry.example.org")])
        .expect_err("no keys in production");
    assert_eq!(error.variable, "SECRETS_KEYS");
    assert!(error.message.contains("required"), "{error}");
    let s = settings(&[("SECRETS_KEYS", SECRETS_KEYS)]).expect("valid");
    assert_eq!(s.secrets_keys.expect("keys").current_id().as_str(), "k1");
    assert!(settings(&[]).expect("development").secrets_keys.is_none());
    let error = settings(&[("SECRETS_KEYS", "k1:short")]).expect_err("bad key");
    assert_eq!(error.variable, "SECRETS_KEYS");
    assert!(error.message.contains("64 hexadecimal digits"), "{error}");
}

#[test]
fn https_public_url_means_tls() {
    let s = settings(&[
        ("PUBLIC_URL", "https://registry.example.org/portal"),
        ("SECRETS_KEYS", SECRETS_KEYS),
    ])
    .expect("valid");
    assert!(s.served_over_tls());
    assert_eq!(
        s.public_origin(s.bind_address),
        "https://registry.example.org"
    );
}

#[test]
fn each_invalid_value_names_its_variable() {
    let cases = [
        ("BIND_ADDRESS", "localhost"),
        ("PUBLIC_URL", "registry.example.org"),
        ("PUBLIC_URL", "ftp://registry.example.org"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("DATABASE_MAX_CONNECTIONS", "zero"),
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("SESSION_CLEANUP_INTERVAL_SECS", "-5"),
        ("SHUTDOWN_GRACE_SECS", "0"),
        ("LOG_FORMAT", "xml"),
        ("MAIL_FROM", "not a mailbox"),
        ("SMTP_URL", "http://mail.example.org"),
        ("SMTP_URL", "smtp://user:pass@mail.example.org:587"),
        ("WEBHOOK_ALLOW_LOOPBACK", "yes"),
        ("SECRETS_KEYS", "k1"),
        ("AUTH_ATTEMPTS_PER_MINUTE", "0"),
        ("TRUSTED_PROXY_HOPS", "11"),
        ("TRUSTED_PROXY_HOPS", "-1"),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("ROSTER_BRAKE_PERCENT", "150"),
        ("ROSTER_BRAKE_PERCENT", "NaN"),
        ("ROSTER_BRAKE_ATTORNEYS", "-1"),
        ("ROSTER_BRAKE_FULL_PERCENT", "two"),
        ("ROSTER_PREVIEW_TTL_HOURS", "0"),
        ("LOOKUP_COUNTS_RETENTION_DAYS", "0"),
        ("AUDIT_NUMBERS_PER_HOUR", "0"),
        ("AUDIT_NUMBERS_PER_HOUR", "-5"),
        ("LOOKUP_COUNTS_RETENTION_DAYS", "a year"),
        ("CODE_HMAC_KEY", "secret"),
        (
            "CODE_HMAC_KEY",
            "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg",
        ),
    ];
    for (variable, value) in cases {
        let error = settings(&[(variable, value)]).expect_err(variable);
        assert_eq!(error.variable, variable);
        let line = error.to_string();
        assert!(line.starts_with(variable), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}

#[test]
fn empty_values_fall_back_to_defaults() {
    let s = settings(&[("DATABASE_URL", ""), ("LOG_FORMAT", " ")]).expect("valid");
    assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
}

#[test]
fn smtp_needs_tls_unless_the_host_is_loopback() {
    for accepted in [
        "smtps://user:secret@mail.example.org:465",
        "smtps://mail.example.org",
        "smtp://user:secret@mail.example.org:587?tls=required",
        "smtp://127.0.0.1:2525",
        "smtp://127.8.9.10:25",
        "smtp://[::1]:2525",
        "smtp://localhost:25",
        "smtp://LOCALHOST:25?tls=opportunistic",
    ] {
        let s = settings(&[("SMTP_URL", accepted)]).expect(accepted);
        assert!(
            matches!(&s.mail_transport, MailTransport::Smtp(url) if url == accepted),
            "{accepted}"
        );
    }
    for refused in [
        "smtp://user:secret@mail.example.org:587",
        "smtp://user:secret@mail.example.org:587?tls=opportunistic",
        "smtp://10.0.0.5:25",
        "smtp://localhost.example.org:25",
        "smtp://[::2]:25",
    ] {
        let error = settings(&[("SMTP_URL", refused)]).expect_err(refused);
        assert_eq!(error.variable, "SMTP_URL");
        assert!(error.message.contains("in clear"), "{error}");
        assert!(error.message.contains("tls=required"), "{error}");
        assert!(!error.message.contains("secret"), "no password in {error}");
    }
}

#[test]
fn loopback_webhooks_only_in_development() {
    let s = settings(&[]).expect("valid");
    assert!(!s.outbound.allow_loopback, "off by default");
    let s = settings(&[("WEBHOOK_ALLOW_LOOPBACK", "true")]).expect("development");
    assert!(s.outbound.allow_loopback);
    let s = settings(&[
        ("WEBHOOK_ALLOW_LOOPBACK", "true"),
        ("BIND_ADDRESS", "[::1]:3000"),
        ("PUBLIC_URL", "http://localhost:3000"),
    ])
    .expect("development over IPv6 loopback");
    assert!(s.outbound.allow_loopback);
    for production in [
        [
            ("WEBHOOK_ALLOW_LOOPBACK", "true"),
            ("PUBLIC_URL", "https://registry.example.org"),
        ],
        [
            ("WEBHOOK_ALLOW_LOOPBACK", "true"),
            ("BIND_ADDRESS", "0.0.0.0:3000"),
        ],
    ] {
        let error = settings(&production).expect_err("production");
        assert_eq!(error.variable, "WEBHOOK_ALLOW_LOOPBACK");
        assert!(error.message.contains("development only"), "{error}");
    }
    let s = settings(&[
        ("WEBHOOK_ALLOW_LOOPBACK", "false"),
        ("BIND_ADDRESS", "0.0.0.0:3000"),
    ])
    .expect("off is fine anywhere");
    assert!(!s.outbound.allow_loopback);
}
