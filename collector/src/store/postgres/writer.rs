//! A collector's writer thread on PostgreSQL: group commit of sequenced, signed receipts,
//! taking turns with the other collectors of the database.
//!
//! As SQLite's writer: block for a job, drain what else is queued (up to `MAX_BATCH`),
//! handle the batch in one transaction, answer every job only after `COMMIT`. What differs:
//! the transaction first takes the log's advisory lock and reads where the log ends now
//! (another collector may have appended since this one's last batch), and a batch that
//! fails because the server went away is answered with 503 and the session reopened for the
//! next one.

use std::cell::RefCell;

use kelisim_receipt::log::{Appender, Hash, LogError, NoteSigner};
use postgres::{Client, Config, Transaction};

use super::rows::RunTx;
use super::tree::{PgHashes, append, latest_size};
use super::{LOG_LOCK, PgError, connect, is_transient};
use crate::keys::Signer;
use crate::log::Tip;
use crate::ops::metrics::WriterMetrics;
use crate::receipt::PreparedReceipt;
use crate::store::StoreError;
use crate::store::batch::{Committer, Job, Outcome, Run, settle};

pub(super) struct Writer {
    config: Config,
    /// `None` after the server dropped the session; the next batch reconnects.
    client: Option<Client>,
    signer: Signer,
    tip: Tip,
    tree: Appender,
    note_signer: NoteSigner,
    metrics: WriterMetrics,
}

impl Writer {
    pub(super) fn new(
        config: Config,
        client: Client,
        signer: Signer,
        tree: Appender,
        note_signer: NoteSigner,
        metrics: WriterMetrics,
    ) -> Writer {
        Writer {
            config,
            client: Some(client),
            signer,
            tip: Tip::genesis(),
            tree,
            note_signer,
            metrics,
        }
    }

    /// Handles `batch` in one transaction and answers every job after the commit.
    fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        let started = std::time::Instant::now();
        self.metrics.batch_size.observe(batch.len() as f64);
        let mut outcomes = Vec::with_capacity(batch.len());
        let result = match reopen(&mut self.client, &self.config) {
            Ok(client) => write_batch(
                client,
                &self.signer,
                &self.note_signer,
                &mut self.tip,
                &mut self.tree,
                batch,
                &mut outcomes,
            ),
            Err(e) => {
                drain(batch, &mut outcomes);
                Err(e)
            }
        };
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => settle(outcomes, None),
            Err(e) => {
                // Rolled back: nothing of this batch exists. Where the log ends is read
                // again by the next batch, so the in-memory tip and tree need no restoring.
                let transient = is_transient(&e);
                if self.client.as_ref().is_none_or(Client::is_closed) || transient {
                    self.client = None;
                }
                tracing::error!(error = %e, jobs = outcomes.len(), "receipt batch rolled back");
                let failure = || {
                    if transient {
                        StoreError::Unavailable(e.to_string())
                    } else {
                        StoreError::Commit(e.to_string())
                    }
                };
                settle(outcomes, Some(&failure));
            }
        }
    }
}

impl Committer for Writer {
    fn commit(&mut self, batch: &mut Vec<Job>) {
        self.commit_batch(batch);
    }

    fn keys(&mut self) -> (&mut Signer, &mut NoteSigner) {
        (&mut self.signer, &mut self.note_signer)
    }
}

/// The writer's session, reopened if the server dropped it.
fn reopen<'c>(client: &'c mut Option<Client>, config: &Config) -> Result<&'c mut Client, PgError> {
    if client.as_ref().is_none_or(Client::is_closed) {
        *client = Some(connect(config)?);
        tracing::info!("receipt writer connected to PostgreSQL");
    }
    client
        .as_mut()
        .ok_or_else(|| LogError::storage("the writer has no database session").into())
}

/// Moves the jobs of a batch that never reached the database into `outcomes`, to be told so.
fn drain(batch: &mut Vec<Job>, outcomes: &mut Vec<Outcome>) {
    for job in batch.drain(..) {
        match job {
            Job::Issue { reply, .. } => {
                outcomes.push(Outcome::Issue(reply, Err(StoreError::WriterStopped)));
            }
            Job::Ping { reply } => outcomes.push(Outcome::Ping(reply)),
            Job::Maintain { reply, .. } => {
                outcomes.push(Outcome::Maintain(reply, Err(StoreError::WriterStopped)));
            }
            Job::SetSigner { .. } | Job::Shutdown => {}
        }
    }
}

/// One batch in one transaction under the log's lock; every job of `batch` moves into
/// `outcomes`. Consecutive receipts go in as one run ([`RunTx`]); an admin change applies
/// after the receipts queued before it. An `Err` means the transaction was rolled back (or
/// never began).
fn write_batch(
    client: &mut Client,
    signer: &Signer,
    note_signer: &NoteSigner,
    tip: &mut Tip,
    tree: &mut Appender,
    batch: &mut Vec<Job>,
    outcomes: &mut Vec<Outcome>,
) -> Result<(), PgError> {
    let mut tx = match begin(client, tip, tree) {
        Ok(tx) => tx,
        Err(e) => {
            drain(batch, outcomes);
            return Err(e);
        }
    };
    let start_seq = tip.seq;
    let mut pinged = false;
    let mut leaves: Vec<Hash> = Vec::new();
    let mut segment = Vec::new();
    let mut failed = None;
    for job in batch.drain(..) {
        match job {
            Job::Issue { receipt, reply } => segment.push((receipt, reply)),
            Job::Ping { reply } => {
                pinged = true;
                outcomes.push(Outcome::Ping(reply));
            }
            Job::Maintain { op, reply } => {
                // A change applies after the receipts queued before it, as they came.
                store_segment(
                    &mut tx,
                    signer,
                    tip,
                    &mut leaves,
                    &mut segment,
                    outcomes,
                    &mut failed,
                );
                let result = if failed.is_some() {
                    Err(StoreError::WriterStopped)
                } else {
                    match super::admin::apply(&mut tx, &op) {
                        Ok(answer) => answer,
                        Err(e) => {
                            failed = Some(e);
                            Err(StoreError::WriterStopped)
                        }
                    }
                };
                outcomes.push(Outcome::Maintain(reply, result));
            }
            Job::SetSigner { .. } | Job::Shutdown => {}
        }
    }
    store_segment(
        &mut tx,
        signer,
        tip,
        &mut leaves,
        &mut segment,
        outcomes,
        &mut failed,
    );
    if let Some(e) = failed {
        return Err(e);
    }
    if pinged {
        // Readiness means "a write commits": a standby or a full disk fails the ping.
        tx.execute("UPDATE kelisim_schema SET version = version", &[])?;
    }
    if tip.seq != start_seq {
        tx.execute(
            "INSERT INTO chain_head (id, seq, jws_sha256) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, jws_sha256 = excluded.jws_sha256",
            &[&tip.seq, &tip.hash],
        )?;
        append(&mut tx, tree, &leaves, note_signer)?;
    }
    Ok(tx.commit()?)
}

/// Stores the receipts queued in `segment` as one run (emptying it), unless the batch has
/// already failed: then they are only told so.
fn store_segment(
    tx: &mut Transaction<'_>,
    signer: &Signer,
    tip: &mut Tip,
    leaves: &mut Vec<Hash>,
    segment: &mut Vec<Queued>,
    outcomes: &mut Vec<Outcome>,
    failed: &mut Option<PgError>,
) {
    let run = std::mem::take(segment);
    if run.is_empty() {
        return;
    }
    if failed.is_some() {
        for (_, reply) in run {
            outcomes.push(Outcome::Issue(reply, Err(StoreError::WriterStopped)));
        }
    } else if let Err(e) = store_run(tx, signer, tip, leaves, run, outcomes) {
        *failed = Some(e);
    }
}

/// A receipt job waiting in a run: the receipt and where its answer goes.
type Queued = (
    Box<PreparedReceipt>,
    tokio::sync::oneshot::Sender<Result<crate::store::Issued, StoreError>>,
);

/// Sequences, signs and stores one run of receipts: what the database holds for them read
/// once, their rows written once.
fn store_run(
    tx: &mut Transaction<'_>,
    signer: &Signer,
    tip: &mut Tip,
    leaves: &mut Vec<Hash>,
    run: Vec<Queued>,
    outcomes: &mut Vec<Outcome>,
) -> Result<(), PgError> {
    let mut rows = RunTx::prefetch(tx, run.iter().map(|(r, _)| r.as_ref()))?;
    let mut sequenced = Run::default();
    let mut failed = None;
    for (receipt, reply) in run {
        let result = if failed.is_some() {
            Err(StoreError::WriterStopped)
        } else {
            match sequenced.sequence(&mut rows, tip, *receipt, outcomes.len()) {
                Ok(result) => result,
                Err(e) => {
                    failed = Some(e);
                    Err(StoreError::WriterStopped)
                }
            }
        };
        outcomes.push(Outcome::Issue(reply, result));
    }
    if let Some(e) = failed {
        return Err(e);
    }
    sequenced.finish(&mut rows, signer, tip, leaves, outcomes)?;
    rows.flush()
}

/// Opens the batch's transaction, takes the log's lock and catches `tip` and `tree` up with
/// what the other collectors appended since.
fn begin<'c>(
    client: &'c mut Client,
    tip: &mut Tip,
    tree: &mut Appender,
) -> Result<Transaction<'c>, PgError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
    *tip = super::tree::read_tip(&mut tx)?;
    let size = latest_size(&mut tx)?;
    if size != tree.size() {
        let reader = PgHashes(RefCell::new(&mut tx));
        *tree = Appender::open(&reader, size)?;
    }
    Ok(tx)
}
