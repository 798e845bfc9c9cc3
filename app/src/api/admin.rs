//! The site admin's review queue.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::RegistrationStatus;
use crate::error::AppError;

/// Longest reason a reviewer may give; it is emailed as written.
pub const MAX_REASON_CHARS: usize = 2000;

/// A reason an admin gives for a decision that is emailed to an attorney:
/// present, not too long, and nothing an email cannot carry.
#[cfg(feature = "ssr")]
fn checked_reason(reason: &str) -> Result<&str, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::Validation(
            "Give a reason: it is emailed to the attorney.".into(),
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::Validation(format!(
            "A reason is at most {MAX_REASON_CHARS} characters."
        )));
    }
    if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::Validation(
            "The reason contains characters that cannot be emailed.".into(),
        ));
    }
    Ok(reason)
}

/// The signed-in admin who may take `permission` (with a second factor
/// given), or why not.
#[cfg(feature = "ssr")]
async fn admin(
    permission: crate::ssr::accounts::permission::Permission,
) -> Result<crate::ssr::accounts::Account, AppError> {
    use crate::ssr::{auth, infra::session};
    let session = session::current().await?;
    auth::require(&session, permission).await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntryView {
    pub bar_number: String,
    pub full_name: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub user_id: i64,
    pub full_name: String,
    pub email: String,
    pub jurisdiction: String,
    pub bar_number: String,
    pub closest: Option<RosterEntryView>,
    /// What the roster says about the claim, in words.
    pub finding: String,
    /// Why the attorney waits (the claim's proof, a second claim, a
    /// dispute), when the match recorded it.
    pub claim: Option<String>,
    /// Other accounts claiming the same bar number, described.
    pub other_claims: Vec<String>,
    /// Uploaded evidence: id (for the download link), name, type and size.
    pub documents: Vec<(i64, String, String)>,
    /// What the bar's email of record leaves open (an unanswered claim
    /// link, a "this was not me"), in words: approving then takes an
    /// override, recorded in the audit trail.
    pub open_claim: Option<String>,
}

#[server(endpoint = "review_queue")]
pub async fn review_queue() -> Result<Vec<ReviewItem>, AppError> {
    use crate::domain::Role;
    use crate::ssr::accounts::permission::Permission;
    let reviewer = admin(Permission::ReviewAttorneys).await?;
    let state = crate::ssr::auth::state()?;
    // A bar admin reviews their own jurisdiction's attorneys only.
    let scope = match reviewer.role {
        Role::SiteAdmin => None,
        _ => Some(reviewer.admin_jurisdiction.clone().unwrap_or_default()),
    };
    let pending =
        crate::ssr::standing::review::pending_reviews(state.database.pool(), scope.as_deref(), 200)
            .await?;
    Ok(pending
        .into_iter()
        .map(|attorney| ReviewItem {
            user_id: attorney.user_id,
            full_name: attorney.full_name,
            email: attorney.email,
            jurisdiction: attorney.jurisdiction,
            bar_number: attorney.bar_number,
            closest: attorney.closest.map(|entry| RosterEntryView {
                bar_number: entry.bar_number,
                full_name: entry.full_name,
                status: entry.status,
            }),
            finding: attorney.verdict.describe(),
            claim: attorney.standing_reason,
            other_claims: attorney
                .other_claims
                .into_iter()
                .map(|(name, email, standing)| format!("{name} <{email}>: {standing}"))
                .collect(),
            documents: attorney
                .documents
                .into_iter()
                .map(|document| {
                    (
                        document.id,
                        document.original_name,
                        format!(
                            "{}, {} KiB",
                            document.content_type,
                            (document.bytes + 1023) / 1024
                        ),
                    )
                })
                .collect(),
            open_claim: attorney.open_claim.map(str::to_owned),
        })
        .collect())
}

/// Approves or rejects a pending attorney; the reason is emailed to them.
/// Approving while the bar's email of record leaves the claim open takes
/// `override_claim` (a ticked box: any value), which the audit trail
/// records.
#[server(endpoint = "decide_review")]
pub async fn decide_review(
    user_id: String,
    decision: Option<String>,
    reason: String,
    override_claim: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::standing::review::{self, Decision, Ruling};

    use crate::ssr::accounts::permission::Permission;
    let reviewer = admin(Permission::ReviewAttorneys).await?;
    let user_id: i64 = user_id
        .trim()
        .parse()
        .map_err(|_| AppError::Validation("That attorney is not in the queue.".into()))?;
    let state = crate::ssr::auth::state()?;
    let jurisdiction = review::jurisdiction_of_pending(state.database.pool(), user_id)
        .await?
        .and_then(|code| crate::domain::Jurisdiction::parse(&code).ok());
    if !jurisdiction.is_some_and(|j| reviewer.may(Permission::ReviewAttorney(j))) {
        return Err(AppError::Conflict(
            "This attorney is no longer waiting for review: someone decided already.".into(),
        ));
    }
    let decision = match decision.as_deref() {
        Some("approve") => Decision::Approve,
        Some("reject") => Decision::Reject,
        _ => return Err(AppError::Validation("Choose approve or reject.".into())),
    };
    let reason = checked_reason(&reason)?;
    match review::decide(
        &state.database,
        &state.mailer,
        &state.review_documents_dir,
        user_id,
        Ruling {
            decision,
            reason,
            override_claim: override_claim.is_some(),
        },
        &crate::ssr::infra::audit_trail::Actor::Account {
            id: reviewer.id,
            email: reviewer.email.clone(),
        },
    )
    .await
    {
        Ok(()) => {
            leptos_axum::redirect("/admin/reviews?decided=1");
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

/// One attorney's registration of a looked-up number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderView {
    pub registration_id: i64,
    pub full_name: String,
    pub email: String,
    pub bar: String,
    pub status: RegistrationStatus,
    pub status_reason: Option<String>,
    /// Proven, but held because an admin revoked the number for someone
    /// else: an admin may allow it after review.
    pub held_for_review: bool,
}

impl HolderView {
    /// Whether a revocation would change anything.
    pub fn revocable(&self) -> bool {
        self.status.is_live()
    }
}

/// What the registry knows about one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberLookup {
    /// E.164, as the forms carry it.
    pub e164: String,
    pub display: String,
    pub privileged: bool,
    pub holders: Vec<HolderView>,
}

impl NumberLookup {
    /// The one sentence above the holders: in the registry or not, and
    /// when not, why, so "not in the registry" never stands unexplained
    /// above a registration that looks live.
    pub fn summary(&self) -> String {
        let number = &self.display;
        if self.privileged {
            return format!("{number} is in the registry.");
        }
        if self.holders.is_empty() {
            return format!("{number} is not in the registry: nobody has registered it.");
        }
        let count = |wanted: &dyn Fn(&HolderView) -> bool| {
            self.holders.iter().filter(|holder| wanted(holder)).count()
        };
        let not_held = |status: RegistrationStatus| {
            move |holder: &HolderView| holder.status == status && !holder.held_for_review
        };
        let reasons: Vec<String> = [
            (
                count(&not_held(RegistrationStatus::Pending)),
                "waiting for its code to be proven",
            ),
            (
                count(&|holder: &HolderView| holder.held_for_review),
                "held for an admin's review",
            ),
            (
                count(&not_held(RegistrationStatus::Suspended)),
                "suspended: the attorney is not verified or not in good standing",
            ),
        ]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, reason)| format!("{count} {reason}"))
        .collect();
        if reasons.is_empty() {
            format!("{number} is not in the registry: every registration of it has ended.")
        } else {
            format!(
                "{number} is not in the registry: no registration of it is active ({}).",
                reasons.join("; ")
            )
        }
    }
}

/// A site admin looks a number up: who holds it and in what state.
/// Nothing to show before a number is asked for. Each look-up of a number
/// is recorded in the audit trail (`number_looked_up`: who, which number,
/// how many holders), before the answer is given: it shows who
/// registered the number.
#[server(endpoint = "look_up_number")]
pub async fn look_up_number(number: String) -> Result<Option<NumberLookup>, AppError> {
    use crate::domain::phone::PhoneNumber;
    use crate::ssr::infra::audit_trail::{self, Actor, AuditAction};
    let admin = admin(crate::ssr::accounts::permission::Permission::RevokeRegistrations).await?;
    if number.trim().is_empty() {
        return Ok(None);
    }
    let phone = PhoneNumber::parse(&number).map_err(|e| AppError::Validation(e.to_string()))?;
    let state = crate::ssr::auth::state()?;
    let pool = state.database.pool();
    let holders = crate::ssr::numbers::holders(pool, &phone).await?;
    let actor = Actor::Account {
        id: admin.id,
        email: admin.email.clone(),
    };
    let detail = format!("{} registration(s) shown", holders.len());
    audit_trail::record(
        pool,
        &actor,
        AuditAction::NumberLookedUp,
        &format!("number {}", phone.as_str()),
        &detail,
    )
    .await
    .map_err(AppError::unexpected)?;
    let privileged = holders
        .iter()
        .any(|holder| holder.status == RegistrationStatus::Active);
    Ok(Some(NumberLookup {
        e164: phone.as_str().to_owned(),
        display: PhoneNumber::national_display(phone.as_str()),
        privileged,
        holders: holders
            .into_iter()
            .map(|holder| HolderView {
                registration_id: holder.registration_id,
                full_name: holder.full_name,
                email: holder.email,
                bar: format!("{} {}", holder.jurisdiction, holder.bar_number),
                status: holder.status,
                held_for_review: holder.status.is_live() && holder.held_at.is_some(),
                status_reason: holder.status_reason,
            })
            .collect(),
    }))
}

/// A registration held for review because another account's registration
/// of its number was revoked: one row of the site admins' queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldView {
    pub registration_id: i64,
    /// E.164, as the forms carry it.
    pub e164: String,
    pub display: String,
    pub full_name: String,
    pub email: String,
    pub bar: String,
    pub status: RegistrationStatus,
    /// When it was held, as `YYYY-MM-DD HH:MM UTC`.
    pub held_since: String,
}

/// Most held registrations the queue shows at once.
pub const HELD_QUEUE_LIMIT: i64 = 200;

/// The site admins' queue of registrations held for review, longest held
/// first (at most [`HELD_QUEUE_LIMIT`]).
#[server(endpoint = "held_registrations")]
pub async fn held_registrations() -> Result<Vec<HeldView>, AppError> {
    use crate::domain::phone::PhoneNumber;
    admin(crate::ssr::accounts::permission::Permission::RevokeRegistrations).await?;
    let state = crate::ssr::auth::state()?;
    let held =
        crate::ssr::numbers::held_registrations(state.database.pool(), HELD_QUEUE_LIMIT).await?;
    Ok(held
        .into_iter()
        .map(|held| HeldView {
            registration_id: held.registration_id,
            display: PhoneNumber::national_display(&held.e164),
            e164: held.e164,
            full_name: held.full_name,
            email: held.email,
            bar: format!("{} {}", held.jurisdiction, held.bar_number),
            status: held.status,
            held_since: crate::ssr::infra::clock::utc_date_time(held.held_at),
        })
        .collect())
}

/// A site admin allows, after review, a registration held because its
/// number was revoked for someone else.
#[server(endpoint = "allow_held_registration")]
pub async fn allow_held_registration(registration: String, number: String) -> Result<(), AppError> {
    let admin = admin(crate::ssr::accounts::permission::Permission::RevokeRegistrations).await?;
    let registration: i64 = registration
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::numbers::clear_revocation_hold(state.database.pool(), admin.id, registration)
        .await?;
    let back = crate::domain::phone::PhoneNumber::parse(&number)
        .map(|phone| format!("?number=%2B{}", &phone.as_str()[1..]))
        .unwrap_or_default();
    leptos_axum::redirect(&format!("/admin/numbers{back}"));
    Ok(())
}

/// A site admin revokes one attorney's registration of a number; the
/// reason is emailed to the attorney.
#[server(endpoint = "revoke_registration")]
pub async fn revoke_registration(
    registration: String,
    number: String,
    reason: String,
) -> Result<(), AppError> {
    use crate::ssr::numbers::NumberError;
    let admin = admin(crate::ssr::accounts::permission::Permission::RevokeRegistrations).await?;
    let registration: i64 = registration
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let reason = checked_reason(&reason)?;
    let state = crate::ssr::auth::state()?;
    match crate::ssr::numbers::revoke(
        state.database.pool(),
        &crate::ssr::infra::audit_trail::Actor::Account {
            id: admin.id,
            email: admin.email.clone(),
        },
        admin.id,
        registration,
        reason,
        &state.base_url,
    )
    .await
    {
        Ok(()) => {}
        Err(NumberError::NotFound) => {
            return Err(AppError::Conflict(
                "That registration is no longer current: it was removed or revoked already.".into(),
            ));
        }
        Err(other) => return Err(other.into()),
    }
    // Back to the same look-up; an E.164 number is `+` and digits.
    let back = crate::domain::phone::PhoneNumber::parse(&number)
        .map(|phone| format!("?number=%2B{}&revoked=1", &phone.as_str()[1..]))
        .unwrap_or_else(|_| "?revoked=1".into());
    leptos_axum::redirect(&format!("/admin/numbers{back}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(status: RegistrationStatus, held_for_review: bool) -> HolderView {
        HolderView {
            registration_id: 1,
            full_name: "Jane Q. Doe".into(),
            email: "jane@example.org".into(),
            bar: "CA 123456".into(),
            status,
            status_reason: None,
            held_for_review,
        }
    }

    fn lookup(privileged: bool, holders: Vec<HolderView>) -> NumberLookup {
        NumberLookup {
            e164: "+12024561111".into(),
            display: "(202) 456-1111".into(),
            privileged,
            holders,
        }
    }

    #[test]
    fn not_in_the_registry_always_says_why() {
        use RegistrationStatus::*;
        assert_eq!(
            lookup(true, vec![holder(Active, false)]).summary(),
            "(202) 456-1111 is in the registry."
        );
        assert_eq!(
            lookup(false, vec![]).summary(),
            "(202) 456-1111 is not in the registry: nobody has registered it."
        );
        assert_eq!(
            lookup(false, vec![holder(Removed, false), holder(Revoked, false)]).summary(),
            "(202) 456-1111 is not in the registry: every registration of it has ended."
        );
        assert_eq!(
            lookup(
                false,
                vec![
                    holder(Pending, false),
                    holder(Pending, false),
                    holder(Suspended, true),
                    holder(Revoked, false),
                ]
            )
            .summary(),
            "(202) 456-1111 is not in the registry: no registration of it is active \
             (2 waiting for its code to be proven; 1 held for an admin's review)."
        );
        assert!(
            lookup(false, vec![holder(Suspended, false)])
                .summary()
                .contains("1 suspended: the attorney is not verified")
        );
    }
}
