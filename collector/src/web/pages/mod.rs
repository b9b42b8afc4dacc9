//! HTML pages rendered by the collector: a visitor's receipt, a consent text, the admin page.

pub mod admin;
pub mod policy;
pub mod receipt;
