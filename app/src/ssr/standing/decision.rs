//! The standing rule: one pure function from the facts about an attorney
//! (their roster entry or its absence, their claim, a reviewer's earlier
//! decision, the other claimants of their bar number) to the standing
//! that follows. The roster commit's re-match ([`super::rematch`]) and the
//! upload preview ([`super::roster::upload`]'s `consequences`) both call
//! [`decide_all`], so a preview always says what the commit will do
//! (issue 23, item 3). Nothing here reads or writes the database.

use std::collections::HashMap;

use crate::domain::{ClaimState, NameKey, RosterStatus, Standing};

use super::RosterEntry;

/// How a roster entry bears on an attorney's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// On the roster, active, the same name.
    Match,
    /// On the roster, but not in good standing.
    NotInGoodStanding(RosterStatus),
    /// The bar number is listed under a different name.
    NameDiffers,
    NotListed,
}

impl Verdict {
    pub fn of(entry: Option<&RosterEntry>, claimed_name: &str) -> Self {
        let Some(entry) = entry else {
            return Verdict::NotListed;
        };
        match RosterStatus::parse(&entry.status) {
            Some(RosterStatus::Active) => {}
            Some(status) => return Verdict::NotInGoodStanding(status),
            None => return Verdict::NotListed,
        }
        if NameKey::of(claimed_name).matches(&NameKey::of(&entry.full_name)) {
            Verdict::Match
        } else {
            Verdict::NameDiffers
        }
    }

    /// The standing that follows from this verdict for an attorney who has
    /// `current` standing, decided by an admin or not. An admin's decision
    /// stands until the roster says something definite: a match verifies
    /// (unless an admin rejected the claim), a status other than active
    /// always ends verification.
    pub fn next_standing(self, current: Standing, decided_by_admin: bool) -> Standing {
        match (self, current) {
            (_, Standing::Rejected) => Standing::Rejected,
            (Verdict::Match, _) => Standing::Verified,
            (Verdict::NotInGoodStanding(_), _) => Standing::PendingReview,
            (Verdict::NameDiffers | Verdict::NotListed, Standing::Verified) if decided_by_admin => {
                Standing::Verified
            }
            (Verdict::NameDiffers | Verdict::NotListed, _) => Standing::PendingReview,
        }
    }

    /// Why, in words for the review queue.
    pub fn describe(self) -> String {
        match self {
            Verdict::Match => "matches the roster".into(),
            Verdict::NotInGoodStanding(status) => format!("roster status is {status}"),
            Verdict::NameDiffers => "the roster lists this bar number under another name".into(),
            Verdict::NotListed => "bar number not on the roster".into(),
        }
    }
}

/// What backs an attorney's claim to their bar number beyond the name and
/// bar number a bar directory publishes (issue 12, DESIGN.md "Trust
/// rules"): control of the roster's email of record for that bar number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCheck {
    /// Proved: the account's holder confirmed the roster's address with
    /// the account's password, or the address answered a claim link.
    Proven,
    /// The roster has an email of record; no proof yet.
    Unproven,
    /// The roster lists no email for the member (or no such member): only
    /// a reviewer can verify.
    NoEmailOfRecord,
    /// The email of record answered "this was not me": it outweighs a
    /// reviewer's approval.
    Disputed,
    /// Another account already holds this bar number, verified.
    HeldByAnother,
}

impl ClaimCheck {
    /// The check for one account: its claim state, its email key (lower
    /// case) and whether the account's holder proved control of it, the
    /// roster's email for its bar number, and whether another account
    /// holds that bar number. An address confirmed by a bare click proves
    /// nothing: whoever reads the mailbox may not be who holds the
    /// account (issue 24).
    pub fn of(
        state: ClaimState,
        email_key: &str,
        address_proven: bool,
        roster_email: Option<&str>,
        held_by_another: bool,
    ) -> Self {
        let roster_email = roster_email.map(str::trim).filter(|e| !e.is_empty());
        if state == ClaimState::Disputed {
            ClaimCheck::Disputed
        } else if held_by_another {
            ClaimCheck::HeldByAnother
        } else if state == ClaimState::Proven {
            ClaimCheck::Proven
        } else {
            match roster_email {
                None => ClaimCheck::NoEmailOfRecord,
                Some(address) if address_proven && address.to_lowercase() == email_key => {
                    ClaimCheck::Proven
                }
                Some(_) => ClaimCheck::Unproven,
            }
        }
    }

    /// The standing once the claim is weighed: a roster match verifies a
    /// proven claim only; anything else waits for review. A reviewer's
    /// verification stands until the roster says something definite
    /// against it (which `Verdict::next_standing` already applied) or the
    /// email of record disputes the claim (issue 24: the bar's address
    /// outweighs a reviewer who could not ask it).
    pub fn limit(self, by_roster: Standing, current: Standing, decided_by_admin: bool) -> Standing {
        if by_roster != Standing::Verified || self == ClaimCheck::Proven {
            by_roster
        } else if self == ClaimCheck::Disputed {
            Standing::PendingReview
        } else if current == Standing::Verified && decided_by_admin {
            Standing::Verified
        } else {
            Standing::PendingReview
        }
    }

    /// Why, in words for the attorney and the review queue; `None` when
    /// the claim is proven.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            ClaimCheck::Proven => None,
            ClaimCheck::Unproven => Some("waiting for proof through the bar's email of record"),
            ClaimCheck::NoEmailOfRecord => Some("the roster has no email of record to prove it"),
            ClaimCheck::Disputed => Some("the bar's email of record said this was not them"),
            ClaimCheck::HeldByAnother => Some("another account already holds this bar number"),
        }
    }
}

/// What is known about one attorney when their standing is decided: the
/// account, the roster entry for their bar number as it will be after
/// the change being decided, and what backs their claim.
#[derive(Debug, Clone)]
pub struct StandingFacts {
    pub user_id: i64,
    /// The bar number claimed (the key two claimants share).
    pub bar_number: String,
    /// The name the attorney signed up with.
    pub claimed_name: String,
    /// Their roster entry; `None` when the bar number is not listed.
    pub entry: Option<RosterEntry>,
    /// The roster's email of record for the bar number, if any.
    pub roster_email: Option<String>,
    pub current: Standing,
    /// Whether the current standing was decided by a reviewer.
    pub decided_by_admin: bool,
    pub claim_state: ClaimState,
    /// The account's email, lower case.
    pub email_key: String,
    /// The account's holder proved control of that address (confirmed it
    /// with the account's password); a bare click does not count.
    pub address_proven: bool,
    /// Another account holds the same bar number, verified, before this
    /// decision (whether or not it is among the facts decided together).
    pub held_by_another_now: bool,
    /// The reason stored with the current standing.
    pub stored_reason: Option<String>,
}

/// What [`decide_all`] decided for one attorney.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingDecision {
    pub user_id: i64,
    pub from: Standing,
    pub to: Standing,
    /// Why, in words for the attorney and the review queue.
    pub reason: String,
    /// The confirmed address equals the email of record: the claim is
    /// proven from now on, whatever later rosters say.
    pub claim_proven_now: bool,
    /// Still waiting for review, for a reason other than the stored one
    /// (the reason is rewritten; the standing is not).
    pub reason_changed: bool,
}

/// Decides the standing of every attorney in `facts` together. Of two
/// accounts claiming one bar number, the older (smaller id) is weighed
/// first and holds the bar number if its claim verifies it; the later one
/// then waits for review ([`ClaimCheck::HeldByAnother`]). Decisions come
/// back in id order, whatever the order of `facts`.
pub fn decide_all(facts: &[StandingFacts]) -> Vec<StandingDecision> {
    let mut ordered: Vec<&StandingFacts> = facts.iter().collect();
    ordered.sort_by_key(|fact| fact.user_id);
    // Bar numbers held by a verified account of this pass, by whom.
    let mut held: HashMap<&str, i64> = HashMap::new();
    for fact in &ordered {
        if fact.current == Standing::Verified {
            held.entry(fact.bar_number.as_str()).or_insert(fact.user_id);
        }
    }
    let mut decisions = Vec::with_capacity(ordered.len());
    for fact in ordered {
        let verdict = Verdict::of(fact.entry.as_ref(), &fact.claimed_name);
        let held_by_another = fact.held_by_another_now
            || held
                .get(fact.bar_number.as_str())
                .is_some_and(|holder| *holder != fact.user_id);
        let claim = ClaimCheck::of(
            fact.claim_state,
            &fact.email_key,
            fact.address_proven,
            fact.roster_email.as_deref(),
            held_by_another,
        );
        let admin = fact.decided_by_admin;
        let next = claim.limit(
            verdict.next_standing(fact.current, admin),
            fact.current,
            admin,
        );
        if next == Standing::Verified {
            held.entry(fact.bar_number.as_str()).or_insert(fact.user_id);
        }
        let reason = match (next, claim.describe()) {
            (Standing::PendingReview, Some(why))
                if verdict == Verdict::Match || claim == ClaimCheck::Disputed =>
            {
                format!("{}; {why}", verdict.describe())
            }
            _ => verdict.describe(),
        };
        let reason_changed = next == fact.current
            && next == Standing::PendingReview
            && !admin
            && fact.stored_reason.as_deref() != Some(reason.as_str());
        decisions.push(StandingDecision {
            user_id: fact.user_id,
            from: fact.current,
            to: next,
            reason,
            claim_proven_now: claim == ClaimCheck::Proven && fact.claim_state != ClaimState::Proven,
            reason_changed,
        });
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, status: &str) -> RosterEntry {
        RosterEntry {
            jurisdiction: "CA".into(),
            bar_number: "123".into(),
            full_name: name.into(),
            status: status.into(),
        }
    }

    #[test]
    fn verdicts() {
        let active = entry("DOE, JANE Q.", "active");
        assert_eq!(Verdict::of(Some(&active), "Jane Doe"), Verdict::Match);
        assert_eq!(Verdict::of(Some(&active), "John Doe"), Verdict::NameDiffers);
        assert_eq!(Verdict::of(None, "Jane Doe"), Verdict::NotListed);
        assert_eq!(
            Verdict::of(Some(&entry("Jane Doe", "suspended")), "Jane Doe"),
            Verdict::NotInGoodStanding(RosterStatus::Suspended)
        );
    }

    #[test]
    fn admin_decisions_stand_until_the_roster_is_definite() {
        use Standing::*;
        let unlisted = Verdict::NotListed;
        assert_eq!(unlisted.next_standing(Verified, true), Verified);
        assert_eq!(unlisted.next_standing(Verified, false), PendingReview);
        let suspended = Verdict::NotInGoodStanding(RosterStatus::Suspended);
        assert_eq!(suspended.next_standing(Verified, true), PendingReview);
        assert_eq!(Verdict::Match.next_standing(PendingReview, false), Verified);
        assert_eq!(Verdict::Match.next_standing(Rejected, true), Rejected);
    }

    fn claimant(user_id: i64, email: &str) -> StandingFacts {
        StandingFacts {
            user_id,
            bar_number: "123".into(),
            claimed_name: "Jane Doe".into(),
            entry: Some(entry("Jane Doe", "active")),
            roster_email: Some("jane@bar.example".into()),
            current: Standing::PendingReview,
            decided_by_admin: false,
            claim_state: ClaimState::Unproven,
            email_key: email.into(),
            address_proven: true,
            held_by_another_now: false,
            stored_reason: None,
        }
    }

    #[test]
    fn of_two_proven_claimants_only_the_older_is_verified() {
        let both = [
            claimant(9, "jane@bar.example"),
            claimant(4, "jane@bar.example"),
        ];
        let decisions = decide_all(&both);
        let to: Vec<(i64, Standing)> = decisions.iter().map(|d| (d.user_id, d.to)).collect();
        assert_eq!(
            to,
            [(4, Standing::Verified), (9, Standing::PendingReview)],
            "decided in id order, the later claimant waits"
        );
        assert!(
            decisions[1]
                .reason
                .contains("another account already holds")
        );
    }

    #[test]
    fn a_bar_number_held_by_a_verified_account_stays_held() {
        let mut late = claimant(2, "jane@bar.example");
        late.held_by_another_now = true;
        assert_eq!(decide_all(&[late])[0].to, Standing::PendingReview);
    }

    #[test]
    fn an_unproven_match_waits_and_says_why() {
        let decision = &decide_all(&[claimant(1, "someone@else.example")])[0];
        assert_eq!(decision.to, Standing::PendingReview);
        assert!(decision.reason_changed);
        assert!(!decision.claim_proven_now);
        assert_eq!(
            decision.reason,
            "matches the roster; waiting for proof through the bar's email of record"
        );
    }

    #[test]
    fn a_confirmed_email_of_record_proves_the_claim_once() {
        let decision = &decide_all(&[claimant(1, "jane@bar.example")])[0];
        assert_eq!(decision.to, Standing::Verified);
        assert!(decision.claim_proven_now);
    }

    #[test]
    fn a_bare_click_on_the_email_of_record_proves_nothing() {
        let mut clicked = claimant(1, "jane@bar.example");
        clicked.address_proven = false;
        let decision = &decide_all(&[clicked])[0];
        assert_eq!(decision.to, Standing::PendingReview);
        assert!(!decision.claim_proven_now);
    }

    #[test]
    fn a_dispute_outweighs_a_reviewers_approval() {
        for entry in [Some(entry("Jane Doe", "active")), None] {
            let mut approved = claimant(1, "someone@else.example");
            approved.entry = entry;
            approved.current = Standing::Verified;
            approved.decided_by_admin = true;
            assert_eq!(decide_all(&[approved.clone()])[0].to, Standing::Verified);
            approved.claim_state = ClaimState::Disputed;
            let decision = &decide_all(&[approved])[0];
            assert_eq!(decision.to, Standing::PendingReview);
            assert!(
                decision
                    .reason
                    .ends_with("the bar's email of record said this was not them"),
                "{}",
                decision.reason
            );
        }
    }
}
