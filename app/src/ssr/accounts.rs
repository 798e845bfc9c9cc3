//! Accounts: sign-up, email verification and login. Answers never reveal
//! whether an email address has an account.

use sqlx::AnyPool;

use crate::domain::{BarNumber, EmailAddress, Jurisdiction, NewPassword, PersonName};
use crate::ssr::clock::now_millis;
use crate::ssr::mail::{MailError, Mailer};
use crate::ssr::secrets::{self, SecretError};

/// How long an email verification link stays valid.
pub const VERIFY_EMAIL_VALIDITY_MS: i64 = 24 * 60 * 60 * 1000;

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
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// What the rest of the portal needs to know about the signed-in person.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub role: String,
    pub standing: String,
}

/// Creates the account and emails a verification link. When the address
/// already has an account, its owner is told by email instead; the caller
/// sees the same answer, after the same work, either way.
pub async fn sign_up(
    pool: &AnyPool,
    mailer: &Mailer,
    base_url: &str,
    form: SignUp,
) -> Result<(), AccountError> {
    let password_hash = secrets::hash_password(form.password).await?;
    let now = now_millis();
    let email_key = form.email.as_str().to_lowercase();

    let mut transaction = pool.begin().await?;
    let created: Option<i64> = sqlx::query_scalar(
        "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (email_key) DO NOTHING RETURNING id",
    )
    .bind(form.email.as_str())
    .bind(&email_key)
    .bind(form.full_name.as_str())
    .bind(form.jurisdiction.code())
    .bind(form.bar_number.as_str())
    .bind(&password_hash)
    .bind(now)
    .fetch_optional(&mut *transaction)
    .await?;

    let (subject, body) = match created {
        Some(user_id) => {
            let (token, token_hash) = secrets::new_token();
            sqlx::query(
                "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at) \
                 VALUES ($1, $2, 'verify_email', $3, $4)",
            )
            .bind(&token_hash)
            .bind(user_id)
            .bind(now + VERIFY_EMAIL_VALIDITY_MS)
            .bind(now)
            .execute(&mut *transaction)
            .await?;
            (
                "Confirm your email address",
                format!(
                    "Hello {name},\n\n\
                     Confirm the email address of your Counsel Registry account\n\
                     by opening this link within 24 hours:\n\n\
                     {base_url}/verify-email?token={token}\n\n\
                     If you did not create an account, ignore this message.\n",
                    name = form.full_name
                ),
            )
        }
        None => (
            "Someone tried to create an account with your address",
            format!(
                "Hello,\n\n\
                 Someone, perhaps you, tried to create a Counsel Registry\n\
                 account with this email address, which already has one.\n\
                 If it was you, sign in at {base_url}/login\n\n\
                 If it was not you, you need not do anything.\n"
            ),
        ),
    };
    // Lines stay under 76 characters so the message goes as plain 7-bit
    // text: links are not wrapped or escaped.
    // The message goes out before the commit: if it cannot be sent, the
    // account is not created and the person can simply try again.
    mailer.send(&form.email, subject, body).await?;
    transaction.commit().await?;
    Ok(())
}

/// Marks the email of the link's account verified; the link is used up.
pub async fn verify_email(pool: &AnyPool, token: &str) -> Result<(), AccountError> {
    let now = now_millis();
    let mut transaction = pool.begin().await?;
    let user_id: Option<i64> = sqlx::query_scalar(
        "UPDATE email_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = 'verify_email' AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id",
    )
    .bind(now)
    .bind(secrets::hash_token(token))
    .fetch_optional(&mut *transaction)
    .await?;
    let user_id = user_id.ok_or(AccountError::InvalidToken)?;
    sqlx::query(
        "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// The account these credentials open. Unknown addresses cost the same
/// argon2 work as wrong passwords and get the same error.
pub async fn log_in(pool: &AnyPool, email: &str, password: String) -> Result<i64, AccountError> {
    let email_key = email.trim().to_lowercase();
    let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, password_hash, email_verified_at FROM users WHERE email_key = $1",
    )
    .bind(&email_key)
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
    Ok(sqlx::query_as(
        "SELECT id, email, full_name, jurisdiction, bar_number, role, standing FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}
