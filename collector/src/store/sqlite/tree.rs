//! The transparency log's rows in SQLite: `log_hashes` (the tree's stored hashes, by stored
//! hash index) and `log_checkpoints` (every signed checkpoint). The writer appends a batch's
//! leaves and signs its checkpoint inside the batch's transaction ([`append`]); [`catch_up`]
//! folds receipts that are not in the tree yet (a database from before the tree, a bulk
//! load) at open; the read side serves the latest checkpoint and proofs from `O(log n)` rows.

use kelisim_receipt::log::{
    Appender, Checkpoint, Hash, HashReader, LogError, NoteSigner, consistency_proof,
    inclusion_proof, receipt_leaf_hash, stored_hash_index,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::clock::format_timestamp;
use crate::keys::Signer;
use crate::log::tree::{Inclusion, StoredCheckpoint, leaf_index, missing_leaf, purged_leaf};
use crate::store::StoreError;

/// Receipts folded per [`Appender::append`] call while catching up.
const FOLD_CHUNK: usize = 16 * 1024;

/// The tree's stored hashes as a connection (or transaction) reads them.
pub(super) struct SqlHashes<'c>(pub(super) &'c Connection);

impl HashReader for SqlHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        let mut select = self
            .0
            .prepare_cached("SELECT hash FROM log_hashes WHERE idx = ?1")
            .map_err(LogError::storage)?;
        indexes
            .iter()
            .map(|&idx| {
                let idx = i64::try_from(idx).map_err(LogError::storage)?;
                let bytes: Vec<u8> = select
                    .query_row([idx], |r| r.get(0))
                    .map_err(LogError::storage)?;
                let hash: [u8; 32] = bytes.try_into().map_err(|_| {
                    LogError::storage(format!("log_hashes row {idx} is not 32 bytes"))
                })?;
                Ok(Hash(hash))
            })
            .collect()
    }
}

/// A log error inside a transaction: it rolls the transaction back like a SQL error.
fn sql_err(e: LogError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn store_err(e: LogError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// The latest signed checkpoint, if the log has one.
pub(super) fn latest(conn: &Connection) -> Result<Option<StoredCheckpoint>, rusqlite::Error> {
    conn.prepare_cached("SELECT size, root, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")?
        .query_row([], stored_checkpoint)
        .optional()
}

/// The stored checkpoint of exactly `size` leaves.
pub(super) fn checkpoint_at(
    conn: &Connection,
    size: u64,
) -> Result<Option<StoredCheckpoint>, rusqlite::Error> {
    conn.prepare_cached("SELECT size, root, note FROM log_checkpoints WHERE size = ?1")?
        .query_row([i64::try_from(size).unwrap_or(i64::MAX)], stored_checkpoint)
        .optional()
}

fn stored_checkpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCheckpoint> {
    let size: i64 = r.get(0)?;
    let root: Vec<u8> = r.get(1)?;
    let root: [u8; 32] = root.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, "root".into())
    })?;
    Ok(StoredCheckpoint {
        size: u64::try_from(size).unwrap_or(0),
        root: Hash(root),
        note: r.get(2)?,
    })
}

/// Every stored checkpoint, smallest first (for `audit`).
pub(super) fn all_checkpoints(conn: &Connection) -> Result<Vec<StoredCheckpoint>, rusqlite::Error> {
    conn.prepare("SELECT size, root, note FROM log_checkpoints ORDER BY size")?
        .query_map([], stored_checkpoint)?
        .collect()
}

/// Appends `leaves` to the tree `appender` holds and signs the checkpoint of the new size,
/// all inside `tx`. On `Err` the caller rolls back and restores its appender.
pub(super) fn append(
    tx: &Connection,
    appender: &mut Appender,
    leaves: &[Hash],
    signer: &NoteSigner,
) -> Result<(), rusqlite::Error> {
    let batch = appender.append(leaves).map_err(sql_err)?;
    let mut insert = tx.prepare_cached("INSERT INTO log_hashes (idx, hash) VALUES (?1, ?2)")?;
    for (offset, hash) in batch.hashes.iter().enumerate() {
        let idx = i64::try_from(batch.first_index + offset as u64)
            .map_err(|e| sql_err(LogError::storage(e)))?;
        insert.execute(params![idx, hash.as_bytes().as_slice()])?;
    }
    let origin = signer.verifier_key().name().to_owned();
    let signed = Checkpoint::new(&origin, batch.size, batch.root)
        .and_then(|c| c.sign(signer))
        .map_err(sql_err)?;
    let note = String::from_utf8(signed.to_bytes()).map_err(|e| sql_err(LogError::storage(e)))?;
    tx.prepare_cached(
        "INSERT INTO log_checkpoints (size, root, note, signed_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        i64::try_from(batch.size).map_err(|e| sql_err(LogError::storage(e)))?,
        batch.root.as_bytes().as_slice(),
        note,
        format_timestamp(time::OffsetDateTime::now_utc()),
    ])?;
    Ok(())
}

/// The origin the log already signs with (its first checkpoint's), or `configured` for a
/// new log.
fn log_origin(conn: &Connection, configured: &str) -> Result<String, StoreError> {
    let first: Option<String> = conn
        .query_row(
            "SELECT note FROM log_checkpoints ORDER BY size LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(note) = first else {
        return Ok(configured.to_owned());
    };
    let origin = note.lines().next().unwrap_or_default().to_owned();
    if origin != configured {
        tracing::warn!(
            log_origin = origin,
            configured,
            "the transparency log keeps the origin it was created with"
        );
    }
    Ok(origin)
}

/// Brings the tree up to the last receipt: folds every position after the tree's size, in
/// seq order (a receipt's leaf over its JWS; a purged one's placeholder from its tombstone),
/// and signs one checkpoint, in one transaction. Returns the writer's appender and the
/// origin it signs with. Nothing to do (one read) when the tree is complete, as it is after
/// any clean stop or crash: the writer extends the tree in each batch's own transaction.
pub(super) fn catch_up(
    conn: &mut Connection,
    signer: &Signer,
    configured_origin: &str,
    last_seq: i64,
) -> Result<(Appender, NoteSigner), StoreError> {
    let origin = log_origin(conn, configured_origin)?;
    let note_signer = signer.note_signer(&origin).map_err(store_err)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let signed = latest(&tx)?;
    let size = signed.as_ref().map_or(0, |c| c.size);
    let mut appender = Appender::open(&SqlHashes(&tx), size).map_err(store_err)?;
    let last = u64::try_from(last_seq).unwrap_or(0);
    if size >= last && signed.is_some() {
        return Ok((appender, note_signer));
    }
    tracing::info!(
        from = size,
        to = last,
        "adding receipts to the transparency log"
    );
    {
        let mut rows = tx.prepare("SELECT seq, jws FROM receipts WHERE seq > ?1 ORDER BY seq")?;
        let mut tombstone =
            tx.prepare_cached("SELECT jws_sha256 FROM tombstones WHERE seq = ?1")?;
        let mut rows = rows.query([i64::try_from(size).unwrap_or(i64::MAX)])?;
        let mut next = size + 1;
        let mut leaves = Vec::with_capacity(FOLD_CHUNK);
        let mut fill_gap =
            |upto: u64, leaves: &mut Vec<Hash>, next: &mut u64| -> Result<(), rusqlite::Error> {
                while *next < upto {
                    let seq = i64::try_from(*next).unwrap_or(i64::MAX);
                    let purged: Option<String> =
                        tombstone.query_row([seq], |r| r.get(0)).optional()?;
                    leaves.push(purged.map_or_else(|| missing_leaf(seq), |sha| purged_leaf(&sha)));
                    *next += 1;
                }
                Ok(())
            };
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let jws: String = row.get(1)?;
            let at = leaf_index(seq) + 1;
            fill_gap(at, &mut leaves, &mut next)?;
            leaves.push(receipt_leaf_hash(&jws));
            next = at + 1;
            if leaves.len() >= FOLD_CHUNK {
                store_hashes(&tx, &mut appender, &leaves)?;
                leaves.clear();
            }
        }
        fill_gap(last + 1, &mut leaves, &mut next)?;
        store_hashes(&tx, &mut appender, &leaves)?;
    }
    // One checkpoint for the whole fold: an empty append signs the current size.
    append(&tx, &mut appender, &[], &note_signer)?;
    tx.commit()?;
    Ok((appender, note_signer))
}

/// Appends `leaves` without signing a checkpoint (the fold signs once, at its end).
fn store_hashes(
    tx: &Connection,
    appender: &mut Appender,
    leaves: &[Hash],
) -> Result<(), rusqlite::Error> {
    let batch = appender.append(leaves).map_err(sql_err)?;
    let mut insert = tx.prepare_cached("INSERT INTO log_hashes (idx, hash) VALUES (?1, ?2)")?;
    for (offset, hash) in batch.hashes.iter().enumerate() {
        insert.execute(params![
            i64::try_from(batch.first_index + offset as u64).unwrap_or(i64::MAX),
            hash.as_bytes().as_slice()
        ])?;
    }
    Ok(())
}

/// The inclusion proof of receipt `id` in the latest checkpoint, read in one transaction so
/// the path and the checkpoint agree. `None` for an unknown id or one not yet in a
/// checkpoint.
pub(super) fn inclusion(
    conn: &Connection,
    id: &str,
) -> Result<Option<(String, Inclusion)>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let row: Option<(i64, String)> = tx
        .prepare_cached("SELECT seq, jws FROM receipts WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((seq, jws)) = row else {
        return Ok(None);
    };
    let Some(checkpoint) = latest(&tx)? else {
        return Ok(None);
    };
    let index = leaf_index(seq);
    if index >= checkpoint.size {
        return Ok(None);
    }
    let path = inclusion_proof(&SqlHashes(&tx), index, checkpoint.size).map_err(store_err)?;
    Ok(Some((
        jws,
        Inclusion {
            index,
            path,
            checkpoint,
        },
    )))
}

/// The consistency proof between two tree sizes, both at most the latest checkpoint's
/// (checked by the caller).
pub(super) fn consistency(conn: &Connection, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
    if from == 0 {
        return Ok(Vec::new());
    }
    consistency_proof(&SqlHashes(conn), from, to).map_err(store_err)
}

/// The stored leaf hashes `from..to`, read by index.
pub(super) fn leaf_hashes(conn: &Connection, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
    let indexes: Vec<u64> = (from..to).map(|n| stored_hash_index(0, n)).collect();
    SqlHashes(conn).read_hashes(&indexes).map_err(store_err)
}

#[cfg(test)]
mod tests {
    use kelisim_receipt::log::{SignedCheckpoint, TrustedLog, verify_consistency};

    use super::super::tests::{block_on, receipt, signer, start};
    use super::*;
    use crate::store::Reader;

    fn trusted() -> TrustedLog {
        let key = signer().note_signer("test.example/log").expect("key");
        TrustedLog {
            origin: "test.example/log".into(),
            keys: vec![key.verifier_key().clone()],
        }
    }

    fn issue(store: &crate::store::Store, reference: &str) -> crate::store::Issued {
        block_on(store.issue(receipt(reference, false))).expect("issue")
    }

    /// Checks every receipt's proof against the latest checkpoint, as a holder would.
    fn every_proof_verifies(reader: &Reader, ids: &[String]) {
        for id in ids {
            let (jws, inclusion) = reader.inclusion(id).expect("read").expect("known id");
            let proof = inclusion.to_tlog_proof(&jws).expect("proof");
            let parsed = kelisim_receipt::log::TlogProof::parse(&proof.to_bytes()).expect("parse");
            parsed
                .verify(&receipt_leaf_hash(&jws), &trusted(), &[])
                .expect("the proof verifies");
        }
    }

    #[test]
    fn each_batch_signs_a_checkpoint_and_every_receipt_is_proven() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.db");
        let store = start(&path);
        let reader = store.reader();
        // Opening an empty log signs the empty tree.
        let first = reader.checkpoint().expect("read").expect("checkpoint");
        assert_eq!(
            (first.size, first.root),
            (0, kelisim_receipt::log::EMPTY_ROOT)
        );
        let mut ids = Vec::new();
        for n in 0..7 {
            ids.push(issue(&store, &format!("r{n}")).id);
        }
        // A replay adds no leaf.
        assert!(!issue(&store, "r3").created);
        let latest = reader.checkpoint().expect("read").expect("checkpoint");
        assert_eq!(latest.size, 7);
        SignedCheckpoint::parse(latest.note.as_bytes())
            .expect("parse")
            .verify(&trusted())
            .expect("signed by the log key");
        every_proof_verifies(&reader, &ids);
        // Every stored checkpoint is consistent with the latest.
        let all = reader.checkpoints().expect("checkpoints");
        assert_eq!(all.first().map(|c| c.size), Some(0));
        for old in &all {
            let proof = reader.consistency(old.size, 7).expect("proof");
            if old.size > 0 {
                verify_consistency(old.size, 7, &old.root, &latest.root, &proof)
                    .expect("consistent");
            }
        }
        assert!(reader.inclusion("no-such-id").expect("read").is_none());
        store.shutdown();
        drop(store);

        // After a restart the tree goes on from where it was.
        let store = start(&path);
        ids.push(issue(&store, "after").id);
        let reader = store.reader();
        assert_eq!(reader.checkpoint().expect("read").expect("cp").size, 8);
        every_proof_verifies(&reader, &ids);
    }

    #[test]
    fn receipts_from_before_the_tree_are_folded_in_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.db");
        let store = start(&path);
        let ids: Vec<String> = (0..5).map(|n| issue(&store, &format!("r{n}")).id).collect();
        let root = store.reader().checkpoint().expect("read").expect("cp").root;
        store.shutdown();
        drop(store);
        // As a database from before the tree: no hashes, no checkpoints.
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("DELETE FROM log_hashes; DELETE FROM log_checkpoints;")
            .expect("forget the tree");
        drop(conn);
        let store = start(&path);
        let reader = store.reader();
        let folded = reader.checkpoint().expect("read").expect("cp");
        assert_eq!(
            (folded.size, folded.root),
            (5, root),
            "the same tree, rebuilt"
        );
        every_proof_verifies(&reader, &ids);
    }
}
