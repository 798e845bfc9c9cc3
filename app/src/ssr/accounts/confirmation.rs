//! The confirmation of an account's address: its links, what a link
//! stands for before it is used, and using it up, to confirm the address
//! or to refuse it ("this was not me"). A confirmation given with the
//! account's password records that the account's holder proved control
//! of the address (`users.email_proven_at`): only that proves a claim to
//! a bar number through it (issue 24).

use sqlx::{Any, AnyPool, Transaction};

use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::secrets;

use super::{AccountError, TokenPurpose, consume_token, issue_token};

/// Issues a confirmation token for `user_id` in the caller's transaction
/// (valid [`super::VERIFY_EMAIL_VALIDITY_MS`]) and returns its two links: the one
/// that confirms (`/verify-email?token=…`) and the one that answers "this
/// was not me" (the same page, suggesting that answer).
pub async fn confirmation_links(
    transaction: &mut Transaction<'_, Any>,
    base_url: &str,
    user_id: i64,
) -> Result<(String, String), AccountError> {
    let token = issue_token(transaction, user_id, TokenPurpose::VerifyEmail).await?;
    let confirm = format!("{base_url}/verify-email?token={token}");
    let not_me = format!("{confirm}&answer=not-mine");
    Ok((confirm, not_me))
}

/// Whose confirmation link this is, while it is valid and unused (it is
/// not used up: the page shows what confirming it would do).
pub async fn confirmation_holder(pool: &AnyPool, token: &str) -> Result<Option<i64>, AccountError> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM email_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(secrets::hash_token(token))
    .bind(TokenPurpose::VerifyEmail.as_str())
    .bind(now_millis())
    .fetch_optional(pool)
    .await?)
}

/// Marks the email of the link's account verified, in the caller's
/// transaction (the roster match follows in it, in
/// `standing::sign_up::confirm_email`, the one entry point);
/// the link is used up. `by_holder`: the account's password was given
/// with the link, so the account's holder proved control of the address
/// (`users.email_proven_at`, what proves a claim through it). Returns
/// whose address it was.
pub async fn mark_email_confirmed(
    transaction: &mut Transaction<'_, Any>,
    token: &str,
    by_holder: bool,
) -> Result<i64, AccountError> {
    let now = now_millis();
    let user_id = consume_token(transaction, token, TokenPurpose::VerifyEmail)
        .await?
        .ok_or(AccountError::InvalidToken)?;
    let proven = if by_holder {
        ", email_proven_at = COALESCE(email_proven_at, $1)"
    } else {
        ""
    };
    sqlx::query(&format!(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1){proven} \
         WHERE id = $2"
    ))
    .bind(now)
    .bind(user_id)
    .execute(&mut **transaction)
    .await?;
    Ok(user_id)
}

/// Uses up a confirmation link without confirming the address, with
/// every other confirmation link of its account: the mailbox answered
/// "this was not me". Returns whose link it was.
pub async fn refuse_confirmation(
    transaction: &mut Transaction<'_, Any>,
    token: &str,
) -> Result<i64, AccountError> {
    let user_id = consume_token(transaction, token, TokenPurpose::VerifyEmail)
        .await?
        .ok_or(AccountError::InvalidToken)?;
    sqlx::query(
        "UPDATE email_tokens SET used_at = $1 \
         WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now_millis())
    .bind(user_id)
    .bind(TokenPurpose::VerifyEmail.as_str())
    .execute(&mut **transaction)
    .await?;
    Ok(user_id)
}
