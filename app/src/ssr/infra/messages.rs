//! Every text the portal sends to a person: emails, the SMS and the
//! voice script of a one-time code. One function per message, each pinned
//! by a test, so a wording change is one edit and shows in review.
//!
//! Emails are plain text with lines under 76 characters, so they travel
//! as 7-bit text and links are never wrapped or escaped (RFC 5322 §2.1.1
//! recommends at most 78).

/// An email's subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

fn email(subject: &str, body: String) -> Email {
    Email {
        subject: subject.into(),
        body,
    }
}

mod claims;
mod facilities;

pub use claims::{confirm_email_and_claim, privilege_notice};
pub use facilities::{FacilityIncident, facility_incidents};

/// Sign-up: the link that confirms the address (valid 24 hours).
pub fn confirm_email(name: &str, link: &str) -> Email {
    email(
        "Confirm your email address",
        format!(
            "Hello {name},\n\n\
             Confirm the email address of your Counsel Registry account\n\
             by opening this link within 24 hours:\n\n\
             {link}\n\n\
             If you did not create an account, ignore this message.\n"
        ),
    )
}

/// Sign-up with an address that already has an account: its owner is
/// told instead, and the person signing up sees the same answer.
pub fn account_exists(base_url: &str) -> Email {
    email(
        "Someone tried to create an account with your address",
        format!(
            "Hello,\n\n\
             Someone, perhaps you, tried to create a Counsel Registry\n\
             account with this email address, which already has one.\n\
             If it was you, sign in at {base_url}/login\n\n\
             If it was not you, you need not do anything.\n"
        ),
    )
}

/// A password reset link (valid 30 minutes).
pub fn reset_password(link: &str) -> Email {
    email(
        "Reset your Counsel Registry password",
        format!(
            "Hello,\n\n\
             To choose a new password for your Counsel Registry account,\n\
             open this link within 30 minutes:\n\n\
             {link}\n\n\
             If you did not ask for this, ignore this message: your\n\
             password stays as it is.\n"
        ),
    )
}

/// A reset asked for an address without an account.
pub fn reset_without_account(base_url: &str) -> Email {
    email(
        "Reset your Counsel Registry password",
        format!(
            "Hello,\n\n\
             Someone asked to reset the Counsel Registry password for this\n\
             address, but it has no account. To create one:\n\n\
             {base_url}/signup\n\n\
             If you did not ask for this, you need not do anything.\n"
        ),
    )
}

/// A new administrator's invitation: the link chooses their password
/// (valid 24 hours).
pub fn admin_invitation(name: &str, link: &str) -> Email {
    email(
        "Your Counsel Registry administrator account",
        format!(
            "Hello {name},\n\n\
             You are now an administrator of Counsel Registry. Choose your\n\
             password within 24 hours by opening this link:\n\n\
             {link}\n\n\
             At your first sign-in you will set up two-step sign-in with an\n\
             authenticator app.\n"
        ),
    )
}

/// A reviewer's decision on an attorney the roster could not match.
pub fn review_decision(name: &str, approved: bool, reason: &str) -> Email {
    let outcome = if approved {
        "We have confirmed that you are an attorney in good standing.\n\
         The numbers you register will count once you prove them."
    } else {
        "We could not confirm that you are an attorney in good standing,\n\
         so the numbers you register will not count."
    };
    email(
        "The review of your Counsel Registry account",
        format!(
            "Hello {name},\n\n\
             {outcome}\n\n\
             The reviewer's reason:\n\n\
             {reason}\n\n\
             If you have questions, reply to this message.\n"
        ),
    )
}

/// An admin revoked one of the attorney's registrations.
pub fn revocation_notice(name: &str, number: &str, reason: &str, base_url: &str) -> Email {
    email(
        "A number was revoked in the Counsel Registry",
        format!(
            "Hello {name},\n\n\
             The registry's administrators revoked your registration of\n\
             {number}. It no longer counts as an attorney's number for you.\n\n\
             Their reason:\n\n{reason}\n\n\
             If you think this is wrong, reply to this email.\n\n\
             {base_url}/numbers\n"
        ),
    )
}

/// To an attorney whose proven registration is held for review because
/// the administrators revoked another registration of the number. The
/// other attorney is not named. No link: a hold is found where no base
/// URL is at hand (a change of standing).
pub fn registration_held_notice(name: &str, number: &str) -> Email {
    email(
        "Your number is held for review in the Counsel Registry",
        format!(
            "Hello {name},\n\n\
             Your registration of {number} is proven, but it is held for\n\
             review: the registry's administrators revoked another\n\
             registration of this number, so it does not count as your\n\
             attorney number until an administrator has reviewed it.\n\n\
             The administrators have been told. You need not do anything;\n\
             if you can show this is your office or mobile line, reply to\n\
             this email. Sign in and open your numbers to see its state.\n"
        ),
    )
}

/// To site admins: a proven registration was held for review because an
/// earlier registration of the number was revoked.
pub fn registration_held_alert(number: &str) -> Email {
    email(
        "A registration is held for review",
        format!(
            "Hello,\n\n\
             A registration of {number} was proven, but an earlier\n\
             registration of this number was revoked, so it is held and\n\
             does not count until an administrator reviews it. Its\n\
             attorney has been told.\n\n\
             Held registrations are listed on the Numbers page of the\n\
             administration pages, where one can be allowed after review.\n"
        ),
    )
}

/// A registration expires in `days_left` days unless renewed.
pub fn renewal_reminder(name: &str, number: &str, days_left: i64, base_url: &str) -> Email {
    email(
        "Renew your number in the Counsel Registry",
        format!(
            "Hello {name},\n\n\
             Your number {number} leaves the Counsel Registry in\n\
             {days_left} days unless you renew it: sign in, open your\n\
             numbers and ask for a new code.\n\n\
             {base_url}/numbers\n"
        ),
    )
}

/// To the roster's email of record for a bar number someone claims: a
/// link to confirm and a link to say it was not them (valid 7 days).
pub fn claim_link(
    claimed_name: &str,
    bar: &str,
    account_email: &str,
    yes_link: &str,
    no_link: &str,
) -> Email {
    email(
        "Confirm that you are registering numbers with Counsel Registry",
        format!(
            "Hello,\n\n\
             Someone asked to register phone numbers under your bar number\n\
             {bar}, as:\n\n\
             {claimed_name}\n\
             {account_email}\n\n\
             Numbers in Counsel Registry are exempt from call recording in\n\
             prisons and jails, so we ask the address your bar has on\n\
             record.\n\n\
             If this was you, confirm within 7 days:\n\n\
             {yes_link}\n\n\
             If this was not you, tell us, and the claim is blocked:\n\n\
             {no_link}\n"
        ),
    )
}

/// To an attorney whose bar number another account now claims.
pub fn second_claim_notice(name: &str, bar: &str, base_url: &str) -> Email {
    email(
        "Another account claims your bar number",
        format!(
            "Hello {name},\n\n\
             Another Counsel Registry account has just claimed your bar\n\
             number {bar}. Your numbers stay with your account; the other\n\
             claim goes to our reviewers, who may contact you.\n\n\
             If you know nothing of it, reply to this message.\n\n\
             {base_url}/account\n"
        ),
    )
}

/// To reviewers: a bar's email of record said a claim was not theirs.
pub fn claim_disputed_alert(
    claimed_name: &str,
    bar: &str,
    account_email: &str,
    base_url: &str,
) -> Email {
    email(
        "A bar number claim was disputed",
        format!(
            "Hello,\n\n\
             The email of record for bar number {bar} answered \"this was\n\
             not me\" to a claim by:\n\n\
             {claimed_name}\n\
             {account_email}\n\n\
             The claim is blocked until a reviewer decides.\n\n\
             {base_url}/admin/reviews\n"
        ),
    )
}

/// To site admins: a facility's list no longer provably matches the
/// registry (a failed reconciliation, a lag, no recent match). Sent once
/// per incident; a matching reconciliation closes it.
pub fn facility_incident(
    facility: &str,
    state: &str,
    provider: &str,
    reason: &str,
    link: &str,
) -> Email {
    email(
        "A facility's attorney list needs attention",
        format!(
            "Hello,\n\n\
             This facility's list of attorney numbers may not match the\n\
             registry, so privileged calls there may be recorded:\n\n\
             {facility} ({state})\n\
             {provider}\n\n\
             Why:\n\
             {reason}\n\n\
             You will not be emailed again about it until it has matched.\n\n\
             {link}\n"
        ),
    )
}

/// To site admins: the SMS/voice provider refused a code for a reason on
/// our side (account permissions, credentials). No number is named: the
/// fix is in the provider's console, not in a registration.
pub fn delivery_refused_alert(code: Option<i64>, message: &str) -> Email {
    let code = code.map_or_else(|| "none".to_owned(), |code| code.to_string());
    email(
        "One-time codes are being refused by the phone service",
        format!(
            "Hello,\n\n\
             The phone service refused to send a one-time code for a reason\n\
             on our side, not the attorney's:\n\n\
             error code: {code}\n\
             message: {message}\n\n\
             Attorneys are told it is our problem and to try again later.\n\
             Check the account's permissions (geographic permissions for\n\
             texts and calls) and credentials: https://www.twilio.com/docs/api/errors\n\n\
             This alert is sent at most once an hour per error code.\n"
        ),
    )
}

/// An account became an administrator (whoever ran the command).
pub fn promoted_to_admin(name: &str, base_url: &str) -> Email {
    email(
        "Your Counsel Registry account is now an administrator",
        format!(
            "Hello {name},\n\n\
             Your Counsel Registry account is now an administrator. At your\n\
             next sign-in you will set up two-step sign-in if you have not.\n\n\
             If you did not expect this, reply to this message at once.\n\n\
             {base_url}/login\n"
        ),
    )
}

/// Two-step sign-in was turned on or off for the account.
pub fn two_factor_changed(name: &str, enabled: bool) -> Email {
    let (subject, what) = if enabled {
        ("Two-step sign-in is on", "turned on")
    } else {
        ("Two-step sign-in is off", "turned off")
    };
    email(
        subject,
        format!(
            "Hello {name},\n\n\
             Two-step sign-in was just {what} for your Counsel Registry\n\
             account. If this was not you, reset your password at once and\n\
             reply to this message.\n"
        ),
    )
}

/// The text message carrying a one-time code.
pub fn code_sms(code: &str) -> String {
    format!(
        "Counsel Registry code: {code}. It proves this number is yours; it works for 10 minutes."
    )
}

/// The code spoken digit by digit ("1, 2, 3"), so a voice reads it
/// slowly and never as one large number.
fn spoken(code: &str) -> String {
    code.chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a voice call says, as plain text (the development outbox).
pub fn code_voice_text(code: &str) -> String {
    let spoken = spoken(code);
    format!("Your Counsel Registry code is {spoken}. Again: {spoken}.")
}

/// `&`, `<`, `>` and `"` escaped, for a URL in a TwiML attribute.
fn xml_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A call's script when it is answered (TwiML, Twilio's XML for calls,
/// <https://www.twilio.com/docs/voice/twiml>): nothing secret is said
/// until a key is pressed (`<Gather>`), so voicemail, which presses none,
/// never records the code. The key press is posted to `action`.
pub fn call_greeting_twiml(action: &str) -> String {
    format!(
        "<Response><Gather numDigits=\"1\" finishOnKey=\"\" timeout=\"10\" action=\"{action}\" method=\"POST\">\
         <Say>This is Counsel Registry, calling with the code for the phone number you are \
         adding. Press any key to hear it.</Say></Gather>\
         <Say>No key was pressed, so the code was not read. Goodbye.</Say></Response>",
        action = xml_attribute(action)
    )
}

/// The code read twice with a pause, then a repeat offered: a key press
/// posts to `action` again. The code is digits only.
pub fn call_code_twiml(code: &str, action: &str) -> String {
    let spoken = spoken(code);
    format!(
        "<Response><Say>Your Counsel Registry code is: {spoken}.</Say><Pause length=\"1\"/>\
         <Say>Again: {spoken}.</Say>\
         <Gather numDigits=\"1\" finishOnKey=\"\" timeout=\"5\" action=\"{action}\" method=\"POST\">\
         <Say>To hear it again, press any key.</Say></Gather><Say>Goodbye.</Say></Response>",
        action = xml_attribute(action)
    )
}

/// Answered by a machine: hang up without a word.
pub const CALL_HANGUP_TWIML: &str = "<Response><Hangup/></Response>";

/// The code of this call can no longer be used (it expired, was used, or
/// a newer one was asked for).
pub const CALL_CODE_GONE_TWIML: &str = "<Response><Say>This code can no longer be used. \
     Ask the portal for a new one. Goodbye.</Say></Response>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_carries_the_link_and_the_name() {
        let message = confirm_email("Ada Lovelace", "https://x.test/verify-email?token=t");
        assert_eq!(message.subject, "Confirm your email address");
        assert_eq!(
            message.body,
            "Hello Ada Lovelace,\n\n\
             Confirm the email address of your Counsel Registry account\n\
             by opening this link within 24 hours:\n\n\
             https://x.test/verify-email?token=t\n\n\
             If you did not create an account, ignore this message.\n"
        );
    }

    #[test]
    fn existing_account_points_to_sign_in() {
        let message = account_exists("https://x.test");
        assert_eq!(
            message.subject,
            "Someone tried to create an account with your address"
        );
        assert!(message.body.contains("sign in at https://x.test/login\n"));
        assert!(message.body.contains("which already has one."));
    }

    #[test]
    fn reset_messages_say_how_long_and_what_if_not_you() {
        let with = reset_password("https://x.test/reset-password?token=t");
        assert_eq!(with.subject, "Reset your Counsel Registry password");
        assert!(
            with.body
                .contains("within 30 minutes:\n\nhttps://x.test/reset-password?token=t\n")
        );
        assert!(with.body.contains("your\npassword stays as it is.\n"));
        let without = reset_without_account("https://x.test");
        assert_eq!(without.subject, with.subject);
        assert!(
            without
                .body
                .contains("but it has no account. To create one:\n\nhttps://x.test/signup\n")
        );
    }

    #[test]
    fn invitation_asks_for_a_password_and_two_step_sign_in() {
        let message = admin_invitation("Grace", "https://x.test/reset-password?token=t");
        assert_eq!(
            message.subject,
            "Your Counsel Registry administrator account"
        );
        assert!(
            message
                .body
                .starts_with("Hello Grace,\n\nYou are now an administrator")
        );
        assert!(message.body.contains("within 24 hours"));
        assert!(message.body.contains("authenticator app.\n"));
    }

    #[test]
    fn review_decisions_differ_by_outcome_and_quote_the_reason() {
        let approved = review_decision("Ada", true, "Card checked.");
        let rejected = review_decision("Ada", false, "No such member.");
        assert_eq!(
            approved.subject,
            "The review of your Counsel Registry account"
        );
        assert!(
            approved
                .body
                .contains("We have confirmed that you are an attorney in good standing.")
        );
        assert!(
            approved
                .body
                .contains("The reviewer's reason:\n\nCard checked.\n")
        );
        assert!(rejected.body.contains("We could not confirm"));
        assert!(rejected.body.contains("No such member."));
    }

    #[test]
    fn revocation_and_reminder_name_the_number_and_the_page() {
        let revoked = revocation_notice(
            "Ada",
            "(202) 456-1111",
            "Not an office line.",
            "https://x.test",
        );
        assert_eq!(
            revoked.subject,
            "A number was revoked in the Counsel Registry"
        );
        assert!(
            revoked
                .body
                .contains("revoked your registration of\n(202) 456-1111.")
        );
        assert!(
            revoked
                .body
                .contains("Their reason:\n\nNot an office line.\n")
        );
        assert!(revoked.body.ends_with("https://x.test/numbers\n"));
        let reminder = renewal_reminder("Ada", "(202) 456-1111", 7, "https://x.test");
        assert_eq!(
            reminder.subject,
            "Renew your number in the Counsel Registry"
        );
        assert!(
            reminder
                .body
                .contains("Your number (202) 456-1111 leaves the Counsel Registry in\n7 days")
        );
    }

    #[test]
    fn claim_messages_name_the_claim_and_both_answers() {
        let link = claim_link(
            "Jane Doe",
            "CA 123456",
            "jane@example.org",
            "https://x.test/claim?token=t&answer=mine",
            "https://x.test/claim?token=t&answer=not-mine",
        );
        assert_eq!(
            link.subject,
            "Confirm that you are registering numbers with Counsel Registry"
        );
        assert!(link.body.starts_with(
            "Hello,\n\nSomeone asked to register phone numbers under your bar number\nCA 123456, as:\n\nJane Doe\njane@example.org\n\n"
        ));
        assert!(link.body.contains(
            "If this was you, confirm within 7 days:\n\nhttps://x.test/claim?token=t&answer=mine\n"
        ));
        assert!(link.body.contains("If this was not you, tell us, and the claim is blocked:\n\nhttps://x.test/claim?token=t&answer=not-mine\n"));
        let notice = second_claim_notice("Jane", "CA 123456", "https://x.test");
        assert_eq!(notice.subject, "Another account claims your bar number");
        assert!(
            notice
                .body
                .contains("number CA 123456. Your numbers stay with your account")
        );
        let alert =
            claim_disputed_alert("Jane Doe", "CA 123456", "imp@example.org", "https://x.test");
        assert_eq!(alert.subject, "A bar number claim was disputed");
        assert!(
            alert
                .body
                .contains("to a claim by:\n\nJane Doe\nimp@example.org\n")
        );
        assert!(alert.body.ends_with("https://x.test/admin/reviews\n"));
    }

    #[test]
    fn account_changes_are_told_to_the_owner() {
        let promoted = promoted_to_admin("Ada", "https://x.test");
        assert_eq!(
            promoted.subject,
            "Your Counsel Registry account is now an administrator"
        );
        assert!(promoted.body.contains("reply to this message at once"));
        assert_eq!(
            two_factor_changed("Ada", true).subject,
            "Two-step sign-in is on"
        );
        let off = two_factor_changed("Ada", false);
        assert_eq!(off.subject, "Two-step sign-in is off");
        assert!(
            off.body
                .contains("was just turned off for your Counsel Registry")
        );
    }

    #[test]
    fn a_hold_is_told_without_naming_anyone_else() {
        let notice = registration_held_notice("Ada", "(202) 456-1111");
        assert_eq!(
            notice.subject,
            "Your number is held for review in the Counsel Registry"
        );
        assert!(
            notice
                .body
                .starts_with("Hello Ada,\n\nYour registration of (202) 456-1111 is proven")
        );
        assert!(notice.body.contains("revoked another\nregistration"));
        let alert = registration_held_alert("(202) 456-1111");
        assert_eq!(alert.subject, "A registration is held for review");
        assert!(
            alert
                .body
                .contains("A registration of (202) 456-1111 was proven")
        );
        assert!(alert.body.contains("Numbers page"));
    }

    #[test]
    fn email_lines_stay_under_76_characters() {
        let long_link = "https://counsel-registry.example/verify-email?token=AAAAAAAAAAAA";
        for message in [
            confirm_email("Ada", long_link),
            account_exists("https://counsel-registry.example"),
            reset_password(long_link),
            reset_without_account("https://counsel-registry.example"),
            admin_invitation("Ada", long_link),
            review_decision("Ada", true, "ok"),
            revocation_notice(
                "Ada",
                "(202) 456-1111",
                "r",
                "https://counsel-registry.example",
            ),
            renewal_reminder(
                "Ada",
                "(202) 456-1111",
                30,
                "https://counsel-registry.example",
            ),
            registration_held_notice("Ada Lovelace-Byron", "(202) 456-1111"),
            registration_held_alert("(202) 456-1111"),
        ] {
            // A link stands alone on its line and may be longer.
            for line in message.body.lines().filter(|l| !l.starts_with("https://")) {
                assert!(line.chars().count() < 76, "{line:?}");
            }
        }
    }

    #[test]
    fn codes_are_texted_whole_and_spoken_digit_by_digit_twice() {
        assert_eq!(
            code_sms("123456"),
            "Counsel Registry code: 123456. It proves this number is yours; it works for 10 minutes."
        );
        assert_eq!(
            code_voice_text("123"),
            "Your Counsel Registry code is 1, 2, 3. Again: 1, 2, 3."
        );
        let twiml = call_code_twiml("12", "https://r.example/twilio/voice/t/code?a=1&b=2");
        assert!(twiml.starts_with(
            "<Response><Say>Your Counsel Registry code is: 1, 2.</Say><Pause length=\"1\"/>\
             <Say>Again: 1, 2.</Say><Gather"
        ));
        assert!(twiml.contains("action=\"https://r.example/twilio/voice/t/code?a=1&amp;b=2\""));
        let greeting = call_greeting_twiml("https://r.example/twilio/voice/t/code");
        assert!(!greeting.contains("1, 2"), "no code before the key press");
        assert!(greeting.contains("<Gather numDigits=\"1\" finishOnKey=\"\""));
    }
}
