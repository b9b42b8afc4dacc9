//! The hash chain, the collector's tamper evidence, in one place: each receipt's `prev` is
//! the SHA-256 of the JWS before it ([`GENESIS_PREV`] for the first), and [`Tip`] is the rule
//! the writer appends by. [`audit`] walks a whole log, given as rows by any [`LogSource`],
//! and re-checks every link and signature. Nothing here knows SQL: `store` reads and writes
//! the rows.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;

use serde::Serialize;

use crate::hash::sha256_hex;

pub mod audit;
pub mod tree;
pub mod tree_check;

/// `prev` of the first receipt in the log: there is no previous receipt.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The end of the chain: the last receipt's `seq` and the hash the next one links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    pub seq: i64,
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
    sha256_hex(jws.as_bytes())
}

/// One stored receipt, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptRow {
    pub seq: i64,
    pub id: String,
    pub issued_at: String,
    pub site: String,
    pub kind: String,
    pub event: String,
    #[serde(rename = "ref")]
    pub reference: String,
    pub policy_version: String,
    pub lang: String,
    pub form_id: Option<String>,
    pub kid: String,
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
    pub row: ReceiptRow,
    pub browser_id: String,
    pub jws_sha256: String,
    /// `subject_hashes` entries of this receipt, sorted.
    pub subject_hmacs: Vec<String>,
    /// The salt of the payload's subject commitments, until erased.
    pub subject_salt: Option<String>,
}

/// The last committed receipt as recorded in `chain_head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub jws_sha256: String,
}

/// A log as `audit` reads it; the store implements it over SQLite.
pub trait LogSource {
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
