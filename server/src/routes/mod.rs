pub mod health;
pub mod roster;
