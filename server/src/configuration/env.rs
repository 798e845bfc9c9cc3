//! The environment reader: looks a variable up, falls back to its default,
//! parses and range-checks it, and on failure says which variable, the
//! value read and what was expected, in one line ([`ConfigError`]).

use std::fmt::Display;
use std::ops::RangeBounds;
use std::str::FromStr;

/// An invalid variable; its message is one line that names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    pub(super) fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// Variables read through a lookup function (the process environment, or a
/// test's map). A value that is empty or only spaces counts as unset.
pub(super) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The value of `name` as written, or `None` when unset or blank.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// The value of `name` as written, or `default`.
    pub(super) fn text(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// The value of `name` (or `default`), trimmed and parsed as a `T`.
    /// Errors: `"{expected}, got {value:?}"`, e.g. `expected a whole
    /// number of hours, at least 1, got "soon"`.
    pub(super) fn parse<T: FromStr>(
        &self,
        name: &'static str,
        default: &str,
        expected: &str,
    ) -> Result<T, ConfigError> {
        self.parse_if(name, default, |_| true, expected)
    }

    /// Like [`Env::parse`], and also within `bounds` (e.g. `1..=1000`, or
    /// `1..` for "at least 1"); out of bounds gives the same message.
    pub(super) fn range<T: FromStr + PartialOrd>(
        &self,
        name: &'static str,
        default: &str,
        bounds: impl RangeBounds<T>,
        expected: &str,
    ) -> Result<T, ConfigError> {
        self.parse_if(name, default, |value| bounds.contains(value), expected)
    }

    /// One of the words in `choices`, compared as written, or `default`
    /// when unset. Errors: `"{expected}, got {value:?}"`.
    pub(super) fn choice<T: Copy>(
        &self,
        name: &'static str,
        default: T,
        choices: &[(&str, T)],
        expected: &str,
    ) -> Result<T, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(word, _)| *word == raw)
            .map(|(_, value)| *value)
            .ok_or_else(|| ConfigError::new(name, format!("{expected}, got {raw:?}")))
    }

    /// The value of `name` read by `read` (which gets it as written), or
    /// `None` when unset; `read`'s error becomes the message.
    pub(super) fn optional<T, E: Display>(
        &self,
        name: &'static str,
        read: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|raw| read(&raw).map_err(|error| ConfigError::new(name, error.to_string())))
            .transpose()
    }

    fn parse_if<T: FromStr>(
        &self,
        name: &'static str,
        default: &str,
        accept: impl Fn(&T) -> bool,
        expected: &str,
    ) -> Result<T, ConfigError> {
        let raw = self.text(name, default);
        raw.trim()
            .parse()
            .ok()
            .filter(|value| accept(value))
            .ok_or_else(|| ConfigError::new(name, format!("{expected}, got {raw:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T>(value: &str, with: impl FnOnce(&Env) -> T) -> T {
        let value = value.to_owned();
        let lookup = move |name: &str| (name == "X").then(|| value.clone());
        with(&Env::new(&lookup))
    }

    #[test]
    fn blank_is_unset_and_takes_the_default() {
        assert_eq!(read(" ", |env| env.text("X", "d")), "d");
        assert_eq!(read("", |env| env.parse::<u32>("X", "7", "n")), Ok(7));
    }

    #[test]
    fn errors_name_the_variable_the_value_and_the_expectation() {
        let error = read("0", |env| {
            env.range::<u32>("X", "1", 1..=9, "expected 1 to 9")
        });
        assert_eq!(
            error.map_err(|e| e.to_string()),
            Err(r#"X: expected 1 to 9, got "0""#.to_owned())
        );
        let error = read("NaN", |env| {
            env.range::<f64>("X", "1", 0.0..=100.0, "expected a percentage")
        });
        assert!(error.is_err());
        assert_eq!(
            read(" 12 ", |env| env.range::<u64>("X", "1", 1.., "e")),
            Ok(12)
        );
        let error = read("yes", |env| {
            env.choice(
                "X",
                false,
                &[("true", true), ("false", false)],
                "expected true or false",
            )
        });
        assert_eq!(
            error.map_err(|e| e.message),
            Err(r#"expected true or false, got "yes""#.to_owned())
        );
    }
}
