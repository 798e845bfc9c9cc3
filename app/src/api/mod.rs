//! Server functions: thin adapters that parse input, call a service and map
//! the error. Each has a stable endpoint so forms and tests can name it.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod claims;
pub mod facilities;
pub mod notice;
pub mod numbers;
pub mod overview;
pub mod providers;
pub mod roster;
pub mod two_factor;
