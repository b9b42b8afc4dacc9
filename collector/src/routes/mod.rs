//! HTTP handlers, grouped by who calls them (`public`: widgets, visitors, operators' probes;
//! issue 7 adds `admin`).

pub mod public;
