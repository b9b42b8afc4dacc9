//! The storage interface: the traits a backend implements, and the handles callers hold.
//!
//! [`Backend`] is a running store: the write path (receipts, admin changes, the readiness
//! probe, key rotation) and its read side. [`ReadStore`] is the read side: [`ReceiptReads`]
//! (the public API's look-ups and the CLI's listings), [`AdminReads`] (the admin's queries,
//! statistics, tokens, audit trail, erasure requests), [`LogSource`] (what `audit` walks) and
//! `log::tree::TreeReads` (the transparency log's checkpoints and proofs).
//! Every trait is object safe; callers hold [`Store`] and [`Reader`], never a backend's type.

use std::fmt::Debug;
use std::sync::Arc;

use futures_core::future::BoxFuture;

use super::{
    AdminRow, Affected, AnalyticsGroups, AnalyticsQuery, AuditEntry, ConsentStatus, Erasure,
    HealthRow, Issued, Maintenance, ReceiptFilter, ReceiptRow, Stats, StoreError, TokenRecord,
};
use crate::keys::Signer;
use crate::log::LogSource;
use crate::log::tree::TreeReads;
use crate::receipt::{PreparedReceipt, Private};

/// A running store, shared by the handlers, the retention task and the server's shutdown.
pub type Store = Arc<dyn Backend>;

/// A store's read side; its methods block, so run them off the async executor.
pub type Reader = Arc<dyn ReadStore>;

/// A running store: what `serve` opens once and every request shares.
///
/// The futures of the write methods resolve only after the change is durable (committed, and
/// on disk or on every synchronous replica), or with the error that it is not: nothing is
/// acknowledged that a crash could lose. A backend may group concurrent writes into one
/// commit; it answers each only after that commit.
pub trait Backend: Debug + Send + Sync {
    /// Issues `receipt`: the idempotency check (same site and reference: the same content
    /// returns the stored receipt with `created: false`, other content is
    /// [`StoreError::IdempotencyConflict`]; a second withdrawal of a receipt returns the
    /// first), then its `seq`, UUIDv7 `id`, `issued_at` and `prev` (the link hash of the
    /// receipt before it), its signature with the current key, and storage with its subject
    /// index, in log order. [`StoreError::Busy`] and [`StoreError::Unwritable`] mean "retry
    /// later"; [`StoreError::WriterStopped`] that the store is shutting down.
    fn issue(&self, receipt: PreparedReceipt) -> BoxFuture<'_, Result<Issued, StoreError>>;

    /// Applies an admin change (token, audit-trail entry, retention purge, erasure) with the
    /// writes of receipts, in log order; resolves with what it affected once committed.
    fn maintain(&self, op: Maintenance) -> BoxFuture<'_, Result<Affected, StoreError>>;

    /// Resolves once a write reached the store's disk: the readiness probe. A store that can
    /// be read but not written fails it.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Signs every receipt issued after this call with `signer` (`keys rotate`, then SIGHUP);
    /// resolves once it does. Receipts issued before the call keep the old key.
    fn set_signer(&self, signer: Signer) -> BoxFuture<'_, Result<(), StoreError>>;

    /// The read side.
    fn reader(&self) -> Reader;

    /// Commits everything accepted so far, then refuses further writes with
    /// [`StoreError::WriterStopped`]. Blocks until done; later calls do nothing.
    fn shutdown(&self);

    /// Reliability tests only (hidden `serve --fault-file`): from now on, simulate the
    /// store faults the file at `path` names, read before each commit. Set once; later calls
    /// are ignored. A backend that cannot simulate a fault ignores its line.
    #[cfg(feature = "testing")]
    fn inject_faults_from(&self, path: &std::path::Path);
}

/// The receipts themselves: the public API's look-ups, the CLI's listings, the log's size.
pub trait ReceiptReads {
    /// Number of receipts in the log.
    fn count(&self) -> Result<i64, StoreError>;

    /// The receipt with this UUID.
    fn by_id(&self, id: &str) -> Result<Option<ReceiptRow>, StoreError>;

    /// Receipts with this reference (idempotency key) on any of `sites`, in log order. More
    /// than one only if different sites' widgets chose the same key.
    fn by_ref(&self, reference: &str, sites: &[String]) -> Result<Vec<ReceiptRow>, StoreError>;

    /// The withdrawal of the receipt `id`, if it was withdrawn.
    fn withdrawal_of(&self, id: &str) -> Result<Option<ReceiptRow>, StoreError>;

    /// The status of the receipt with this UUID.
    fn status_by_id(&self, id: &str) -> Result<Option<ConsentStatus>, StoreError>;

    /// The statuses of the receipts with this reference on any of `sites`, as
    /// [`Self::by_ref`] finds them.
    fn status_by_ref(
        &self,
        reference: &str,
        sites: &[String],
    ) -> Result<Vec<ConsentStatus>, StoreError>;

    /// The newest `limit` receipts, newest first, optionally of one site.
    fn list(&self, site: Option<&str>, limit: u32) -> Result<Vec<ReceiptRow>, StoreError>;

    /// Receipts whose subject has this keyed hash (search by phone/e-mail).
    fn by_subject_hmac(&self, hmac: &str) -> Result<Vec<ReceiptRow>, StoreError>;

    /// What the collector keeps beside receipt `seq` (its browser pseudonym, subject index
    /// entries and commitment salt), for a withdrawal that repeats it. The holder hash is not
    /// copied: a withdrawal is not withdrawn.
    fn private_of(&self, seq: i64) -> Result<Private, StoreError>;

    /// The browser pseudonyms of receipts `seqs` that a browser proved, i.e. payload v2's
    /// keyed hashes of a secret only that browser holds (64 hex digits). v1's clear ids
    /// (32 hex digits) were shown in every public receipt, so anyone could claim one.
    fn proven_browsers(&self, seqs: &[i64]) -> Result<Vec<String>, StoreError>;

    /// The sites the log has receipts of, sorted.
    fn sites(&self) -> Result<Vec<String>, StoreError>;

    /// Bytes the store occupies on disk (for `/metrics`).
    fn size_on_disk(&self) -> Result<u64, StoreError>;
}

/// The admin's reads: filtered receipt queries with keyset pages, counts and statistics,
/// tokens, the audit trail, erasure requests.
pub trait AdminReads {
    /// One page of matching receipts, newest first, strictly before `before` (a `seq`).
    fn admin_page(
        &self,
        filter: &ReceiptFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError>;

    /// Matching receipts in log order, strictly after `after`: the export's chunks.
    fn admin_chunk(
        &self,
        filter: &ReceiptFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError>;

    /// How many receipts match, counting at most `cap` (a page must not scan the whole log
    /// to say "more than a thousand").
    fn admin_count(&self, filter: &ReceiptFilter, cap: u32) -> Result<i64, StoreError>;

    /// One receipt with its status.
    fn admin_get(&self, id: &str) -> Result<Option<AdminRow>, StoreError>;

    /// Event counts of matching receipts per day, policy version, language and kind.
    fn admin_stats(&self, filter: &ReceiptFilter) -> Result<Stats, StoreError>;

    /// The site's receipts in each bucket of `query`, counted by kind, event, language and
    /// policy version, and its cookie choices by category and grant. Counted by the store
    /// from indexed columns: never by decoding receipts.
    fn analytics(&self, query: &AnalyticsQuery) -> Result<AnalyticsGroups, StoreError>;

    /// The token with this public id.
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Every token, oldest first.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// The newest `limit` audit entries of `site`, newest first.
    fn admin_audit(&self, site: &str, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// `site`'s erasure request `id`, with `overdue` as of `now` (RFC 3339).
    fn erasure(&self, site: &str, id: &str, now: &str) -> Result<Option<Erasure>, StoreError>;

    /// `site`'s erasure requests: pending ones first, soonest due first; then at most
    /// `limit` carried out, latest first. `overdue` as of `now` (RFC 3339).
    fn erasures(&self, site: &str, now: &str, limit: u32) -> Result<Vec<Erasure>, StoreError>;

    /// `site`'s health rows last seen at or after `since` (RFC 3339), most recently seen
    /// first, at most `limit`.
    fn health(&self, site: &str, since: &str, limit: u32) -> Result<Vec<HealthRow>, StoreError>;
}

/// Everything a store's read side offers. Implemented by every type that has the parts; a
/// backend implements those.
pub trait ReadStore:
    ReceiptReads
    + AdminReads
    + TreeReads<Error = StoreError>
    + LogSource<Error = StoreError>
    + Debug
    + Send
    + Sync
{
}

impl<T> ReadStore for T where
    T: ReceiptReads
        + AdminReads
        + TreeReads<Error = StoreError>
        + LogSource<Error = StoreError>
        + Debug
        + Send
        + Sync
{
}
