//! The backend: compiled into the server, never into the browser bundle.
//!
//! Layers, each importing only those below it (checked by
//! `layering::tests`, part of `make test`):
//!
//! ```text
//! web wiring      state, auth (guards), worker (registers jobs),
//!                 housekeeping (the periodic tasks)
//!   capabilities  standing →  numbers  →  registry  →  accounts
//!                 providers → registry
//!   infra         db, jobs, mail, delivery, messages, secrets,
//!                 rate_limit, session, clock  (never a capability)
//!   domain        crate::domain: values parsed at the edge
//! ```
//!
//! Between capabilities the arrows run one way only: a roster change
//! moves an attorney's standing, which moves their numbers, which moves
//! the registry; providers read the registry. Accounts own who a person
//! is and import no capability.

pub mod accounts;
pub mod auth;
pub mod housekeeping;
pub mod infra;
pub mod numbers;
pub mod providers;
pub mod registry;
pub mod standing;
pub mod state;
pub mod worker;

#[cfg(test)]
mod layering;
#[cfg(test)]
mod schema_sets;
