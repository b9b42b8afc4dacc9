//! HTTP handlers, grouped by who calls them: `public` (widgets and visitors: site config,
//! policy texts, keys, widget files), `receipts` (recording, reading and withdrawing
//! consent), `health` (the widget's integration-health reports), `admin` (site admins with a bearer token: query, export, stats, withdrawal,
//! erasure, audit trail), `log` (the transparency log's checkpoint and proofs), `witness` (cosigning other logs' checkpoints), `ops` (operators' probes, metrics, the OpenAPI document).

pub mod admin;
pub mod health;
pub mod log;
pub mod ops;
pub mod public;
pub mod receipts;
pub mod witness;
