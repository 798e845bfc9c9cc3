//! The Counsel Registry server process: configuration, telemetry, the HTTP
//! application (pages, server functions, health) and the command line.

pub mod api_v1;
pub mod cli;
pub mod configuration;
pub mod consumer;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod startup;
pub mod telemetry;
