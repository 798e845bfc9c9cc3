use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

const MAX_CHARS: usize = 200;

/// A person's full name as they write it: NFKC-normalised (so lookalike
/// compatibility characters such as full-width letters collapse to their
/// plain form), single-spaced, with no control or invisible characters.
/// Dashes become `-`: Excel and word processors turn a typed hyphen into
/// an en dash ("Smith–Jones"), and a roster saved from them must read.
/// Curly quotes, which they make of apostrophes, are kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Enter your full name.")]
    Empty,
    #[error("A name is at most 200 characters.")]
    TooLong,
    #[error("A name holds letters, spaces, hyphens, apostrophes, periods and commas only.")]
    InvalidCharacters,
}

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.chars().any(char::is_control) {
            return Err(NameError::InvalidCharacters);
        }
        let normalised: String = raw.nfkc().map(typed_punctuation).collect();
        let single_spaced = normalised.split_whitespace().collect::<Vec<_>>().join(" ");
        if single_spaced.is_empty() {
            return Err(NameError::Empty);
        }
        if single_spaced.chars().count() > MAX_CHARS {
            return Err(NameError::TooLong);
        }
        let allowed = |c: char| {
            c.is_alphabetic()
                || is_combining_mark(c)
                || matches!(c, ' ' | '-' | '\'' | '’' | '‘' | '.' | ',')
        };
        if !single_spaced.chars().all(allowed) || !single_spaced.chars().any(char::is_alphabetic) {
            return Err(NameError::InvalidCharacters);
        }
        Ok(Self(single_spaced))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lower-cased words of three letters or more, for the rule that a
    /// password must not contain the name.
    pub fn significant_words(&self) -> Vec<String> {
        self.0
            .split(|c: char| !c.is_alphabetic())
            .filter(|word| word.chars().count() >= 3)
            .map(str::to_lowercase)
            .collect()
    }
}

/// The dashes (U+2010 to U+2015, and the minus sign) as `-`; anything
/// else as it is.
fn typed_punctuation(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        other => other,
    }
}

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF)
}

string_value!(PersonName, NameError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_in_many_scripts() {
        for raw in [
            "Jane Q. Doe",
            "José Álvarez-García",
            "Nguyễn Văn An",
            "O’Brien",
            "Mary Smith–Jones",
            "Mary Smith—Jones",
            "Seán ‘Johnny’ O’Neill",
            "张伟",
            "Zoë d'Arc",
        ] {
            assert!(PersonName::parse(raw).is_ok(), "{raw}");
        }
        assert_eq!(
            PersonName::parse("  Jane   Doe ").map(String::from),
            Ok("Jane Doe".into())
        );
    }

    #[test]
    fn compatibility_lookalikes_collapse() {
        // Full-width letters are NFKC-equivalent to ASCII ones.
        assert_eq!(
            PersonName::parse("Ｊａｎｅ").map(String::from),
            Ok("Jane".into())
        );
    }

    #[test]
    fn word_processor_dashes_and_quotes_read_as_typed_ones() {
        for (typed, read) in [
            ("Mary Smith–Jones", "Mary Smith-Jones"),
            ("Mary Smith—Jones", "Mary Smith-Jones"),
            ("Mary Smith\u{2011}Jones", "Mary Smith-Jones"),
            ("Seán ‘Johnny’ O’Neill", "Seán ‘Johnny’ O’Neill"),
        ] {
            assert_eq!(PersonName::parse(typed).map(String::from), Ok(read.into()));
        }
    }

    #[test]
    fn refuses_markup_controls_and_invisible_characters() {
        for raw in [
            "",
            "<script>alert(1)</script>",
            "Robert'); DROP TABLE users;--",
            "Jane\u{202E}eoD",
            "Jane\u{200B}Doe",
            "Jane\nDoe",
            "12345",
            "...",
        ] {
            assert!(PersonName::parse(raw).is_err(), "{raw:?}");
        }
        assert_eq!(PersonName::parse(&"a".repeat(201)), Err(NameError::TooLong));
    }
}
