//! The second sign-in step: TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s
//! steps, one step of clock drift either way) with totp-rs, and ten
//! single-use recovery codes. A time step is never accepted twice for one
//! account, so a code seen over someone's shoulder is worthless once used.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use sqlx::AnyPool;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::infra::sealing::{Keyring, Rotation, SealError};
use crate::ssr::infra::secrets;

const ISSUER: &str = "Counsel Registry";
const STEP_SECS: u64 = 30;
const RECOVERY_CODES: usize = 10;
/// Crockford's base32 alphabet: no I, L, O or U to misread.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    #[error("the secret is not valid base32")]
    BadSecret,
    #[error("two-step sign-in is already set up")]
    AlreadyEnrolled,
    #[error("cannot draw the QR code: {0}")]
    Qr(String),
    #[error("the stored secret of account {user_id} cannot be read: {error}")]
    Sealed { user_id: i64, error: SealError },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A fresh 160-bit secret, base32 as authenticator apps take it.
pub fn new_secret() -> String {
    let mut bytes = vec![0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes).to_encoded().to_string()
}

fn totp(secret: &str, account_name: &str) -> Result<TOTP, TwoFactorError> {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .map_err(|_| TwoFactorError::BadSecret)?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        bytes,
        Some(ISSUER.to_owned()),
        account_name.replace(':', ""),
    )
    .map_err(|_| TwoFactorError::BadSecret)
}

/// What an authenticator app needs: the `otpauth://` address and a QR
/// code of it as an SVG data URI (allowed by the page's CSP).
pub fn provisioning(secret: &str, email: &str) -> Result<(String, String), TwoFactorError> {
    let url = totp(secret, email)?.get_url();
    let svg = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| TwoFactorError::Qr(e.to_string()))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let data_uri = format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg));
    Ok((url, data_uri))
}

/// The time step `code` belongs to, if it is the code of the current step
/// or of one step either side.
pub fn matching_step(
    secret: &str,
    code: &str,
    now_secs: u64,
) -> Result<Option<i64>, TwoFactorError> {
    let generator = totp(secret, "check")?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let current = now_secs / STEP_SECS;
    let mut found = None;
    // Every candidate is compared, in constant time, whatever matched.
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = generator.generate(step * STEP_SECS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(i64::try_from(step).unwrap_or(i64::MAX));
        }
    }
    Ok(found)
}

fn now_secs() -> u64 {
    u64::try_from(now_millis() / 1000).unwrap_or(0)
}

/// What a TOTP secret is sealed for: its column and account, so a sealed
/// secret copied to another account's row does not open there.
fn purpose(user_id: i64) -> String {
    format!("users.totp_secret:{user_id}")
}

/// Turns the second factor on with `secret` once `code` proves the app
/// holds it, and returns ten fresh recovery codes to show once. `None`
/// when the code is wrong. The secret is stored sealed under `keyring`.
pub async fn enrol(
    pool: &AnyPool,
    keyring: &Keyring,
    user_id: i64,
    secret: &str,
    code: &str,
) -> Result<Option<Vec<String>>, TwoFactorError> {
    let Some(step) = matching_step(secret, code, now_secs())? else {
        return Ok(None);
    };
    let mut transaction = db::begin_write(pool).await?;
    let updated = sqlx::query(
        "UPDATE users SET totp_secret = $1, totp_last_step = $2 WHERE id = $3 AND totp_secret IS NULL",
    )
    .bind(keyring.seal(&purpose(user_id), secret))
    .bind(step)
    .bind(user_id)
    .execute(&mut *transaction)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(TwoFactorError::AlreadyEnrolled);
    }
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(secrets::hash_token(&normalise_recovery_code(code)))
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(Some(codes))
}

/// Turns two-step sign-in off: the secret and the recovery codes go.
/// The caller has checked the password and a current code.
pub async fn disable(pool: &AnyPool, user_id: i64) -> Result<(), TwoFactorError> {
    let mut transaction = db::begin_write(pool).await?;
    sqlx::query("UPDATE users SET totp_secret = NULL, totp_last_step = 0 WHERE id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

/// Whether `code` is a valid second factor for the account now: a TOTP
/// code of a step later than the last one accepted, or an unused recovery
/// code. Either is used up by this call. The conditional updates let only
/// one of two racing requests with the same code succeed.
pub async fn check(
    pool: &AnyPool,
    keyring: &Keyring,
    user_id: i64,
    code: &str,
) -> Result<bool, TwoFactorError> {
    let stored: Option<String> = sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await?
        .flatten();
    let Some(stored) = stored else {
        return Ok(false);
    };
    let secret = keyring
        .open(&purpose(user_id), &stored)
        .map_err(|error| TwoFactorError::Sealed { user_id, error })?
        .plaintext;
    if let Some(step) = matching_step(&secret, code, now_secs())? {
        let accepted = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(pool)
        .await?;
        return Ok(accepted.rows_affected() == 1);
    }
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 \
         WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now_millis())
    .bind(user_id)
    .bind(secrets::hash_token(&normalise_recovery_code(code)))
    .execute(pool)
    .await?;
    Ok(used.rows_affected() == 1)
}

/// Reseals every stored TOTP secret not under the current key (older key,
/// or clear from before sealing). Each row is rewritten only if it still
/// holds what was read, so a secret changed meanwhile is left alone and
/// counted on the next run. In the caller's transaction, so a rotation
/// counts whole or not at all.
///
/// Errors: a secret that does not open (its key is no longer configured,
/// or it was edited) stops the rotation, naming the account.
pub async fn reseal_all(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    keyring: &Keyring,
) -> Result<Rotation, TwoFactorError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL")
            .fetch_all(&mut **transaction)
            .await?;
    let (moved, current) = keyring
        .reseal_rows(rows, purpose)
        .map_err(|(user_id, error)| TwoFactorError::Sealed { user_id, error })?;
    let mut rotation = Rotation {
        resealed: 0,
        current,
    };
    for (user_id, resealed, stored) in moved {
        rotation.resealed +=
            sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2 AND totp_secret = $3")
                .bind(resealed)
                .bind(user_id)
                .bind(stored)
                .execute(&mut **transaction)
                .await?
                .rows_affected();
    }
    Ok(rotation)
}

/// How many recovery codes the account has left.
pub async fn recovery_codes_left(pool: &AnyPool, user_id: i64) -> Result<i64, TwoFactorError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?)
}

/// 80 random bits as four groups of four characters.
fn new_recovery_code() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Recovery codes are accepted in any case, with or without the dashes
/// and spaces people copy along.
fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl From<TwoFactorError> for crate::error::AppError {
    fn from(error: TwoFactorError) -> Self {
        match error {
            TwoFactorError::AlreadyEnrolled => crate::error::AppError::Conflict(
                "Two-step sign-in is already set up for this account.".into(),
            ),
            other => crate::error::AppError::unexpected(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890": at
        // 59 s the 8-digit code is 94287082, so the 6-digit one is 287082.
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(
            matching_step(&secret, "287082", 59).expect("valid"),
            Some(1)
        );
        assert_eq!(
            matching_step(&secret, "287082", 59 + 30).expect("valid"),
            Some(1)
        );
        assert_eq!(
            matching_step(&secret, "287082", 59 + 60).expect("valid"),
            None
        );
        assert_eq!(matching_step(&secret, "28708", 59).expect("valid"), None);
        assert_eq!(matching_step(&secret, "abcdef", 59).expect("valid"), None);
    }

    #[test]
    fn recovery_codes_are_random_and_forgiving() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_ne!(code, new_recovery_code());
        assert_eq!(
            normalise_recovery_code(&code.to_uppercase().replace('-', " ")),
            normalise_recovery_code(&code)
        );
    }
}
