//! The transparency log: an RFC 9162 Merkle tree with C2SP checkpoints, proofs and witnesses.
//!
//! Pure: no IO, no clock, no database. Storage is a [`HashReader`] the caller implements
//! (SQL rows or tiles, see [`storage`]); time is a parameter.
//!
//! * The tree — [`leaf_hash`], [`node_hash`]; [`tree_root`], [`inclusion_proof`] and
//!   [`consistency_proof`] read `O(log n)` stored hashes; [`Appender`] grows the tree batch by
//!   batch and says which hashes to store; [`verify_inclusion`] and [`verify_consistency`]
//!   check proofs with hashes alone.
//! * Signed notes (c2sp.org/signed-note) — [`SignedNote`], [`NoteSigner`], [`VerifierKey`].
//! * Checkpoints (c2sp.org/tlog-checkpoint) — [`Checkpoint`], [`SignedCheckpoint`],
//!   [`TrustedLog`]; cosignatures (c2sp.org/tlog-cosignature, `cosignature/v1`) —
//!   [`Cosigner`].
//! * Offline proofs (c2sp.org/tlog-proof) — [`TlogProof`].
//! * Witnessing (c2sp.org/tlog-witness `add-checkpoint`) — [`Witness`], [`AddCheckpoint`],
//!   [`Refusal`].
//! * Tiles (c2sp.org/tlog-tiles) — [`tiles::Tile`], [`tiles::read_tile`].
//!
//! Every fallible function returns [`LogError`].

mod checkpoint;
mod error;
mod hash;
mod note;
pub mod storage;
pub mod tiles;
mod tlog_proof;
mod tree;
mod verify;
mod witness;

pub use checkpoint::{Checkpoint, Cosigner, SignedCheckpoint, TrustedLog};
pub use error::LogError;
pub use hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash, receipt_leaf_hash};
pub use note::{
    KeyType, MAX_NOTE_SIZE, MAX_SIGNATURES, NoteSignature, NoteSigner, SignedNote, Verified,
    VerifierKey, is_valid_key_name, key_id, parse_signature_lines,
};
pub use storage::{
    HashReader, MAX_TREE_SIZE, MemoryHashes, split_stored_hash_index, stored_hash_count,
    stored_hash_index,
};
pub use tlog_proof::{ProofVerified, TLOG_PROOF_HEADER, TlogProof};
pub use tree::{Appender, Batch, consistency_proof, inclusion_proof, tree_root};
pub use verify::{
    consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};
pub use witness::{AddCheckpoint, Cosigned, MAX_CONSISTENCY_PROOF, Refusal, TreeHead, Witness};
