//! The collector's side of the transparency log: every receipt is a leaf of an RFC 9162
//! Merkle tree (kelisim-receipt's `log`), in `seq` order, so a receipt's leaf index is its
//! `seq - 1`. After each group commit the writer appends the batch's leaves and signs a C2SP
//! checkpoint in the same transaction. This file holds the rules that are not SQL: the
//! log's origin, the leaf of a position whose receipt is gone, and the proof served to a
//! receipt's holder. `store` reads and writes the rows.

use kelisim_receipt::log::{Hash, LogError, SignedCheckpoint, TlogProof, TreeHead, leaf_hash};

pub use kelisim_receipt::log::receipt_leaf_hash;

/// The origin when the collector has no address to name itself by (tests, the CLI).
pub const FALLBACK_ORIGIN: &str = "localhost/log";

/// The log's origin (the checkpoints' first line and the log key's name): the host (and
/// port, and path) of the collector's public URL, then `/log`. `https://consent.example.kz`
/// gives `consent.example.kz/log`. A signed-note key name has no spaces and no `+`; anything
/// else falls back to [`FALLBACK_ORIGIN`]. The store keeps the origin of its first checkpoint
/// for the log's life: the identity of a log does not follow later configuration changes.
pub fn origin_for(base_url: &str) -> String {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest)
        .trim_end_matches('/');
    let origin = format!("{rest}/log");
    if rest.is_empty() || !kelisim_receipt::log::is_valid_key_name(&origin) {
        FALLBACK_ORIGIN.to_owned()
    } else {
        origin
    }
}

/// The leaf of a position folded into the tree when the tree was first built whose receipt
/// had already been purged: the JWS is gone, only its SHA-256 (the tombstone) is left, so
/// the leaf is the hash of `kelisim-purged:<hex SHA-256 of the JWS>`. Nobody can prove such
/// a receipt's inclusion; the other receipts' proofs are unaffected. Receipts purged after
/// the tree existed keep their real leaf: the tree's hashes are never deleted.
pub fn purged_leaf(jws_sha256_hex: &str) -> Hash {
    leaf_hash(format!("kelisim-purged:{jws_sha256_hex}").as_bytes())
}

/// The leaf of a position that has neither a receipt nor a tombstone when the tree is first
/// built (a log whose rows were deleted by hand): `kelisim-missing:<seq>`. `audit` reports
/// such a log as broken whatever the tree says.
pub fn missing_leaf(seq: i64) -> Hash {
    leaf_hash(format!("kelisim-missing:{seq}").as_bytes())
}

/// A receipt's leaf index: its `seq - 1` (the first receipt has seq 1).
pub fn leaf_index(seq: i64) -> u64 {
    u64::try_from(seq - 1).unwrap_or(0)
}

/// The latest checkpoint as stored: its tree size and the signed note, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

/// A witness's cosignature of one of this log's checkpoints, as stored: the witness's key
/// name and the signed-note signature line (`— name base64`, without its newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub witness: String,
    pub line: String,
}

/// What proves one receipt's inclusion: its leaf index, the inclusion path to the latest
/// checkpoint's root, and that checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    pub index: u64,
    pub path: Vec<Hash>,
    pub checkpoint: StoredCheckpoint,
}

impl Inclusion {
    /// The C2SP `tlog-proof` of receipt `jws`, carrying the receipt itself as its `extra`
    /// data: one file is the receipt with its proof (`verify FILE` reads both from it).
    pub fn to_tlog_proof(&self, jws: &str) -> Result<TlogProof, LogError> {
        Ok(TlogProof {
            extra: Some(jws.as_bytes().to_vec()),
            index: self.index,
            inclusion: self.path.clone(),
            checkpoint: SignedCheckpoint::parse(self.checkpoint.note.as_bytes())?,
        })
    }
}

/// The transparency log as stored: its signed checkpoints and proofs, computed from
/// `O(log n)` stored hashes. Sizes are leaf counts; a receipt's leaf index is its `seq - 1`.
/// The store implements it; [`super::tree_check::audit_tree`] reads it.
pub trait TreeReads {
    type Error;

    /// The latest signed checkpoint; `None` until the collector first opened the store.
    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, Self::Error>;

    /// Every signed checkpoint, smallest first.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, Self::Error>;

    /// Receipt `id`'s JWS and its inclusion proof in the latest checkpoint (read together);
    /// `None` for an unknown id.
    fn inclusion(&self, id: &str) -> Result<Option<(String, Inclusion)>, Self::Error>;

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves
    /// (RFC 9162 §2.1.4; empty when `from` is 0 or equal to `to`). The caller checks
    /// `from <= to <=` the latest checkpoint's size.
    fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, Self::Error>;

    /// The stored leaf hashes of leaves `from..to` (for `audit`, which compares them with
    /// the receipts).
    fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, Self::Error>;

    /// The witnesses' cosignatures of this log's checkpoint of `size` and `root`, by
    /// witness name.
    fn cosignatures(&self, size: u64, root: &Hash) -> Result<Vec<Cosignature>, Self::Error>;

    /// The largest checkpoint a witness cosigned, with all its cosignatures.
    fn witnessed(&self) -> Result<Option<(StoredCheckpoint, Vec<Cosignature>)>, Self::Error>;

    /// The size of the largest checkpoint `witness` (its key name) cosigned; 0 for none.
    fn last_cosigned(&self, witness: &str) -> Result<u64, Self::Error>;

    /// As a witness of other logs: the tree last cosigned for the log `origin`.
    fn witness_head(&self, origin: &str) -> Result<Option<TreeHead>, Self::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_the_public_address_and_log() {
        assert_eq!(
            origin_for("https://consent.example.kz"),
            "consent.example.kz/log"
        );
        assert_eq!(
            origin_for("https://consent.example.kz/"),
            "consent.example.kz/log"
        );
        assert_eq!(origin_for("http://127.0.0.1:8080"), "127.0.0.1:8080/log");
        assert_eq!(origin_for("https://x.kz/kelisim"), "x.kz/kelisim/log");
        assert_eq!(origin_for("https://a b"), FALLBACK_ORIGIN);
        assert_eq!(origin_for("https://a+b"), FALLBACK_ORIGIN);
        assert_eq!(origin_for(""), FALLBACK_ORIGIN);
    }

    #[test]
    fn placeholder_leaves_differ_from_every_receipt_leaf() {
        let sha = "ab".repeat(32);
        assert_ne!(purged_leaf(&sha), missing_leaf(1));
        assert_ne!(purged_leaf(&sha), receipt_leaf_hash(&sha));
        assert_eq!(leaf_index(1), 0);
    }
}
