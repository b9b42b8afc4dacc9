//! Kelisim's receipts as a third party checks them, with no server, database or network.
//!
//! - [`payload`]: the signed payload (schema v2, and v1 as read back) and sealing it;
//! - [`jws`]: compact JWS with Ed25519, signing and verifying;
//! - [`keyset`]: the published JWKS, parsed into the keys receipts verify against;
//! - [`verify`]: one receipt checked, signature then payload;
//! - [`chain`]: the hash chain's rule and the log's rows, read through [`chain::LogSource`];
//! - [`audit`]: the walk over a whole log that re-checks every signature and link;
//! - [`log`]: the transparency log the receipts are leaves of: an RFC 9162 Merkle tree, C2SP
//!   signed checkpoints, cosignatures from witnesses, and offline proofs.
//!
//! What each byte means is written down in this crate's `README.md`, precisely enough to
//! write a verifier in another language.

#![warn(missing_docs)]

pub mod audit;
pub mod chain;
pub mod jws;
pub mod keyset;
pub mod log;
pub mod payload;
pub mod verify;
