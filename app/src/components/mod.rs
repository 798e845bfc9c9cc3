pub mod chart;
pub mod form;
pub mod layout;
pub mod notice;
pub mod page_error;
