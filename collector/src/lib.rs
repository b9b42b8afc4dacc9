//! Kelisim collector: records consent receipts from the Kelisim widget, signs them
//! (Ed25519 compact JWS), numbers them into a transparency log (an RFC 9162 Merkle tree with
//! signed checkpoints, cosigned by witnesses) and stores them durably in SQLite.
//!
//! # Code map
//!
//! One folder per domain, in layers (lowest first; a module imports only the layers before
//! it, checked by `cargo xtask tidy`):
//!
//! - [`hash`], [`clock`]: hex and SHA-256; the one timestamp format.
//! - [`ops`]: the data directory and the metrics registry.
//! - [`config`]: the site TOML, parsed once into a validated [`config::Config`] (with its
//!   cookie-banner part); [`keys`]: Ed25519 key files, RFC 7638 kids, compact JWS, JWKS.
//! - [`receipt`]: the wire request (docs/wire.md) → validated content → signed payload; the
//!   subject's keys and commitments; offline verification of one receipt.
//! - [`log`]: the log's order (the hash chain of payloads v1/v2, `seq`), the audit walk over
//!   any [`log::LogSource`], and the Merkle tree's collector side (`tree`, `tree_check`).
//! - [`store`]: the storage interface ([`store::Backend`], [`store::ReadStore`]) that
//!   everything above uses, and SQLite behind it — the single writer thread (group commit)
//!   and the read pool.
//! - [`admin`]: tokens, retention and erasure deadlines, export and Kantara, without HTTP.
//!   [`witness`], beside it: cosigning other collectors' checkpoints, and asking witnesses to
//!   cosign ours (c2sp.org/tlog-witness).
//! - [`web`]: state, app and route table, middleware, problem+json errors, auth extractors,
//!   limits, widget files, pages, handlers, the server's signals, the live site table
//!   (`web::reload`, swapped whole on SIGHUP).
//! - [`cli`]: the command line's arguments and its commands beyond `serve` (`backup` and
//!   `restore` of a data directory among them).
//!
//! # Architecture invariants
//!
//! - **Only `store` opens SQLite**, and only its writer thread writes; everything else
//!   holds a [`store::Store`] or [`store::Reader`] (trait objects), never a backend's type.
//! - **Layers import downwards only**: `receipt`, `log` and `store` never import `web` or
//!   `cli`; handlers import `web::state`, never the app that mounts them.
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
pub mod witness;

pub use web::app::{AppState, StartError, build_app};
