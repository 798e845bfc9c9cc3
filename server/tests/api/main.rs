//! One integration binary (faster to link than one per file). Every test
//! that touches the database runs on SQLite and on PostgreSQL: see
//! `helpers::db_test!`.

#[macro_use]
mod helpers;

mod accounts;
mod admins;
mod audit_trail;
mod backup;
mod claim_abuse;
mod claims;
mod facilities;
mod health;
mod hostile_input;
mod instances;
mod jobs;
mod lockout;
mod number_abuse;
mod numbers;
mod operations;
mod pages;
mod process;
mod provider_api;
mod provider_limits;
mod read_log;
mod registry;
mod revocation;
mod revoked_keys;
mod roster;
mod roster_files;
mod roster_pages;
mod roster_upload;
mod sealed_secrets;
mod security;
mod sessions;
mod shutdown;
mod smtp;
mod sqlite;
mod takeover;
mod throttle;
mod transactions;
mod twilio;
mod webhooks;
