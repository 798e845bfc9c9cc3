//! Cross-cutting request and response handling.

pub mod origin_check;
pub mod security_headers;
pub mod throttle;
