//! Domain values, parsed once at the edge and trusted inside: a value of
//! these types is valid by construction. Compiled for the browser too, so a
//! form can check input before it is sent.

/// The conversions every string-backed domain value shares: parsing from a
/// `String` (so serde, forms and CSV cells go through `parse`), back into a
/// `String`, and `Display`. The type must have `parse(&str)` and hold its
/// text in field `.0`.
macro_rules! string_value {
    ($type:ty, $error:ty) => {
        impl TryFrom<String> for $type {
            type Error = $error;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> Self {
                value.0.into()
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub mod bar;
pub mod closed_set;
pub mod code;
pub mod email;
pub mod facility;
pub mod jobs;
pub mod name;
pub mod name_match;
pub mod password;
pub mod phone;
pub mod registry;
pub mod roster_upload;
pub mod standing;

pub use bar::{BarNumber, Jurisdiction};
pub use closed_set::UnknownValue;
pub use email::EmailAddress;
pub use facility::{FacilityCode, FacilityKind, FacilityName, FacilityStatus};
pub use jobs::JobState;
pub use name::PersonName;
pub use name_match::NameKey;
pub use password::{NewPassword, PasswordProblem};
pub use phone::{Channel, DeliveryStatus, NumberLabel};
pub use registry::Op;
pub use roster_upload::{Field, FileEncoding, Mode, Severity, UploadState};
pub use standing::{
    ClaimState, DocumentType, RegistrationStatus, Role, RosterStatus, Standing, StandingSource,
};
