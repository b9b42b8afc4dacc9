//! Where the tree's hashes live: one append-only sequence, numbered by the stored hash index.
//!
//! The layout is the one of Go's checksum database (`golang.org/x/mod/sumdb/tlog`, after
//! Crosby and Wallach, "Efficient Data Structures for Tamper-Evident Logging", §3.3): the
//! hash of every *complete* subtree, appended in the order the subtrees complete. Leaf `n`
//! appends its own hash, then the hash of each subtree it completes, smallest first, so it
//! writes `1 + trailing_ones(n)` hashes (two on average). The subtree of `2^level` leaves
//! starting at leaf `n · 2^level` sits at [`stored_hash_index`]`(level, n)`.
//!
//! The sequence is only ever appended to, and a tree of `n` leaves has exactly
//! [`stored_hash_count`]`(n)` (under `2n`) of them, so it fits
//!
//! * a SQL table `(index INTEGER PRIMARY KEY, hash BLOB)` (an index is below 2^63 for
//!   every tree size this crate accepts, so it fits SQLite's signed 64-bit integer), or
//! * C2SP tlog-tiles: a tile at tile level `L` holds the stored hashes at tree level `8L`
//!   ([`super::tiles`]); the levels in between are recomputed from the tile when needed.
//!
//! A tree of any size up to the stored one can be proven from the same sequence: nothing
//! is rewritten when the tree grows.

use super::{Hash, LogError};

/// The largest tree size this crate handles: 2^62 leaves, so every stored hash index and
/// count stays below 2^63 (an SQLite `INTEGER`).
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Reads stored hashes by their stored hash index.
///
/// Every tree operation makes at most one call, asking for at most a few times `log2(n)`
/// indexes, sorted ascending and without duplicates.
pub trait HashReader {
    /// Returns the hashes at `indexes`, one per index and in the same order.
    ///
    /// A backend wraps its own failures with [`LogError::storage`].
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        (**self).read_hashes(indexes)
    }
}

/// The stored hash index of the complete subtree of `2^level` leaves that starts at leaf
/// `n · 2^level`.
///
/// Level 0 is the leaves themselves; `n` counts subtrees within the level. Defined for the
/// subtrees of trees up to [`MAX_TREE_SIZE`] leaves.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // The subtree is stored right after the leaf that completes it, leaf
    // m = (n + 1) · 2^level - 1, and after the `level` smaller subtrees that leaf completes
    // first. Leaf m itself sits after m + m/2 + m/4 + … hashes: one per complete subtree
    // of each size among the first m leaves.
    let m = ((n + 1) << level) - 1;
    let mut before = 0;
    let mut k = m;
    while k > 0 {
        before += k;
        k >>= 1;
    }
    before + u64::from(level)
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` of the subtree stored at `index`.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // stored_hash_index(0, m) = 2m - popcount(m), so leaf index/2 is stored at or before
    // `index`, and the leaf whose hashes include `index` is at most 64 leaves further on.
    let mut m = index / 2;
    let mut at = stored_hash_index(0, m);
    loop {
        let next = at + 1 + u64::from((m + 1).trailing_zeros());
        if next > index {
            break;
        }
        m += 1;
        at = next;
    }
    let level = (index - at) as u8;
    (level, m >> level)
}

/// How many hashes a tree of `size` leaves has stored: the index the next leaf's hash gets.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    // Leaf size - 1 and the subtrees it completed, one per trailing one bit of size - 1.
    stored_hash_index(0, size - 1) + 1 + u64::from((size - 1).trailing_ones())
}

/// Refuses a tree size past [`MAX_TREE_SIZE`].
pub(crate) fn check_size(size: u64) -> Result<(), LogError> {
    if size > MAX_TREE_SIZE {
        return Err(LogError::TreeTooLarge { size });
    }
    Ok(())
}

/// Stored hashes in memory, indexed by position: for tests, benchmarks and small logs.
#[derive(Clone, Debug, Default)]
pub struct MemoryHashes {
    hashes: Vec<Hash>,
}

impl MemoryHashes {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes hashes starting at stored hash index `first`, which must be the current
    /// length (the sequence is append-only): what [`super::Batch`] asks for.
    ///
    /// # Panics
    ///
    /// If `first` is not the current length; a gap or an overwrite is a caller's bug.
    pub fn write(&mut self, first: u64, hashes: &[Hash]) {
        assert_eq!(
            first,
            self.hashes.len() as u64,
            "stored hashes are append-only"
        );
        self.hashes.extend_from_slice(hashes);
    }

    /// How many hashes are stored.
    pub fn len(&self) -> u64 {
        self.hashes.len() as u64
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// All stored hashes, by index.
    pub fn as_slice(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or_else(|| {
                        LogError::storage(format!(
                            "no stored hash at index {i}: the store holds {}",
                            self.hashes.len()
                        ))
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_stored_hashes_are_in_completion_order() {
        // Leaves 0..4: 0 | 1, (0-1) | 2 | 3, (2-3), (0-3).
        let want = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
        ];
        for (index, &(level, n)) in want.iter().enumerate() {
            assert_eq!(stored_hash_index(level, n), index as u64, "({level}, {n})");
            assert_eq!(split_stored_hash_index(index as u64), (level, n));
        }
    }

    #[test]
    fn index_and_split_are_inverse_and_counts_agree() {
        for index in 0..20_000u64 {
            let (level, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(level, n), index);
        }
        for size in 0..5_000u64 {
            assert_eq!(stored_hash_count(size), stored_hash_index(0, size));
        }
        // The largest tree's indexes stay below 2^63.
        let count = stored_hash_count(MAX_TREE_SIZE);
        assert!(count < 1 << 63, "{count}");
        let (level, n) = split_stored_hash_index(count - 1);
        assert_eq!((level, n), (62, 0));
    }
}
