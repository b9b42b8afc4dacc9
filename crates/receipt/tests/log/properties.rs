//! Properties checked exhaustively on small trees: every root and proof equals RFC 9162's
//! definition and verifies, every tampered proof fails, the appender resumes anywhere, and
//! queries read a logarithmic number of stored hashes in one call.

use std::cell::RefCell;
use std::collections::HashMap;

use kelisim_receipt::log::{
    Appender, Hash, HashReader, LogError, MAX_TREE_SIZE, MemoryHashes, consistency_proof,
    inclusion_proof, leaf_hash, tree_root, verify_consistency, verify_inclusion,
};

use super::{build, reference_root};

/// RFC 9162 §2.1 straight from the definitions, over leaf hashes, memoising `MTH`.
struct Reference<'a> {
    leaves: &'a [Hash],
    memo: HashMap<(usize, usize), Hash>,
}

impl<'a> Reference<'a> {
    fn new(leaves: &'a [Hash]) -> Self {
        Self {
            leaves,
            memo: HashMap::new(),
        }
    }

    fn mth(&mut self, lo: usize, hi: usize) -> Hash {
        if let Some(h) = self.memo.get(&(lo, hi)) {
            return *h;
        }
        let h = reference_root(&self.leaves[lo..hi]);
        self.memo.insert((lo, hi), h);
        h
    }

    /// `PATH(m, D[lo:hi])`.
    fn path(&mut self, m: usize, lo: usize, hi: usize) -> Vec<Hash> {
        let n = hi - lo;
        if n == 1 {
            return Vec::new();
        }
        let k = 1 << (n - 1).ilog2();
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// `SUBPROOF(m, D[lo:hi], b)`.
    fn subproof(&mut self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<Hash> {
        let n = hi - lo;
        if m == n {
            return if b {
                Vec::new()
            } else {
                vec![self.mth(lo, hi)]
            };
        }
        let k = 1 << (n - 1).ilog2();
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }
}

#[test]
fn roots_and_inclusion_proofs_match_rfc_9162_for_every_size_up_to_300() {
    let (store, leaves) = build(300);
    let mut reference = Reference::new(&leaves);
    let mut proofs = 0;
    for size in 1..=300u64 {
        let root = tree_root(&store, size).expect("stored");
        assert_eq!(root, reference.mth(0, size as usize), "root of {size}");
        for index in 0..size {
            let proof = inclusion_proof(&store, index, size).expect("in range");
            assert_eq!(
                proof,
                reference.path(index as usize, 0, size as usize),
                "PATH({index}, D[{size}])"
            );
            verify_inclusion(&leaves[index as usize], index, size, &proof, &root)
                .unwrap_or_else(|e| panic!("({index}, {size}): {e}"));
            proofs += 1;
        }
    }
    assert_eq!(proofs, 300 * 301 / 2);
}

#[test]
fn consistency_proofs_match_rfc_9162_for_every_pair_up_to_160() {
    let (store, leaves) = build(160);
    let mut reference = Reference::new(&leaves);
    for new in 1..=160u64 {
        let new_root = reference.mth(0, new as usize);
        for old in 1..=new {
            let proof = consistency_proof(&store, old, new).expect("in range");
            assert_eq!(
                proof,
                reference.subproof(old as usize, 0, new as usize, true),
                "PROOF({old}, D[{new}])"
            );
            let old_root = reference.mth(0, old as usize);
            verify_consistency(old, new, &old_root, &new_root, &proof)
                .unwrap_or_else(|e| panic!("({old}, {new}): {e}"));
        }
    }
}

/// The proof with bit `bit` of hash `at` flipped.
fn flipped(proof: &[Hash], at: usize, bit: usize) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[at].0[bit / 8] ^= 1 << (bit % 8);
    p
}

#[test]
fn every_tampered_inclusion_proof_fails() {
    let (store, leaves) = build(70);
    for size in 1..=70u64 {
        let root = tree_root(&store, size).expect("stored");
        for index in 0..size {
            let leaf = leaves[index as usize];
            let proof = inclusion_proof(&store, index, size).expect("in range");
            let fails = |leaf: &Hash, index, proof: &[Hash], root: &Hash| {
                verify_inclusion(leaf, index, size, proof, root).is_err()
            };
            for at in 0..proof.len() {
                for bit in [0, 77, 255] {
                    assert!(fails(&leaf, index, &flipped(&proof, at, bit), &root));
                }
            }
            if !proof.is_empty() {
                assert!(fails(&leaf, index, &proof[..proof.len() - 1], &root));
            }
            let mut longer = proof.clone();
            longer.push(leaf);
            assert!(fails(&leaf, index, &longer, &root));
            assert!(fails(&leaf_hash(b"not a receipt"), index, &proof, &root));
            assert!(fails(&leaf, index, &proof, &leaf_hash(b"another root")));
            for other in [index ^ 1, index + 1, index.wrapping_sub(1)] {
                if other < size && other != index {
                    assert!(
                        fails(&leaf, other, &proof, &root),
                        "({index}->{other}, {size})"
                    );
                }
            }
            assert!(fails(&leaf, size, &proof, &root));
        }
    }
}

#[test]
fn every_tampered_consistency_proof_fails() {
    let (store, _) = build(70);
    let roots: Vec<Hash> = (0..=70)
        .map(|n| tree_root(&store, n).expect("stored"))
        .collect();
    for new in 1..=70u64 {
        for old in 1..=new {
            let proof = consistency_proof(&store, old, new).expect("in range");
            let (old_root, new_root) = (roots[old as usize], roots[new as usize]);
            let fails = |old, proof: &[Hash], old_root: &Hash, new_root: &Hash| {
                verify_consistency(old, new, old_root, new_root, proof).is_err()
            };
            for at in 0..proof.len() {
                for bit in [0, 128, 255] {
                    assert!(fails(old, &flipped(&proof, at, bit), &old_root, &new_root));
                }
            }
            if !proof.is_empty() {
                assert!(fails(old, &proof[..proof.len() - 1], &old_root, &new_root));
            }
            let mut longer = proof.clone();
            longer.push(new_root);
            assert!(fails(old, &longer, &old_root, &new_root));
            let other = leaf_hash(b"rewritten");
            assert!(fails(old, &proof, &other, &new_root), "({old}, {new})");
            assert!(fails(old, &proof, &old_root, &other), "({old}, {new})");
            if old != new {
                assert!(fails(old, &proof, &new_root, &old_root), "swapped");
                if old + 1 < new {
                    assert!(
                        fails(old + 1, &proof, &old_root, &new_root),
                        "({old}+1, {new})"
                    );
                }
            }
        }
    }
}

#[test]
fn the_appender_reopened_at_any_size_continues_identically() {
    let (store, leaves) = build(200);
    for split in 0..=200u64 {
        let mut appender = Appender::open(&store, split).expect("stored");
        assert_eq!(appender.size(), split);
        assert_eq!(appender.root(), reference_root(&leaves[..split as usize]));
        let batch = appender
            .append(&leaves[split as usize..])
            .expect("in range");
        let first = batch.first_index as usize;
        assert_eq!(
            batch.hashes,
            store.as_slice()[first..],
            "resumed at {split}"
        );
        assert_eq!(batch.size, 200);
        assert_eq!(batch.root, reference_root(&leaves));
    }
    // An empty batch writes nothing and keeps the root.
    let mut appender = Appender::open(&store, 200).expect("stored");
    let batch = appender.append(&[]).expect("in range");
    assert!(batch.hashes.is_empty());
    assert_eq!(batch.first_index, store.len());
    assert_eq!(batch.root, reference_root(&leaves));
}

/// A reader that records every call.
struct Counting<'a> {
    inner: &'a MemoryHashes,
    calls: RefCell<Vec<Vec<u64>>>,
}

impl HashReader for Counting<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        self.calls.borrow_mut().push(indexes.to_vec());
        self.inner.read_hashes(indexes)
    }
}

#[test]
fn each_query_reads_logarithmically_many_hashes_in_one_sorted_call() {
    let n = 100_003u64;
    let (store, _) = build(n);
    let reader = Counting {
        inner: &store,
        calls: RefCell::new(Vec::new()),
    };
    let log2 = 64 - n.leading_zeros() as usize; // 17
    let check = |what: &str, limit: usize| {
        let calls = reader.calls.take();
        assert_eq!(calls.len(), 1, "{what}: one call");
        let indexes = &calls[0];
        assert!(
            indexes.len() <= limit,
            "{what}: {} hashes read",
            indexes.len()
        );
        assert!(
            indexes.windows(2).all(|w| w[0] < w[1]),
            "{what}: sorted, distinct"
        );
    };
    tree_root(&reader, n).expect("stored");
    check("root", log2);
    // Indexes spread over the tree, including both ends and power-of-two edges.
    let mut x = 12_345u64;
    let mut samples = vec![0, 1, 65_535, 65_536, n - 2, n - 1];
    for _ in 0..200 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1) % n;
        samples.push(x);
    }
    for &index in &samples {
        inclusion_proof(&reader, index, n).expect("in range");
        check("inclusion", 2 * log2);
        let old = index.max(1);
        consistency_proof(&reader, old, n).expect("in range");
        check("consistency", 2 * log2 + 1);
    }
    Appender::open(&reader, n).expect("stored");
    check("appender", log2);
}

/// A reader whose storage fails, or answers short.
struct Broken {
    short: bool,
}

impl HashReader for Broken {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        if self.short {
            Ok(vec![leaf_hash(b""); indexes.len().saturating_sub(1)])
        } else {
            Err(LogError::storage("disk on fire"))
        }
    }
}

#[test]
fn storage_failures_surface_as_errors_not_panics() {
    for (short, code) in [(false, "storage"), (true, "storage_short")] {
        let reader = Broken { short };
        assert_eq!(tree_root(&reader, 5).expect_err("broken").code(), code);
        assert_eq!(
            inclusion_proof(&reader, 1, 5).expect_err("broken").code(),
            code
        );
        assert_eq!(
            consistency_proof(&reader, 3, 5).expect_err("broken").code(),
            code
        );
        assert_eq!(Appender::open(&reader, 5).expect_err("broken").code(), code);
    }
    let message = tree_root(&Broken { short: false }, 5)
        .expect_err("broken")
        .to_string();
    assert!(message.contains("disk on fire"), "{message}");
}

#[test]
fn out_of_range_requests_are_refused_with_their_reason() {
    let (store, leaves) = build(10);
    let code = |r: Result<Vec<Hash>, LogError>| r.expect_err("refused").code();
    assert_eq!(code(inclusion_proof(&store, 10, 10)), "index_out_of_range");
    assert_eq!(code(inclusion_proof(&store, 0, 0)), "index_out_of_range");
    assert_eq!(code(consistency_proof(&store, 5, 4)), "size_order");
    assert_eq!(code(consistency_proof(&store, 0, 4)), "empty_old_tree");
    assert_eq!(
        tree_root(&store, MAX_TREE_SIZE + 1)
            .expect_err("refused")
            .code(),
        "tree_too_large"
    );
    let root = tree_root(&store, 10).expect("stored");
    let err = verify_inclusion(&leaves[0], 10, 10, &[], &root).expect_err("refused");
    assert_eq!(err.code(), "index_out_of_range");
    let err = verify_consistency(0, 10, &root, &root, &[]).expect_err("refused");
    assert_eq!(err.code(), "empty_old_tree");
    let err = verify_consistency(3, 2, &root, &root, &[]).expect_err("refused");
    assert_eq!(err.code(), "size_order");
    // A tree at the size limit takes no more leaves (its right edge is one stored hash).
    let full = Broken { short: false };
    assert!(Appender::open(&full, MAX_TREE_SIZE).is_err());
    let mut at_limit = Appender::open(&AnyHash, MAX_TREE_SIZE).expect("one hash read");
    assert_eq!(
        at_limit.append(&leaves[..1]).expect_err("full").code(),
        "tree_too_large"
    );
}

/// A reader that answers every index with the same hash.
struct AnyHash;

impl HashReader for AnyHash {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        Ok(vec![leaf_hash(b"any"); indexes.len()])
    }
}
