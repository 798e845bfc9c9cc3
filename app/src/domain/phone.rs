//! Phone numbers as the registry keeps them: E.164, North American (+1)
//! only for now. Parsed with the `phonenumber` crate (libphonenumber's
//! metadata) on the server only: its tables would triple the browser
//! bundle.

use serde::{Deserialize, Serialize};

use crate::domain::closed_set::closed_set;

/// A number in E.164 form, e.g. `+12024561111`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Enter a phone number.")]
    Empty,
    #[error("A phone number has digits, spaces, dots, dashes, parentheses and a leading + only.")]
    InvalidCharacters,
    #[error("That is not a phone number we can read. Write it like (202) 456-1111.")]
    Unreadable,
    #[error(
        "Only North American numbers (+1: the US, its territories and Canada) can be registered for now."
    )]
    NotNorthAmerican,
    #[error(
        "That number is not in use in the North American plan: check the area code and length."
    )]
    NotAssigned,
    #[error("Premium-rate numbers cannot be registered.")]
    PremiumRate,
    #[error("An extension is up to 10 digits.")]
    InvalidExtension,
}

#[cfg(feature = "ssr")]
impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        use phonenumber::country::Id;
        use phonenumber::metadata::DATABASE;
        use phonenumber::{Mode, Type};

        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if trimmed.chars().count() > 40
            || !trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || " .-()+/".contains(c))
        {
            return Err(PhoneError::InvalidCharacters);
        }
        let number =
            phonenumber::parse(Some(Id::US), trimmed).map_err(|_| PhoneError::Unreadable)?;
        if number.code().value() != 1 {
            return Err(PhoneError::NotNorthAmerican);
        }
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::NotAssigned);
        }
        if number.number_type(&DATABASE) == Type::PremiumRate {
            return Err(PhoneError::PremiumRate);
        }
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }

    /// A stored E.164 number as people in North America write it,
    /// "(202) 456-1111", with one parse; the E.164 text if it does not parse.
    pub fn national_display(e164: &str) -> String {
        phonenumber::parse(None, e164)
            .map(|number| {
                number
                    .format()
                    .mode(phonenumber::Mode::National)
                    .to_string()
            })
            .unwrap_or_else(|_| e164.to_owned())
    }
}

impl PhoneNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

closed_set!(
    /// What kind of line a number is (`registrations.label`).
    pub NumberLabel {
        Office = "office",
        Mobile = "mobile",
        Switchboard = "switchboard",
        Other = "other",
    }
);

closed_set!(
    /// How a one-time code reaches the phone (`number_codes.channel`):
    /// office landlines cannot receive SMS.
    pub Channel {
        Sms = "sms",
        Voice = "voice",
    }
);

/// An extension: digits only, at most 10.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension(String);

impl Extension {
    pub fn parse(raw: &str) -> Result<Option<Self>, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.len() > 10 || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::InvalidExtension);
        }
        Ok(Some(Self(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn common_formats_become_e164() {
        for raw in [
            "(202) 456-1111",
            "202-456-1111",
            "202.456.1111",
            "+1 202 456 1111",
            "1 (202) 456-1111",
            "2024561111",
        ] {
            assert_eq!(
                PhoneNumber::parse(raw).map(|n| n.0),
                Ok("+12024561111".into()),
                "{raw}"
            );
        }
        // Canada and a US territory are North American too.
        assert_eq!(
            PhoneNumber::parse("416-363-1212").map(|n| n.0),
            Ok("+14163631212".into())
        );
        assert!(PhoneNumber::parse("+1 787 721 7000").is_ok(), "Puerto Rico");
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(PhoneNumber::parse(""), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::parse("202-CALL-NOW"),
            Err(PhoneError::InvalidCharacters)
        );
        assert_eq!(
            PhoneNumber::parse("<script>"),
            Err(PhoneError::InvalidCharacters)
        );
        assert_eq!(
            PhoneNumber::parse("+44 20 7946 0958"),
            Err(PhoneError::NotNorthAmerican)
        );
        assert_eq!(
            PhoneNumber::parse("202-456-111"),
            Err(PhoneError::NotAssigned)
        );
        assert_eq!(
            PhoneNumber::parse("202-456-11111"),
            Err(PhoneError::NotAssigned)
        );
        assert_eq!(
            PhoneNumber::parse("(123) 456-7890"),
            Err(PhoneError::NotAssigned)
        );
        assert_eq!(
            PhoneNumber::parse("1-900-976-1234"),
            Err(PhoneError::PremiumRate)
        );
        assert_eq!(
            PhoneNumber::parse(&"1".repeat(41)),
            Err(PhoneError::InvalidCharacters)
        );
    }

    #[test]
    fn extensions_are_short_digit_strings() {
        assert_eq!(Extension::parse(" "), Ok(None));
        assert_eq!(
            Extension::parse("1234").map(|e| e.map(|e| e.0)),
            Ok(Some("1234".into()))
        );
        assert_eq!(
            Extension::parse("12345678901"),
            Err(PhoneError::InvalidExtension)
        );
        assert_eq!(Extension::parse("12a"), Err(PhoneError::InvalidExtension));
    }
}
