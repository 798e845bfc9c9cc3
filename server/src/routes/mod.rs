pub mod evidence;
pub mod health;
pub mod roster;
pub mod twilio;
