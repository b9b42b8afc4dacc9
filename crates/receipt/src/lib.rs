//! Kelisim's receipts as a third party checks them, with no server, database or network.
//!
//! - [`payload`]: the signed payload (schema v2, and v1 as read back) and sealing it;
//! - [`jws`]: compact JWS with Ed25519, signing and verifying;
//! - [`keyset`]: the published JWKS, parsed into the keys receipts verify against;
//! - [`verify`]: one receipt checked, signature then payload;
//! - [`chain`]: the hash chain's rule and the log's rows, read through [`chain::LogSource`];
//! - [`audit`]: the walk over a whole log that re-checks every signature and link;
//! - [`log`]: the transparency log the receipts are leaves of: an RFC 9162 Merkle tree, C2SP
//!   signed checkpoints, cosignatures from witnesses, and offline proofs;
//! - [`parallel`]: an order-keeping map on the machine's cores, for signing and verifying
//!   many receipts at once.
//!
//! What each byte means is written down in this crate's `README.md`, precisely enough to
//! write a verifier in another language.
//!
//! Checking a receipt against the collector's published keys:
//!
//! ```
//! use kelisim_receipt::keyset::PublicKeys;
//! use kelisim_receipt::verify::verify;
//!
//! # let signer = kelisim_receipt::jws::Signer::new(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
//! # let jws = signer.sign_compact(br#"{"v":2,"seq":1}"#);
//! # let jwks_text = serde_json::json!({ "keys": [kelisim_receipt::keyset::Jwk::of(
//! #     &ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key())] }).to_string();
//! // The collector's published keys (`GET /.well-known/jwks.json`), fetched however you like.
//! let jwks: serde_json::Value = serde_json::from_str(&jwks_text)?;
//! let keys = PublicKeys::from_jwks(&jwks)?;
//! // A receipt: its compact JWS, exactly as received.
//! let verified = verify(&jws, &keys)?;
//! println!("signed by {}: {}", verified.kid, verified.payload);
//! if let Some(receipt) = verified.receipt {
//!     // The typed payload (v1, v2 or v3): seq, prev (v1 and v2), site, choices, commitments.
//!     println!("receipt {} at seq {}", receipt.id, receipt.seq);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod audit;
pub mod chain;
pub mod jws;
pub mod keyset;
pub mod log;
pub mod parallel;
pub mod payload;
pub mod verify;
