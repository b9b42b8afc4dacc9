//! The hash chain, the collector's tamper evidence: each receipt's `prev` is the SHA-256 of
//! the JWS before it ([`GENESIS_PREV`] for the first), and [`Tip`] is the rule the writer
//! appends by. A log is read as rows ([`LogRow`]) through any [`LogSource`], which
//! [`audit`](crate::audit) walks. Nothing here knows SQL: the collector's store reads and
//! writes the rows.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;

use serde::Serialize;

use sha2::{Digest, Sha256};

/// `prev` of the first receipt in the log: there is no previous receipt.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The end of the chain: the last receipt's `seq` and the hash the next one links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    /// `seq` of the last receipt, 0 for an empty log.
    pub seq: i64,
    /// Hex SHA-256 of its JWS ([`GENESIS_PREV`] for an empty log).
    pub hash: String,
}

impl Tip {
    /// An empty log.
    pub fn genesis() -> Tip {
        Tip {
            seq: 0,
            hash: GENESIS_PREV.to_owned(),
        }
    }

    /// The link of the next receipt: its `seq` and its `prev`.
    pub fn next(&self) -> (i64, &str) {
        (self.seq + 1, &self.hash)
    }

    /// The tip after appending `jws` at `seq`.
    pub fn after(seq: i64, jws: &str) -> Tip {
        Tip {
            seq,
            hash: link_hash(jws),
        }
    }
}

/// What the next receipt's `prev` must be after `jws`: the SHA-256 of its compact form.
pub fn link_hash(jws: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(jws.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// One stored receipt, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptRow {
    /// Position in the log, from 1.
    pub seq: i64,
    /// The receipt's UUIDv7.
    pub id: String,
    /// When it was committed (RFC 3339 UTC, milliseconds).
    pub issued_at: String,
    /// The site's id.
    pub site: String,
    /// `form` or `cookies`.
    pub kind: String,
    /// `given`, `refused`, `withdrawn` or `updated`.
    pub event: String,
    /// The public reference (the widget's idempotency key).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The policy version it was given under.
    pub policy_version: String,
    /// The notice's language.
    pub lang: String,
    /// The form's id, for `kind: form`.
    pub form_id: Option<String>,
    /// The key that signed it.
    pub kid: String,
    /// The compact JWS, as signed.
    pub jws: String,
    /// For a withdrawal: the id of the receipt it withdraws.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdraws: Option<String>,
    /// SHA-256 of the receipt's withdrawal secret (payload v2); never served.
    #[serde(skip)]
    pub holder_sha256: Option<String>,
}

/// One row of the log with everything `audit` cross-checks.
#[derive(Debug, Clone)]
pub struct LogRow {
    /// The receipt's columns.
    pub row: ReceiptRow,
    /// Column `browser_id`: the browser's pseudonym (v1: the widget's clear id).
    pub browser_id: String,
    /// The stored hash of the JWS, which the writer chains the next receipt to.
    pub jws_sha256: String,
    /// `subject_hashes` entries of this receipt, sorted.
    pub subject_hmacs: Vec<String>,
    /// The salt of the payload's subject commitments, until erased.
    pub subject_salt: Option<String>,
}

/// The last committed receipt as recorded in `chain_head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Its `seq`.
    pub seq: i64,
    /// Hex SHA-256 of its JWS.
    pub jws_sha256: String,
}

/// A log as `audit` reads it; the store implements it over SQLite.
pub trait LogSource {
    /// Why the log could not be read.
    type Error;
    /// Purged positions with the hash of the JWS each held.
    fn tombstones(&self) -> Result<BTreeMap<i64, String>, Self::Error>;
    /// Positions whose subject was erased on request.
    fn erased(&self) -> Result<HashSet<i64>, Self::Error>;
    /// Visits every receipt in `seq` order, until `visit` breaks.
    fn scan_log(&self, visit: &mut dyn FnMut(LogRow) -> ControlFlow<()>)
    -> Result<(), Self::Error>;
    /// Receipts followed by a later one of theirs that the status index does not mark.
    fn unmarked_followed(&self) -> Result<Vec<i64>, Self::Error>;
    /// The recorded end of the chain.
    fn head(&self) -> Result<Option<Head>, Self::Error>;
}

/// A shared source reads the same log.
impl<T: LogSource + ?Sized> LogSource for std::sync::Arc<T> {
    type Error = T::Error;

    fn tombstones(&self) -> Result<BTreeMap<i64, String>, Self::Error> {
        (**self).tombstones()
    }

    fn erased(&self) -> Result<HashSet<i64>, Self::Error> {
        (**self).erased()
    }

    fn scan_log(
        &self,
        visit: &mut dyn FnMut(LogRow) -> ControlFlow<()>,
    ) -> Result<(), Self::Error> {
        (**self).scan_log(visit)
    }

    fn unmarked_followed(&self) -> Result<Vec<i64>, Self::Error> {
        (**self).unmarked_followed()
    }

    fn head(&self) -> Result<Option<Head>, Self::Error> {
        (**self).head()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_links_each_receipt_to_the_sha256_of_the_one_before() {
        let tip = Tip::genesis();
        assert_eq!(tip.next(), (1, GENESIS_PREV));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(link_hash("abc"), abc);
        let tip = Tip::after(1, "abc");
        assert_eq!(tip.next(), (2, abc));
    }
}
