//! Bulk loading into SQLite for the admin benchmark: signs and chains generated receipts and inserts
//! them in large transactions, far faster than the writer's per-request path. Refuses a
//! database that already has receipts, so it cannot corrupt a real log.

use std::path::Path;

use rusqlite::{TransactionBehavior, params};

use super::{connect, migrate};
use crate::hash::sha256_hex;
use crate::keys::Signer;
use crate::log::GENESIS_PREV;
use crate::receipt::{PreparedReceipt, Stamp};
use crate::store::StoreError;

/// Receipts per transaction.
const TX_ROWS: u64 = 50_000;

/// Inserts `count` receipts: `issued_at(i)` gives the time of the i-th (non-decreasing),
/// `make(i, stamp)` its content (the stamp carries the id it will get).
pub(in crate::store) fn bulk_load(
    path: &Path,
    signer: &Signer,
    count: u64,
    issued_at: impl Fn(u64) -> String,
    mut make: impl FnMut(u64, &Stamp) -> PreparedReceipt,
) -> Result<(), StoreError> {
    crate::ops::datadir::touch_private(path).map_err(|source| StoreError::Create {
        path: path.display().to_string(),
        source,
    })?;
    let mut conn = connect(path, true)?;
    migrate(&mut conn, path)?;
    // Bench data only: a crash means regenerating, so skip the per-commit fsync.
    conn.pragma_update(None, "synchronous", "OFF")?;
    let existing: i64 = conn.query_row("SELECT count(*) FROM receipts", [], |r| r.get(0))?;
    if existing > 0 {
        return Err(StoreError::Commit(format!(
            "{} already holds {existing} receipts; generate into an empty data directory",
            path.display()
        )));
    }
    let mut prev = GENESIS_PREV.to_owned();
    let mut i = 0;
    while i < count {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let end = (i + TX_ROWS).min(count);
        while i < end {
            let stamp = Stamp {
                id: uuid::Uuid::now_v7().to_string(),
                seq: i64::try_from(i + 1).unwrap_or(i64::MAX),
                issued_at: issued_at(i),
            };
            let r = make(i, &stamp);
            let jws = r.seal(&stamp, signer);
            let jws_sha256 = sha256_hex(jws.as_bytes());
            super::writer::insert_row(&tx, &r, &stamp, signer, &jws, &jws_sha256)?;
            prev = jws_sha256;
            i += 1;
        }
        tx.execute(
            "INSERT INTO chain_head (id, seq, jws_sha256) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, jws_sha256 = excluded.jws_sha256",
            params![i64::try_from(i).unwrap_or(i64::MAX), prev],
        )?;
        tx.commit()?;
    }
    // The transparency log's tree over them, as the writer would have built it.
    super::tree::catch_up(
        &mut conn,
        signer,
        crate::log::tree::FALLBACK_ORIGIN,
        i64::try_from(count).unwrap_or(i64::MAX),
    )?;
    conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}
