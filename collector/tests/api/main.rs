//! Integration tests of the collector: the HTTP API in-process (actix test utilities) with
//! the real demo config and wire fixtures, audit against a tampered database, widget and
//! demo serving, and the real binary (`demo`, `verify`, `receipts list`, `audit`, `keys`),
//! including kill -9 during load (`crash`) and verification of receipts signed before and
//! after a key rotation by an independent JOSE library in Python (`jose`), and the widget's
//! integration-health reports (`health`).

mod admin;
mod analytics;
mod attacks;
mod audit;
mod backup;
mod cli;
mod cluster;
mod config_docs;
mod crash;
mod demo;
mod events;
mod faults;
mod health;
mod jose;
mod ops;
mod page;
mod postgres;
mod process;
mod receipts;
mod reload;
mod retention;
mod security;
mod site;
mod soak;
mod support;
mod transparency;
mod tree;
mod upgrade;
mod widget;
mod witness;
