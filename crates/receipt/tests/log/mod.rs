//! Tests of the transparency log: published vectors, exhaustive properties over small trees,
//! the offline proof and witness formats, and interop with independent implementations.

mod interop;
mod properties;
mod readme;
mod robustness;
mod tlog_proof;
mod vectors;
mod witness;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use kelisim_receipt::log::{
    Appender, Checkpoint, Cosigner, Hash, MemoryHashes, NoteSigner, SignedCheckpoint, TrustedLog,
    leaf_hash, node_hash,
};

/// A fixture file of `tests/fixtures/log`, parsed.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/log/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture's string field.
pub fn text<'a>(value: &'a serde_json::Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("fixture field {key} is not a string"))
}

pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub fn b64(text: &str) -> Vec<u8> {
    STANDARD.decode(text).expect("base64 in fixture")
}

/// A 32-byte value as a `Hash`, or `None` when the vector holds something else.
pub fn hash_of(bytes: &[u8]) -> Option<Hash> {
    <[u8; 32]>::try_from(bytes).ok().map(Hash)
}

/// The leaf data of the test trees: distinct, deterministic.
pub fn leaf_data(i: u64) -> Vec<u8> {
    format!("receipt number {i}").into_bytes()
}

/// A tree of `n` leaves built by the appender, with its leaf hashes.
pub fn build(n: u64) -> (MemoryHashes, Vec<Hash>) {
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&leaf_data(i))).collect();
    let mut store = MemoryHashes::new();
    let mut appender = Appender::new();
    // Batches of growing size, so batch boundaries fall everywhere.
    let mut at = 0;
    let mut batch = 1;
    while at < leaves.len() {
        let end = (at + batch).min(leaves.len());
        let written = appender.append(&leaves[at..end]).expect("in range");
        store.write(written.first_index, &written.hashes);
        at = end;
        batch = batch % 7 + 1;
    }
    (store, leaves)
}

/// RFC 9162 §2.1.1 `MTH`, straight from the definition.
pub fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => kelisim_receipt::log::EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = 1 << (n - 1).ilog2();
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

pub fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub const ORIGIN: &str = "collector.example.kz/log";

pub fn log_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, signing_key(1)).expect("valid name")
}

pub fn trusted_log() -> TrustedLog {
    TrustedLog {
        origin: ORIGIN.into(),
        keys: vec![log_signer().verifier_key().clone()],
    }
}

pub fn witness_cosigner() -> Cosigner {
    Cosigner::new("witness.example.kz/w1", signing_key(2)).expect("valid name")
}

/// The log's signed checkpoint of its first `size` leaves.
pub fn signed_checkpoint(store: &MemoryHashes, size: u64) -> SignedCheckpoint {
    let root = kelisim_receipt::log::tree_root(store, size).expect("stored");
    Checkpoint::new(ORIGIN, size, root)
        .expect("valid")
        .sign(&log_signer())
        .expect("signs")
}
