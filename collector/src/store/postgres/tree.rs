//! The transparency log's rows in PostgreSQL (`log_hashes`, `log_checkpoints`, and the
//! witnesses' `witness_heads`, `log_cosignatures`), as SQLite's `tree.rs` and `witness.rs`
//! keep them: the writer appends a batch's leaves and signs its checkpoint in the batch's
//! transaction ([`append`]); [`catch_up`] folds receipts the tree lacks (a store copied from
//! SQLite, a bulk load) at open; the read side serves checkpoints and proofs from `O(log n)`
//! rows. [`read_tip`] says where the log ends (`chain_head`), for the writer and the tree.

use std::cell::RefCell;
use std::collections::HashMap;

use kelisim_receipt::log::{
    Appender, Checkpoint, Hash, HashReader, LogError, NoteSigner, TreeHead, consistency_proof,
    inclusion_proof, receipt_leaf_hash, stored_hash_index,
};
use postgres::{Client, GenericClient, Row, Transaction};

use super::pool::Pool;
use super::{LOG_LOCK, PgError};
use crate::clock::format_timestamp;
use crate::keys::Signer;
use crate::log::Tip;
use crate::log::tree::{
    Cosignature, Inclusion, StoredCheckpoint, TreeReads, leaf_index, missing_leaf, purged_leaf,
};
use crate::store::StoreError;

/// Receipts read per query while catching up.
const FOLD_CHUNK: i64 = 16 * 1024;

/// The tree's stored hashes as a session (or transaction) reads them. The tree's reader
/// trait reads through `&self`; a session needs `&mut`, hence the cell.
pub(super) struct PgHashes<'a, C>(pub(super) RefCell<&'a mut C>);

impl<C: GenericClient> HashReader for PgHashes<'_, C> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        let wanted: Vec<i64> = indexes
            .iter()
            .map(|&i| i64::try_from(i).map_err(LogError::storage))
            .collect::<Result<_, _>>()?;
        let rows = self
            .0
            .borrow_mut()
            .query(
                "SELECT idx, hash FROM log_hashes WHERE idx = ANY($1)",
                &[&wanted],
            )
            .map_err(LogError::storage)?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let idx: i64 = row.try_get(0).map_err(LogError::storage)?;
            found.insert(idx, hash_of(&row, 1).map_err(LogError::storage)?);
        }
        wanted
            .iter()
            .map(|idx| {
                found
                    .get(idx)
                    .copied()
                    .ok_or_else(|| LogError::storage(format!("log_hashes has no row {idx}")))
            })
            .collect()
    }
}

/// Column `i` of `row` as a tree hash (32 bytes, as the table's CHECK asks).
pub(super) fn hash_of(row: &Row, i: usize) -> Result<Hash, PgError> {
    let bytes: Vec<u8> = row.try_get(i)?;
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| LogError::storage(format!("column {i} is not a 32-byte hash")))?;
    Ok(Hash(hash))
}

fn size_of(row: &Row, i: usize) -> Result<u64, PgError> {
    let size: i64 = row.try_get(i)?;
    Ok(u64::try_from(size).unwrap_or(0))
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn stored_checkpoint(row: &Row) -> Result<StoredCheckpoint, PgError> {
    Ok(StoredCheckpoint {
        size: size_of(row, 0)?,
        root: hash_of(row, 1)?,
        note: row.try_get(2)?,
    })
}

/// The size of the latest signed checkpoint (0 for none).
pub(super) fn latest_size(c: &mut impl GenericClient) -> Result<u64, PgError> {
    let row = c.query_one("SELECT max(size) FROM log_checkpoints", &[])?;
    let size: Option<i64> = row.try_get(0)?;
    Ok(size.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
}

/// The latest signed checkpoint, if the log has one.
fn latest(c: &mut impl GenericClient) -> Result<Option<StoredCheckpoint>, PgError> {
    c.query_opt(
        "SELECT size, root, note FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        &[],
    )?
    .as_ref()
    .map(stored_checkpoint)
    .transpose()
}

fn checkpoint_at(
    c: &mut impl GenericClient,
    size: u64,
) -> Result<Option<StoredCheckpoint>, PgError> {
    c.query_opt(
        "SELECT size, root, note FROM log_checkpoints WHERE size = $1",
        &[&as_i64(size)],
    )?
    .as_ref()
    .map(stored_checkpoint)
    .transpose()
}

/// Stores the hashes `leaves` add to the tree `appender` holds, without a checkpoint.
fn store_hashes(
    tx: &mut impl GenericClient,
    appender: &mut Appender,
    leaves: &[Hash],
) -> Result<u64, PgError> {
    let batch = appender.append(leaves)?;
    let idx: Vec<i64> = (0..batch.hashes.len() as u64)
        .map(|offset| as_i64(batch.first_index + offset))
        .collect();
    let hashes: Vec<&[u8]> = batch
        .hashes
        .iter()
        .map(|h| h.as_bytes().as_slice())
        .collect();
    tx.execute(
        "INSERT INTO log_hashes (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
        &[&idx, &hashes],
    )?;
    Ok(batch.size)
}

/// Appends `leaves` to the tree and signs the checkpoint of the new size, inside `tx`.
pub(super) fn append(
    tx: &mut impl GenericClient,
    appender: &mut Appender,
    leaves: &[Hash],
    signer: &NoteSigner,
) -> Result<(), PgError> {
    let size = store_hashes(tx, appender, leaves)?;
    let root = appender.root();
    let origin = signer.verifier_key().name().to_owned();
    let signed = Checkpoint::new(&origin, size, root)?.sign(signer)?;
    let note = String::from_utf8(signed.to_bytes()).map_err(LogError::storage)?;
    tx.execute(
        "INSERT INTO log_checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4)",
        &[
            &as_i64(size),
            &root.as_bytes().as_slice(),
            &note,
            &format_timestamp(time::OffsetDateTime::now_utc()),
        ],
    )?;
    Ok(())
}

/// Brings the tree up to the last receipt under the log's lock (another collector may be
/// doing the same), as SQLite's `catch_up`: positions after the tree's size are folded in
/// `seq` order (a receipt's leaf, or a purged or missing position's placeholder) and one
/// checkpoint is signed. Returns the writer's appender and the origin it signs with (the
/// log's own, else `configured`).
pub(super) fn catch_up(
    client: &mut Client,
    signer: &Signer,
    configured: &str,
) -> Result<(Appender, NoteSigner), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
    let first: Option<String> = tx
        .query_opt(
            "SELECT note FROM log_checkpoints ORDER BY size LIMIT 1",
            &[],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    let origin = match first {
        Some(note) => {
            let origin = note.lines().next().unwrap_or_default().to_owned();
            if origin != configured {
                tracing::warn!(
                    log_origin = origin,
                    configured,
                    "the transparency log keeps the origin it was created with"
                );
            }
            origin
        }
        None => configured.to_owned(),
    };
    let note_signer = signer
        .note_signer(&origin)
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let signed = latest(&mut tx)?;
    let size = signed.as_ref().map_or(0, |c| c.size);
    let last = u64::try_from(read_tip(&mut tx)?.seq).unwrap_or(0);
    let mut appender =
        Appender::open(&PgHashes(RefCell::new(&mut tx)), size).map_err(PgError::from)?;
    if size >= last && signed.is_some() {
        return Ok((appender, note_signer));
    }
    tracing::info!(
        from = size,
        to = last,
        "adding receipts to the transparency log"
    );
    let mut next = size + 1;
    let mut leaves = Vec::new();
    let fill = |upto: u64,
                leaves: &mut Vec<Hash>,
                next: &mut u64,
                tx: &mut postgres::Transaction<'_>|
     -> Result<(), PgError> {
        while *next < upto {
            let seq = as_i64(*next);
            let purged: Option<String> = tx
                .query_opt("SELECT jws_sha256 FROM tombstones WHERE seq = $1", &[&seq])?
                .map(|r| r.try_get(0))
                .transpose()?;
            leaves.push(purged.map_or_else(|| missing_leaf(seq), |sha| purged_leaf(&sha)));
            *next += 1;
        }
        Ok(())
    };
    loop {
        let rows = tx.query(
            "SELECT seq, jws FROM receipts WHERE seq >= $1 ORDER BY seq LIMIT $2",
            &[&as_i64(next), &FOLD_CHUNK],
        )?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            let jws: String = row.try_get(1)?;
            let at = leaf_index(seq) + 1;
            fill(at, &mut leaves, &mut next, &mut tx)?;
            leaves.push(receipt_leaf_hash(&jws));
            next = at + 1;
        }
        store_hashes(&mut tx, &mut appender, &leaves)?;
        leaves.clear();
    }
    fill(last + 1, &mut leaves, &mut next, &mut tx)?;
    store_hashes(&mut tx, &mut appender, &leaves)?;
    append(&mut tx, &mut appender, &[], &note_signer)?;
    tx.commit()?;
    Ok((appender, note_signer))
}

/// The inclusion proof of receipt `id` in the latest checkpoint, read in one snapshot so the
/// path and the checkpoint agree.
fn inclusion(c: &mut Client, id: &str) -> Result<Option<(String, Inclusion)>, PgError> {
    let mut tx = c
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let Some(row) = tx.query_opt("SELECT seq, jws FROM receipts WHERE id = $1", &[&id])? else {
        return Ok(None);
    };
    let (seq, jws): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
    let Some(checkpoint) = latest(&mut tx)? else {
        return Ok(None);
    };
    let index = leaf_index(seq);
    if index >= checkpoint.size {
        return Ok(None);
    }
    let path = inclusion_proof(&PgHashes(RefCell::new(&mut tx)), index, checkpoint.size)?;
    Ok(Some((
        jws,
        Inclusion {
            index,
            path,
            checkpoint,
        },
    )))
}

impl TreeReads for Pool {
    type Error = StoreError;

    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.with(latest)
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT size, root, note FROM log_checkpoints ORDER BY size",
                &[],
            )?
            .iter()
            .map(stored_checkpoint)
            .collect()
        })
    }

    fn inclusion(&self, id: &str) -> Result<Option<(String, Inclusion)>, StoreError> {
        self.with(|c| inclusion(c, id))
    }

    fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        if from == 0 {
            return Ok(Vec::new());
        }
        self.with(|c| Ok(consistency_proof(&PgHashes(RefCell::new(c)), from, to)?))
    }

    fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        let indexes: Vec<u64> = (from..to).map(|n| stored_hash_index(0, n)).collect();
        self.with(|c| Ok(PgHashes(RefCell::new(c)).read_hashes(&indexes)?))
    }

    fn cosignatures(&self, size: u64, root: &Hash) -> Result<Vec<Cosignature>, StoreError> {
        self.with(|c| cosignatures(c, size, root))
    }

    /// The largest stored checkpoint some witness cosigned (same size and root).
    fn witnessed(&self) -> Result<Option<(StoredCheckpoint, Vec<Cosignature>)>, StoreError> {
        self.with(|c| {
            let size: Option<i64> = c
                .query_one(
                    "SELECT max(s.size) FROM log_cosignatures s
                     JOIN log_checkpoints c ON c.size = s.size AND c.root = s.root",
                    &[],
                )?
                .try_get(0)?;
            let Some(size) = size else { return Ok(None) };
            let Some(checkpoint) = checkpoint_at(c, u64::try_from(size).unwrap_or(0))? else {
                return Ok(None);
            };
            let cosigned = cosignatures(c, checkpoint.size, &checkpoint.root)?;
            Ok(Some((checkpoint, cosigned)))
        })
    }

    fn last_cosigned(&self, witness: &str) -> Result<u64, StoreError> {
        self.with(|c| {
            let size: Option<i64> = c
                .query_one(
                    "SELECT max(size) FROM log_cosignatures WHERE witness = $1",
                    &[&witness],
                )?
                .try_get(0)?;
            Ok(size.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
        })
    }

    fn witness_head(&self, origin: &str) -> Result<Option<TreeHead>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT size, root FROM witness_heads WHERE origin = $1",
                &[&origin],
            )?
            .map(|row| {
                Ok(TreeHead {
                    size: size_of(&row, 0)?,
                    root: hash_of(&row, 1)?,
                })
            })
            .transpose()
        })
    }
}

fn cosignatures(c: &mut Client, size: u64, root: &Hash) -> Result<Vec<Cosignature>, PgError> {
    c.query(
        "SELECT witness, signature FROM log_cosignatures WHERE size = $1 AND root = $2
         ORDER BY witness",
        &[&as_i64(size), &root.as_bytes().as_slice()],
    )?
    .iter()
    .map(|r| {
        Ok(Cosignature {
            witness: r.try_get(0)?,
            line: r.try_get(1)?,
        })
    })
    .collect()
}

/// As a witness: moves the tree remembered for `origin` from `from` to `to` (compare and
/// set, as SQLite's `witness::advance`). Affected 0 when another request moved it first.
pub(super) fn advance(
    tx: &mut impl GenericClient,
    origin: &str,
    from: Option<&TreeHead>,
    to: &TreeHead,
    at: &str,
) -> Result<u64, PgError> {
    Ok(match from {
        None => tx.execute(
            "INSERT INTO witness_heads (origin, size, root, cosigned_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (origin) DO NOTHING",
            &[
                &origin,
                &as_i64(to.size),
                &to.root.as_bytes().as_slice(),
                &at,
            ],
        )?,
        Some(old) => tx.execute(
            "UPDATE witness_heads SET size = $4, root = $5, cosigned_at = $6
             WHERE origin = $1 AND size = $2 AND root = $3",
            &[
                &origin,
                &as_i64(old.size),
                &old.root.as_bytes().as_slice(),
                &as_i64(to.size),
                &to.root.as_bytes().as_slice(),
                &at,
            ],
        )?,
    })
}

/// As a log: keeps `witness`'s cosignature of the checkpoint of `size` and `root`.
pub(super) fn record_cosignature(
    tx: &mut impl GenericClient,
    witness: &str,
    size: u64,
    root: &Hash,
    signature: &str,
    at: &str,
) -> Result<u64, PgError> {
    Ok(tx.execute(
        "INSERT INTO log_cosignatures (witness, size, root, signature, at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (witness, size) DO UPDATE
         SET root = excluded.root, signature = excluded.signature, at = excluded.at",
        &[
            &witness,
            &as_i64(size),
            &root.as_bytes().as_slice(),
            &signature,
            &at,
        ],
    )?)
}

/// Where the log ends: the last committed receipt as `chain_head` records it.
pub(super) fn read_tip(tx: &mut Transaction<'_>) -> Result<Tip, postgres::Error> {
    let row = tx.query_opt("SELECT seq, jws_sha256 FROM chain_head WHERE id = 1", &[])?;
    Ok(match row {
        Some(row) => Tip {
            seq: row.try_get(0)?,
            hash: row.try_get(1)?,
        },
        None => Tip::genesis(),
    })
}
