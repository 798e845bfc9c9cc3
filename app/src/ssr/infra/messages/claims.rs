//! The texts of issue 24: what the bar's email of record reads when a
//! claim to its bar number would be proven by confirming it, and when a
//! number becomes privileged under that bar number. Both say what is
//! claimed and offer "this was not me"; neither proves anything with a
//! bare click.

use super::{Email, email};

/// Sign-up with the address the bar has on record for the bar number
/// claimed: confirming it would prove the claim, so the message says what
/// is claimed (`bar` as "CA 123456", `jurisdiction` by name) and that the
/// account's password is asked; `not_me_link` blocks the claim. Both links
/// work 24 hours.
pub fn confirm_email_and_claim(
    name: &str,
    bar: &str,
    jurisdiction: &str,
    confirm_link: &str,
    not_me_link: &str,
) -> Email {
    email(
        "Confirm a claim to your bar number in Counsel Registry",
        format!(
            "Hello,\n\n\
             A Counsel Registry account was created with this address,\n\
             the one your bar has on record, claiming to be:\n\n\
             {name}\n\
             bar number {bar} ({jurisdiction})\n\n\
             Numbers in Counsel Registry are exempt from call recording in\n\
             prisons and jails. Confirming this address proves the claim,\n\
             so it takes the password chosen for the account.\n\n\
             If you created it, confirm within 24 hours:\n\n\
             {confirm_link}\n\n\
             If you did not, tell us, and the claim is blocked:\n\n\
             {not_me_link}\n"
        ),
    )
}

/// To the bar's email of record: `number` (as people write it) became
/// exempt from recording under its bar number `bar`, registered by the
/// account `claimed_name` / `account_email`. `suspend_link` blocks the
/// claim, taking the account's numbers out of the registry (valid 30
/// days).
pub fn privilege_notice(
    claimed_name: &str,
    bar: &str,
    account_email: &str,
    number: &str,
    suspend_link: &str,
) -> Email {
    email(
        "A number is now exempt from recording under your bar number",
        format!(
            "Hello,\n\n\
             The number {number} is now exempt from call recording in\n\
             prisons and jails: it was registered in Counsel Registry under\n\
             your bar number {bar} by:\n\n\
             {claimed_name}\n\
             {account_email}\n\n\
             If this was you, you need not do anything.\n\n\
             If it was not you, open this link within 30 days: the claim\n\
             is blocked, its numbers leave the registry at once and our\n\
             reviewers look into it.\n\n\
             {suspend_link}\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_that_proves_a_claim_names_it_and_offers_not_me() {
        let message = confirm_email_and_claim(
            "Jane Q. Doe",
            "CA 123456",
            "California",
            "https://x.test/verify-email?token=t",
            "https://x.test/verify-email?token=t&answer=not-mine",
        );
        assert_eq!(
            message.subject,
            "Confirm a claim to your bar number in Counsel Registry"
        );
        assert!(
            message
                .body
                .contains("claiming to be:\n\nJane Q. Doe\nbar number CA 123456 (California)\n")
        );
        assert!(message.body.contains("takes the password"));
        assert!(message.body.contains(
            "If you did not, tell us, and the claim is blocked:\n\n\
             https://x.test/verify-email?token=t&answer=not-mine\n"
        ));
        assert!(!message.body.contains("Hello Jane"), "no friendly greeting");
    }

    #[test]
    fn a_notice_names_the_number_the_account_and_the_way_out() {
        let notice = privilege_notice(
            "Jane Q. Doe",
            "CA 123456",
            "imp@example.org",
            "(202) 456-1111",
            "https://x.test/claim?token=t&answer=not-mine",
        );
        assert_eq!(
            notice.subject,
            "A number is now exempt from recording under your bar number"
        );
        assert!(
            notice
                .body
                .starts_with("Hello,\n\nThe number (202) 456-1111 is now exempt")
        );
        assert!(
            notice
                .body
                .contains("bar number CA 123456 by:\n\nJane Q. Doe\nimp@example.org\n")
        );
        assert!(
            notice
                .body
                .ends_with("\n\nhttps://x.test/claim?token=t&answer=not-mine\n")
        );
    }

    #[test]
    fn lines_stay_under_76_characters() {
        let link = "https://counsel-registry.example/claim?token=AAAAAAAAAAAA";
        for message in [
            confirm_email_and_claim(
                "Jane Q. Doe",
                "CA 123456",
                "Northern Mariana Islands",
                link,
                link,
            ),
            privilege_notice(
                "Jane Q. Doe",
                "CA 123456",
                "j@e.org",
                "(202) 456-1111",
                link,
            ),
        ] {
            for line in message.body.lines().filter(|l| !l.starts_with("https://")) {
                assert!(line.chars().count() < 76, "{line:?}");
            }
        }
    }
}
