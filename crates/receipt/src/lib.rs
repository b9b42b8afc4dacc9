//! Kelisim's receipts as a third party checks them, with no server, database or network.
//!
//! [`log`] is the transparency log the receipts are leaves of: an RFC 9162 Merkle tree,
//! C2SP signed checkpoints, cosignatures from witnesses, and offline proofs. What each
//! byte means is written down in this crate's `README.md`, precisely enough to write a
//! verifier in another language.

#![warn(missing_docs)]

pub mod log;
