//! Backend-only code: the database, sessions, accounts, mail and shared
//! state. Compiled into the server, never into the browser bundle.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod clock;
pub mod code_sender;
pub mod db;
pub mod jobs;
pub mod mail;
pub mod numbers;
pub mod providers;
pub mod rate_limit;
pub mod registry;
pub mod roster;
pub mod roster_upload;
pub mod secrets;
pub mod session;
pub mod state;
pub mod two_factor;
pub mod webhooks;
pub mod worker;
