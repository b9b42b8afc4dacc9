//! The write path every backend shares: a running store ([`Running`], the [`Backend`] of
//! every backend), its writer thread's loop ([`start`], driving a backend's [`Committer`]),
//! the jobs it takes ([`Job`], queued through [`Writing`]), the answer each gets once its
//! batch is settled ([`Outcome`]), and the rules of a run of receipts ([`Run`]): idempotent
//! replays and second withdrawals answered, new receipts sequenced one by one, signed in
//! parallel, then stored in `seq` order. A backend supplies the transaction ([`ReceiptTx`])
//! and commits; what counts as "the same receipt" is decided here once, for every backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_core::future::BoxFuture;
use kelisim_receipt::log::{Hash, NoteSigner, receipt_leaf_hash};
use tokio::sync::oneshot;

use super::{Affected, Backend, Issued, Maintenance, ReadStore, Reader, StoreError};
use crate::clock::format_timestamp;
use crate::keys::Signer;
use crate::log::{Tip, link_hash};
use crate::receipt::{PreparedReceipt, Stamp};

/// Most jobs committed in one transaction.
pub(super) const MAX_BATCH: usize = 1024;

/// Jobs waiting for the writer before callers are told to back off (503).
pub(super) const QUEUE_DEPTH: usize = 16 * 1024;

pub(super) enum Job {
    Issue {
        receipt: Box<PreparedReceipt>,
        reply: oneshot::Sender<Result<Issued, StoreError>>,
    },
    Ping {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// An admin change (token, audit trail, purge, erasure), committed with the batch.
    Maintain {
        op: Box<Maintenance>,
        reply: oneshot::Sender<Result<Affected, StoreError>>,
    },
    /// Sign from now on with this key (after the current batch).
    SetSigner {
        signer: Box<Signer>,
        reply: oneshot::Sender<()>,
    },
    Shutdown,
}

/// A writer thread's queue, as the store's handle holds it: the async side of
/// [`Backend`](super::Backend)'s writes. Dropping it does not stop the thread; [`Self::stop`]
/// does, after committing what is queued.
pub(super) struct Writing {
    jobs: Sender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writing {
    pub(super) fn new(jobs: Sender<Job>, thread: JoinHandle<()>) -> Writing {
        Writing {
            jobs,
            thread: Mutex::new(Some(thread)),
        }
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Busy,
            TrySendError::Disconnected(_) => StoreError::WriterStopped,
        })
    }

    pub(super) async fn issue(&self, receipt: PreparedReceipt) -> Result<Issued, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Issue {
            receipt: Box::new(receipt),
            reply,
        })?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    pub(super) async fn maintain(&self, op: Maintenance) -> Result<Affected, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Maintain {
            op: Box::new(op),
            reply,
        })?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Resolves once the writer has committed an (empty) batch: the store is writable.
    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Ping { reply })?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    pub(super) async fn set_signer(&self, signer: Signer) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::SetSigner {
            signer: Box::new(signer),
            reply,
        })?;
        answer.await.map_err(|_| StoreError::WriterStopped)
    }

    /// Commits what is queued, then stops the thread; later calls do nothing.
    pub(super) fn stop(&self) {
        let handle = self.thread.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            // A blocking send: queued jobs ahead of it are committed first.
            let _ = self.jobs.send(Job::Shutdown);
            if handle.join().is_err() {
                tracing::error!("receipt writer thread panicked");
            }
        }
    }
}

/// What a job gets back once the batch is settled.
pub(super) enum Outcome {
    Issue(
        oneshot::Sender<Result<Issued, StoreError>>,
        Result<Issued, StoreError>,
    ),
    Ping(oneshot::Sender<Result<(), StoreError>>),
    Maintain(
        oneshot::Sender<Result<Affected, StoreError>>,
        Result<Affected, StoreError>,
    ),
}

/// Answers every job of a settled batch: its own answer if the batch committed, `failure()`
/// if it rolled back (then nothing of it exists, so no job may be acknowledged).
pub(super) fn settle(outcomes: Vec<Outcome>, failure: Option<&dyn Fn() -> StoreError>) {
    for outcome in outcomes {
        match (outcome, failure) {
            (Outcome::Issue(reply, result), None) => {
                let _ = reply.send(result);
            }
            (Outcome::Ping(reply), None) => {
                let _ = reply.send(Ok(()));
            }
            (Outcome::Maintain(reply, result), None) => {
                let _ = reply.send(result);
            }
            (Outcome::Issue(reply, _), Some(failure)) => {
                let _ = reply.send(Err(failure()));
            }
            (Outcome::Ping(reply), Some(failure)) => {
                let _ = reply.send(Err(failure()));
            }
            (Outcome::Maintain(reply, _), Some(failure)) => {
                let _ = reply.send(Err(failure()));
            }
        }
    }
}

/// What [`Run`] asks of a backend's open write transaction.
pub(super) trait ReceiptTx {
    type Error;

    /// The answer a receipt already stored gives `receipt`: the same receipt for a retry of
    /// the same content, [`StoreError::IdempotencyConflict`] for other content under its
    /// site and reference, and for a withdrawal the earlier withdrawal of the same receipt.
    /// `None`: it is new.
    fn stored_answer(
        &mut self,
        receipt: &PreparedReceipt,
    ) -> Result<Option<Result<Issued, StoreError>>, Self::Error>;

    /// Stores one signed receipt at `stamp` with everything kept beside it (subject index,
    /// status index, cookie choices).
    fn insert(
        &mut self,
        receipt: &PreparedReceipt,
        stamp: &Stamp,
        signer: &Signer,
        jws: &str,
        jws_sha256: &str,
    ) -> Result<(), Self::Error>;
}

/// The answer of a stored receipt found by site and reference: itself for the same
/// content, a conflict for other content.
pub(super) fn replay_or_conflict(
    receipt: &PreparedReceipt,
    stored: Issued,
    stored_request_sha256: &str,
) -> Result<Issued, StoreError> {
    if stored_request_sha256 == receipt.request_sha256 {
        Ok(Issued {
            created: false,
            ..stored
        })
    } else {
        Err(StoreError::IdempotencyConflict {
            site: receipt.site.clone(),
            key: receipt.reference.clone(),
        })
    }
}

/// Receipts below this many in a run are signed on the writer thread alone: a helper thread
/// costs more than it saves.
const PARALLEL_SIGNING_FROM: usize = 8;

/// The receipts of a run of consecutive issue jobs, sequenced (each has its `seq`, id and
/// time) but not yet signed or stored. [`Run::finish`] signs them in parallel, then stores
/// them in `seq` order: the writer itself only sequences, hashes and commits.
#[derive(Default)]
pub(super) struct Run {
    pending: Vec<Sequenced>,
    /// Index into `pending` by (site, reference), and by the receipt a withdrawal withdraws:
    /// a run holds up to a whole batch, so its duplicates are found without a scan.
    by_reference: HashMap<(String, String), usize>,
    by_withdrawn: HashMap<String, usize>,
    /// Jobs of this run answered by a pending receipt: (outcome index, pending index), for
    /// a retry of the same consent, or a second withdrawal of the same receipt.
    same_as: Vec<(usize, usize)>,
}

struct Sequenced {
    receipt: PreparedReceipt,
    stamp: Stamp,
    /// Its job's place in the batch's outcomes.
    outcome: usize,
}

impl Run {
    /// Sequences `receipt` (the job at `outcome`), or answers it at once: a receipt stored
    /// before with the same site and reference (the same receipt, or a conflict), or the
    /// earlier withdrawal of the receipt it withdraws. An answer that names a receipt of
    /// this run is filled in by [`Run::finish`]. The outer `Err` aborts the batch.
    pub(super) fn sequence<T: ReceiptTx>(
        &mut self,
        tx: &mut T,
        tip: &mut Tip,
        receipt: PreparedReceipt,
        outcome: usize,
    ) -> Result<Result<Issued, StoreError>, T::Error> {
        if let Some(answer) = tx.stored_answer(&receipt)? {
            return Ok(answer);
        }
        let key = (receipt.site.clone(), receipt.reference.clone());
        if let Some(&k) = self.by_reference.get(&key) {
            if self.pending[k].receipt.request_sha256 != receipt.request_sha256 {
                return Ok(Err(StoreError::IdempotencyConflict {
                    site: key.0,
                    key: key.1,
                }));
            }
            self.same_as.push((outcome, k));
            return Ok(Err(StoreError::WriterStopped));
        }
        if let Some(&k) = receipt
            .withdraws
            .as_ref()
            .and_then(|w| self.by_withdrawn.get(w))
        {
            self.same_as.push((outcome, k));
            return Ok(Err(StoreError::WriterStopped));
        }
        self.by_reference.insert(key, self.pending.len());
        if let Some(withdrawn) = &receipt.withdraws {
            self.by_withdrawn
                .insert(withdrawn.clone(), self.pending.len());
        }
        let (seq, _) = tip.next();
        tip.seq = seq;
        self.pending.push(Sequenced {
            receipt,
            stamp: Stamp {
                id: uuid::Uuid::now_v7().to_string(),
                seq,
                issued_at: format_timestamp(time::OffsetDateTime::now_utc()),
            },
            outcome,
        });
        Ok(Err(StoreError::WriterStopped))
    }

    /// Signs the run's receipts (in parallel when there are enough), stores them in `seq`
    /// order with their leaves for the tree, and answers their jobs in `outcomes`. Empties
    /// the run. The `Err` aborts the batch.
    pub(super) fn finish<T: ReceiptTx>(
        &mut self,
        tx: &mut T,
        signer: &Signer,
        tip: &mut Tip,
        leaves: &mut Vec<Hash>,
        outcomes: &mut [Outcome],
    ) -> Result<(), T::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let signed = sign_all(&self.pending, signer);
        let mut issued = Vec::with_capacity(self.pending.len());
        for (p, jws) in self.pending.iter().zip(signed) {
            let jws_sha256 = link_hash(&jws);
            tx.insert(&p.receipt, &p.stamp, signer, &jws, &jws_sha256)?;
            leaves.push(receipt_leaf_hash(&jws));
            tip.hash = jws_sha256;
            let answer = Issued {
                id: p.stamp.id.clone(),
                seq: p.stamp.seq,
                jws,
                created: true,
            };
            if let Some(Outcome::Issue(_, result)) = outcomes.get_mut(p.outcome) {
                *result = Ok(answer.clone());
            }
            issued.push(answer);
        }
        for (outcome, k) in self.same_as.drain(..) {
            if let Some(Outcome::Issue(_, result)) = outcomes.get_mut(outcome) {
                *result = Ok(Issued {
                    created: false,
                    ..issued[k].clone()
                });
            }
        }
        self.pending.clear();
        self.by_reference.clear();
        self.by_withdrawn.clear();
        Ok(())
    }
}

/// The JWS of each sequenced receipt, in order. Payload v3 links to no other receipt, so the
/// signatures are independent: with enough receipts, the run is split over the machine's
/// cores (at most four), the writer thread taking the first share.
fn sign_all(pending: &[Sequenced], signer: &Signer) -> Vec<String> {
    kelisim_receipt::parallel::map_in_order(pending, PARALLEL_SIGNING_FROM, 4, |p| {
        p.receipt.seal(&p.stamp, signer)
    })
}

/// A backend's writer thread, as [`run`] drives it: the backend commits batches, the loop
/// and the control jobs are the same for every backend.
pub(super) trait Committer: Send + 'static {
    /// Handles `batch` in one transaction and answers every job of it (emptying it).
    fn commit(&mut self, batch: &mut Vec<Job>);

    /// The keys it signs with: receipts, and the log's checkpoints.
    fn keys(&mut self) -> (&mut Signer, &mut NoteSigner);
}

/// Starts `writer` on a thread of its own ("kelisim-writer"); the handle the store keeps.
pub(super) fn start(writer: impl Committer, shown: &str) -> Result<Writing, StoreError> {
    let (jobs, queue) = crossbeam_channel::bounded(QUEUE_DEPTH);
    let handle = std::thread::Builder::new()
        .name("kelisim-writer".into())
        .spawn(move || run(writer, &queue))
        .map_err(|source| StoreError::Create {
            path: shown.to_owned(),
            source,
        })?;
    Ok(Writing::new(jobs, handle))
}

/// The writer's loop: block for a job, drain what else is queued (up to [`MAX_BATCH`]),
/// commit the batch; after a shutdown request, commit what is left without waiting for more.
fn run(mut writer: impl Committer, queue: &Receiver<Job>) {
    tracing::debug!("receipt writer started");
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut stopping = false;
    loop {
        let next = if stopping {
            queue.try_recv().ok()
        } else {
            queue.recv().ok()
        };
        let Some(first) = next else { break };
        take(&mut writer, first, &mut batch, &mut stopping);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => take(&mut writer, job, &mut batch, &mut stopping),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            writer.commit(&mut batch);
        }
    }
    tracing::debug!("receipt writer stopped");
}

/// Adds `job` to the batch, or acts on a control job. A new key applies from the next
/// receipt on: what was queued before it is committed (and signed) first.
fn take(writer: &mut impl Committer, job: Job, batch: &mut Vec<Job>, stopping: &mut bool) {
    match job {
        Job::Shutdown => *stopping = true,
        Job::SetSigner { signer, reply } => {
            if !batch.is_empty() {
                writer.commit(batch);
            }
            tracing::info!(kid = signer.kid(), "now signing receipts with a new key");
            let (current, note_signer) = writer.keys();
            let origin = note_signer.verifier_key().name().to_owned();
            match signer.note_signer(&origin) {
                Ok(next) => *note_signer = next,
                // The origin was a valid key name for the old key: cannot happen.
                Err(e) => tracing::error!(error = %e, "keeping the old log key"),
            }
            *current = *signer;
            let _ = reply.send(());
        }
        job => batch.push(job),
    }
}

/// A running store, whichever the backend: its writer thread's queue and its read side.
/// Dropping the last handle commits what is queued and stops the writer.
pub(super) struct Running<R> {
    pub(super) writing: Writing,
    pub(super) reader: Arc<R>,
    /// Where the store is, for `Debug` (a path, or a URL without its password).
    pub(super) shown: String,
    /// Tests only: the fault file the writer reads, for a backend that simulates faults.
    #[cfg(feature = "testing")]
    pub(super) fault_file: Option<Arc<std::sync::OnceLock<std::path::PathBuf>>>,
}

impl<R> std::fmt::Debug for Running<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("at", &self.shown).finish()
    }
}

impl<R> Drop for Running<R> {
    fn drop(&mut self) {
        self.writing.stop();
    }
}

impl<R: ReadStore + 'static> Backend for Running<R> {
    fn issue(&self, receipt: PreparedReceipt) -> BoxFuture<'_, Result<Issued, StoreError>> {
        Box::pin(self.writing.issue(receipt))
    }

    fn maintain(&self, op: Maintenance) -> BoxFuture<'_, Result<Affected, StoreError>> {
        Box::pin(self.writing.maintain(op))
    }

    /// Resolves once the writer has committed a write: the store takes writes.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writing.ping())
    }

    fn set_signer(&self, signer: Signer) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writing.set_signer(signer))
    }

    fn reader(&self) -> Reader {
        self.reader.clone()
    }

    fn shutdown(&self) {
        self.writing.stop();
    }

    /// Before each batch the writer applies the faults `path` names (SQLite's `fault.rs`);
    /// a backend without simulated faults (PostgreSQL's are caused for real) says so.
    #[cfg(feature = "testing")]
    fn inject_faults_from(&self, path: &std::path::Path) {
        match &self.fault_file {
            Some(file) if file.set(path.to_owned()).is_ok() => {
                tracing::warn!(path = %path.display(), "fault injection enabled (tests only)");
            }
            Some(_) => {}
            None => tracing::warn!(
                path = %path.display(),
                "the fault file has no effect on this store"
            ),
        }
    }
}
