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

/// 32 bytes written as 64 hexadecimal digits (spaces around ignored).
pub fn key_from_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(bytes)
}

/// 32 bytes as 64 lower-case hexadecimal digits.
pub fn key_to_hex(key: &[u8; 32]) -> String {
    key.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A stored key in `server_keys` that is not 64 hexadecimal digits.
#[derive(Debug, thiserror::Error)]
#[error("the server key {0:?} in server_keys is not 64 hexadecimal digits")]
pub struct StoredKeyError(String);

/// The server key `name` kept in `server_keys`, for when configuration
/// gives none (development). With `create`, a random one is written by
/// the first instance to need it (racing instances agree on the first row
/// written); without, `None` when there is none. A database leak then
/// holds the key too, which is why production configures its keys.
pub async fn stored_key(
    pool: &sqlx::AnyPool,
    name: &str,
    create: bool,
) -> Result<Option<[u8; 32]>, sqlx::Error> {
    if create {
        let mut fresh = [0u8; 32];
        OsRng.fill_bytes(&mut fresh);
        sqlx::query(
            "INSERT INTO server_keys (name, key_hex, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(key_to_hex(&fresh))
        .bind(crate::ssr::infra::clock::now_millis())
        .execute(pool)
        .await?;
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT key_hex FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    stored
        .map(|hex| {
            key_from_hex(&hex)
                .ok_or_else(|| sqlx::Error::Decode(Box::new(StoredKeyError(name.to_owned()))))
        })
        .transpose()
}

/// The server's key for one-time phone codes: HMAC-SHA256 (RFC 2104)
/// of a code under it is what `number_codes.code_hash` stores.
///
/// Why a keyed HMAC and not argon2 for a 6-digit code: online, the code
/// is guarded by its tries, not its hash (five tries, counted before any
/// comparison, against a million values: a 1 in 200,000 chance per code),
/// and a slow hash there only made each try cost 19 MiB and tens of
/// milliseconds of CPU, a lever for exhausting the server. Offline, a
/// stolen `number_codes` table is worthless without the key: unlike a
/// salted hash, which a million guesses break at any cost per guess
/// worth paying in 10 minutes, an HMAC cannot be searched without the
/// key, which lives in configuration (`CODE_HMAC_KEY`) or, by default,
/// in its own table. Comparison is constant-time (`subtle`).
#[derive(Clone)]
pub struct CodeKey(std::sync::Arc<[u8; 32]>);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(redacted)")
    }
}

/// `CODE_HMAC_KEY` is not 64 hexadecimal digits (32 bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hexadecimal digits (32 random bytes, e.g. `openssl rand -hex 32`)")]
pub struct CodeKeyError;

impl CodeKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(std::sync::Arc::new(bytes))
    }

    /// A key written as 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Result<Self, CodeKeyError> {
        key_from_hex(text)
            .map(|bytes| Self(std::sync::Arc::new(bytes)))
            .ok_or(CodeKeyError)
    }

    /// The key every instance on this database shares when none is
    /// configured: created by the first instance to need it (racing
    /// instances agree on the first row written). A database leak then
    /// holds the key too; production sets `CODE_HMAC_KEY`.
    pub async fn stored(pool: &sqlx::AnyPool) -> Result<Self, sqlx::Error> {
        let bytes = stored_key(pool, "code_hmac", true)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok(Self(std::sync::Arc::new(bytes)))
    }

    fn mac(&self, scope: i64, code: &str) -> hmac::Hmac<Sha256> {
        use hmac::Mac;
        #[expect(clippy::expect_used, reason = "HMAC takes a key of any length")]
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.0[..]).expect("any key length");
        // Bound to the registration, so a tag copied to another row
        // proves nothing there.
        mac.update(format!("{scope}:{code}").as_bytes());
        mac
    }

    /// The tag to store for `code` sent for registration `scope`, in hex.
    pub fn tag(&self, scope: i64, code: &str) -> String {
        use hmac::Mac;
        let tag = self.mac(scope, code).finalize().into_bytes();
        tag.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Whether `code` matches the stored tag, in constant time. A stored
    /// value of another form (an argon2 hash from before migration 0012)
    /// never matches.
    pub fn verify(&self, scope: i64, code: &str, stored: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.tag(scope, code);
        stored.len() == expected.len() && bool::from(expected.as_bytes().ct_eq(stored.as_bytes()))
    }
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
    fn code_tags_are_keyed_and_bound_to_their_registration() {
        let key = CodeKey::generate();
        let tag = key.tag(7, "123456");
        assert_eq!(tag.len(), 64);
        assert!(key.verify(7, "123456", &tag));
        assert!(!key.verify(7, "123457", &tag));
        assert!(!key.verify(8, "123456", &tag), "another registration");
        assert!(
            !CodeKey::generate().verify(7, "123456", &tag),
            "another key"
        );
        assert!(!key.verify(7, "123456", "$argon2id$v=19$m=19456,t=2,p=1$x$y"));
        let hex = key_to_hex(&key.0);
        assert!(
            CodeKey::from_hex(&hex)
                .expect("hex")
                .verify(7, "123456", &tag)
        );
        assert_eq!(CodeKey::from_hex("abc").map(|_| ()), Err(CodeKeyError));
        assert_eq!(format!("{key:?}"), "CodeKey(redacted)");
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
