//! Closed sets of values stored as text: roles, standings, statuses,
//! channels, modes. Each is an enum whose texts equal its migration's
//! `CHECK (… IN (…))` list (tested in `ssr::closed_sets`).
//!
//! Two ways in, on purpose: [`parse`](Role::parse) is lenient (trims,
//! ignores case) for people's input; `from_db` and the sqlx `Decode` are
//! exact, so a value the code does not know is an error, never a silent
//! default.

/// A value read from storage that is not one of its set's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{set}: unknown value {value:?}")]
pub struct UnknownValue {
    pub set: &'static str,
    pub value: String,
}

/// Declares a closed set: the enum, `ALL`, `as_str`, the lenient `parse`,
/// the exact `from_db`, `Display`, serde as its text and, on the server,
/// sqlx encoding and strict decoding under the `Any` driver.
macro_rules! closed_set {
    ($(#[$meta:meta])* $vis:vis $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        #[allow(dead_code)]
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Lenient: surrounding spaces and case are ignored.
            pub fn parse(raw: &str) -> Option<Self> {
                let raw = raw.trim();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(raw))
            }

            /// Exact: the stored text, or an error naming it.
            pub fn from_db(raw: &str) -> Result<Self, $crate::domain::closed_set::UnknownValue> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw).ok_or_else(|| {
                    $crate::domain::closed_set::UnknownValue {
                        set: stringify!($name),
                        value: raw.to_owned(),
                    }
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_db(&raw).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "ssr")]
        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        #[cfg(feature = "ssr")]
        impl<'q> sqlx::Encode<'q, sqlx::Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str(), buf)
            }
        }

        #[cfg(feature = "ssr")]
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok(Self::from_db(&raw)?)
            }
        }
    };
}
pub(crate) use closed_set;

#[cfg(all(test, feature = "ssr"))]
mod tests {
    closed_set!(
        Colour {
            Red = "red",
            DarkBlue = "dark_blue",
        }
    );

    #[test]
    fn parse_is_lenient_and_from_db_exact() {
        assert_eq!(Colour::parse(" Dark_Blue "), Some(Colour::DarkBlue));
        assert_eq!(Colour::from_db("dark_blue"), Ok(Colour::DarkBlue));
        let unknown = Colour::from_db("Dark_Blue").expect_err("exact");
        assert_eq!(unknown.to_string(), "Colour: unknown value \"Dark_Blue\"");
        assert_eq!(Colour::from_db("green").expect_err("unknown").set, "Colour");
    }

    #[test]
    fn serde_uses_the_text_and_refuses_the_unknown() {
        assert_eq!(
            serde_json::to_string(&Colour::DarkBlue).expect("json"),
            "\"dark_blue\""
        );
        assert!(serde_json::from_str::<Colour>("\"green\"").is_err());
    }
}
