//! Roles, standing and roster statuses: closed sets of values, stored as
//! text and parsed back when read.

use crate::domain::closed_set::closed_set;

closed_set!(
    /// What an account may do. A bar admin acts for one jurisdiction.
    pub Role {
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

closed_set!(
    /// Whether the registry counts an attorney as one in good standing.
    pub Standing {
        Verified = "verified",
        PendingReview = "pending_review",
        Rejected = "rejected",
    }
);

closed_set!(
    /// Who set an attorney's standing last (`users.standing_source`): an
    /// admin's decision outlasts roster changes that do not contradict it.
    pub StandingSource {
        Roster = "roster",
        Admin = "admin",
    }
);

closed_set!(
    /// The outcome of a claim link sent to the roster's email of record
    /// (`users.claim_state`). Signing up with that address and confirming
    /// it proves a claim without changing this.
    pub ClaimState {
        /// No link followed yet.
        Unproven = "unproven",
        /// The link was followed: "yes, this is me".
        Proven = "proven",
        /// "This was not me": never verified by the roster again.
        Disputed = "disputed",
    }
);

closed_set!(
    /// What a review document is, by its content (`review_documents.content_type`):
    /// the media types of RFC 8118 (PDF), RFC 2046 (JPEG) and RFC 2083 (PNG).
    pub DocumentType {
        Pdf = "application/pdf",
        Jpeg = "image/jpeg",
        Png = "image/png",
    }
);

closed_set!(
    /// Where one attorney's registration of a number stands
    /// (`registrations.status`). Only `Active` puts the number in the
    /// registry; `Removed` and `Revoked` are final.
    pub RegistrationStatus {
        /// Added, not yet proven by a code.
        Pending = "pending",
        /// Proven, the attorney verified, within a year of the proof.
        Active = "active",
        /// Proven, but the attorney is not (or no longer) verified.
        Suspended = "suspended",
        /// Not renewed within a year of its proof.
        Expired = "expired",
        /// Removed by the attorney.
        Removed = "removed",
        /// Ended by a site admin, with a reason.
        Revoked = "revoked",
    }
);

impl RegistrationStatus {
    /// Still the attorney's to prove, renew or remove.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Active | Self::Suspended)
    }
}

closed_set!(
    /// A member's status as the bar's roster gives it. Only `Active` is
    /// good standing; `NotListed` marks members a full roster left out.
    pub RosterStatus {
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
