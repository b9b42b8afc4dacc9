//! Integration tests of the collector: the HTTP API in-process (actix test utilities) with
//! the real demo config and wire fixtures, audit against a tampered database, widget and
//! demo serving, and the real binary (`demo`, `verify`, `receipts list`, `audit`, `keys`).

mod audit;
mod cli;
mod demo;
mod receipts;
mod site;
mod support;
mod widget;
