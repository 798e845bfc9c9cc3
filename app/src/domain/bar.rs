use serde::{Deserialize, Serialize};

/// US states, the District of Columbia and the territories whose courts
/// admit attorneys, by USPS code.
pub const JURISDICTIONS: [(&str, &str); 56] = [
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AS", "American Samoa"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("GU", "Guam"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("MP", "Northern Mariana Islands"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("PR", "Puerto Rico"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VI", "U.S. Virgin Islands"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
];

/// A bar jurisdiction: a US state or territory, stored as its USPS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Jurisdiction(&'static str);

// By hand, not derived: the derive would borrow the `&'static str` and so
// read only from `'static` input.
impl<'de> Deserialize<'de> for Jurisdiction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarError {
    #[error("Choose the state or territory of your bar admission.")]
    UnknownJurisdiction,
    #[error("Enter your bar number.")]
    EmptyBarNumber,
    #[error("A bar number is at most 20 letters and digits.")]
    InvalidBarNumber,
}

impl Jurisdiction {
    pub fn parse(raw: &str) -> Result<Self, BarError> {
        let code = raw.trim().to_ascii_uppercase();
        JURISDICTIONS
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(known, _)| Jurisdiction(known))
            .ok_or(BarError::UnknownJurisdiction)
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    pub fn name(self) -> &'static str {
        JURISDICTIONS
            .iter()
            .find(|(code, _)| *code == self.0)
            .map(|(_, name)| *name)
            .unwrap_or(self.0)
    }
}

string_value!(Jurisdiction, BarError);

impl Jurisdiction {
    /// Exact: a stored USPS code, or an error naming it (never trimmed or
    /// upper-cased, unlike [`parse`](Self::parse), which reads people's
    /// input).
    pub fn from_db(raw: &str) -> Result<Self, crate::domain::UnknownValue> {
        JURISDICTIONS
            .iter()
            .find(|(known, _)| *known == raw)
            .map(|(known, _)| Jurisdiction(known))
            .ok_or_else(|| crate::domain::UnknownValue {
                set: "Jurisdiction",
                value: raw.to_owned(),
            })
    }
}

// Stored as its code; decoded strictly, like the closed sets
// (`closed_set!`), so a row is typed once, when it is read.
#[cfg(feature = "ssr")]
impl sqlx::Type<sqlx::Any> for Jurisdiction {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }
    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

#[cfg(feature = "ssr")]
impl<'q> sqlx::Encode<'q, sqlx::Any> for Jurisdiction {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.code(), buf)
    }
}

#[cfg(feature = "ssr")]
impl<'r> sqlx::Decode<'r, sqlx::Any> for Jurisdiction {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let raw = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
        Ok(Self::from_db(&raw)?)
    }
}

/// A bar number as the bar writes it, normalised: upper case, spaces and
/// hyphens removed, leading zeros dropped (`012345` and `12345` are the
/// same member in every roster we know of).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BarNumber(String);

impl BarNumber {
    pub fn parse(raw: &str) -> Result<Self, BarError> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect::<String>()
            .to_ascii_uppercase();
        if compact.is_empty() {
            return Err(BarError::EmptyBarNumber);
        }
        if compact.len() > 20 || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(BarError::InvalidBarNumber);
        }
        let without_zeros = compact.trim_start_matches('0');
        let normalised = if without_zeros.is_empty() {
            "0"
        } else {
            without_zeros
        };
        Ok(Self(normalised.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(BarNumber, BarError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jurisdictions_are_us_states_and_territories() {
        assert_eq!(
            Jurisdiction::parse(" ca ").map(Jurisdiction::code),
            Ok("CA")
        );
        assert_eq!(
            Jurisdiction::parse("PR").map(Jurisdiction::name),
            Ok("Puerto Rico")
        );
        for raw in [
            "",
            "XX",
            "California",
            "C A",
            "ON",
            "'; DROP TABLE users; --",
        ] {
            assert!(Jurisdiction::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn stored_jurisdictions_are_read_exactly() {
        assert_eq!(
            Jurisdiction::from_db("CA").map(Jurisdiction::code),
            Ok("CA")
        );
        for raw in [" CA", "ca", "XX", ""] {
            let unknown = Jurisdiction::from_db(raw).expect_err(raw);
            assert_eq!(unknown.set, "Jurisdiction");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_jurisdiction_travels_as_its_code() {
        let json = serde_json::to_string(&Jurisdiction::parse("ca").expect("CA")).expect("json");
        assert_eq!(json, "\"CA\"");
        let read: Jurisdiction = serde_json::from_str(&json).expect("read");
        assert_eq!(read.code(), "CA");
        // Read from a reader too: nothing is borrowed from the input.
        let read: Jurisdiction = serde_json::from_reader(json.as_bytes()).expect("read");
        assert_eq!(read.code(), "CA");
        assert!(serde_json::from_str::<Jurisdiction>("\"XX\"").is_err());
    }

    #[test]
    fn bar_numbers_are_normalised() {
        assert_eq!(
            BarNumber::parse(" 012-345 ").map(String::from),
            Ok("12345".into())
        );
        assert_eq!(
            BarNumber::parse("ab 12").map(String::from),
            Ok("AB12".into())
        );
        assert_eq!(BarNumber::parse("000").map(String::from), Ok("0".into()));
        for raw in [
            "",
            "  ",
            "12/34",
            "123456789012345678901",
            "１２３",
            "<b>1</b>",
        ] {
            assert!(BarNumber::parse(raw).is_err(), "{raw:?}");
        }
    }
}
