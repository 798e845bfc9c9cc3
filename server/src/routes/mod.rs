pub mod evidence;
pub mod health;
pub mod roster;
pub mod server_fns;
pub mod twilio;
