//! Secrets at rest, sealed under a server key.
//!
//! What the server must read back in clear later — TOTP secrets, webhook
//! signing secrets, the secrets a page shows once — is stored sealed with
//! XChaCha20-Poly1305 (an AEAD; draft-irtf-cfrg-xchacha, RustCrypto's
//! `chacha20poly1305`). What it only compares (passwords, tokens, codes) is
//! hashed instead and never passes through here.
//!
//! A sealed value is text, so it fits the columns that held the clear one:
//!
//! ```text
//! sealed:v1:<key id>:<base64url, no padding, of 24-byte nonce ‖ ciphertext ‖ 16-byte tag>
//! ```
//!
//! The key id names the key it was sealed under, so keys can rotate: the
//! [`Keyring`] holds the current key, which seals, and older ones, which
//! still open. `server secrets rotate` reseals every stored value under the
//! current key, after which the older keys may leave the configuration.
//!
//! Each value is bound to where it belongs by the AEAD's associated data
//! (its *purpose*, e.g. `users.totp_secret:42`): a sealed value copied to
//! another row or another column does not open there.
//!
//! Values stored before sealing existed have no `sealed:` prefix; they open
//! as [`SealState::Clear`] so nothing breaks on upgrade, and the rotation
//! seals them.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;

use crate::ssr::infra::secrets::{key_from_hex, stored_key};

const PREFIX: &str = "sealed:v1:";
const NONCE_BYTES: usize = 24;
/// The id of the key generated and kept in the database when none is
/// configured (development; see [`Keyring::stored`]).
const STORED_KEY_ID: &str = "db";
/// Its row in `server_keys`.
const STORED_KEY_NAME: &str = "sealing";

/// A key's name: 1 to 32 of `A-Z a-z 0-9 _ -`, stored with every value it
/// sealed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Errors name the key by its place (1, 2, …), never by its text: a
    /// pair written the wrong way round would put key bytes in the log.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why `SECRETS_KEYS` (or a stored key) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("no key given; expected id:key pairs separated by commas, the current key first")]
    Empty,
    #[error("key {0}: its id must be 1 to 32 letters, digits, '_' or '-' (written id:key)")]
    BadId(usize),
    #[error("key {0}: the id `db` is the database's own key's; choose another")]
    ReservedId(usize),
    #[error(
        "the key of {0:?} is not 64 hexadecimal digits (32 random bytes, e.g. `openssl rand -hex 32`)"
    )]
    BadKey(String),
    #[error("key {0} is not written as id:key")]
    NoColon(usize),
    #[error("the key id {0:?} is given twice")]
    Duplicate(String),
}

/// Why a stored value does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed under key {0:?}, which the server does not have (SECRETS_KEYS)")]
    UnknownKey(String),
    #[error("not a sealed value of this version")]
    Malformed,
    /// Wrong key bytes under a known id, a value moved from another row or
    /// column, or an edited value: the AEAD cannot tell these apart.
    #[error("does not open: edited, moved from elsewhere, or sealed under other key bytes")]
    DoesNotOpen,
}

/// How a stored value was held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealState {
    /// Under the current key: nothing to do.
    Current,
    /// Under an older key of the ring: rotation reseals it.
    Older(KeyId),
    /// In clear, from before sealing: rotation seals it.
    Clear,
}

/// A value opened, and how it was held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub plaintext: String,
    pub state: SealState,
}

/// The server's sealing keys: one current, any number older.
///
/// Debug output names the ids only.
#[derive(Clone)]
pub struct Keyring {
    current: KeyId,
    keys: Arc<BTreeMap<KeyId, [u8; 32]>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Reads `SECRETS_KEYS`: `id:hex,id:hex,…`, the current key first,
    /// each key 64 hexadecimal digits. Spaces around entries are ignored.
    pub fn parse(text: &str) -> Result<Self, KeyringError> {
        let mut current = None;
        let mut keys = BTreeMap::new();
        let entries = text.split(',').map(str::trim).filter(|e| !e.is_empty());
        for (index, entry) in entries.enumerate() {
            let place = index + 1;
            let (id, key) = entry.split_once(':').ok_or(KeyringError::NoColon(place))?;
            let id = KeyId::parse(id.trim()).ok_or(KeyringError::BadId(place))?;
            if id.as_str() == STORED_KEY_ID {
                return Err(KeyringError::ReservedId(place));
            }
            let key = key_from_hex(key).ok_or_else(|| KeyringError::BadKey(id.0.clone()))?;
            if keys.insert(id.clone(), key).is_some() {
                return Err(KeyringError::Duplicate(id.0));
            }
            current.get_or_insert(id);
        }
        let current = current.ok_or(KeyringError::Empty)?;
        Ok(Self {
            current,
            keys: Arc::new(keys),
        })
    }

    /// A ring of one fresh random key named `id`.
    pub fn generate(id: KeyId) -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self {
            current: id.clone(),
            keys: Arc::new(BTreeMap::from([(id, key)])),
        }
    }

    /// The key every instance on this database shares when `SECRETS_KEYS`
    /// is not set (development): created by the first instance to need it,
    /// racing instances agreeing on the first row written, under the id
    /// `db`. A database leak then holds the key too, which is why
    /// production configuration refuses to run without `SECRETS_KEYS`.
    pub async fn stored(pool: &sqlx::AnyPool) -> Result<Self, sqlx::Error> {
        let key = stored_key(pool, STORED_KEY_NAME, true)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok(Self::of_stored(key))
    }

    /// The database's own key, if one was ever made. A server configured
    /// with `SECRETS_KEYS` keeps it as an older key, so values sealed
    /// before the configuration still open and the rotation can move them.
    pub async fn stored_if_any(pool: &sqlx::AnyPool) -> Result<Option<Self>, sqlx::Error> {
        Ok(stored_key(pool, STORED_KEY_NAME, false)
            .await?
            .map(Self::of_stored))
    }

    fn of_stored(key: [u8; 32]) -> Self {
        let id = KeyId(STORED_KEY_ID.to_owned());
        Self {
            current: id.clone(),
            keys: Arc::new(BTreeMap::from([(id, key)])),
        }
    }

    /// The ring a server or command runs with: the configured keys, plus
    /// the database's own key (when one was made) for opening only; with
    /// nothing configured, the database's own key, made if need be.
    pub async fn for_server(
        configured: Option<&Keyring>,
        pool: &sqlx::AnyPool,
    ) -> Result<Self, sqlx::Error> {
        Ok(match (configured, Self::stored_if_any(pool).await?) {
            (Some(keys), Some(stored)) => keys.clone().with_older(&stored),
            (Some(keys), None) => keys.clone(),
            (None, Some(stored)) => stored,
            (None, None) => Self::stored(pool).await?,
        })
    }

    /// This ring, with `older`'s keys added for opening only (an id this
    /// ring already has keeps this ring's key).
    pub fn with_older(self, older: &Keyring) -> Self {
        let mut keys = (*self.keys).clone();
        for (id, key) in older.keys.iter() {
            keys.entry(id.clone()).or_insert(*key);
        }
        Self {
            current: self.current,
            keys: Arc::new(keys),
        }
    }

    /// The key new values are sealed under.
    pub fn current_id(&self) -> &KeyId {
        &self.current
    }

    fn cipher(&self, id: &KeyId) -> Option<XChaCha20Poly1305> {
        self.keys
            .get(id)
            .map(|key| XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)))
    }

    /// Seals `plaintext` for `purpose` under the current key. A fresh
    /// random 24-byte nonce each time, so sealing the same value twice
    /// gives different text.
    pub fn seal(&self, purpose: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        #[expect(
            clippy::expect_used,
            reason = "the current key is in the ring by construction, and sealing in memory cannot fail"
        )]
        let sealed = self
            .cipher(&self.current)
            .expect("the current key is in the ring")
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .expect("encryption in memory");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.current, URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Opens a stored value sealed for `purpose`, or takes a value from
    /// before sealing as it is ([`SealState::Clear`]).
    pub fn open(&self, purpose: &str, stored: &str) -> Result<Opened, SealError> {
        if !stored.starts_with("sealed:") {
            return Ok(Opened {
                plaintext: stored.to_owned(),
                state: SealState::Clear,
            });
        }
        let rest = stored.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
        let (id, body) = rest.split_once(':').ok_or(SealError::Malformed)?;
        let id = KeyId::parse(id).ok_or(SealError::Malformed)?;
        let cipher = self
            .cipher(&id)
            .ok_or_else(|| SealError::UnknownKey(id.0.clone()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plaintext = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen)?;
        let plaintext = String::from_utf8(plaintext).map_err(|_| SealError::Malformed)?;
        let state = if id == self.current {
            SealState::Current
        } else {
            SealState::Older(id)
        };
        Ok(Opened { plaintext, state })
    }

    /// The value sealed under the current key, when it is held otherwise
    /// (`None` when it already is). For rotations.
    pub fn reseal(&self, purpose: &str, stored: &str) -> Result<Option<String>, SealError> {
        let opened = self.open(purpose, stored)?;
        Ok(match opened.state {
            SealState::Current => None,
            SealState::Older(_) | SealState::Clear => Some(self.seal(purpose, &opened.plaintext)),
        })
    }
}

/// A stored value to rewrite: its row id, the value resealed under the
/// current key, and the value as read (rewrite only if it still holds it).
pub type Resealed = (i64, String, String);

impl Keyring {
    /// For a rotation: of `rows` (row id, stored value, each sealed for
    /// `purpose(id)`), those to rewrite under the current key, and how many
    /// already are under it.
    ///
    /// Errors: the id of the first value that does not open, and why.
    pub fn reseal_rows(
        &self,
        rows: Vec<(i64, String)>,
        purpose: impl Fn(i64) -> String,
    ) -> Result<(Vec<Resealed>, u64), (i64, SealError)> {
        let mut moved = Vec::new();
        let mut current = 0;
        for (id, stored) in rows {
            match self
                .reseal(&purpose(id), &stored)
                .map_err(|error| (id, error))?
            {
                Some(resealed) => moved.push((id, resealed, stored)),
                None => current += 1,
            }
        }
        Ok((moved, current))
    }
}

/// What one table's rotation did, for the command's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Values moved to the current key (older key or clear).
    pub resealed: u64,
    /// Values already under the current key.
    pub current: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(text: &str) -> Keyring {
        Keyring::parse(text).expect("a valid ring")
    }

    const A: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "k2:1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn a_value_opens_only_for_its_purpose_and_only_unedited() {
        let keys = ring(A);
        let sealed = keys.seal("users.totp_secret:1", "JBSWY3DPEHPK3PXP");
        assert!(sealed.starts_with("sealed:v1:k1:"));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        let opened = keys.open("users.totp_secret:1", &sealed).expect("opens");
        assert_eq!(opened.plaintext, "JBSWY3DPEHPK3PXP");
        assert_eq!(opened.state, SealState::Current);
        assert_eq!(
            keys.open("users.totp_secret:2", &sealed),
            Err(SealError::DoesNotOpen)
        );
        let mut edited = sealed.clone().into_bytes();
        // A character well inside the body (the last may hold only
        // padding bits).
        let inside = edited.len() - 10;
        edited[inside] = if edited[inside] == b'A' { b'B' } else { b'A' };
        let edited = String::from_utf8(edited).expect("ascii");
        assert_eq!(
            keys.open("users.totp_secret:1", &edited),
            Err(SealError::DoesNotOpen)
        );
        assert_ne!(keys.seal("p", "same"), keys.seal("p", "same"));
    }

    #[test]
    fn rotation_moves_older_and_clear_values_to_the_current_key() {
        let old = ring(A);
        let sealed_old = old.seal("p", "secret");
        let new = ring(&format!("{B},{A}"));
        assert_eq!(new.current_id().as_str(), "k2");
        assert_eq!(
            new.open("p", &sealed_old).expect("opens").state,
            SealState::Older(KeyId::parse("k1").expect("id"))
        );
        let moved = new
            .reseal("p", &sealed_old)
            .expect("reseals")
            .expect("moved");
        assert!(moved.starts_with("sealed:v1:k2:"));
        assert_eq!(new.reseal("p", &moved), Ok(None));
        let from_clear = new.reseal("p", "whsec_abc").expect("seals").expect("moved");
        assert_eq!(
            new.open("p", &from_clear).expect("opens").plaintext,
            "whsec_abc"
        );
        // Once k1 leaves the configuration, what it alone sealed is unreadable.
        assert_eq!(
            ring(B).open("p", &sealed_old),
            Err(SealError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn a_key_under_a_known_id_but_other_bytes_does_not_open() {
        let sealed = ring(A).seal("p", "secret");
        let impostor = ring("k1:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
        assert_eq!(impostor.open("p", &sealed), Err(SealError::DoesNotOpen));
    }

    #[test]
    fn bad_configuration_is_named() {
        assert_eq!(Keyring::parse(" , ").err(), Some(KeyringError::Empty));
        assert_eq!(
            Keyring::parse("k1:abcd").err(),
            Some(KeyringError::BadKey("k1".into()))
        );
        assert_eq!(
            Keyring::parse("0001020304").err(),
            Some(KeyringError::NoColon(1))
        );
        assert!(matches!(
            Keyring::parse(&format!("bad id:{}", &A[3..])),
            Err(KeyringError::BadId(1))
        ));
        // Written the wrong way round: the error does not repeat the key.
        let reversed = format!("{}:k1,{}:k2", &A[3..], &B[3..]);
        let error = Keyring::parse(&reversed).expect_err("refused");
        assert_eq!(error, KeyringError::BadId(1));
        assert!(!error.to_string().contains(&A[3..13]), "{error}");
        assert_eq!(
            Keyring::parse(&format!("db:{}", &A[3..])).err(),
            Some(KeyringError::ReservedId(1))
        );
        assert_eq!(
            Keyring::parse(&format!("{A},{A}")).err(),
            Some(KeyringError::Duplicate("k1".into()))
        );
        assert_eq!(ring(A).open("p", "sealed:v1:k1"), Err(SealError::Malformed));
        assert_eq!(
            ring(A).open("p", "sealed:v9:k1:AAAA"),
            Err(SealError::Malformed)
        );
    }
}
