//! Sessions live in the database of whichever engine runs, through the
//! stores of `tower-sessions-sqlx-store`. Those stores take a typed pool, so
//! the session store opens its own small pool on the same database; its
//! tables are created by our migrations (0001), not by the store.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tower_sessions::Session;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::error::AppError;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::{Database, DbError, Engine, SQLITE_BUSY_TIMEOUT};
use crate::ssr::infra::sealing::Keyring;

const SESSION_POOL_SIZE: u32 = 4;

/// A session store on the engine the application runs on.
#[derive(Clone, Debug)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionBackend {
    pub async fn open(database: &Database) -> Result<Self, DbError> {
        match database.engine() {
            Engine::Sqlite => {
                let options = SqliteConnectOptions::from_str(database.url())?
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                let pool = SqlitePoolOptions::new()
                    .max_connections(SESSION_POOL_SIZE)
                    .connect_with(options)
                    .await?;
                Ok(SessionBackend::Sqlite(SqliteStore::new(pool)))
            }
            Engine::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(SESSION_POOL_SIZE)
                    .connect(database.url())
                    .await?;
                Ok(SessionBackend::Postgres(PostgresStore::new(pool)))
            }
        }
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.create(record).await,
            SessionBackend::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.save(record).await,
            SessionBackend::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionBackend::Sqlite(store) => store.load(id).await,
            SessionBackend::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.delete(id).await,
            SessionBackend::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.delete_expired().await,
            SessionBackend::Postgres(store) => store.delete_expired().await,
        }
    }
}

/// The session of the request a server function is answering.
pub async fn current() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(AppError::unexpected)
}

/// A secret as a session row holds it: sealed, with when it lapses.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedEntry {
    sealed: String,
    /// Unix milliseconds.
    expires_at: i64,
}

fn session_purpose(name: &str) -> String {
    format!("session:{name}")
}

/// Keeps `value` in the session under `name` for the page that shows or
/// uses it: sealed under `keyring` (a session row read from the database,
/// or a backup of it, shows nothing) and for `ttl` at most. Take it with
/// [`take_secret`] as it is shown.
pub async fn put_secret<T: serde::Serialize>(
    session: &Session,
    keyring: &Keyring,
    name: &str,
    value: &T,
    ttl: std::time::Duration,
) -> Result<(), AppError> {
    let json = serde_json::to_string(value).map_err(AppError::unexpected)?;
    let ttl_millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let entry = SealedEntry {
        sealed: keyring.seal(&session_purpose(name), &json),
        expires_at: now_millis().saturating_add(ttl_millis),
    };
    session.insert(name, entry).await?;
    Ok(())
}

/// The secret kept under `name`, if it is there, not lapsed, and opens
/// (one sealed under a key since removed from the ring counts as gone).
/// A lapsed or unreadable one is removed.
pub async fn get_secret<T: serde::de::DeserializeOwned>(
    session: &Session,
    keyring: &Keyring,
    name: &str,
) -> Result<Option<T>, AppError> {
    let Some(entry) = session.get::<SealedEntry>(name).await.ok().flatten() else {
        return Ok(None);
    };
    let value = (entry.expires_at > now_millis())
        .then(|| keyring.open(&session_purpose(name), &entry.sealed).ok())
        .flatten()
        .and_then(|opened| serde_json::from_str(&opened.plaintext).ok());
    if value.is_none() {
        session.remove_value(name).await?;
    }
    Ok(value)
}

/// [`get_secret`], removing it from the session: shown once.
pub async fn take_secret<T: serde::de::DeserializeOwned>(
    session: &Session,
    keyring: &Keyring,
    name: &str,
) -> Result<Option<T>, AppError> {
    let value = get_secret(session, keyring, name).await?;
    session.remove_value(name).await?;
    Ok(value)
}

/// A session store failure is the opaque "something went wrong".
impl From<tower_sessions::session::Error> for AppError {
    fn from(error: tower_sessions::session::Error) -> Self {
        AppError::unexpected(error)
    }
}
