//! Accounts: sign-up, email verification, login and password reset.
//! Answers never reveal whether an email address has an account.
//!
//! Owns the tables `users` (identity, password, role, two-factor secret;
//! `standing` is written by `rosters`), `email_tokens`, `recovery_codes`.
//! May use: infrastructure and the domain only — no other capability.
//! Submodules: `admins` (admin creation), `two_factor` (TOTP, recovery
//! codes), `permission` (what each role may do).

pub mod admins;
pub mod permission;
pub mod two_factor;

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
use crate::ssr::infra::mail_queue::{self, QueuedEmail};
use crate::ssr::infra::messages;
use crate::ssr::infra::rate_limit::{self, Decision, Limit};
use crate::ssr::infra::secrets::{self, SecretError};

/// How long an email verification link stays valid.
pub const VERIFY_EMAIL_VALIDITY_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a password reset link stays valid.
pub const RESET_PASSWORD_VALIDITY_MS: i64 = 30 * 60 * 1000;
/// Failed sign-ins per address and hour after which sign-in stops (a
/// password reset still works).
pub const LOGIN_FAILURES_PER_HOUR: Limit = Limit {
    max_hits: 100,
    window: std::time::Duration::from_secs(3600),
};
/// Failures in the hour before each further failure is answered slowly.
const FREE_FAILURES: i64 = 10;
/// The longest a failed sign-in is held back.
const MAX_FAILURE_DELAY_SECS: i64 = 10;

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
/// its hourly share of mail already.
pub struct Created {
    pub user_id: Option<i64>,
    pub email: Option<QueuedEmail>,
}

/// Creates the account in the caller's transaction and queues a
/// verification link. When the address already has an account, its owner
/// is told by email instead; the caller sees the same answer, after the
/// same work, either way. The caller matches a new account against the
/// roster in the same transaction (`standing::sign_up`).
pub async fn create(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    account: &NewAccount,
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

    let message = match user_id {
        Some(user_id) => {
            let token = issue_token(transaction, user_id, TokenPurpose::VerifyEmail).await?;
            messages::confirm_email(
                account.full_name.as_str(),
                &format!("{base_url}/verify-email?token={token}"),
            )
        }
        None => messages::account_exists(base_url),
    };
    let email = if mail_queue::may_send_to(transaction, account.email.as_str()).await? {
        Some(mail_queue::queue(&mut **transaction, &account.email, message).await?)
    } else {
        None
    };
    Ok(Created { user_id, email })
}

/// Marks the email of the link's account verified, in the caller's
/// transaction (the roster match follows in it: `standing::sign_up::confirm_email`, the one entry point);
/// the link is used up. Returns whose address it was.
pub async fn mark_email_confirmed(
    transaction: &mut Transaction<'_, Any>,
    token: &str,
) -> Result<i64, AccountError> {
    let now = now_millis();
    let user_id = consume_token(transaction, token, TokenPurpose::VerifyEmail)
        .await?
        .ok_or(AccountError::InvalidToken)?;
    sqlx::query(
        "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut **transaction)
    .await?;
    Ok(user_id)
}

/// The account these credentials open. Unknown addresses cost the same
/// argon2 work as wrong passwords and get the same error.
///
/// Every try is counted per address before the password is checked, in
/// one statement, so parallel tries cannot slip past the limit together;
/// a right password takes its count back. Past [`FREE_FAILURES`] in an
/// hour each failure is answered more slowly. At
/// [`LOGIN_FAILURES_PER_HOUR`] wrong passwords are refused unchecked in
/// effect, and the right one opens the account only if it has two-step
/// sign-in (the code is asked next, under its own limit): an attacker is
/// slowed and stopped, the owner who proves password and code is not. An
/// owner without two-step sign-in resets the password by email, which
/// lifts the limit ([`reset_password`]).
pub async fn log_in(pool: &AnyPool, email: &str, password: String) -> Result<i64, AccountError> {
    let email_key = email.trim().to_lowercase();
    let bucket = failures_bucket(&email_key);
    let decision = rate_limit::hit(pool, &bucket, LOGIN_FAILURES_PER_HOUR).await?;
    let outcome = check_credentials(pool, &email_key, password).await;
    let over_limit = matches!(decision, Decision::Refused { .. });
    match (&outcome, decision) {
        (Err(AccountError::InvalidCredentials), Decision::Allowed { hits }) => {
            let delay = (hits - FREE_FAILURES).clamp(0, MAX_FAILURE_DELAY_SECS);
            tokio::time::sleep(std::time::Duration::from_secs(delay.unsigned_abs())).await;
            outcome
        }
        (Err(AccountError::InvalidCredentials), Decision::Refused { .. }) => {
            // Past the limit the slowest answer stays.
            tokio::time::sleep(std::time::Duration::from_secs(
                MAX_FAILURE_DELAY_SECS.unsigned_abs(),
            ))
            .await;
            Err(AccountError::TooManyFailures)
        }
        // The password was right (confirmed address or not).
        (Ok(_) | Err(AccountError::EmailNotVerified), _) => {
            rate_limit::refund(pool, &bucket, LOGIN_FAILURES_PER_HOUR).await?;
            match &outcome {
                Ok(user_id) if over_limit && !has_two_factor(pool, *user_id).await? => {
                    Err(AccountError::TooManyFailures)
                }
                Err(_) if over_limit => Err(AccountError::TooManyFailures),
                _ => outcome,
            }
        }
        _ => outcome,
    }
}

/// Wrong current passwords allowed per account and hour where a change
/// is confirmed by it (two-step sign-in on or off).
pub const PASSWORD_CONFIRMATIONS_PER_HOUR: Limit = Limit {
    max_hits: 10,
    window: std::time::Duration::from_secs(60 * 60),
};

/// Whether `password` is the account's current one, for a change that
/// must be confirmed by it. Each try is counted per account before the
/// check (a right one takes its count back), so a borrowed session cannot
/// guess the password: past [`PASSWORD_CONFIRMATIONS_PER_HOUR`] wrong
/// ones it is `TooManyFailures`.
pub async fn confirm_password(
    pool: &AnyPool,
    user_id: i64,
    password: String,
) -> Result<bool, AccountError> {
    let bucket = format!("password-confirmations:{user_id}");
    if let Decision::Refused { .. } =
        rate_limit::hit(pool, &bucket, PASSWORD_CONFIRMATIONS_PER_HOUR).await?
    {
        return Err(AccountError::TooManyFailures);
    }
    let right = password_matches(pool, user_id, password).await?;
    if right {
        rate_limit::refund(pool, &bucket, PASSWORD_CONFIRMATIONS_PER_HOUR).await?;
    }
    Ok(right)
}

/// Wrong second-factor codes allowed per account and hour.
pub const SECOND_FACTOR_FAILURES_PER_HOUR: Limit = Limit {
    max_hits: 10,
    window: std::time::Duration::from_secs(60 * 60),
};

/// Counts one second-factor try for the account before its code is
/// checked (count and check in one step, as for passwords); false when the
/// account is over its hourly limit. A right code takes its count back
/// with [`second_factor_succeeded`]. The limit is per account, apart from
/// the password's, so a flood of wrong passwords at the address does not
/// stop the owner's code.
pub async fn second_factor_attempt(pool: &AnyPool, user_id: i64) -> Result<bool, AccountError> {
    Ok(matches!(
        rate_limit::hit(
            pool,
            &second_factor_bucket(user_id),
            SECOND_FACTOR_FAILURES_PER_HOUR
        )
        .await?,
        Decision::Allowed { .. }
    ))
}

/// A right code: its try no longer counts.
pub async fn second_factor_succeeded(pool: &AnyPool, user_id: i64) -> Result<(), AccountError> {
    rate_limit::refund(
        pool,
        &second_factor_bucket(user_id),
        SECOND_FACTOR_FAILURES_PER_HOUR,
    )
    .await?;
    Ok(())
}

fn failures_bucket(email_key: &str) -> String {
    format!("login-failures:{email_key}")
}

fn second_factor_bucket(user_id: i64) -> String {
    format!("second-factor-failures:{user_id}")
}

async fn has_two_factor(pool: &AnyPool, user_id: i64) -> Result<bool, AccountError> {
    let secret: Option<Option<String>> =
        sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    Ok(secret.flatten().is_some())
}

async fn check_credentials(
    pool: &AnyPool,
    email_key: &str,
    password: String,
) -> Result<i64, AccountError> {
    let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, password_hash, email_verified_at FROM users WHERE email_key = $1",
    )
    .bind(email_key)
    .fetch_optional(pool)
    .await?;
    let stored_hash = row.as_ref().map(|(_, hash, _)| hash.clone());
    if !secrets::verify_password(password, stored_hash).await? {
        return Err(AccountError::InvalidCredentials);
    }
    match row {
        Some((id, _, Some(_))) => Ok(id),
        Some((_, _, None)) => Err(AccountError::EmailNotVerified),
        None => Err(AccountError::InvalidCredentials),
    }
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
/// The session generation moves on, ending every other session; returns
/// the new generation for the session that made the change.
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
    Ok(sqlx::query_scalar(
        "UPDATE users SET password_hash = $1, session_generation = session_generation + 1 \
         WHERE id = $2 RETURNING session_generation",
    )
    .bind(&password_hash)
    .bind(user_id)
    .fetch_one(pool)
    .await?)
}

/// Emails a password reset link when the address has an account, and a
/// note saying there is none otherwise: the same work and the same answer
/// either way.
pub async fn request_password_reset(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    email: &EmailAddress,
) -> Result<(), AccountError> {
    let mut transaction = db::begin_write(database.pool()).await?;
    let user_id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
        .bind(email.as_str().to_lowercase())
        .fetch_optional(&mut *transaction)
        .await?;
    let message = match user_id {
        Some(user_id) => {
            let token = issue_token(&mut transaction, user_id, TokenPurpose::ResetPassword).await?;
            messages::reset_password(&format!("{base_url}/reset-password?token={token}"))
        }
        None => messages::reset_without_account(base_url),
    };
    // Past its hourly share the mailbox gets nothing: the answer on the
    // page is the same, so a stranger's mailbox cannot be flooded.
    let queued = if mail_queue::may_send_to(&mut transaction, email.as_str()).await? {
        Some(mail_queue::queue(&mut *transaction, email, message).await?)
    } else {
        None
    };
    transaction.commit().await?;
    if let Some(queued) = queued {
        mail_queue::send_queued(mailer, database, queued).await;
    }
    Ok(())
}

/// Sets a new password through a reset link. The link is used up only
/// when the password is accepted; the person then signs in (no automatic
/// login: the link alone should not open a session).
pub async fn reset_password(
    pool: &AnyPool,
    token: &str,
    new_password: &str,
) -> Result<(), AccountError> {
    let now = now_millis();
    let holder: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT u.id, u.email, u.full_name FROM email_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3",
    )
    .bind(secrets::hash_token(token))
    .bind(TokenPurpose::ResetPassword.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let (user_id, email, name) = holder.ok_or(AccountError::InvalidToken)?;
    let email = EmailAddress::parse(&email).ok();
    let name = PersonName::parse(&name).ok();
    let password = NewPassword::parse(new_password, email.as_ref(), name.as_ref())
        .map_err(AccountError::WeakPassword)?;
    let password_hash = secrets::hash_password(password).await?;

    let mut transaction = db::begin_write(pool).await?;
    let consumed = consume_token(&mut transaction, token, TokenPurpose::ResetPassword).await?;
    if consumed != Some(user_id) {
        return Err(AccountError::InvalidToken);
    }
    // Following the link proved control of the mailbox, too. Whoever else
    // held a session (perhaps the reason for the reset) is signed out.
    sqlx::query(
        "UPDATE users SET password_hash = $1, email_verified_at = COALESCE(email_verified_at, $2), \
         session_generation = session_generation + 1 WHERE id = $3",
    )
    .bind(&password_hash)
    .bind(now)
    .bind(user_id)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    // The mailbox's owner proved themselves: the limit the wrong guesses
    // built up no longer stands in their way.
    if let Some(email) = &email {
        rate_limit::clear(pool, &failures_bucket(&email.as_str().to_lowercase())).await?;
    }
    // Whoever burnt the code tries knew the old password, not the new one.
    rate_limit::clear(pool, &second_factor_bucket(user_id)).await?;
    Ok(())
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

pub(crate) async fn issue_token_valid_for(
    transaction: &mut Transaction<'_, Any>,
    user_id: i64,
    purpose: TokenPurpose,
    validity: i64,
) -> Result<String, AccountError> {
    let now = now_millis();
    let (token, token_hash) = secrets::new_token();
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
            other => AppError::unexpected(other),
        }
    }
}
