//! Checking proofs with nothing but hashes: RFC 9162 §2.1.3.2 and §2.1.4.2, step by step.
//!
//! These are what a verifier holding a receipt, a proof and a signed root runs; they read no
//! storage. Each refuses a proof of the wrong length before hashing anything.

use super::{Hash, LogError, node_hash};

/// The root that an inclusion proof leads to from `leaf` at `index` in a tree of `size`
/// (RFC 9162 §2.1.3.2, without the final comparison).
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, LogError> {
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let want = inclusion_proof_len(index, size);
    if proof.len() != want {
        return Err(LogError::ProofLength {
            got: proof.len(),
            want,
        });
    }
    // The RFC's fn/sn: the node's index at the current level, and the last index there.
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf;
    for p in proof {
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            // A right-edge node with no right sibling: climb until it is a right child.
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    // The length check above guarantees s reached 0; this is the RFC's final test.
    debug_assert_eq!(s, 0);
    Ok(r)
}

/// Checks that `proof` shows `leaf` at `index` in the tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LogError> {
    if root_from_inclusion_proof(leaf, index, size, proof)? == *root {
        Ok(())
    } else {
        Err(LogError::RootMismatch)
    }
}

/// The length of an inclusion proof for `index` in a tree of `size` (`index < size`): one
/// hash per level below the point where the paths to `index` and to the last leaf part,
/// and one per left sibling above it.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// Checks that `proof` shows the tree of `new_size` leaves with `new_root` extends the tree
/// of `old_size` leaves with `old_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. An `old_size` of 0 is refused
/// ([`LogError::EmptyOldTree`]): no proof is needed, or meaningful, from the empty tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    if old_size > new_size {
        return Err(LogError::SizeOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Err(LogError::EmptyOldTree);
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(LogError::ProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(LogError::RootMismatch)
        };
    }
    let want = consistency_proof_len(old_size, new_size);
    if proof.len() != want {
        return Err(LogError::ProofLength {
            got: proof.len(),
            want,
        });
    }

    // Step 1: when the old tree is a complete subtree, its root is the proof's first node.
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(old_root);
    }
    path.extend(proof);

    // Steps 2-4: fn, sn; skip the levels where the old tree's last leaf is a right child.
    let mut f = old_size - 1;
    let mut s = new_size - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = *path[0];
    let mut sr = *path[0];
    for c in &path[1..] {
        if s == 0 {
            return Err(LogError::ProofLength {
                got: proof.len(),
                want,
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(LogError::ProofLength {
            got: proof.len(),
            want,
        });
    }
    if fr != *old_root {
        return Err(LogError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(LogError::RootMismatch);
    }
    Ok(())
}

/// The length of a consistency proof from `old` to `new` leaves (`0 < old < new`).
pub fn consistency_proof_len(old: u64, new: u64) -> usize {
    // The proof is the inclusion path of the old tree's last leaf, from the level of the
    // largest complete subtree ending there, plus that subtree's own hash unless it is the
    // whole old tree (whose root the verifier holds).
    let shift = old.trailing_zeros();
    let len = inclusion_proof_len((old - 1) >> shift, ((new - 1) >> shift) + 1);
    if old.is_power_of_two() { len } else { len + 1 }
}
