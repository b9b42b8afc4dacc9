//! The RFC 9162 Merkle tree over stored hashes: roots, proofs, and appending a batch.
//!
//! Each query first lists the ranges of leaves whose Merkle Tree Hash it needs (RFC 9162
//! §2.1.1 `MTH(D[lo:hi])`), breaks each range into complete subtrees, reads all of those in
//! one [`HashReader`] call, then hashes them together. The ranges follow the definitions of
//! RFC 9162 §2.1.3.1 (`PATH`) and §2.1.4.1 (`SUBPROOF`) literally, and every range they
//! produce starts at a multiple of the next power of two at or above its length, so it
//! splits into at most `log2(n)` complete subtrees, largest first, that fold from the right
//! into its hash. A proof reads `O(log n)` stored hashes and never a leaf it does not need.

use super::storage::{check_size, stored_hash_count, stored_hash_index};
use super::{EMPTY_ROOT, Hash, HashReader, LogError, node_hash};

/// A range of leaves `[lo, hi)` whose Merkle Tree Hash is needed.
type Range = (u64, u64);

/// The largest power of two strictly below `n`, for `n >= 2`: where RFC 9162 splits a tree.
fn split_point(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// Calls `f(level, n)` for the complete subtrees covering `[lo, hi)`, left to right.
fn for_each_subtree(range: Range, mut f: impl FnMut(u8, u64)) {
    let (mut lo, hi) = range;
    while lo < hi {
        // The largest complete subtree that starts at `lo` and fits before `hi`.
        let mut level = (hi - lo).ilog2();
        if lo != 0 {
            level = level.min(lo.trailing_zeros());
        }
        f(level as u8, lo >> level);
        lo += 1 << level;
    }
}

/// Reads every subtree the ranges need in one call and returns each range's hash.
fn range_hashes<R: HashReader + ?Sized>(
    reader: &R,
    ranges: &[Range],
) -> Result<Vec<Hash>, LogError> {
    let mut indexes = Vec::new();
    for &range in ranges {
        for_each_subtree(range, |level, n| {
            indexes.push(stored_hash_index(level, n));
        });
    }
    indexes.sort_unstable();
    indexes.dedup();
    let hashes = reader.read_hashes(&indexes)?;
    if hashes.len() != indexes.len() {
        return Err(LogError::StorageShort {
            asked: indexes.len(),
            got: hashes.len(),
        });
    }
    let lookup = |level, n| {
        let at = indexes
            .binary_search(&stored_hash_index(level, n))
            .expect("every subtree's index was collected above");
        hashes[at]
    };
    Ok(ranges
        .iter()
        .map(|&range| {
            let mut parts = Vec::new();
            for_each_subtree(range, |level, n| parts.push(lookup(level, n)));
            fold_right(&parts)
        })
        .collect())
}

/// The hash of a range from its complete subtrees, largest (leftmost) first.
fn fold_right(parts: &[Hash]) -> Hash {
    let mut iter = parts.iter().rev();
    let Some(&last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(last, |right, left| node_hash(left, &right))
}

/// The root hash of the tree of the first `size` leaves (RFC 9162 §2.1.1 `MTH(D[0:size])`).
///
/// Reads at most `log2(size) + 1` stored hashes.
pub fn tree_root<R: HashReader + ?Sized>(reader: &R, size: u64) -> Result<Hash, LogError> {
    check_size(size)?;
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    Ok(range_hashes(reader, &[(0, size)])?[0])
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1),
/// from the leaf's sibling up to the root's child.
pub fn inclusion_proof<R: HashReader + ?Sized>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, LogError> {
    check_size(size)?;
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    path_ranges(index, (0, size), &mut ranges);
    range_hashes(reader, &ranges)
}

/// RFC 9162 `PATH(m, D[lo:hi])`, as the ranges whose hashes make it, innermost first.
fn path_ranges(m: u64, (lo, hi): Range, out: &mut Vec<Range>) {
    if hi - lo == 1 {
        return;
    }
    let k = split_point(hi - lo);
    if m < lo + k {
        path_ranges(m, (lo, lo + k), out);
        out.push((lo + k, hi));
    } else {
        path_ranges(m, (lo + k, hi), out);
        out.push((lo, lo + k));
    }
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves
/// (RFC 9162 §2.1.4.1). Empty when the sizes are equal.
///
/// `old` must be at least 1: the empty tree is a prefix of every tree, with nothing to
/// prove ([`LogError::EmptyOldTree`]).
pub fn consistency_proof<R: HashReader + ?Sized>(
    reader: &R,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, LogError> {
    check_size(new)?;
    if old > new {
        return Err(LogError::SizeOrder { old, new });
    }
    if old == 0 {
        return Err(LogError::EmptyOldTree);
    }
    let mut ranges = Vec::new();
    subproof_ranges(old, (0, new), true, &mut ranges);
    range_hashes(reader, &ranges)
}

/// RFC 9162 `SUBPROOF(m, D[lo:hi], b)`, as ranges, innermost first; `m` counts from `lo`.
fn subproof_ranges(m: u64, (lo, hi): Range, whole: bool, out: &mut Vec<Range>) {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push((lo, hi));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof_ranges(m, (lo, lo + k), whole, out);
        out.push((lo + k, hi));
    } else {
        subproof_ranges(m - k, (lo + k, hi), false, out);
        out.push((lo, lo + k));
    }
}

/// Grows the tree leaf by leaf, keeping only the hashes of its right edge.
///
/// The writer of a log keeps one `Appender`: for each batch of new leaves,
/// [`Appender::append`] returns the stored hashes to write and the new root, with no read
/// at all. After a restart, [`Appender::open`] reads the right edge back (at most 62
/// hashes) from storage. If writing a batch fails, reopen the appender from storage (or
/// keep a clone from before the batch): it has already moved on.
#[derive(Clone, Debug, Default)]
pub struct Appender {
    size: u64,
    /// The hashes of the maximal complete subtrees of the tree, largest (leftmost) first:
    /// one per set bit of `size`.
    edge: Vec<Hash>,
}

/// What one [`Appender::append`] produced: the hashes to store and the tree they make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The stored hash index of `hashes[0]`: the count of hashes stored before the batch.
    pub first_index: u64,
    /// The hashes to append to storage, at `first_index`, `first_index + 1`, ….
    pub hashes: Vec<Hash>,
    /// The tree size after the batch.
    pub size: u64,
    /// The root hash after the batch.
    pub root: Hash,
}

impl Appender {
    /// The appender of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The appender of a stored tree of `size` leaves, reading its right edge (one call,
    /// one hash per set bit of `size`).
    pub fn open<R: HashReader + ?Sized>(reader: &R, size: u64) -> Result<Self, LogError> {
        check_size(size)?;
        let mut indexes = Vec::new();
        for_each_subtree((0, size), |level, n| {
            indexes.push(stored_hash_index(level, n));
        });
        let edge = reader.read_hashes(&indexes)?;
        if edge.len() != indexes.len() {
            return Err(LogError::StorageShort {
                asked: indexes.len(),
                got: edge.len(),
            });
        }
        Ok(Self { size, edge })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        fold_right(&self.edge)
    }

    /// Appends leaves (given by their [`super::leaf_hash`]) and returns the hashes to store
    /// and the new root. An empty batch stores nothing and returns the current root.
    pub fn append(&mut self, leaf_hashes: &[Hash]) -> Result<Batch, LogError> {
        let new_size = self.size.saturating_add(leaf_hashes.len() as u64);
        check_size(new_size)?;
        let first_index = stored_hash_count(self.size);
        let mut hashes = Vec::with_capacity(leaf_hashes.len() * 2 + 1);
        for leaf in leaf_hashes {
            // Leaf n completes one subtree per trailing one bit of n: each merges with the
            // edge's smallest subtree.
            hashes.push(*leaf);
            let mut hash = *leaf;
            for _ in 0..self.size.trailing_ones() {
                let left = self
                    .edge
                    .pop()
                    .expect("one edge subtree per set bit of size");
                hash = node_hash(&left, &hash);
                hashes.push(hash);
            }
            self.edge.push(hash);
            self.size += 1;
        }
        Ok(Batch {
            first_index,
            hashes,
            size: self.size,
            root: self.root(),
        })
    }
}
