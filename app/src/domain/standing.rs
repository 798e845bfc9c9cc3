//! Roles, standing and roster statuses: closed sets of values, stored as
//! text and parsed back when read.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw.trim().to_ascii_lowercase().as_str() {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// What an account may do. A bar admin acts for one jurisdiction.
    Role {
        Attorney = "attorney",
        BarAdmin = "bar_admin",
        SiteAdmin = "site_admin",
    }
);

impl Role {
    /// Admins must use a second factor at every sign-in.
    pub fn requires_second_factor(self) -> bool {
        matches!(self, Role::BarAdmin | Role::SiteAdmin)
    }
}

text_enum!(
    /// Whether the registry counts an attorney as one in good standing.
    Standing {
        Verified = "verified",
        PendingReview = "pending_review",
        Rejected = "rejected",
    }
);

text_enum!(
    /// A member's status as the bar's roster gives it. Only `Active` is
    /// good standing; `NotListed` marks members a full roster left out.
    RosterStatus {
        Active = "active",
        Inactive = "inactive",
        Suspended = "suspended",
        Disbarred = "disbarred",
        Deceased = "deceased",
        Resigned = "resigned",
        NotListed = "not_listed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
        for status in RosterStatus::ALL {
            assert_eq!(RosterStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(
            RosterStatus::parse(" Suspended "),
            Some(RosterStatus::Suspended)
        );
        assert_eq!(Standing::parse("good"), None);
    }
}
