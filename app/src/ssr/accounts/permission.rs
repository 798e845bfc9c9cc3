//! What each account may do: one enum naming every guarded action and one
//! rule for it. The request-level check (`ssr::auth::require`) adds that
//! an admin must have given a second factor in this session.

use crate::domain::{Jurisdiction, Role};
use crate::ssr::accounts::Account;

/// A guarded action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Open the roster pages: upload history and uploads of the
    /// jurisdictions one may manage.
    UseRosterPages,
    /// Upload, preview, commit or discard the roster of one jurisdiction:
    /// its bar admins, and site admins for any.
    ManageRoster(Jurisdiction),
    /// Open the review queue: site admins see every jurisdiction's
    /// attorneys, bar admins their own jurisdiction's.
    ReviewAttorneys,
    /// Decide on, and see the documents of, an attorney of this
    /// jurisdiction.
    ReviewAttorney(Jurisdiction),
    /// Look numbers up and end a registration with a reason.
    RevokeRegistrations,
    /// Create providers and their keys, revoke keys.
    ManageProviders,
    /// Add, prove, renew and remove one's own numbers: attorneys.
    ManageOwnNumbers,
    /// See the overview of the registry, its consumers and code
    /// deliveries: site admins.
    ViewOverview,
}

impl Account {
    /// Whether this account's role allows `permission` (the second factor
    /// is the request's business, not the account's).
    pub fn may(&self, permission: Permission) -> bool {
        match (self.role, permission) {
            (Role::SiteAdmin, Permission::ManageOwnNumbers) => false,
            (Role::SiteAdmin, _) => true,
            (Role::BarAdmin, Permission::UseRosterPages | Permission::ReviewAttorneys) => true,
            (
                Role::BarAdmin,
                Permission::ManageRoster(jurisdiction) | Permission::ReviewAttorney(jurisdiction),
            ) => self.admin_jurisdiction.as_deref() == Some(jurisdiction.code()),
            (Role::BarAdmin, _) => false,
            (Role::Attorney, Permission::ManageOwnNumbers) => true,
            (Role::Attorney, _) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Standing;

    fn account(role: Role, scope: Option<&str>) -> Account {
        Account {
            id: 1,
            email: "a@example.org".into(),
            full_name: "A".into(),
            jurisdiction: "CA".into(),
            bar_number: "1".into(),
            role,
            standing: Standing::Verified,
            standing_reason: None,
            admin_jurisdiction: scope.map(str::to_owned),
            two_factor_enabled: true,
            session_generation: 0,
        }
    }

    fn jurisdiction(code: &str) -> Jurisdiction {
        Jurisdiction::parse(code).expect("jurisdiction")
    }

    #[test]
    fn each_role_may_what_it_needs_and_no_more() {
        let site = account(Role::SiteAdmin, None);
        let bar = account(Role::BarAdmin, Some("TX"));
        let attorney = account(Role::Attorney, None);
        for permission in [
            Permission::UseRosterPages,
            Permission::ManageRoster(jurisdiction("CA")),
            Permission::ReviewAttorneys,
            Permission::ReviewAttorney(jurisdiction("CA")),
            Permission::RevokeRegistrations,
            Permission::ManageProviders,
        ] {
            assert!(site.may(permission), "{permission:?}");
            assert!(!attorney.may(permission), "{permission:?}");
        }
        assert!(!site.may(Permission::ManageOwnNumbers));
        assert!(attorney.may(Permission::ManageOwnNumbers));
        assert!(bar.may(Permission::UseRosterPages));
        assert!(bar.may(Permission::ManageRoster(jurisdiction("TX"))));
        assert!(!bar.may(Permission::ManageRoster(jurisdiction("CA"))));
        assert!(bar.may(Permission::ReviewAttorneys));
        assert!(bar.may(Permission::ReviewAttorney(jurisdiction("TX"))));
        assert!(!bar.may(Permission::ReviewAttorney(jurisdiction("CA"))));
        assert!(!bar.may(Permission::ManageProviders));
        assert!(!bar.may(Permission::ManageOwnNumbers));
    }
}
