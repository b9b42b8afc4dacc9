//! Checking the transparency log from the outside: [`verify_proof`] checks a receipt's
//! `tlog-proof` offline (the checkpoint's signature by one of the collector's public keys,
//! then the inclusion path), and [`audit_tree`] rebuilds the tree from the stored receipts
//! and compares it with every stored checkpoint. Neither writes anything.

use std::fmt;
use std::ops::ControlFlow;

use kelisim_receipt::log::{
    Appender, Hash, LogError, ProofVerified, SignedCheckpoint, TlogProof, TrustedLog,
    receipt_leaf_hash,
};

use super::LogSource;
use super::tree::{StoredCheckpoint, TreeReads, leaf_index};
use crate::keys::PublicKeys;

/// Verifies `proof` (a C2SP tlog-proof) for the receipt `jws`: the checkpoint must be signed
/// by one of `keys` under its origin (and the origin be `origin`, when given), and the
/// inclusion path must lead from the receipt's leaf to the checkpoint's root.
pub fn verify_proof(
    jws: &str,
    proof: &[u8],
    keys: &PublicKeys,
    origin: Option<&str>,
) -> Result<ProofVerified, LogError> {
    let proof = TlogProof::parse(proof)?;
    let signed_origin = proof.checkpoint.checkpoint().origin.clone();
    let origin = origin.unwrap_or(&signed_origin).to_owned();
    let log = TrustedLog {
        keys: keys.log_keys(&origin)?,
        origin,
    };
    proof.verify(&receipt_leaf_hash(jws), &log, &[])
}

/// What [`audit_tree`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TreeReport {
    /// Leaves rebuilt.
    pub leaves: u64,
    /// Checkpoints compared with the rebuilt tree.
    pub checkpoints: u64,
    /// Problems, in log order; empty for an intact tree.
    pub problems: Vec<String>,
    /// The store was migrated offline and the collector has not built its tree yet.
    pub not_built: bool,
}

impl TreeReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for TreeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_intact() && self.not_built {
            return write!(
                f,
                "tree not built yet: the collector adds the receipts to its log when it next starts"
            );
        }
        if self.is_intact() {
            return write!(
                f,
                "tree ok: {} leaves, {} checkpoints match the receipts and are signed",
                self.leaves, self.checkpoints
            );
        }
        writeln!(f, "tree BROKEN: {} problems", self.problems.len())?;
        for problem in &self.problems {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// Most problems listed; the count says how many there were.
const MAX_LISTED: usize = 100;

/// Rebuilds the tree from the receipts in `seq` order (a purged position contributes its
/// stored leaf, which nothing else can check) and checks every stored checkpoint: its
/// signature by one of `keys` under its origin, and its root against the rebuilt tree of
/// its size. A receipt whose JWS does not hash to its stored leaf, a position with no
/// receipt, tombstone or stored leaf, and a checkpoint that does not match are reported with
/// the first bad index.
pub fn audit_tree<E, R>(reader: &R, keys: &PublicKeys) -> Result<TreeReport, E>
where
    R: TreeReads<Error = E> + LogSource<Error = E> + ?Sized,
{
    let stored = StoredTree::read(reader)?;
    let mut leaves = Vec::new();
    reader.scan_log(&mut |row| {
        leaves.push((row.row.seq, receipt_leaf_hash(&row.row.jws)));
        ControlFlow::Continue(())
    })?;
    Ok(stored.check(keys, &leaves))
}

/// What the store keeps of its tree: every checkpoint and the leaf hashes up to the latest.
#[derive(Debug)]
pub struct StoredTree {
    checkpoints: Vec<StoredCheckpoint>,
    /// The latest checkpoint's leaves; `has_hashes` when there is no checkpoint.
    leaves: Vec<Hash>,
    has_hashes: bool,
}

impl StoredTree {
    /// Reads the checkpoints and the leaves they cover (`audit` reads them on a thread of
    /// its own while it walks the receipts).
    pub fn read<E, R>(reader: &R) -> Result<StoredTree, E>
    where
        R: TreeReads<Error = E> + ?Sized,
    {
        let checkpoints = reader.checkpoints()?;
        let (leaves, has_hashes) = match checkpoints.last() {
            Some(latest) => (reader.leaf_hashes(0, latest.size)?, true),
            None => (Vec::new(), reader.leaf_hashes(0, 1).is_ok()),
        };
        Ok(StoredTree {
            checkpoints,
            leaves,
            has_hashes,
        })
    }

    /// [`audit_tree`] with the receipts' leaf hashes already computed, `(seq, leaf)` in log
    /// order: `audit` has them from its own walk (`audit::audit_with_leaves`), so the log
    /// is read once.
    pub fn check(self, keys: &PublicKeys, receipts: &[(i64, Hash)]) -> TreeReport {
        let StoredTree {
            checkpoints,
            leaves: stored,
            has_hashes,
        } = self;
        let Some(latest) = checkpoints.last() else {
            // Migrated offline (`erase`, `purge`, `restore` on an older store): the
            // collector builds the tree when it next starts. Stored hashes without a
            // checkpoint are not something the collector ever writes.
            return TreeReport {
                not_built: true,
                problems: if has_hashes {
                    vec!["the tree has stored hashes but no checkpoint".into()]
                } else {
                    Vec::new()
                },
                ..TreeReport::default()
            };
        };
        let size = latest.size;
        check_leaves(&checkpoints, &stored, size, keys, receipts)
    }
}

/// The rebuild itself: `stored` holds the leaves `0..size` of the latest checkpoint.
fn check_leaves(
    checkpoints: &[StoredCheckpoint],
    stored: &[Hash],
    size: u64,
    keys: &PublicKeys,
    receipts: &[(i64, Hash)],
) -> TreeReport {
    let mut report = TreeReport::default();
    let problem = |report: &mut TreeReport, text: String| {
        if report.problems.len() < MAX_LISTED {
            report.problems.push(text);
        }
    };
    // Leaves: the receipt's own where there is one, else the stored one (purged). The
    // receipts come in log order and are merged with the stored leaves as they go, with no
    // third copy of the tree's leaves in memory.
    debug_assert!(
        receipts.is_sorted_by_key(|(seq, _)| *seq),
        "receipts in log order"
    );
    let beyond = receipts
        .iter()
        .filter(|(seq, _)| leaf_index(*seq) >= size)
        .count();
    if beyond > 0 {
        problem(
            &mut report,
            format!("{beyond} receipts are beyond the latest checkpoint (size {size})"),
        );
    }
    let mut own = receipts
        .iter()
        .map(|(seq, leaf)| (leaf_index(*seq), *leaf))
        .peekable();
    let mut appender = Appender::new();
    let mut next = checkpoints.iter().peekable();
    let check = |report: &mut TreeReport, appender: &Appender, cp: &StoredCheckpoint| {
        report.checkpoints += 1;
        if let Err(e) = check_checkpoint(cp, appender.root(), keys) {
            problem(report, format!("checkpoint of size {}: {e}", cp.size));
        }
    };
    while let Some(cp) = next.next_if(|c| c.size == 0) {
        check(&mut report, &appender, cp);
    }
    for (index, stored) in stored.iter().enumerate() {
        let at = index as u64;
        while own.next_if(|(i, _)| *i < at).is_some() {}
        let leaf = match own.next_if(|(i, _)| *i == at).map(|(_, leaf)| leaf) {
            Some(leaf) if leaf != *stored => {
                problem(
                    &mut report,
                    format!(
                        "leaf {index} (seq {}): the receipt does not hash to the stored leaf",
                        index + 1
                    ),
                );
                leaf
            }
            Some(leaf) => leaf,
            None => *stored,
        };
        if let Err(e) = appender.append(&[leaf]) {
            problem(&mut report, format!("leaf {index}: {e}"));
            break;
        }
        while let Some(cp) = next.next_if(|c| c.size == appender.size()) {
            check(&mut report, &appender, cp);
        }
    }
    report.leaves = appender.size();
    report
}

/// One checkpoint against the rebuilt root of its size.
fn check_checkpoint(cp: &StoredCheckpoint, rebuilt: Hash, keys: &PublicKeys) -> Result<(), String> {
    let signed = SignedCheckpoint::parse(cp.note.as_bytes()).map_err(|e| e.to_string())?;
    let checkpoint = signed.checkpoint();
    let log = TrustedLog {
        origin: checkpoint.origin.clone(),
        keys: keys
            .log_keys(&checkpoint.origin)
            .map_err(|e| e.to_string())?,
    };
    signed
        .verify(&log)
        .map_err(|e| format!("not signed by a key of the JWKS: {e}"))?;
    if checkpoint.size != cp.size || checkpoint.root != cp.root {
        return Err("the signed note does not say what its row says".into());
    }
    if checkpoint.root != rebuilt {
        return Err(format!(
            "root {} is not the root {rebuilt} of the stored receipts",
            checkpoint.root
        ));
    }
    Ok(())
}
