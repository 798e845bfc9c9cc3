//! Accounts: sign-up, email verification, login and password reset.
//! Answers never reveal whether an email address has an account.
//!
//! Owns the tables `users` (identity, password, role, two-factor secret;
//! `standing` is written by `rosters`), `email_tokens`, `recovery_codes`.
//! May use: infrastructure and the domain only — no other capability.
//! Submodules: `admins` (admin creation), `two_factor` (TOTP, recovery
//! codes), `permission` (what each role may do), `sign_in` (the password
//! step and its limits, per account and per client), `reset` (password
//! resets, and the emails carrying bearer links, which are never stored),
//! `confirmation` (the sign-up's confirmation links).

pub mod admins;
mod confirmation;
pub mod permission;
mod reset;
mod sign_in;
pub mod two_factor;

pub use confirmation::{
    confirmation_holder, confirmation_links, mark_email_confirmed, refuse_confirmation,
};
pub use reset::{AccountLink, LinkEmailJob, request_password_reset, reset_password};
pub use sign_in::{
    LOGIN_FAILURES_PER_CLIENT_PER_HOUR, LOGIN_FAILURES_PER_HOUR, PASSWORD_CONFIRMATIONS_PER_HOUR,
    SECOND_FACTOR_FAILURES_PER_HOUR, confirm_password, log_in, second_factor_attempt,
    second_factor_succeeded,
};

use sqlx::AnyPool;

use sqlx::{Any, Transaction};

use crate::domain::closed_set::closed_set;
use crate::domain::{
    BarNumber, EmailAddress, Jurisdiction, NewPassword, PasswordProblem, PersonName, Role, Standing,
};
use crate::error::AppError;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::{self, Database};
use crate::ssr::infra::mail::{MailError, Mailer};
use crate::ssr::infra::mail_queue::{self, MailKind, QueuedEmail};
use crate::ssr::infra::messages;
use crate::ssr::infra::secrets::{self, SecretError};

/// How long an email verification link stays valid.
pub const VERIFY_EMAIL_VALIDITY_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a password reset link stays valid.
pub const RESET_PASSWORD_VALIDITY_MS: i64 = 30 * 60 * 1000;

/// How long the link that lets a new admin choose a password stays valid.
pub const ADMIN_INVITATION_VALIDITY_MS: i64 = 24 * 60 * 60 * 1000;

closed_set!(
    /// What an emailed single-use link is for (`email_tokens.purpose`).
    pub TokenPurpose {
        VerifyEmail = "verify_email",
        ResetPassword = "reset_password",
    }
);

pub struct SignUp {
    pub full_name: PersonName,
    pub email: EmailAddress,
    pub jurisdiction: Jurisdiction,
    pub bar_number: BarNumber,
    pub password: NewPassword,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the link is invalid, expired or already used")]
    InvalidToken,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("the email address is not verified yet")]
    EmailNotVerified,
    #[error("too many failed sign-ins for this address")]
    TooManyFailures,
    #[error("{0}")]
    WeakPassword(PasswordProblem),
    /// Confirming this address would prove a claim to a bar number, which
    /// takes the account's password (issue 24).
    #[error("the account's password is needed to confirm this address")]
    PasswordNeeded,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// What the rest of the portal needs to know about the signed-in person.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub role: Role,
    pub standing: Standing,
    /// Why the standing is what it is, in words (the roster match, the
    /// claim, or a reviewer's reason).
    pub standing_reason: Option<String>,
    /// The jurisdiction a bar admin acts for.
    pub admin_jurisdiction: Option<String>,
    pub two_factor_enabled: bool,
    /// Bumped by a password change: sessions of older generations end.
    pub session_generation: i64,
}

/// A sign-up with its password already hashed (argon2 runs before any
/// transaction opens, never under a write lock).
pub struct NewAccount {
    pub full_name: PersonName,
    pub email: EmailAddress,
    pub jurisdiction: Jurisdiction,
    pub bar_number: BarNumber,
    pub password_hash: String,
}

impl SignUp {
    /// Hashes the password (argon2id, on a blocking thread).
    pub async fn hashed(self) -> Result<NewAccount, AccountError> {
        Ok(NewAccount {
            password_hash: secrets::hash_password(self.password).await?,
            full_name: self.full_name,
            email: self.email,
            jurisdiction: self.jurisdiction,
            bar_number: self.bar_number,
        })
    }
}

/// What [`create`] did: the new account's id, if the address had none,
/// and the email queued (to send after the commit) unless the address had
/// its share of sign-up mail already ([`MailKind::SignUp`]).
pub struct Created {
    pub user_id: Option<i64>,
    pub email: Option<QueuedEmail>,
}

/// Creates the account in the caller's transaction and queues a
/// verification link, counted in the address's share of sign-up mail
/// ([`MailKind::SignUp`]); the link is held in memory for the send after
/// the commit, and the job stored keeps only whose link it is
/// ([`LinkEmailJob`]). When the address already has an account, its owner
/// is told by email instead; the caller sees the same answer, after the
/// same work, either way. The caller matches a new account against the
/// roster in the same transaction (`standing::sign_up`); when the address
/// is the bar's email of record for the bar number claimed
/// (`proves_claim`), the message says what is claimed, offers "this was
/// not me" and warns that the account's password will be asked
/// ([`confirm_email_and_claim`](messages::confirm_email_and_claim)).
pub async fn create(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    account: &NewAccount,
    proves_claim: bool,
) -> Result<Created, AccountError> {
    let now = now_millis();
    let email_key = account.email.as_str().to_lowercase();
    let user_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (email_key) DO NOTHING RETURNING id",
    )
    .bind(account.email.as_str())
    .bind(&email_key)
    .bind(account.full_name.as_str())
    .bind(account.jurisdiction.code())
    .bind(account.bar_number.as_str())
    .bind(&account.password_hash)
    .bind(now)
    .fetch_optional(&mut **transaction)
    .await?;

    // Past the address's share of sign-up mail nothing is sent (the
    // answer is the same); other kinds of mail keep their own shares.
    let to = &account.email;
    if !mail_queue::may_send(transaction, to.as_str(), MailKind::SignUp).await? {
        return Ok(Created {
            user_id,
            email: None,
        });
    }
    let email = match user_id {
        Some(user_id) => {
            // The links are never stored: the job keeps whose and what for.
            let link = AccountLink::ConfirmEmail { proves_claim };
            let name = account.full_name.as_str();
            let message = reset::link_email(transaction, base_url, user_id, name, link).await?;
            let job = LinkEmailJob { user_id, link };
            mail_queue::queue_link_email(&mut **transaction, to, message, &job).await?
        }
        None => {
            mail_queue::queue(&mut **transaction, to, messages::account_exists(base_url)).await?
        }
    };
    Ok(Created {
        user_id,
        email: Some(email),
    })
}

pub async fn find_account(pool: &AnyPool, id: i64) -> Result<Option<Account>, AccountError> {
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        Role,
        Standing,
        Option<String>,
        Option<String>,
        i64,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, email, full_name, jurisdiction, bar_number, role, standing, \
         admin_jurisdiction, totp_secret, session_generation, standing_reason \
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(
            id,
            email,
            full_name,
            jurisdiction,
            bar_number,
            role,
            standing,
            scope,
            totp,
            generation,
            standing_reason,
        )| {
            Account {
                id,
                email,
                full_name,
                jurisdiction,
                bar_number,
                // Decoded strictly: an unknown value fails the read.
                role,
                standing,
                standing_reason,
                admin_jurisdiction: scope,
                two_factor_enabled: totp.is_some(),
                session_generation: generation,
            }
        },
    ))
}

/// Whether `password` is the account's current one (argon2 on a blocking
/// thread), for changes that must be confirmed by it.
pub async fn password_matches(
    pool: &AnyPool,
    user_id: i64,
    password: String,
) -> Result<bool, AccountError> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    Ok(secrets::verify_password(password, stored).await?)
}

/// Tells the owner that two-step sign-in was turned on or off (queued,
/// then sent at once).
pub async fn tell_two_factor_changed(
    database: &Database,
    mailer: &Mailer,
    user_id: i64,
    enabled: bool,
) -> Result<(), AccountError> {
    let (email, name): (String, String) =
        sqlx::query_as("SELECT email, full_name FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(database.pool())
            .await?;
    let Ok(to) = EmailAddress::parse(&email) else {
        return Ok(());
    };
    let queued = mail_queue::queue(
        database.pool(),
        &to,
        messages::two_factor_changed(&name, enabled),
    )
    .await?;
    mail_queue::send_queued(mailer, database, queued).await;
    Ok(())
}

/// Replaces the password of a signed-in person who knows the current one.
/// The session generation moves on, ending every other session, and the
/// account's unused reset links are revoked; returns the new generation
/// for the session that made the change.
pub async fn change_password(
    pool: &AnyPool,
    user_id: i64,
    current_password: String,
    new_password: &str,
) -> Result<i64, AccountError> {
    let (email, name, stored_hash): (String, String, String) =
        sqlx::query_as("SELECT email, full_name, password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(pool)
            .await?;
    if !secrets::verify_password(current_password, Some(stored_hash)).await? {
        return Err(AccountError::InvalidCredentials);
    }
    let email = EmailAddress::parse(&email).ok();
    let name = PersonName::parse(&name).ok();
    let password = NewPassword::parse(new_password, email.as_ref(), name.as_ref())
        .map_err(AccountError::WeakPassword)?;
    let password_hash = secrets::hash_password(password).await?;
    let mut transaction = db::begin_write(pool).await?;
    let generation = sqlx::query_scalar(
        "UPDATE users SET password_hash = $1, session_generation = session_generation + 1 \
         WHERE id = $2 RETURNING session_generation",
    )
    .bind(&password_hash)
    .bind(user_id)
    .fetch_one(&mut *transaction)
    .await?;
    reset::revoke_links(&mut transaction, user_id, TokenPurpose::ResetPassword).await?;
    transaction.commit().await?;
    Ok(generation)
}

/// Stores the hash of a fresh token for `user_id` and returns the token,
/// which only ever travels in the email.
async fn issue_token(
    transaction: &mut Transaction<'_, Any>,
    user_id: i64,
    purpose: TokenPurpose,
) -> Result<String, AccountError> {
    let validity = match purpose {
        TokenPurpose::VerifyEmail => VERIFY_EMAIL_VALIDITY_MS,
        TokenPurpose::ResetPassword => RESET_PASSWORD_VALIDITY_MS,
    };
    issue_token_valid_for(transaction, user_id, purpose, validity).await
}

/// Issues a token of `purpose` for `user_id`, valid `validity`
/// milliseconds, in the caller's transaction, and returns it. The
/// account's earlier unused tokens of the purpose are revoked: only the
/// latest link sent works.
pub(crate) async fn issue_token_valid_for(
    transaction: &mut Transaction<'_, Any>,
    user_id: i64,
    purpose: TokenPurpose,
    validity: i64,
) -> Result<String, AccountError> {
    let now = now_millis();
    let (token, token_hash) = secrets::new_token();
    reset::revoke_links(transaction, user_id, purpose).await?;
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&token_hash)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now + validity)
    .bind(now)
    .execute(&mut **transaction)
    .await?;
    Ok(token)
}

/// Uses up a valid token: the conditional update lets only one of two
/// racing requests win. Returns whose token it was.
async fn consume_token(
    transaction: &mut Transaction<'_, Any>,
    token: &str,
    purpose: TokenPurpose,
) -> Result<Option<i64>, AccountError> {
    Ok(sqlx::query_scalar(
        "UPDATE email_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id",
    )
    .bind(now_millis())
    .bind(secrets::hash_token(token))
    .bind(purpose.as_str())
    .fetch_optional(&mut **transaction)
    .await?)
}

/// What a person reads for each refusal; a link that no longer works is
/// worded by the page that opened it (it knows what to suggest).
impl From<AccountError> for AppError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::InvalidToken => AppError::Validation(
                "This link is invalid, has expired or was already used.".into(),
            ),
            AccountError::InvalidCredentials => {
                AppError::Validation("Wrong email or password.".into())
            }
            AccountError::EmailNotVerified => AppError::Validation(
                "Confirm your email address first: open the link we sent you.".into(),
            ),
            AccountError::TooManyFailures => AppError::Validation(
                "Too many failed sign-ins for this address in the last hour. Reset your \
                 password, or try again later."
                    .into(),
            ),
            AccountError::WeakPassword(problem) => AppError::Validation(problem.to_string()),
            AccountError::PasswordNeeded => AppError::Validation(
                "Confirming this address proves a claim to a bar number: enter the password \
                 chosen when the account was created."
                    .into(),
            ),
            other => AppError::unexpected(other),
        }
    }
}
