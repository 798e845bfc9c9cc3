//! Admin accounts: created or promoted from the command line (`server
//! admin create`), each with an emailed link to choose a password and
//! two-step sign-in demanded at the first sign-in.

use crate::domain::{EmailAddress, Jurisdiction, NewPassword, PersonName, Role};
use crate::ssr::accounts::reset::link_email;
use crate::ssr::accounts::{AccountError, AccountLink, LinkEmailJob};
use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::{self, Database};
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::infra::secrets;

/// An admin role, with the jurisdiction a bar admin acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    Site,
    Bar(Jurisdiction),
}

/// Whether `create_admin` made a new account or promoted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCreated {
    New,
    /// An existing account: its numbers must stop counting
    /// (`numbers::follow_account`), since an admin account holds none.
    Promoted {
        user_id: i64,
    },
}

/// Makes `email` an admin. A new account gets its email verified (the
/// operator vouches for it) and an emailed link, valid 24 hours, to choose
/// its password. An existing account is promoted only once its address
/// is confirmed (else whoever chose its password would become an admin:
/// `EmailNotVerified`), keeps its password, and its owner is emailed.
/// Either way the admin must set up two-step sign-in at their next
/// sign-in.
pub async fn create_admin(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    email: &EmailAddress,
    full_name: &PersonName,
    role: AdminRole,
    actor: &Actor,
) -> Result<AdminCreated, AccountError> {
    let (role_text, scope) = match role {
        AdminRole::Site => (Role::SiteAdmin.as_str(), None),
        AdminRole::Bar(jurisdiction) => (Role::BarAdmin.as_str(), Some(jurisdiction.code())),
    };
    let email_key = email.as_str().to_lowercase();
    // Hashed before the transaction, which on SQLite holds the write lock:
    // nobody knows this password, a new admin sets their own by the link
    // (a promoted account keeps its own, and this one goes unused).
    let (unusable, _) = secrets::new_token();
    let placeholder = NewPassword::parse(&format!("{unusable}{unusable}"), None, None)
        .map_err(AccountError::WeakPassword)?;
    let password_hash = secrets::hash_password(placeholder).await?;
    let mut transaction = db::begin_write(database.pool()).await?;
    let existing: Option<(i64, String, Option<i64>)> =
        sqlx::query_as("SELECT id, full_name, email_verified_at FROM users WHERE email_key = $1")
            .bind(&email_key)
            .fetch_optional(&mut *transaction)
            .await?;
    let (user_id, message, created, how, reissue) = match existing {
        Some((user_id, name, confirmed)) => {
            if confirmed.is_none() {
                return Err(AccountError::EmailNotVerified);
            }
            sqlx::query(
                "UPDATE users SET role = $1, admin_jurisdiction = $2, \
                 session_generation = session_generation + 1 WHERE id = $3",
            )
            .bind(role_text)
            .bind(scope)
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
            (
                user_id,
                messages::promoted_to_admin(&name, base_url),
                AdminCreated::Promoted { user_id },
                "promoted to",
                None,
            )
        }
        None => {
            let user_id: i64 = sqlx::query_scalar(
                "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, \
                 password_hash, role, admin_jurisdiction, standing, email_verified_at, created_at) \
                 VALUES ($1, $2, $3, '', '', $4, $5, $6, 'verified', $7, $7) RETURNING id",
            )
            .bind(email.as_str())
            .bind(&email_key)
            .bind(full_name.as_str())
            .bind(&password_hash)
            .bind(role_text)
            .bind(scope)
            .bind(now_millis())
            .fetch_one(&mut *transaction)
            .await?;
            let link = AccountLink::AdminInvitation;
            let invitation = link_email(
                &mut transaction,
                base_url,
                user_id,
                full_name.as_str(),
                link,
            )
            .await?;
            let reissue = LinkEmailJob { user_id, link };
            (user_id, invitation, AdminCreated::New, "new", Some(reissue))
        }
    };
    // The invitation's link is never stored: the job queued for it issues
    // a fresh one if the worker has to send it.
    let queued = match reissue {
        Some(job) => mail_queue::queue_link_email(&mut *transaction, email, message, &job).await?,
        None => mail_queue::queue(&mut *transaction, email, message).await?,
    };
    audit_trail::append(
        &mut transaction,
        actor,
        AuditAction::AdminCreated,
        &format!("account {user_id} <{}>", email.as_str()),
        &format!(
            "{how} {role_text}{}",
            scope.map(|j| format!(" for {j}")).unwrap_or_default()
        ),
    )
    .await?;
    transaction.commit().await?;
    mail_queue::send_queued(mailer, database, queued).await;
    Ok(created)
}
