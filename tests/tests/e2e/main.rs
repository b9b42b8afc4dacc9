//! End-to-end tests: what a visitor does in a real browser, and what the operator then holds.
//!
//! One test binary (one link step on two cores); a module per part of the product.

mod admin;
mod banner;
mod banner_speed;
mod demo_pages;
mod deploy;
mod form_consent;
mod form_guard;
mod health;
mod page_weight;
mod residency;
mod security;
mod shield;
mod shield_speed;
mod stacks;
