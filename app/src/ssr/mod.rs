//! Backend-only code: the database, sessions and shared state. Compiled into
//! the server, never into the browser bundle.

pub mod db;
pub mod session;
pub mod state;
