//! The store's writer thread: group commit of sequenced, signed receipts.
//!
//! One thread owns the read-write connection and the signing key. It blocks for a job,
//! drains what else is queued (up to [`MAX_BATCH`]), and handles the batch in one
//! `BEGIN IMMEDIATE` transaction; every job is answered only after `COMMIT` returned, and if
//! the batch rolls back, every job is told so and the chain tip is restored. Consecutive
//! receipts form a run ([`Run`]): sequenced one by one, signed in parallel (payload v3 links to
//! no other receipt), then stored in `seq` order. The batch's new
//! receipts are appended to the transparency log's tree and a checkpoint of the new size is
//! signed inside the same transaction (`tree.rs`), so a checkpoint never outlives a crash
//! that loses its receipts; a rollback restores the tree's edge too.

use kelisim_receipt::log::{Appender, NoteSigner};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

#[cfg(feature = "testing")]
use super::fault::{self, Faults};
use super::{SCHEMA_VERSION, StoreError};
use crate::keys::Signer;
use crate::log::Tip;
use crate::ops::metrics::WriterMetrics;
use crate::receipt::{PreparedReceipt, Stamp};
use crate::store::Issued;
use crate::store::batch::{Committer, Job, Outcome, ReceiptTx, Run, replay_or_conflict, settle};

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) signer: Signer,
    pub(super) tip: Tip,
    /// The transparency log's right edge, extended in each batch's transaction.
    pub(super) tree: Appender,
    /// The log key (the receipt signing key under the log's origin) for checkpoints.
    pub(super) note_signer: NoteSigner,
    pub(super) metrics: WriterMetrics,
    /// Tests only: the fault file (see [`fault`]) and the faults applied from it.
    #[cfg(feature = "testing")]
    pub(super) fault_file: std::sync::Arc<std::sync::OnceLock<std::path::PathBuf>>,
    #[cfg(feature = "testing")]
    pub(super) faults: Faults,
}

impl Committer for Writer {
    fn commit(&mut self, batch: &mut Vec<Job>) {
        self.commit_batch(batch);
    }

    fn keys(&mut self) -> (&mut Signer, &mut NoteSigner) {
        (&mut self.signer, &mut self.note_signer)
    }
}

impl Writer {
    /// Handles `batch` in one transaction and answers every job after the commit.
    fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        #[cfg(feature = "testing")]
        if let Some(path) = self.fault_file.get() {
            fault::apply(&self.conn, &mut self.faults, Faults::read(path));
            if let Some(stall) = self.faults.stall {
                std::thread::sleep(stall);
            }
        }
        let start = self.tip.clone();
        let start_tree = self.tree.clone();
        let started = std::time::Instant::now();
        self.metrics.batch_size.observe(batch.len() as f64);
        let mut outcomes = Vec::with_capacity(batch.len());
        let result = self.write_batch(batch, &mut outcomes);
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => settle(outcomes, None),
            Err(e) => {
                // Rolled back: nothing of this batch exists, so no job may be acknowledged.
                tracing::error!(error = %e, jobs = outcomes.len(), "receipt batch rolled back");
                self.tip = start;
                self.tree = start_tree;
                let transient = is_transient(&e);
                let failure = || {
                    if transient {
                        StoreError::Unwritable(e.to_string())
                    } else {
                        StoreError::Commit(e.to_string())
                    }
                };
                settle(outcomes, Some(&failure));
            }
        }
    }

    /// Moves every job of `batch` into `outcomes` (so each can be answered whatever happens)
    /// and commits; an `Err` means the transaction was rolled back.
    fn write_batch(
        &mut self,
        batch: &mut Vec<Job>,
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), rusqlite::Error> {
        let start_seq = self.tip.seq;
        let mut pinged = false;
        let mut leaves = Vec::new();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate);
        let mut failed = None;
        let tx = match tx {
            Ok(tx) => Some(tx),
            Err(e) => {
                failed = Some(e);
                None
            }
        };
        let mut run = Run::default();
        for job in batch.drain(..) {
            match job {
                Job::Issue { receipt, reply } => {
                    let result = match (&tx, &failed) {
                        (Some(tx), None) => {
                            match run.sequence(
                                &mut SqlTx(tx),
                                &mut self.tip,
                                *receipt,
                                outcomes.len(),
                            ) {
                                Ok(result) => result,
                                Err(e) => {
                                    failed = Some(e);
                                    Err(StoreError::WriterStopped)
                                }
                            }
                        }
                        _ => Err(StoreError::WriterStopped),
                    };
                    outcomes.push(Outcome::Issue(reply, result));
                }
                Job::Ping { reply } => {
                    pinged = true;
                    outcomes.push(Outcome::Ping(reply));
                }
                Job::Maintain { op, reply } => {
                    // A change applies after the receipts queued before it, as they came.
                    if let (Some(tx), None) = (&tx, &failed)
                        && let Err(e) = run.finish(
                            &mut SqlTx(tx),
                            &self.signer,
                            &mut self.tip,
                            &mut leaves,
                            outcomes,
                        )
                    {
                        failed = Some(e);
                    }
                    let result = match (&tx, &failed) {
                        (Some(tx), None) => match super::admin::apply(tx, &op) {
                            Ok(answer) => answer,
                            Err(e) => {
                                failed = Some(e);
                                Err(StoreError::WriterStopped)
                            }
                        },
                        _ => Err(StoreError::WriterStopped),
                    };
                    outcomes.push(Outcome::Maintain(reply, result));
                }
                // Handled in `take`, never batched.
                Job::SetSigner { .. } | Job::Shutdown => {}
            }
        }
        if let (Some(tx), None) = (&tx, &failed)
            && let Err(e) = run.finish(
                &mut SqlTx(tx),
                &self.signer,
                &mut self.tip,
                &mut leaves,
                outcomes,
            )
        {
            failed = Some(e);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let Some(tx) = tx else { return Ok(()) };
        if pinged {
            // Readiness means "a write reaches the disk": rewrite the schema version (the same
            // value), so a read-only or failing store fails the ping, not just the receipts.
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        if self.tip.seq != start_seq {
            tx.prepare_cached(
                "INSERT INTO chain_head (id, seq, jws_sha256) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, jws_sha256 = excluded.jws_sha256",
            )?
            .execute(params![self.tip.seq, self.tip.hash])?;
            // The batch's leaves and the checkpoint of the new size commit with the receipts:
            // no checkpoint ever names a size that is not on disk.
            debug_assert_eq!(
                self.tree.size(),
                crate::log::tree::leaf_index(start_seq + 1),
                "leaf index = seq - 1"
            );
            super::tree::append(&tx, &mut self.tree, &leaves, &self.note_signer)?;
        }
        // A batch of pings commits an empty write transaction: proof the database is writable.
        tx.commit()
    }
}

/// Whether a failed batch may succeed later without anyone fixing the collector: the disk is
/// full, read-only or failing, or the database is locked by another process.
fn is_transient(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(
        e.sqlite_error_code(),
        Some(
            C::DiskFull
                | C::ReadOnly
                | C::SystemIoFailure
                | C::DatabaseBusy
                | C::DatabaseLocked
                | C::CannotOpen
        )
    )
}

/// A batch's transaction, as [`Run`] uses it.
struct SqlTx<'t, 'c>(&'t rusqlite::Transaction<'c>);

impl ReceiptTx for SqlTx<'_, '_> {
    type Error = rusqlite::Error;

    fn stored_answer(
        &mut self,
        receipt: &PreparedReceipt,
    ) -> Result<Option<Result<Issued, StoreError>>, rusqlite::Error> {
        stored_answer(self.0, receipt)
    }

    fn insert(
        &mut self,
        receipt: &PreparedReceipt,
        stamp: &Stamp,
        signer: &Signer,
        jws: &str,
        jws_sha256: &str,
    ) -> Result<(), rusqlite::Error> {
        insert_row(self.0, receipt, stamp, signer, jws, jws_sha256)
    }
}

/// [`ReceiptTx::stored_answer`] in SQLite.
fn stored_answer(
    tx: &rusqlite::Transaction<'_>,
    receipt: &PreparedReceipt,
) -> Result<Option<Result<Issued, StoreError>>, rusqlite::Error> {
    let existing: Option<(String, i64, String, String)> = tx
        .prepare_cached(
            "SELECT id, seq, jws, request_sha256 FROM receipts WHERE site = ?1 AND ref = ?2",
        )?
        .query_row(params![receipt.site, receipt.reference], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    if let Some((id, seq, jws, request_sha256)) = existing {
        let stored = Issued {
            id,
            seq,
            jws,
            created: false,
        };
        return Ok(Some(replay_or_conflict(receipt, stored, &request_sha256)));
    }
    if let Some(withdrawn) = &receipt.withdraws {
        let earlier: Option<(String, i64, String)> = tx
            .prepare_cached("SELECT id, seq, jws FROM receipts WHERE withdraws = ?1")?
            .query_row([withdrawn], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((id, seq, jws)) = earlier {
            // A consent is withdrawn once; asking again gets that withdrawal.
            return Ok(Some(Ok(Issued {
                id,
                seq,
                jws,
                created: false,
            })));
        }
    }
    Ok(None)
}

/// Stores one signed receipt at `stamp`: its row, what later consents of its browser follow,
/// its cookie choices for the analytics, and its subject index entries (or its erasure, when
/// it withdraws a consent whose subject was erased). The writer and the bench loader share it.
pub(super) fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    receipt: &PreparedReceipt,
    stamp: &Stamp,
    signer: &Signer,
    jws: &str,
    jws_sha256: &str,
) -> Result<(), rusqlite::Error> {
    // A withdrawal repeats the subject of the consent it withdraws (its commitments, with
    // their salt and index entries). If that consent's subject was erased, the withdrawal's
    // is erased from the start (an `erasures` row, which `audit` then checks, instead of index
    // rows and a salt): indexing it would put the person back in the search.
    let erased = match &receipt.withdraws {
        Some(withdrawn) => tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM receipts r JOIN erasures e ON e.seq = r.seq
                                WHERE r.id = ?1)",
            )?
            .query_row([withdrawn], |r| r.get(0))?,
        None => false,
    };
    let private = &receipt.private;
    tx.prepare_cached(
        "INSERT INTO receipts (seq, id, site, ref, request_sha256, kind, event, policy_version,
                               lang, form_id, browser_id, issued_at, kid, jws, jws_sha256,
                               withdraws, holder_sha256, subject_salt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        stamp.seq,
        stamp.id,
        receipt.site,
        receipt.reference,
        receipt.request_sha256,
        receipt.kind.as_str(),
        receipt.event.as_str(),
        receipt.policy.version,
        receipt.notice.lang,
        receipt.context.form_id,
        private.browser,
        stamp.issued_at,
        signer.kid(),
        jws,
        jws_sha256,
        receipt.withdraws,
        private.holder_sha256,
        if erased {
            None
        } else {
            private.salt.as_deref()
        },
    ])?;
    super::followed::mark_followed(
        tx,
        &private.browser,
        receipt.kind.as_str(),
        stamp.seq,
        receipt.withdraws.as_deref(),
    )?;
    super::analytics::record_choices(tx, stamp.seq, &stamp.issued_at, receipt)?;
    if erased {
        tx.prepare_cached("INSERT INTO erasures (seq, erased_at) VALUES (?1, ?2)")?
            .execute(params![stamp.seq, stamp.issued_at])?;
    } else {
        let mut insert_hash = tx.prepare_cached(
            "INSERT OR IGNORE INTO subject_hashes (hmac, seq, kind) VALUES (?1, ?2, ?3)",
        )?;
        for entry in &private.index {
            insert_hash.execute(params![entry.hmac, stamp.seq, entry.kind.to_string()])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{receipt, signer};
    use super::super::{connect, migrate};
    use super::*;
    use tokio::sync::oneshot;

    /// A run's answers, driven directly: what one batch does with a retry of a receipt of the
    /// same run, a conflicting reuse of its reference, and a second withdrawal of the same
    /// receipt, all before anything of the run is signed or stored.
    #[test]
    fn a_run_answers_its_own_duplicates_from_what_it_sequenced() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("kelisim.db");
        let mut conn = connect(&path, true).expect("open");
        migrate(&mut conn, &path).expect("migrate");
        let tx = conn.transaction().expect("tx");
        let (mut run, mut tip, mut outcomes) = (Run::default(), Tip::genesis(), Vec::new());
        let withdrawal = |reference: &str| PreparedReceipt {
            event: crate::receipt::Event::Withdrawn,
            withdraws: Some("0190f3a4-0000-7000-8000-000000000000".into()),
            ..receipt(reference, false)
        };
        let jobs = [
            receipt(&"1".repeat(32), false),
            receipt(&"1".repeat(32), false),
            receipt(&"1".repeat(32), true),
            withdrawal(&"2".repeat(32)),
            withdrawal(&"3".repeat(32)),
            receipt(&"4".repeat(32), false),
        ];
        for job in jobs {
            let (reply, _answer) = oneshot::channel();
            let result = run
                .sequence(&mut SqlTx(&tx), &mut tip, job, outcomes.len())
                .expect("sql");
            outcomes.push(Outcome::Issue(reply, result));
        }
        assert_eq!(tip.seq, 3, "three new receipts sequenced");
        let mut leaves = Vec::new();
        run.finish(
            &mut SqlTx(&tx),
            &signer(),
            &mut tip,
            &mut leaves,
            &mut outcomes,
        )
        .expect("stored");
        let answers: Vec<_> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Issue(_, result) => result.as_ref().map(|i| (i.seq, i.created)).ok(),
                _ => None,
            })
            .collect();
        assert_eq!(
            answers,
            [
                Some((1, true)),
                Some((1, false)),
                None,
                Some((2, true)),
                Some((2, false)),
                Some((3, true)),
            ]
        );
        assert!(matches!(
            &outcomes[2],
            Outcome::Issue(_, Err(StoreError::IdempotencyConflict { .. }))
        ));
        assert_eq!(leaves.len(), 3, "one leaf per stored receipt");
        let stored: i64 = tx
            .query_row("SELECT count(*) FROM receipts", [], |r| r.get(0))
            .expect("count");
        assert_eq!(stored, 3);
    }
}
