//! The password rule (NIST SP 800-63B): 12 to 128 characters of any kind,
//! no composition rules, not a commonly used password, and not containing
//! the account's email name or the person's name.

use super::{EmailAddress, PersonName};

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// The common passwords long enough to pass the length rule, taken by the
/// build script from `common_passwords.txt` (30,000 entries): shorter ones
/// are already refused by length, so the browser needs only these.
const COMMON_LONG_PASSWORDS: &str =
    include_str!(concat!(env!("OUT_DIR"), "/common_long_passwords.txt"));

/// A password that satisfies the rule. Deliberately not `Debug`,
/// `Display` or `Serialize`: it should never reach a log or a response.
pub struct NewPassword(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Use at least 12 characters.")]
    TooShort,
    #[error("Use at most 128 characters.")]
    TooLong,
    #[error("This password is one of the most commonly used. Choose another.")]
    Common,
    #[error("Do not use your email address in your password.")]
    ContainsEmail,
    #[error("Do not use your name in your password.")]
    ContainsName,
}

impl NewPassword {
    pub fn parse(
        raw: &str,
        email: Option<&EmailAddress>,
        name: Option<&PersonName>,
    ) -> Result<Self, PasswordProblem> {
        let length = raw.chars().count();
        if length < MIN_CHARS {
            return Err(PasswordProblem::TooShort);
        }
        if length > MAX_CHARS {
            return Err(PasswordProblem::TooLong);
        }
        let lowered = raw.to_lowercase();
        if is_common(&lowered) {
            return Err(PasswordProblem::Common);
        }
        if let Some(email) = email {
            let local = email.local_part();
            if local.chars().count() >= 3 && lowered.contains(&local) {
                return Err(PasswordProblem::ContainsEmail);
            }
        }
        if let Some(name) = name
            && name
                .significant_words()
                .iter()
                .any(|word| lowered.contains(word.as_str()))
        {
            return Err(PasswordProblem::ContainsName);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn is_common(lowered: &str) -> bool {
    COMMON_LONG_PASSWORDS
        .lines()
        .any(|common| common == lowered)
}

/// How strong a password looks, for the hint shown while typing. Only a
/// hint: the rule above is what the server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    TooShort,
    Weak,
    Fair,
    Strong,
}

impl Strength {
    pub fn of(raw: &str) -> Self {
        let length = raw.chars().count();
        if length < MIN_CHARS {
            return Strength::TooShort;
        }
        if is_common(&raw.to_lowercase()) {
            return Strength::Weak;
        }
        let distinct: std::collections::BTreeSet<char> = raw.chars().collect();
        match (length, distinct.len()) {
            (_, d) if d < 5 => Strength::Weak,
            (l, d) if l >= 16 && d >= 10 => Strength::Strong,
            _ => Strength::Fair,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Strength::TooShort => "Too short: use at least 12 characters",
            Strength::Weak => "Weak: easy to guess",
            Strength::Fair => "Fair: a longer phrase is stronger",
            Strength::Strong => "Strong",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> EmailAddress {
        EmailAddress::parse("jdoe@example.org").expect("email")
    }

    fn name() -> PersonName {
        PersonName::parse("Jane Doe").expect("name")
    }

    #[test]
    fn ships_a_list_of_common_passwords() {
        let full = include_str!("common_passwords.txt");
        assert!(full.lines().count() >= 10_000);
        assert!(!COMMON_LONG_PASSWORDS.is_empty());
    }

    #[test]
    fn length_is_counted_in_characters_of_any_kind() {
        assert!(NewPassword::parse("correct horse battery", None, None).is_ok());
        assert!(NewPassword::parse("пароль-пароль-x", None, None).is_ok());
        assert!(NewPassword::parse("🔒🔑🗝️🚪🔒🔑🗝️🚪🔒🔑🗝️🚪", None, None).is_ok());
        assert_eq!(
            NewPassword::parse("short-pass1", None, None).err(),
            Some(PasswordProblem::TooShort)
        );
        assert_eq!(
            NewPassword::parse(&"x".repeat(129), None, None).err(),
            Some(PasswordProblem::TooLong)
        );
        assert!(NewPassword::parse(&"xy".repeat(64), None, None).is_ok());
    }

    #[test]
    fn refuses_common_passwords_in_any_case() {
        let common = COMMON_LONG_PASSWORDS.lines().next().expect("at least one");
        assert_eq!(
            NewPassword::parse(common, None, None).err(),
            Some(PasswordProblem::Common)
        );
        assert_eq!(
            NewPassword::parse(&common.to_uppercase(), None, None).err(),
            Some(PasswordProblem::Common)
        );
    }

    #[test]
    fn refuses_the_email_name_and_the_persons_name() {
        assert_eq!(
            NewPassword::parse("my JDOE password!", Some(&email()), None).err(),
            Some(PasswordProblem::ContainsEmail)
        );
        assert_eq!(
            NewPassword::parse("theDoeFamily2024!", None, Some(&name())).err(),
            Some(PasswordProblem::ContainsName)
        );
        assert!(NewPassword::parse("violet tugboat orbit", Some(&email()), Some(&name())).is_ok());
    }

    #[test]
    fn strength_hint_grows_with_length_and_variety() {
        assert_eq!(Strength::of("abc"), Strength::TooShort);
        assert_eq!(Strength::of("aaaaaaaaaaaaaaaa"), Strength::Weak);
        assert_eq!(Strength::of("violet tugboat"), Strength::Fair);
        assert_eq!(Strength::of("violet tugboat orbit 42"), Strength::Strong);
    }
}
