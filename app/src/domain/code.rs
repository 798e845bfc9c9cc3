//! A one-time code as an attorney types it back (the codes sent by text
//! message or read out by voice call to prove control of a number).

/// Six ASCII digits.
///
/// Read the way people type them: a code copied from a text message or
/// written down in groups as a voice call reads it ("123 456", "123-456",
/// " 123456 ") is the code 123456. Anything else is refused at the edge,
/// with a message, before it counts as one of the code's tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

/// Why typed text is not a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("Enter the 6-digit code from the message or call.")]
    Empty,
    #[error("A code is 6 digits; “{typed}” has {digits}.")]
    WrongLength { typed: String, digits: usize },
    #[error("A code is 6 digits, with nothing else; “{typed}” has other characters.")]
    NotDigits { typed: String },
    /// Longer input is not a mistyped code, and is not echoed back.
    #[error("A code is 6 digits; that was {0} characters.")]
    TooLong(usize),
}

/// Longer input is [`CodeError::TooLong`].
const MAX_TYPED_CHARS: usize = 32;

impl OneTimeCode {
    pub const DIGITS: usize = 6;

    /// Reads `typed`: surrounding space trimmed, and spaces (also no-break
    /// and thin), hyphens and dots between the digits dropped.
    ///
    /// Errors: [`CodeError::Empty`]; [`CodeError::TooLong`] past 32
    /// characters; [`CodeError::NotDigits`] for letters or other signs;
    /// [`CodeError::WrongLength`] for digits other than six.
    pub fn parse(typed: &str) -> Result<Self, CodeError> {
        let typed = typed.trim();
        if typed.is_empty() {
            return Err(CodeError::Empty);
        }
        let length = typed.chars().count();
        if length > MAX_TYPED_CHARS {
            return Err(CodeError::TooLong(length));
        }
        let echo = || typed.to_owned();
        let separator = |c: char| matches!(c, ' ' | '-' | '.' | '\u{a0}' | '\u{2009}' | '\u{202f}');
        let kept: String = typed.chars().filter(|c| !separator(*c)).collect();
        if !kept.chars().all(|c| c.is_ascii_digit()) {
            return Err(CodeError::NotDigits { typed: echo() });
        }
        if kept.len() != Self::DIGITS {
            return Err(CodeError::WrongLength {
                typed: echo(),
                digits: kept.len(),
            });
        }
        Ok(Self(kept))
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_people_type_them() {
        for typed in [
            "123456",
            " 123456\n",
            "123 456",
            "123-456",
            "12 34 56",
            "123\u{a0}456",
            "1.2.3.4.5.6",
        ] {
            assert_eq!(
                OneTimeCode::parse(typed).map(|code| code.as_str().to_owned()),
                Ok("123456".to_owned()),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn what_is_not_a_code_says_why() {
        assert_eq!(OneTimeCode::parse("  "), Err(CodeError::Empty));
        assert_eq!(
            OneTimeCode::parse("12345").expect_err("short").to_string(),
            "A code is 6 digits; “12345” has 5."
        );
        assert!(matches!(
            OneTimeCode::parse("1234567"),
            Err(CodeError::WrongLength { digits: 7, .. })
        ));
        for typed in ["12345O", "１２３４５６", "123456!", "code: 123456"] {
            assert!(
                matches!(OneTimeCode::parse(typed), Err(CodeError::NotDigits { .. })),
                "{typed}"
            );
        }
        assert_eq!(
            OneTimeCode::parse(&"9".repeat(100)),
            Err(CodeError::TooLong(100))
        );
    }
}
