//! Signing in: the password step and its limits, the second step's
//! limit, and the password confirmations a signed-in change asks for.
//!
//! Wrong passwords are counted twice, per (account, client) and per
//! account. A client is what the server's throttle counts one network as
//! ([`ClientKey`]: an IPv4 address or an IPv6 /64). A client past its own
//! share ([`LOGIN_FAILURES_PER_CLIENT_PER_HOUR`]) is stopped without
//! adding to the account's count, so one attacker fills at most that much
//! of the account's ceiling ([`LOGIN_FAILURES_PER_HOUR`]) and the owner,
//! signing in from elsewhere, is not locked out by them. Only many
//! networks together reach the ceiling; then the owner gets in with the
//! second step, or by a password reset, which lifts every count of the
//! account ([`lift_limits`]).

use sqlx::AnyPool;

use super::AccountError;
use crate::ssr::infra::rate_limit::{self, ClientKey, Decision, Limit};
use crate::ssr::infra::secrets;

/// Failed sign-ins per address and hour, from every client together,
/// after which sign-in stops (the second step and a password reset still
/// work).
pub const LOGIN_FAILURES_PER_HOUR: Limit = Limit {
    max_hits: 100,
    window: std::time::Duration::from_secs(3600),
};
/// Failed sign-ins per address, client and hour after which that client
/// is stopped for the address; they count toward
/// [`LOGIN_FAILURES_PER_HOUR`] only up to here.
pub const LOGIN_FAILURES_PER_CLIENT_PER_HOUR: Limit = Limit {
    max_hits: 10,
    window: std::time::Duration::from_secs(3600),
};
/// Failures at an address in the hour before each further failure is
/// answered slowly.
const FREE_FAILURES: i64 = 10;
/// The longest a failed sign-in is held back, in seconds.
const MAX_FAILURE_DELAY_SECS: i64 = 10;

/// The account these credentials open, tried from `client`. Unknown
/// addresses cost the same argon2 work as wrong passwords and get the
/// same error.
///
/// Every try is counted before the password is checked, each count in
/// one statement, so parallel tries cannot slip past a limit together; a
/// right password takes its counts back. Past [`FREE_FAILURES`] at the
/// address in an hour each failure is answered more slowly. Past either
/// limit (the client's or the address's, see the module) wrong passwords
/// are refused unchecked in effect (`TooManyFailures`), and the right one
/// opens the account only if it has two-step sign-in (the code is asked
/// next, under its own limit). An owner without two-step sign-in resets
/// the password by email, which lifts the limits
/// ([`super::reset_password`]).
pub async fn log_in(
    pool: &AnyPool,
    email: &str,
    password: String,
    client: &ClientKey,
) -> Result<i64, AccountError> {
    let email_key = email.trim().to_lowercase();
    let from_client = client_failures_bucket(client, &email_key);
    let overall = failures_bucket(&email_key);
    // The client's own count first: past it, the try does not count at
    // the address, so one client cannot use up the address's share.
    let client_decision =
        rate_limit::hit(pool, &from_client, LOGIN_FAILURES_PER_CLIENT_PER_HOUR).await?;
    let overall_decision = match client_decision {
        Decision::Allowed { .. } => {
            Some(rate_limit::hit(pool, &overall, LOGIN_FAILURES_PER_HOUR).await?)
        }
        Decision::Refused { .. } => None,
    };
    let over_limit = !matches!(overall_decision, Some(Decision::Allowed { .. }));
    let outcome = check_credentials(pool, &email_key, password).await;
    match &outcome {
        Err(AccountError::InvalidCredentials) => {
            // Past a limit the slowest answer stays.
            let delay = match overall_decision {
                Some(Decision::Allowed { hits }) => {
                    (hits - FREE_FAILURES).clamp(0, MAX_FAILURE_DELAY_SECS)
                }
                _ => MAX_FAILURE_DELAY_SECS,
            };
            tokio::time::sleep(std::time::Duration::from_secs(delay.unsigned_abs())).await;
            if over_limit {
                Err(AccountError::TooManyFailures)
            } else {
                outcome
            }
        }
        // The password was right (confirmed address or not).
        Ok(_) | Err(AccountError::EmailNotVerified) => {
            rate_limit::refund(pool, &from_client, LOGIN_FAILURES_PER_CLIENT_PER_HOUR).await?;
            if overall_decision.is_some() {
                rate_limit::refund(pool, &overall, LOGIN_FAILURES_PER_HOUR).await?;
            }
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

/// Forgets every sign-in count of the account (the address's, each
/// client's, the second step's): its owner proved control of the mailbox
/// by a reset link, and whoever built the counts knew the old password at
/// best.
pub(super) async fn lift_limits(
    pool: &AnyPool,
    email_key: &str,
    user_id: i64,
) -> Result<(), AccountError> {
    rate_limit::clear(pool, &failures_bucket(email_key)).await?;
    rate_limit::clear_between(pool, CLIENT_FAILURES_PREFIX, &format!(" {email_key}")).await?;
    rate_limit::clear(pool, &second_factor_bucket(user_id)).await?;
    Ok(())
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
    let right = super::password_matches(pool, user_id, password).await?;
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

/// Where one client's failures at an address are counted:
/// `login-failures-from:<client> <address>`. A client key holds no space,
/// so the first space ends it.
const CLIENT_FAILURES_PREFIX: &str = "login-failures-from:";

fn client_failures_bucket(client: &ClientKey, email_key: &str) -> String {
    format!("{CLIENT_FAILURES_PREFIX}{} {email_key}", client.as_str())
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
