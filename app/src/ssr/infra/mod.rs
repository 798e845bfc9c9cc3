//! Infrastructure: storage, the job queue, mail, code delivery, secrets,
//! rate limits, sessions and the clock. Nothing here imports a
//! capability (accounts, rosters, numbers, registry, providers) or the
//! web wiring; capabilities build on it.

pub mod audit_trail;
pub mod clock;
pub mod db;
pub mod delivery;
pub mod jobs;
pub mod mail;
pub mod mail_queue;
pub mod messages;
pub mod outbound;
pub mod rate_limit;
pub mod sealing;
pub mod secrets;
pub mod session;
