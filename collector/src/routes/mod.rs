//! HTTP handlers, grouped by who calls them: `public` (widgets and visitors: site config,
//! policy texts, keys, widget files), `receipts` (recording, reading and withdrawing
//! consent), `ops` (operators' probes, metrics, the OpenAPI document). Issue 7 adds `admin`.

pub mod ops;
pub mod public;
pub mod receipts;
