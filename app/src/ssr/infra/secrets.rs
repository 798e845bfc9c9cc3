//! Password hashing and single-use tokens.
//!
//! argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1) runs on a
//! blocking thread: a hash takes tens of milliseconds of CPU, which would
//! otherwise stall every request sharing the async worker.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::domain::NewPassword;

fn argon2() -> Argon2<'static> {
    #[expect(
        clippy::expect_used,
        reason = "constant parameters that argon2 accepts"
    )]
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when the account does not
/// exist so that answering takes the same time either way.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"counsel-registry dummy password", &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the hashing thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub async fn hash_password(password: NewPassword) -> Result<String, SecretError> {
    hash_secret(password.expose().to_owned()).await
}

/// argon2id of a short secret such as a 6-digit code: a million candidates
/// at tens of milliseconds each cannot be tried within a code's lifetime,
/// where a plain SHA-256 would fall at once. Verify with `verify_password`.
pub async fn hash_code(code: String) -> Result<String, SecretError> {
    hash_secret(code).await
}

async fn hash_secret(secret: String) -> Result<String, SecretError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(secret.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(SecretError::Hash)
    })
    .await?
}

/// Checks `password` against `stored`, or against a dummy hash when there
/// is no account, so both cases cost the same.
pub async fn verify_password(
    password: String,
    stored: Option<String>,
) -> Result<bool, SecretError> {
    tokio::task::spawn_blocking(move || {
        let exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        exists && matches
    })
    .await
    .map_err(SecretError::from)
}

/// A fresh token of 128 random bits for a link, and the hash to store.
/// 128 bits keep the link under 76 characters, so mail is sent as plain
/// 7-bit text and the link stays whole and clickable in an `.eml` file.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, hex: a random 128-bit token needs no salt or
/// slow hash.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = NewPassword::parse("violet tugboat orbit", None, None).expect("valid");
        let hash = hash_password(password).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password("violet tugboat orbit".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify_password("violet tugboat orbiT".into(), Some(hash))
                .await
                .expect("verify")
        );
        assert!(
            !verify_password("violet tugboat orbit".into(), None)
                .await
                .expect("verify")
        );
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (first, first_hash) = new_token();
        let (second, _) = new_token();
        assert_ne!(first, second);
        assert_eq!(first.len(), 22, "128 bits in base64url");
        assert_eq!(first_hash, hash_token(&first));
        assert_eq!(first_hash.len(), 64);
        assert!(!first_hash.contains(&first));
    }
}
