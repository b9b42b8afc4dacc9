//! Kelisim collector: records consent receipts from the Kelisim widget, signs them
//! (Ed25519 compact JWS), links them into a hash chain and stores them durably in SQLite.
//!
//! # Code map
//!
//! - [`config`]: the site TOML, parsed once into a validated [`config::Config`]; [`cookies`]:
//!   its cookie-banner part (categories, GPC, built-in banner texts, revision).
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
//! - [`server`], [`cli`], [`report`], [`datadir`], [`hash`]: process plumbing.
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

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod hash;
pub mod keys;
pub mod log;
pub mod ops;
pub mod receipt;
pub mod store;
pub mod web;

pub use web::app::{AppState, StartError, build_app};
