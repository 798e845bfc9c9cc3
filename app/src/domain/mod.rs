//! Domain values, parsed once at the edge and trusted inside: a value of
//! these types is valid by construction. Compiled for the browser too, so a
//! form can check input before it is sent.

pub mod bar;
pub mod email;
pub mod name;
pub mod password;

pub use bar::{BarNumber, Jurisdiction};
pub use email::EmailAddress;
pub use name::PersonName;
pub use password::{NewPassword, PasswordProblem};
