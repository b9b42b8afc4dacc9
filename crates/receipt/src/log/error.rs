//! The one error type of the log: bad input, a proof that does not hold, storage that failed.
//!
//! Every message names what was wrong and, where there is one, the fix. [`LogError::code`]
//! gives a stable identifier for each kind, for a caller that renders problem+json.

use std::error::Error as StdError;

/// Everything that can go wrong in [`crate::log`]: parsing, proving, verifying, storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A leaf index at or past the end of the tree.
    #[error("leaf index {index} is outside a tree of size {size}: indexes run from 0 to size - 1")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The size of the tree.
        size: u64,
    },
    /// A consistency proof asked from a larger tree to a smaller one.
    #[error(
        "tree size {old} is larger than {new}: a consistency proof runs from an older, smaller tree to a newer one"
    )]
    SizeOrder {
        /// The size that should be the older one.
        old: u64,
        /// The size that should be the newer one.
        new: u64,
    },
    /// A consistency proof from (or to) the empty tree, which every tree extends.
    #[error(
        "a consistency proof from the empty tree proves nothing (every tree extends it): check old size 0 without a proof"
    )]
    EmptyOldTree,
    /// A tree size this crate will not handle (its stored hash index would not fit in an `i64`).
    #[error("tree size {size} is too large: at most 2^62 leaves are supported")]
    TreeTooLarge {
        /// The size asked for.
        size: u64,
    },
    /// A proof with the wrong number of hashes for the sizes and index it is for.
    #[error("proof has {got} hashes where {want} are needed for this index and tree size")]
    ProofLength {
        /// How many hashes the proof has.
        got: usize,
        /// How many the index and sizes call for.
        want: usize,
    },
    /// A proof that leads to another root than the one expected.
    #[error(
        "proof does not lead to the expected root hash: the entry is not in this tree, or the proof, index or root was altered"
    )]
    RootMismatch,
    /// A consistency proof that does not reproduce the older tree's root.
    #[error(
        "consistency proof does not reproduce the older tree's root hash: the newer tree does not extend it, or the proof was altered"
    )]
    OldRootMismatch,
    /// The hash storage failed.
    #[error("reading stored hashes failed: {0}")]
    Storage(#[source] Box<dyn StdError + Send + Sync>),
    /// The hash storage answered with the wrong number of hashes.
    #[error(
        "hash storage returned {got} hashes for {asked} indexes: a HashReader must return one hash per index, in order"
    )]
    StorageShort {
        /// How many hashes were asked for.
        asked: usize,
        /// How many came back.
        got: usize,
    },
    /// Text that should be a base64 SHA-256 hash and is not.
    #[error(
        "{what} {text:?} is not a hash: expected 32 bytes in standard base64 with padding (44 characters)"
    )]
    BadHash {
        /// Which field held it.
        what: &'static str,
        /// The text, cut to 60 characters.
        text: String,
    },
    /// A signed note larger than this crate reads.
    #[error("note is {len} bytes, more than the {max} bytes accepted")]
    NoteTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A note that is not UTF-8.
    #[error("note is not valid UTF-8")]
    NoteNotUtf8,
    /// A note with an ASCII control character other than newline.
    #[error(
        "note has control character {byte:#04x} at byte {offset}: only newline is allowed (check for \\r\\n line ends)"
    )]
    NoteControlCharacter {
        /// The character.
        byte: u8,
        /// Where it is.
        offset: usize,
    },
    /// Note text that does not end in a newline.
    #[error("note text must end with a newline")]
    NoteTextUnterminated,
    /// A note without the blank line and signature lines that end every signed note.
    #[error(
        "note has no signatures: a signed note is its text, a blank line, then one or more lines \"— <key name> <base64>\" each ending in a newline"
    )]
    NoteUnsigned,
    /// A signature line that does not parse.
    #[error("signature line {line}: {reason}")]
    SignatureLine {
        /// Its number among the signature lines, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A note with more signature lines than this crate reads.
    #[error("note has more than {max} signatures")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A key name that the signed-note format does not allow.
    #[error("key name {name:?} is not allowed: it must be non-empty, without spaces or '+'")]
    KeyName {
        /// The name.
        name: String,
    },
    /// A verifier key string that does not parse.
    #[error("verifier key is not <name>+<8 hex digits>+<base64(type || public key)>: {reason}")]
    VerifierKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A verifier key whose key ID does not match its name and public key.
    #[error(
        "verifier key ID {declared:08x} does not match its name and key (computed {computed:08x}): the key string was altered or mistyped"
    )]
    VerifierKeyId {
        /// The ID written in the key.
        declared: u32,
        /// The ID computed from the name and key.
        computed: u32,
    },
    /// A signature type this crate does not verify.
    #[error(
        "signature type {0:#04x} is not supported: use 0x01 (Ed25519) or 0x04 (Ed25519 cosignature/v1)"
    )]
    UnsupportedKeyType(u8),
    /// A signature from a known key that does not verify.
    #[error(
        "signature by {name}+{key_id:08x} does not verify: the note was altered after it was signed"
    )]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's ID.
        key_id: u32,
    },
    /// A note with no signature from any of the keys trusted for it.
    #[error("note has no valid signature from a trusted key ({trusted})")]
    NoTrustedSignature {
        /// The trusted keys, as `name+id` pairs.
        trusted: String,
    },
    /// A checkpoint body that does not follow c2sp.org/tlog-checkpoint.
    #[error("checkpoint line {line}: {reason}")]
    Checkpoint {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A checkpoint for another log than the one expected.
    #[error("checkpoint is for origin {found:?}, not {expected:?}")]
    OriginMismatch {
        /// The origin the caller trusts.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// A cosignature that is not a cosignature/v1 timestamped signature.
    #[error(
        "cosignature is {len} bytes after the key ID: cosignature/v1 is an 8-byte timestamp then a 64-byte Ed25519 signature"
    )]
    CosignatureLength {
        /// Its length.
        len: usize,
    },
    /// A cosignature timestamp past 2^63 - 1, or zero where the protocol forbids it.
    #[error("cosignature timestamp {0} is out of range: it must be from 1 to 2^63 - 1")]
    CosignatureTimestamp(u64),
    /// A tlog-proof that does not follow c2sp.org/tlog-proof.
    #[error("tlog-proof line {line}: {reason}")]
    TlogProof {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An add-checkpoint request body that does not follow c2sp.org/tlog-witness.
    #[error("add-checkpoint request line {line}: {reason}")]
    AddCheckpoint {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl LogError {
    /// Wraps a storage backend's error.
    pub fn storage(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Storage(error.into())
    }

    /// A stable identifier of the kind of error, for machine-readable answers (problem+json).
    pub fn code(&self) -> &'static str {
        match self {
            Self::IndexOutOfRange { .. } => "index_out_of_range",
            Self::SizeOrder { .. } => "size_order",
            Self::EmptyOldTree => "empty_old_tree",
            Self::TreeTooLarge { .. } => "tree_too_large",
            Self::ProofLength { .. } => "proof_length",
            Self::RootMismatch => "root_mismatch",
            Self::OldRootMismatch => "old_root_mismatch",
            Self::Storage(_) => "storage",
            Self::StorageShort { .. } => "storage_short",
            Self::BadHash { .. } => "bad_hash",
            Self::NoteTooLarge { .. } => "note_too_large",
            Self::NoteNotUtf8 => "note_not_utf8",
            Self::NoteControlCharacter { .. } => "note_control_character",
            Self::NoteTextUnterminated => "note_text_unterminated",
            Self::NoteUnsigned => "note_unsigned",
            Self::SignatureLine { .. } => "signature_line",
            Self::TooManySignatures { .. } => "too_many_signatures",
            Self::KeyName { .. } => "key_name",
            Self::VerifierKey { .. } => "verifier_key",
            Self::VerifierKeyId { .. } => "verifier_key_id",
            Self::UnsupportedKeyType(_) => "unsupported_key_type",
            Self::InvalidSignature { .. } => "invalid_signature",
            Self::NoTrustedSignature { .. } => "no_trusted_signature",
            Self::Checkpoint { .. } => "checkpoint",
            Self::OriginMismatch { .. } => "origin_mismatch",
            Self::CosignatureLength { .. } => "cosignature_length",
            Self::CosignatureTimestamp(_) => "cosignature_timestamp",
            Self::TlogProof { .. } => "tlog_proof",
            Self::AddCheckpoint { .. } => "add_checkpoint",
        }
    }
}
