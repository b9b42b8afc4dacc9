//! Kelisim collector: records consent receipts from the Kelisim widget, signs them
//! (Ed25519 compact JWS), links them into a hash chain and stores them durably in SQLite.
//!
//! # Code map
//!
//! - [`config`]: the site TOML, parsed into a validated [`config::Config`]; [`cookies`]:
//!   its cookie-banner part (categories, GPC, built-in banner texts, revision); [`reload`]:
//!   the live site table, swapped whole when SIGHUP re-reads the file, and `config check`.
//! - [`receipt`]: the wire request (docs/wire.md) → validated content → signed payload.
//! - [`subject`]: phone/e-mail normalisation, the per-site index keys, the per-receipt
//!   commitments and the browser pseudonym.
//! - [`sign`]: Ed25519 key files, RFC 7638 kids, compact JWS, JWKS.
//! - [`store`]: SQLite — the single writer thread (group commit) and the read pool.
//! - [`audit`], [`verify`]: offline checks of the whole log and of one receipt.
//! - [`app`], [`routes`], [`error`]: the actix app, handlers, problem+json errors.
//! - [`ratelimit`], [`connections`], [`metrics`], [`openapi`]: per-address limits (requests,
//!   connections, body deadline), Prometheus, `/openapi.json`.
//! - [`receipt_page`], [`policy_page`], [`html`]: the visitor's receipt page and consent text.
//! - [`tokens`], [`auth`], [`routes::admin`], [`export`], [`kantara`], [`admin_page`]: the admin
//!   API and page (bearer tokens per site, queries, streaming export, withdrawal, erasure).
//! - [`assets`], [`demo`], [`negotiate`]: widget files, the demo site, header negotiation.
//! - [`server`], [`cli`], [`report`], [`datadir`], [`hash`]: process plumbing; [`backup`]:
//!   `backup` and `restore` of a data directory.
//!
//! # Architecture invariants
//!
//! - **Only `store` opens SQLite**, and only its writer thread writes.
//! - **A 201 means committed**: the writer answers a job only after its batch's `COMMIT`
//!   (with `synchronous = FULL`) has returned.
//! - **No raw identifier is stored or logged**: `receipt::prepare` replaces phone numbers
//!   and e-mail addresses by HMACs before anything else sees them, and their `Debug` is
//!   redacted; form values never reach the collector at all.
//! - **Nothing served links a receipt to a person or a browser**: a payload signs only
//!   per-receipt salted commitments; the subject index, the salts, the browser pseudonyms and
//!   the withdrawal secrets' hashes stay in the store.
//! - **Every rejection is problem+json with a stable `code`** and changes nothing: all
//!   validation happens before a job reaches the writer.
//! - **Blocking work never runs on the async executor**: reads go through `web::block`,
//!   writes through the writer thread.
//! - **The hot path logs nothing at `info`**: receipts and successful requests log at
//!   `debug`; references, identifiers and form values are never logged.

pub mod admin_cli;
pub mod admin_page;
pub mod app;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod benchgen;
pub mod cli;
pub mod config;
pub mod connections;
pub mod cookies;
pub mod datadir;
pub mod demo;
pub mod error;
pub mod export;
pub mod hash;
pub mod html;
pub mod kantara;
pub mod metrics;
pub mod negotiate;
pub mod openapi;
pub mod policy_page;
pub mod ratelimit;
pub mod receipt;
pub mod receipt_page;
pub mod reload;
pub mod report;
pub mod retention;
pub mod routes;
pub mod server;
pub mod sign;
pub mod store;
pub mod subject;
pub mod tokens;
pub mod verify;

pub use app::{AppState, StartError, build_app};
