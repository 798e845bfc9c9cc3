use serde::{Deserialize, Serialize};

/// Longest address SMTP carries (RFC 5321 path limit).
const MAX_LENGTH: usize = 254;

/// An email address, trimmed and with its domain lower-cased, so one
/// mailbox has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter your email address.")]
    Empty,
    #[error("An email address is at most 254 characters.")]
    TooLong,
    #[error("Enter an email address like name@example.org.")]
    Invalid,
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_LENGTH {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let domain = domain.to_ascii_lowercase();
        let candidate = format!("{local}@{domain}");
        // Dotted domains only: a registry of attorneys has no mail on
        // intranet hosts, and a missing TLD is almost always a typo.
        if !email_address::EmailAddress::is_valid(&candidate)
            || !domain.contains('.')
            || domain.starts_with('[')
            || candidate
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(EmailError::Invalid);
        }
        Ok(Self(candidate))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, lower-cased (for the password rule).
    pub fn local_part(&self) -> String {
        self.0
            .rsplit_once('@')
            .map(|(local, _)| local.to_lowercase())
            .unwrap_or_default()
    }
}

string_value!(EmailAddress, EmailError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_ordinary_addresses() {
        let email = EmailAddress::parse("  Jane.Doe+law@Example.ORG ").expect("valid");
        assert_eq!(email.as_str(), "Jane.Doe+law@example.org");
        assert_eq!(email.local_part(), "jane.doe+law");
    }

    #[test]
    fn refuses_malformed_and_hostile_addresses() {
        for raw in [
            "",
            "   ",
            "plainaddress",
            "@example.org",
            "jane@",
            "jane@localhost",
            "jane@@example.org",
            "jane doe@example.org",
            "jane@exa mple.org",
            "jane@example.org\r\nBcc: victim@example.org",
            "<script>@example.org",
            "jane@[127.0.0.1]",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "{raw:?}");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }
}
