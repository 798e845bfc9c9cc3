//! Facilities: the prisons, jails and detention centres where a phone
//! provider's system applies the registry, each known by the provider's
//! own code (issue 15's public contract).

use serde::{Deserialize, Serialize};

use crate::domain::closed_set::closed_set;

/// A provider's own code for one of its facilities: 1 to 64 ASCII
/// letters, digits, `-`, `_` and `.` (so it fits a URL path segment as
/// is), case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FacilityCode(String);

/// A facility's name as the provider writes it: 1 to 200 characters, no
/// control characters, surrounding spaces trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FacilityName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FacilityError {
    #[error("a facility code is 1 to 64 letters, digits, '-', '_' and '.'; {read:?} has {problem}")]
    InvalidCode { read: String, problem: String },
    #[error("a facility's name is 1 to 200 characters without control characters")]
    InvalidName,
}

impl FacilityCode {
    pub fn parse(raw: &str) -> Result<Self, FacilityError> {
        let invalid = |problem: String| FacilityError::InvalidCode {
            read: raw.chars().take(80).collect(),
            problem,
        };
        if raw.is_empty() {
            return Err(invalid("no characters".into()));
        }
        let length = raw.chars().count();
        if length > 64 {
            return Err(invalid(format!("{length} characters")));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(invalid(format!("the character U+{:04X}", bad as u32)));
        }
        // "." and ".." would be read as path steps by clients and proxies.
        if raw.chars().all(|c| c == '.') {
            return Err(invalid("only dots".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FacilityName {
    pub fn parse(raw: &str) -> Result<Self, FacilityError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(FacilityError::InvalidName);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(FacilityCode, FacilityError);
string_value!(FacilityName, FacilityError);

closed_set!(
    /// What kind of place a facility is (`facilities.kind`).
    pub FacilityKind {
        Prison = "prison",
        Jail = "jail",
        Detention = "detention",
        Juvenile = "juvenile",
        Other = "other",
    }
);

closed_set!(
    /// Whether a facility's list can be trusted (`facilities.status`). A
    /// facility another provider served before starts `Pending`: its list
    /// was rebuilt in a new system, which is where one county's list fell
    /// from 1,300 numbers to 72. It becomes `Live` at its first matching
    /// reconciliation.
    pub FacilityStatus {
        Live = "live",
        Pending = "pending",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_letters_digits_dashes_underscores_and_dots() {
        for good in ["WA-012", "king_county.jail", "7", &"x".repeat(64)] {
            assert!(FacilityCode::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "a b", "..", "é", &"x".repeat(65), "a%2Fb"] {
            assert!(FacilityCode::parse(bad).is_err(), "{bad}");
        }
        let message = FacilityCode::parse("a/b").expect_err("refused").to_string();
        assert!(message.contains("U+002F"), "{message}");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            FacilityName::parse("  King County Jail ")
                .expect("read")
                .as_str(),
            "King County Jail"
        );
        assert!(FacilityName::parse("   ").is_err());
        assert!(FacilityName::parse("a\u{7}b").is_err());
        assert!(FacilityName::parse(&"n".repeat(201)).is_err());
    }
}
