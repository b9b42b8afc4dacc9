//! RFC 9162 §2.1.1 hashing: SHA-256 with a one-byte prefix that keeps leaves and nodes apart.
//!
//! A leaf hash is `SHA-256(0x00 || data)` and an interior node `SHA-256(0x01 || left || right)`,
//! so no leaf can pass for a node (the second-preimage defence of RFC 9162 §2.1.1). The empty
//! tree's root is `SHA-256("")`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::LogError;

/// A SHA-256 hash: of a leaf, of an interior node, or a tree's root.
///
/// Displayed and parsed as standard base64 with padding, the form every C2SP format uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

/// The root of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

impl Hash {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses standard base64 with padding that decodes to exactly 32 bytes.
    ///
    /// `what` names the field in the error (for example `"root hash"`).
    pub fn from_base64(text: &str, what: &'static str) -> Result<Self, LogError> {
        let bad = || LogError::BadHash {
            what,
            text: text.chars().take(60).collect(),
        };
        // 32 bytes are always 44 characters; checking first bounds the work on hostile input.
        if text.len() != 44 {
            return Err(bad());
        }
        let bytes = STANDARD.decode(text).map_err(|_| bad())?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(Self(array))
    }

    /// The hash as standard base64 with padding (44 characters).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    Hash(hasher.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// The leaf hash of a Kelisim receipt: [`leaf_hash`] over the receipt's compact JWS, as ASCII.
///
/// The JWS is what the visitor holds and what any JOSE library verifies, so the leaf is
/// checkable from the receipt alone, with nothing re-encoded.
pub fn receipt_leaf_hash(compact_jws: &str) -> Hash {
    leaf_hash(compact_jws.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn base64_round_trips_and_refuses_what_is_not_32_bytes() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64(), "hash").ok(), Some(h));
        for bad in [
            "",
            "AAAA",
            // 33 bytes.
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            // 44 characters, not base64.
            "!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            // Unpadded.
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            // EMPTY_ROOT with its 2 unused trailing bits set: not the canonical encoding.
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",
        ] {
            let err = Hash::from_base64(bad, "root hash").expect_err(bad);
            assert_eq!(err.code(), "bad_hash", "{bad}");
        }
    }
}
